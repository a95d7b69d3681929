//go:build linux || freebsd || netbsd || openbsd || dragonfly

package platform

import "golang.org/x/sys/unix"

// Socket opens a non-blocking, close-on-exec socket, atomically, so a
// concurrent fork elsewhere in the process cannot inherit it.
func Socket(domain, typ, proto int) (int, error) {
	return unix.Socket(domain, typ|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, proto)
}
