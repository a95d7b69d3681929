//go:build darwin || dragonfly || freebsd || netbsd || openbsd

package spawn

import (
	"errors"

	"golang.org/x/sys/unix"

	"github.com/wsplex/wsplex/reactor"
)

// watchExit adds an EVFILT_PROC/NOTE_EXIT filter for the child to l's
// kqueue. A child that is already a zombie (ESRCH) is reported at once.
func (p *Process) watchExit(l *reactor.Loop) error {
	h := &pwatch{p: p, bit: EvExit}
	w, err := l.WatchProcess(p.Pid, h)
	if errors.Is(err, unix.ESRCH) {
		p.ready.Or(EvExit)
		return nil
	}
	if err != nil {
		return err
	}
	h.w = w
	p.ws[slotExit] = w
	return nil
}

// dropExitWatch removes the filter once the child is reaped.
func (p *Process) dropExitWatch() {
	w := p.ws[slotExit]
	if w == nil {
		return
	}
	if !p.edge {
		p.ws[slotExit] = nil
		_ = w.Close()
		return
	}
	if l := p.Loop(); l != nil {
		l.Post(func() {
			if p.ws[slotExit] == w {
				p.ws[slotExit] = nil
				_ = w.Close()
			}
		})
	}
}
