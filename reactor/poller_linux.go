//go:build linux

package reactor

import (
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// poller is epoll plus an eventfd for Post's wake-ups.
//
// A watch reading is registered level-triggered (EPOLLIN|EPOLLRDHUP, plus
// EPOLLOUT while it wants to write): a handler reads a bounded amount per
// event and the kernel reports the rest again. A watch whose reading is
// paused is registered edge-triggered with EPOLLRDHUP (plus EPOLLOUT): the
// peer's hangup, EPOLLHUP and EPOLLERR are reported once instead of on
// every wait, and Writable keeps level semantics because the loop re-arms
// the registration (EPOLL_CTL_MOD re-checks readiness) after each Writable
// it delivers while the watch still wants to write.
type poller struct {
	epfd   int
	wakefd int
	evs    []unix.EpollEvent
	// pwait2 is cleared when the kernel lacks epoll_pwait2 (before 5.11):
	// timeouts then round up to whole milliseconds.
	pwait2 bool
}

// watchOS is nothing on Linux: the event mask follows from the interest.
type watchOS struct{}

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
	p := &poller{epfd: epfd, wakefd: wfd, evs: make([]unix.EpollEvent, 128), pwait2: true}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, wfd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(wfd)}); err != nil {
		p.close()
		return nil, err
	}
	return p, nil
}

func epollMask(i Interest) uint32 {
	m := uint32(unix.EPOLLRDHUP)
	if i&Read != 0 {
		m |= unix.EPOLLIN
	} else {
		m |= unix.EPOLLET
	}
	if i&Write != 0 {
		m |= unix.EPOLLOUT
	}
	return m
}

func (p *poller) ctl(op int, w *Watch) error {
	m := epollMask(w.interest)
	if w.kind == kindPidfd {
		m = unix.EPOLLIN | unix.EPOLLET // Exited once, as EV_ONESHOT on the BSDs
	}
	ev := unix.EpollEvent{Events: m, Fd: int32(w.fd)}
	return unix.EpollCtl(p.epfd, op, w.fd, &ev)
}

func (p *poller) add(w *Watch) error                { return p.ctl(unix.EPOLL_CTL_ADD, w) }
func (p *poller) modify(w *Watch, _ Interest) error { return p.ctl(unix.EPOLL_CTL_MOD, w) }

func (p *poller) remove(w *Watch) error {
	return unix.EpollCtl(p.epfd, unix.EPOLL_CTL_DEL, w.fd, nil)
}

// wake may be called from any goroutine.
func (p *poller) wake() {
	one := [8]byte{1}
	unix.Write(p.wakefd, one[:])
}

// wait blocks for at most timeout (negative: no limit) and delivers the
// events it collects.
func (p *poller) wait(l *Loop, timeout time.Duration) error {
	var n int
	var err error
	if p.pwait2 && timeout > 0 {
		// epoll_pwait2 takes a timespec: timers fire within microseconds
		// instead of being rounded up to milliseconds.
		ts := unix.NsecToTimespec(int64(timeout))
		r, _, e := unix.Syscall6(unix.SYS_EPOLL_PWAIT2, uintptr(p.epfd), uintptr(unsafe.Pointer(&p.evs[0])), uintptr(len(p.evs)), uintptr(unsafe.Pointer(&ts)), 0, 0)
		n = int(r)
		if e != 0 {
			n = 0
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
	if n > 0 {
		l.now = time.Now()
	}
	for i := 0; i < n; i++ {
		e := &p.evs[i]
		fd := int(e.Fd)
		if fd == p.wakefd {
			var b [8]byte
			unix.Read(p.wakefd, b[:])
			continue
		}
		w := l.lookup(fd)
		if w == nil {
			continue
		}
		var ev Events
		if e.Events&(unix.EPOLLIN|unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
			ev |= Readable
		}
		if e.Events&(unix.EPOLLOUT|unix.EPOLLERR) != 0 {
			ev |= Writable
		}
		if e.Events&(unix.EPOLLRDHUP|unix.EPOLLHUP) != 0 {
			ev |= Hangup
		}
		if e.Events&unix.EPOLLERR != 0 {
			ev |= Error
		}
		if w.kind == kindPidfd {
			ev = Exited
			w.h.OnEvent(ev)
			continue
		}
		w.deliver(ev)
		// Edge-triggered while paused: re-arm so Writable stays level.
		if ev&Writable != 0 && !w.closed && w.interest == Write {
			p.modify(w, w.interest)
		}
	}
	if n == len(p.evs) && n < 4096 {
		p.evs = make([]unix.EpollEvent, 2*n)
	}
	return nil
}

func (p *poller) close() {
	unix.Close(p.wakefd)
	unix.Close(p.epfd)
}
