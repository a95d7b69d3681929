// Package platform holds what differs between Linux and the BSDs (and macOS)
// underneath wsplex: raising the open-files limit, pausing reads on a TCP
// socket so the peer is slowed by TCP flow control, and turning a child's
// exit into readiness on a file descriptor that a poller can wait on.
//
// Nothing here knows about WebSockets or children's stdio; spawn and engine
// build on it. Start with readpause.go: it is the one non-obvious idea.
package platform
