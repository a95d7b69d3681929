package platform

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// Socket opens a non-blocking, close-on-exec socket. macOS has no
// SOCK_CLOEXEC, so it holds syscall.ForkLock to keep a concurrent fork from
// inheriting it.
func Socket(domain, typ, proto int) (int, error) {
	syscall.ForkLock.RLock()
	defer syscall.ForkLock.RUnlock()
	fd, err := unix.Socket(domain, typ, proto)
	if err != nil {
		return -1, err
	}
	unix.CloseOnExec(fd)
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}
