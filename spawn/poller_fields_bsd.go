//go:build darwin || freebsd || netbsd || openbsd || dragonfly

package spawn

// pollerOS holds the kqueue of EVFILT_PROC events and the children it
// reports on.
type pollerOS struct {
	exitQueue int
	byPid     map[int]*Process
}
