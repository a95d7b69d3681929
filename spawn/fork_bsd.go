//go:build darwin || freebsd || netbsd || openbsd || dragonfly

package spawn

import (
	"syscall"

	"github.com/panjf2000/gnet/v2/pkg/netpoll"
	"golang.org/x/sys/unix"
)

func forkExec(spec Spec, stdio [3]int) (pid, exitFD int, err error) {
	pid, err = syscall.ForkExec(spec.Path, spec.Args, &syscall.ProcAttr{
		Dir:   spec.Dir,
		Env:   spec.Env,
		Files: []uintptr{uintptr(stdio[0]), uintptr(stdio[1]), uintptr(stdio[2])},
		Sys:   &syscall.SysProcAttr{Setpgid: true},
	})
	return pid, -1, err
}

// evExitQueue marks the poller's private kqueue of EVFILT_PROC events. A
// kqueue fd is itself pollable, so exits arrive on the same poller as the
// pipes, without an fd per child.
const evExitQueue = 1 << 31

func (pl *poller) init() error {
	kq, err := unix.Kqueue()
	if err != nil {
		return err
	}
	unix.CloseOnExec(kq)
	pl.exitQueue = kq
	pl.byPid = make(map[int]*Process)
	pl.fds[kq] = watch{bit: evExitQueue}
	return pl.np.AddRead(&netpoll.PollAttachment{FD: kq}, false)
}

func (pl *poller) watchExit(p *Process) error {
	pl.mu.Lock()
	pl.byPid[p.Pid] = p
	pl.mu.Unlock()
	ev := unix.Kevent_t{Filter: unix.EVFILT_PROC, Flags: unix.EV_ADD | unix.EV_ONESHOT, Fflags: unix.NOTE_EXIT}
	unix.SetKevent(&ev, p.Pid, unix.EVFILT_PROC, unix.EV_ADD|unix.EV_ONESHOT)
	ev.Fflags = unix.NOTE_EXIT
	if _, err := unix.Kevent(pl.exitQueue, []unix.Kevent_t{ev}, nil, nil); err != nil {
		if err == unix.ESRCH { // already a zombie: report it now
			p.raise(EvExit)
			return nil
		}
		return err
	}
	return nil
}

func drainExitQueue(pl *poller, kq int) {
	var evs [64]unix.Kevent_t
	zero := unix.Timespec{}
	for {
		n, err := unix.Kevent(kq, nil, evs[:], &zero)
		if err == unix.EINTR {
			continue
		}
		if err != nil || n <= 0 {
			return
		}
		for _, ev := range evs[:n] {
			pid := int(ev.Ident)
			pl.mu.Lock()
			p := pl.byPid[pid]
			delete(pl.byPid, pid)
			pl.mu.Unlock()
			if p != nil {
				p.raise(EvExit)
			}
		}
		if n < len(evs) {
			return
		}
	}
}

func pollLoop(np *netpoll.Poller, cb netpoll.PollEventHandler) error { return np.Polling(cb) }
