//go:build linux

package bench

import (
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// poller is the Linux readiness source: level-triggered epoll plus an eventfd
// that other goroutines write to wake the loop. Level-triggered keeps the read
// path simple (one bounded read per event, the kernel reports the rest again)
// and makes pausing a connection a matter of dropping EPOLLIN from its mask.
type poller struct {
	epfd   int
	wakefd int
	evs    []unix.EpollEvent
	// pwait2 is cleared when the kernel lacks epoll_pwait2 (before 5.11); we
	// then fall back to millisecond timeouts.
	pwait2 bool
}

func openPoller() (*poller, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	wfd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		unix.Close(epfd)
		return nil, err
	}
	p := &poller{epfd: epfd, wakefd: wfd, evs: make([]unix.EpollEvent, 256), pwait2: true}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, wfd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(wfd)}); err != nil {
		p.close()
		return nil, err
	}
	return p, nil
}

func epollMask(read, write bool) uint32 {
	// EPOLLRDHUP only with EPOLLIN: a paused connection must not be
	// reported again and again for a FIN it is not going to read yet.
	var m uint32
	if read {
		m |= unix.EPOLLIN | unix.EPOLLRDHUP
	}
	if write {
		m |= unix.EPOLLOUT
	}
	return m
}

func (p *poller) add(fd int, read, write bool) error {
	return unix.EpollCtl(p.epfd, unix.EPOLL_CTL_ADD, fd, &unix.EpollEvent{Events: epollMask(read, write), Fd: int32(fd)})
}

func (p *poller) mod(fd int, read, write bool) error {
	return unix.EpollCtl(p.epfd, unix.EPOLL_CTL_MOD, fd, &unix.EpollEvent{Events: epollMask(read, write), Fd: int32(fd)})
}

func (p *poller) del(fd int) error {
	return unix.EpollCtl(p.epfd, unix.EPOLL_CTL_DEL, fd, nil)
}

// wake may be called from any goroutine.
func (p *poller) wake() {
	var one = [8]byte{1}
	unix.Write(p.wakefd, one[:])
}

// wait blocks for at most timeout (negative: forever) and calls fn for every
// ready descriptor. Wake-ups are consumed here.
func (p *poller) wait(timeout time.Duration, fn func(fd int, readable, writable, hup bool)) error {
	var n int
	var err error
	if p.pwait2 && timeout > 0 {
		// epoll_pwait2 takes a timespec, so open-loop send timers fire within
		// microseconds instead of being rounded up to whole milliseconds.
		ts := unix.NsecToTimespec(int64(timeout))
		r, _, e := unix.Syscall6(unix.SYS_EPOLL_PWAIT2, uintptr(p.epfd), uintptr(unsafe.Pointer(&p.evs[0])), uintptr(len(p.evs)), uintptr(unsafe.Pointer(&ts)), 0, 0)
		n = int(r)
		if e != 0 {
			if e == unix.ENOSYS {
				p.pwait2 = false
				return nil
			}
			err = e
		}
	} else {
		ms := -1
		if timeout >= 0 {
			ms = int((timeout + time.Millisecond - 1) / time.Millisecond)
		}
		n, err = unix.EpollWait(p.epfd, p.evs, ms)
	}
	if err != nil {
		if err == unix.EINTR {
			return nil
		}
		return err
	}
	for i := 0; i < n; i++ {
		ev := p.evs[i]
		fd := int(ev.Fd)
		if fd == p.wakefd {
			var b [8]byte
			unix.Read(p.wakefd, b[:])
			continue
		}
		fn(fd, ev.Events&(unix.EPOLLIN|unix.EPOLLRDHUP) != 0, ev.Events&unix.EPOLLOUT != 0, ev.Events&(unix.EPOLLHUP|unix.EPOLLERR) != 0)
	}
	return nil
}

func (p *poller) close() {
	unix.Close(p.wakefd)
	unix.Close(p.epfd)
}

// bindNoPort asks the kernel to pick the source port at connect time, when it
// knows the full 4-tuple: with it, one source address can be reused towards
// different destinations and the ephemeral range is not consumed by bind().
func bindNoPort(fd int) {
	unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_BIND_ADDRESS_NO_PORT, 1)
}
