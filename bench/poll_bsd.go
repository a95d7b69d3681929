//go:build darwin || freebsd || netbsd || openbsd || dragonfly

package bench

import (
	"time"

	"golang.org/x/sys/unix"
)

// poller is the BSD/macOS readiness source: kqueue with separate read and
// write filters, and a self-pipe for cross-goroutine wake-ups (EVFILT_USER is
// missing on OpenBSD).
type poller struct {
	kq      int
	r, w    int
	changes []unix.Kevent_t
	evs     []unix.Kevent_t
}

func openPoller() (*poller, error) {
	kq, err := unix.Kqueue()
	if err != nil {
		return nil, err
	}
	var fds [2]int
	if err := unix.Pipe(fds[:]); err != nil {
		unix.Close(kq)
		return nil, err
	}
	unix.SetNonblock(fds[0], true)
	unix.SetNonblock(fds[1], true)
	unix.CloseOnExec(fds[0])
	unix.CloseOnExec(fds[1])
	p := &poller{kq: kq, r: fds[0], w: fds[1], evs: make([]unix.Kevent_t, 256)}
	if err := p.ctl(p.r, unix.EVFILT_READ, unix.EV_ADD); err != nil {
		p.close()
		return nil, err
	}
	return p, nil
}

func (p *poller) ctl(fd, filter, flags int) error {
	var ev [1]unix.Kevent_t
	unix.SetKevent(&ev[0], fd, filter, flags)
	_, err := unix.Kevent(p.kq, ev[:], nil, nil)
	return err
}

func kevFlags(on bool) int {
	if on {
		return unix.EV_ADD | unix.EV_ENABLE
	}
	return unix.EV_ADD | unix.EV_DISABLE
}

func (p *poller) add(fd int, read, write bool) error { return p.mod(fd, read, write) }

func (p *poller) mod(fd int, read, write bool) error {
	if err := p.ctl(fd, unix.EVFILT_READ, kevFlags(read)); err != nil {
		return err
	}
	return p.ctl(fd, unix.EVFILT_WRITE, kevFlags(write))
}

// del is a no-op: kqueue drops the filters when the descriptor is closed.
func (p *poller) del(fd int) error { return nil }

func (p *poller) wake() {
	unix.Write(p.w, []byte{1})
}

func (p *poller) wait(timeout time.Duration, fn func(fd int, readable, writable, hup bool)) error {
	var ts *unix.Timespec
	if timeout >= 0 {
		t := unix.NsecToTimespec(int64(timeout))
		ts = &t
	}
	n, err := unix.Kevent(p.kq, nil, p.evs, ts)
	if err != nil {
		if err == unix.EINTR {
			return nil
		}
		return err
	}
	for i := 0; i < n; i++ {
		ev := p.evs[i]
		fd := int(ev.Ident)
		if fd == p.r {
			var b [64]byte
			unix.Read(p.r, b[:])
			continue
		}
		hup := ev.Flags&(unix.EV_EOF|unix.EV_ERROR) != 0
		fn(fd, ev.Filter == unix.EVFILT_READ, ev.Filter == unix.EVFILT_WRITE, hup)
	}
	return nil
}

func (p *poller) close() {
	unix.Close(p.r)
	unix.Close(p.w)
	unix.Close(p.kq)
}

func bindNoPort(fd int) {}
