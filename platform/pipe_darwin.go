package platform

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// Pipe returns a pipe whose ends are close-on-exec. macOS has no pipe2, so
// it holds syscall.ForkLock to keep a concurrent fork from inheriting them.
func Pipe() (r, w int, err error) {
	var p [2]int
	syscall.ForkLock.RLock()
	defer syscall.ForkLock.RUnlock()
	if err = unix.Pipe(p[:]); err != nil {
		return -1, -1, err
	}
	unix.CloseOnExec(p[0])
	unix.CloseOnExec(p[1])
	return p[0], p[1], nil
}
