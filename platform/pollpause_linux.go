package platform

import "golang.org/x/sys/unix"

// PauseInPoller stops the epoll instance pollFD from reporting fd readable,
// keeping its writable interest when wantWrite is set (the reactor still has
// bytes to flush to it). Errors, hang-ups and the peer's FIN (EPOLLRDHUP,
// which gnet treats as the connection closing) are still reported, so a
// client that goes away while paused is noticed at once.
//
// This is the one dependable way to stop an eager level-triggered reader:
// SO_RCVLOWAT is no help, because the kernel reports a socket readable
// whatever the low-water mark once its receive buffer is nearly full
// (tcp_rmem_pressure), so a sender that fills the buffer always wakes it.
func PauseInPoller(pollFD, fd int, wantWrite bool) error {
	ev := uint32(unix.EPOLLRDHUP)
	if wantWrite {
		ev = unix.EPOLLOUT
	}
	return unix.EpollCtl(pollFD, unix.EPOLL_CTL_MOD, fd, &unix.EpollEvent{Events: ev, Fd: int32(fd)})
}

// ResumeInPoller undoes PauseInPoller with the events gnet registers
// (EPOLLIN|EPOLLPRI, plus EPOLLOUT while it has bytes to flush).
func ResumeInPoller(pollFD, fd int, wantWrite bool) error {
	ev := uint32(unix.EPOLLIN | unix.EPOLLPRI)
	if wantWrite {
		ev |= unix.EPOLLOUT
	}
	return unix.EpollCtl(pollFD, unix.EPOLL_CTL_MOD, fd, &unix.EpollEvent{Events: ev, Fd: int32(fd)})
}
