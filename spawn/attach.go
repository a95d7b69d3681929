package spawn

import (
	"golang.org/x/sys/unix"

	"github.com/wsplex/wsplex/reactor"
)

// Event bits, as returned by TakeEvents.
const (
	EvStdout uint32 = 1 << iota // stdout has data or reached EOF
	EvStderr                    // stderr has data or reached EOF
	EvStdin                     // stdin accepts writes again (or its reader is gone)
	EvExit                      // the child may have exited: call Reap
)

// Notifier is told that a Process has events to take (TakeEvents). For a
// Process attached with Attach it is called on the loop's goroutine, where
// the owner can take and handle them at once; for one started with Start it
// may be called on any goroutine and must only hand the work over.
type Notifier interface {
	Notify(p *Process)
}

// Watch slots of a Process, by event bit.
const (
	slotStdout = iota
	slotStderr
	slotStdin
	slotExit
	nSlots
)

func slotOf(bit uint32) int {
	switch bit {
	case EvStdout:
		return slotStdout
	case EvStderr:
		return slotStderr
	case EvStdin:
		return slotStdin
	}
	return slotExit
}

// pwatch is the reactor handler of one of a Process's descriptors.
type pwatch struct {
	p   *Process
	bit uint32
	w   *reactor.Watch
}

func (h *pwatch) OnEvent(ev reactor.Events) {
	p := h.p
	if ev&reactor.Shutdown != 0 {
		// The loop is closing: the descriptor stays the Process's, to be
		// closed by Release (the shutdown sweep).
		_ = h.w.Deregister()
		p.ws[slotOf(h.bit)] = nil
		return
	}
	if h.bit == EvStdin || p.edge {
		// One-shot: stdin is watched only while a write is pending, and a
		// Process on the spawner's own loop is re-armed when its owner
		// reads or writes to EAGAIN.
		_ = h.w.SetInterest(0)
	}
	p.raise(h.bit)
}

// Attach puts the child's descriptors (pipes or PTY master, and its exit:
// a pidfd on Linux, EVFILT_PROC on the BSDs) on loop l, with n told of
// their events on l's goroutine. It must be called on l's goroutine, and
// from then on the Process belongs to that goroutine: read, write, pause
// and release it there. Readiness is level-triggered: the owner reads what
// it wants per event, and PauseRead/ResumeRead is its flow control.
func (p *Process) Attach(l *reactor.Loop, n Notifier) error {
	return p.attach(l, n, false)
}

func (p *Process) attach(l *reactor.Loop, n Notifier, edge bool) error {
	p.amu.Lock()
	p.loop, p.notify, p.edge = l, n, edge
	p.amu.Unlock()
	if err := p.watch(l, p.stdout, EvStdout, reactor.Read); err != nil {
		return err
	}
	if err := p.watch(l, p.stderr, EvStderr, reactor.Read); err != nil {
		return err
	}
	// stdin is watched only while a write is pending. On a loop of its
	// own the watch is made then (rearm): most children's input never
	// fills the pipe, and an idle child then costs no watch for it. On
	// the spawner's loop, rearm runs elsewhere, so the watch is made now.
	if edge {
		if err := p.watch(l, p.stdin, EvStdin, 0); err != nil {
			return err
		}
	}
	if err := p.watchExit(l); err != nil {
		return err
	}
	if p.ready.Load() != 0 {
		n.Notify(p) // an exit reported before the Process had a loop
	}
	return nil
}

// watch registers fd (one of the pipes, for the event bit) on l; nothing
// if it is closed.
func (p *Process) watch(l *reactor.Loop, fd int, bit uint32, i reactor.Interest) error {
	if fd < 0 {
		return nil
	}
	h := &pwatch{p: p, bit: bit}
	w, err := l.Register(fd, i, h)
	if err != nil {
		return err
	}
	h.w = w
	p.ws[slotOf(bit)] = w
	return nil
}

// Loop is the loop the Process is attached to (nil before).
func (p *Process) Loop() *reactor.Loop {
	p.amu.Lock()
	defer p.amu.Unlock()
	return p.loop
}

// PauseRead stops watching the streams in bits (EvStdout, EvStderr): the
// child's pipe fills and it blocks in write(2). ResumeRead undoes it. For
// a Process attached with Attach, on its loop; otherwise a no-op (not
// reading is the pause there).
func (p *Process) PauseRead(bits uint32) { p.setRead(bits, false) }

// ResumeRead watches the streams in bits again.
func (p *Process) ResumeRead(bits uint32) { p.setRead(bits, true) }

func (p *Process) setRead(bits uint32, on bool) {
	if p.edge {
		return
	}
	for _, bit := range [...]uint32{EvStdout, EvStderr} {
		if bits&bit == 0 {
			continue
		}
		if w := p.ws[slotOf(bit)]; w != nil {
			if on {
				_ = w.ResumeRead()
			} else {
				_ = w.PauseRead()
			}
		}
	}
}

// rearm asks to be told again about bit once it is ready: for stdin after
// a short write, and for every stream of a Process on the spawner's loop
// after EAGAIN. The owner's goroutine is the loop's for an attached
// Process; otherwise the change is posted to the loop. The error is that
// of making stdin's watch (then nothing will say when it takes writes).
func (p *Process) rearm(bit uint32) error {
	if bit != EvStdin && !p.edge {
		return nil // level-triggered, never paused implicitly
	}
	i := reactor.Read
	if bit == EvStdin {
		i = reactor.Write
	}
	slot := slotOf(bit)
	if !p.edge {
		// On the owner's loop (its goroutine: loop was set there).
		w := p.ws[slot]
		if w == nil && bit == EvStdin && p.loop != nil {
			return p.watch(p.loop, p.stdin, EvStdin, i) // the first full pipe (attach)
		}
		if w != nil {
			_ = w.SetInterest(i)
		}
		return nil
	}
	l := p.Loop()
	if l == nil {
		return nil
	}
	l.Post(func() {
		if w := p.ws[slot]; w != nil {
			_ = w.SetInterest(i)
		}
	})
	return nil
}

// closeSlot closes the descriptor *fd (one of the Process's) and its watch.
func (p *Process) closeSlot(fd *int, bit uint32) {
	if *fd < 0 {
		return
	}
	n := *fd
	*fd = -1
	slot := slotOf(bit)
	if !p.edge {
		if w := p.ws[slot]; w != nil {
			p.ws[slot] = nil
			_ = w.Deregister()
		}
		_ = unix.Close(n)
		return
	}
	l := p.Loop()
	if l == nil || !l.Post(func() {
		if w := p.ws[slot]; w != nil {
			p.ws[slot] = nil
			_ = w.Deregister()
		}
		_ = unix.Close(n)
	}) {
		_ = unix.Close(n)
	}
}

// raise sets bits and, if none were set, tells the owner.
func (p *Process) raise(bits uint32) {
	if p.ready.Or(bits) == 0 {
		p.notify.Notify(p)
	}
}
