//go:build darwin || dragonfly || freebsd || netbsd || openbsd

package reactor

import (
	"time"

	"golang.org/x/sys/unix"
)

// poller is kqueue plus a self-pipe for Post's wake-ups (one code path for
// every BSD: OpenBSD has no EVFILT_USER).
//
// A watch has a read and a write filter, each added the first time its
// interest is on and then enabled or disabled (EV_ENABLE/EV_DISABLE), so
// pausing is one kevent change. Filters are level-triggered like the
// Linux side. A disabled read filter reports nothing, EV_EOF included: a
// paused watch learns of a hangup when it resumes.
type poller struct {
	kq   int
	r, w int // wake-up pipe
	evs  []unix.Kevent_t
}

// watchOS records which filters have been added to the kqueue.
type watchOS struct {
	hasRead, hasWrite bool
}

func openPoller() (*poller, error) {
	kq, err := unix.Kqueue()
	if err != nil {
		return nil, err
	}
	unix.CloseOnExec(kq)
	var fds [2]int
	if err := unix.Pipe(fds[:]); err != nil {
		unix.Close(kq)
		return nil, err
	}
	for _, fd := range fds {
		unix.SetNonblock(fd, true)
		unix.CloseOnExec(fd)
	}
	p := &poller{kq: kq, r: fds[0], w: fds[1], evs: make([]unix.Kevent_t, 128)}
	var ch [1]unix.Kevent_t
	unix.SetKevent(&ch[0], p.r, unix.EVFILT_READ, unix.EV_ADD)
	if _, err := unix.Kevent(kq, ch[:], nil, nil); err != nil {
		p.close()
		return nil, err
	}
	return p, nil
}

func (p *poller) add(w *Watch) error {
	if w.kind == kindProc {
		var ch [1]unix.Kevent_t
		unix.SetKevent(&ch[0], w.fd, unix.EVFILT_PROC, unix.EV_ADD|unix.EV_ONESHOT)
		ch[0].Fflags = unix.NOTE_EXIT
		_, err := unix.Kevent(p.kq, ch[:], nil, nil)
		return err
	}
	return p.modify(w, 0)
}

// modify brings the filters in line with w.interest.
func (p *poller) modify(w *Watch, _ Interest) error {
	var ch [2]unix.Kevent_t
	n := 0
	set := func(filter int, on bool, has *bool) {
		switch {
		case on && !*has:
			unix.SetKevent(&ch[n], w.fd, filter, unix.EV_ADD|unix.EV_ENABLE)
		case on:
			unix.SetKevent(&ch[n], w.fd, filter, unix.EV_ENABLE)
		case *has:
			unix.SetKevent(&ch[n], w.fd, filter, unix.EV_DISABLE)
		default:
			return
		}
		n++
	}
	set(unix.EVFILT_READ, w.interest&Read != 0, &w.hasRead)
	set(unix.EVFILT_WRITE, w.interest&Write != 0, &w.hasWrite)
	if n == 0 {
		return nil
	}
	if _, err := unix.Kevent(p.kq, ch[:n], nil, nil); err != nil {
		return err
	}
	w.hasRead = w.hasRead || w.interest&Read != 0
	w.hasWrite = w.hasWrite || w.interest&Write != 0
	return nil
}

func (p *poller) remove(w *Watch) error {
	var ch [2]unix.Kevent_t
	n := 0
	if w.kind == kindProc {
		unix.SetKevent(&ch[n], w.fd, unix.EVFILT_PROC, unix.EV_DELETE)
		n++
	}
	if w.hasRead {
		unix.SetKevent(&ch[n], w.fd, unix.EVFILT_READ, unix.EV_DELETE)
		n++
	}
	if w.hasWrite {
		unix.SetKevent(&ch[n], w.fd, unix.EVFILT_WRITE, unix.EV_DELETE)
		n++
	}
	if n == 0 {
		return nil
	}
	_, err := unix.Kevent(p.kq, ch[:n], nil, nil)
	if w.kind == kindProc && err == unix.ENOENT {
		err = nil // the one-shot filter has fired
	}
	return err
}

// wake may be called from any goroutine.
func (p *poller) wake() {
	unix.Write(p.w, []byte{1})
}

// wait blocks for at most timeout (negative: no limit) and delivers the
// events it collects.
func (p *poller) wait(l *Loop, timeout time.Duration) error {
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
	if n > 0 {
		l.now = time.Now()
	}
	for i := 0; i < n; i++ {
		e := &p.evs[i]
		id := int(e.Ident)
		if int(e.Filter) == unix.EVFILT_PROC {
			w := l.procs[id]
			if w != nil && w.seq != l.seq && !w.closed {
				w.h.OnEvent(Exited)
			}
			continue
		}
		if id == p.r && int(e.Filter) == unix.EVFILT_READ {
			var b [64]byte
			unix.Read(p.r, b[:])
			continue
		}
		w := l.lookup(id)
		if w == nil {
			continue
		}
		var ev Events
		switch int(e.Filter) {
		case unix.EVFILT_READ:
			ev = Readable
		case unix.EVFILT_WRITE:
			ev = Writable
		}
		if e.Flags&unix.EV_EOF != 0 {
			ev |= Hangup
		}
		if e.Flags&unix.EV_ERROR != 0 {
			ev |= Error
		}
		w.deliver(ev)
	}
	if n == len(p.evs) && n < 4096 {
		p.evs = make([]unix.Kevent_t, 2*n)
	}
	return nil
}

func (p *poller) close() {
	unix.Close(p.r)
	unix.Close(p.w)
	unix.Close(p.kq)
}
