package reactor

import "golang.org/x/sys/unix"

// writev is one writev(2).
func writev(fd int, iov [][]byte) (int, error) { return unix.Writev(fd, iov) }
