// Package platform holds what differs between Linux and the BSDs (and macOS)
// underneath wsplex outside the event loop: raising the open-files limit
// (rlimit_unix.go), and pipes (pipe_pipe2.go, pipe_darwin.go) and sockets
// (socket_cloexec.go, socket_darwin.go) whose descriptors are close-on-exec
// from the start, so that a concurrent fork cannot inherit them. The poller
// itself, and the read pause that slows a peer by TCP flow control, are
// package reactor's.
//
// Nothing here knows about WebSockets or children's stdio; spawn and engine
// build on it.
package platform
