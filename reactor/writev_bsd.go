//go:build darwin || dragonfly || freebsd || netbsd || openbsd

package reactor

import "golang.org/x/sys/unix"

// writev writes the parts one write(2) at a time (x/sys has no Writev
// here), stopping at the first short write or error; n counts every byte
// written before it.
func writev(fd int, iov [][]byte) (n int, err error) {
	for _, p := range iov {
		var m int
		m, err = unix.Write(fd, p)
		if m > 0 {
			n += m
		}
		if err != nil || m < len(p) {
			return n, err
		}
	}
	return n, nil
}
