package spawn

import "github.com/wsplex/wsplex/reactor"

// watchExit puts the child's pidfd (from CLONE_PIDFD, or none for a child
// of the spawner process, whose exit comes as a report) on l: it becomes
// readable when the child exits.
func (p *Process) watchExit(l *reactor.Loop) error {
	if p.exitFD < 0 {
		return nil
	}
	h := &pwatch{p: p, bit: EvExit}
	w, err := l.Register(p.exitFD, reactor.Read, h)
	if err != nil {
		return err
	}
	h.w = w
	p.ws[slotExit] = w
	return nil
}

// dropExitWatch closes the pidfd once the child is reaped.
func (p *Process) dropExitWatch() { p.closeSlot(&p.exitFD, EvExit) }
