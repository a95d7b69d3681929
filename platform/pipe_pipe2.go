//go:build linux || freebsd || netbsd || openbsd || dragonfly

package platform

import "golang.org/x/sys/unix"

// Pipe returns a pipe whose ends are close-on-exec, atomically, so a
// concurrent fork elsewhere in the process cannot inherit them.
func Pipe() (r, w int, err error) {
	var p [2]int
	err = unix.Pipe2(p[:], unix.O_CLOEXEC)
	return p[0], p[1], err
}
