//go:build !linux

package tlsbridge

import "golang.org/x/sys/unix"

// peerHungUp approximates Linux's POLLRDHUP, which the BSDs' poll lacks:
// it reports the socket readable, FIN or data. With data the paused bridge
// reader goes on reading, and what holds the client back is then the
// socketpair: the reactor's end is out of its poller while paused, so the
// pair fills, the bridge blocks writing to it, and stops reading the client.
func peerHungUp(fd int) bool {
	p := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	n, err := unix.Poll(p, 0)
	return err == nil && n > 0 && p[0].Revents&(unix.POLLIN|unix.POLLHUP|unix.POLLERR) != 0
}
