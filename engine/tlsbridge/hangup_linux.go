package tlsbridge

import "golang.org/x/sys/unix"

// peerHungUp reports whether the peer of socket fd has shut down its
// writing side (or the socket failed), without reading it: POLLRDHUP is set
// at the FIN even with unread data before it, TCP or AF_UNIX alike.
func peerHungUp(fd int) bool {
	p := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLRDHUP}}
	n, err := unix.Poll(p, 0)
	return err == nil && n > 0 && p[0].Revents&(unix.POLLRDHUP|unix.POLLHUP|unix.POLLERR) != 0
}
