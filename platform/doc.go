// Package platform holds what differs between Linux and the BSDs (and macOS)
// underneath wsplex: raising the open-files limit (rlimit_unix.go), pipes
// whose ends are close-on-exec from the start, so that a concurrent fork
// cannot inherit them (pipe_pipe2.go, pipe_darwin.go), and taking a
// socket's read interest out of an epoll or kqueue set and putting it back
// (pollpause_linux.go, pollpause_bsd.go), so that the peer is slowed by TCP
// flow control.
//
// Nothing here knows about WebSockets or children's stdio; spawn and engine
// build on it. Why reads are paused that way, and how the event loop's
// poller is found, is explained where it is used: engine's readpause.go.
package platform
