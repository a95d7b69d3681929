package spawn

import (
	"sync"

	errorx "github.com/panjf2000/gnet/v2/pkg/errors"
	"github.com/panjf2000/gnet/v2/pkg/netpoll"
	"github.com/panjf2000/gnet/v2/pkg/queue"
)

// Event bits reported through TakeEvents.
const (
	EvStdout uint32 = 1 << iota // stdout has data or reached EOF
	EvStderr                    // stderr has data or reached EOF
	EvStdin                     // stdin accepts writes again (or its reader is gone)
	EvExit                      // the child may have exited: call Reap
)

// Notifier is told, on a poller goroutine, that a Process has events to
// take. It must not block: it hands the Process to its owner (an event loop,
// a channel) and returns.
type Notifier interface {
	Notify(p *Process)
}

// poller is one netpoll poller and its goroutine. It maps fds to the event
// bit they raise on their Process; the map is written by owners (Start,
// Release) and read by the poller goroutine.
type poller struct {
	np  *netpoll.Poller
	mu  sync.RWMutex
	fds map[int]watch

	//lint:ignore U1000 holds the kqueue of child exits on the BSDs; empty on Linux
	pollerOS
}

type watch struct {
	p   *Process
	bit uint32
	fn  func() // if set, called instead of raising bits (adopted orphans)
}

func newPoller() (*poller, error) {
	np, err := netpoll.OpenPoller()
	if err != nil {
		return nil, err
	}
	return &poller{np: np, fds: make(map[int]watch)}, nil
}

func (pl *poller) run() {
	_ = pollLoop(pl.np, pl.dispatch)
}

func (pl *poller) dispatch(fd int, ev netpoll.IOEvent, _ netpoll.IOFlags) error {
	pl.mu.RLock()
	w, ok := pl.fds[fd]
	pl.mu.RUnlock()
	if !ok {
		return nil
	}
	if w.fn != nil {
		w.fn()
		return nil
	}
	if w.bit == evExitQueue {
		drainExitQueue(pl, fd)
		return nil
	}
	w.p.raise(w.bit)
	return nil
}

// add registers fd edge-triggered for reading (or writing, for stdin).
func (pl *poller) add(fd int, p *Process, bit uint32) error {
	pl.mu.Lock()
	pl.fds[fd] = watch{p: p, bit: bit}
	pl.mu.Unlock()
	pa := &netpoll.PollAttachment{FD: fd}
	var err error
	if bit == EvStdin {
		err = pl.np.AddWrite(pa, true)
	} else {
		err = pl.np.AddRead(pa, true)
	}
	if err != nil {
		pl.forget(fd)
	}
	return err
}

// addFunc registers fd edge-triggered for reading; fn runs on the poller
// goroutine when it is readable.
func (pl *poller) addFunc(fd int, fn func()) error {
	pl.mu.Lock()
	pl.fds[fd] = watch{fn: fn}
	pl.mu.Unlock()
	if err := pl.np.AddRead(&netpoll.PollAttachment{FD: fd}, true); err != nil {
		pl.forget(fd)
		return err
	}
	return nil
}

// remove unregisters fd; the caller closes it afterwards.
func (pl *poller) remove(fd int) {
	_ = pl.np.Delete(fd)
	pl.forget(fd)
}

func (pl *poller) forget(fd int) {
	pl.mu.Lock()
	delete(pl.fds, fd)
	pl.mu.Unlock()
}

// stop ends the poller goroutine: a queued task that returns gnet's
// shutdown error is the one way out of Polling. close then frees the fds.
func (pl *poller) stop() {
	_ = pl.np.Trigger(queue.HighPriority, func(any) error { return errorx.ErrEngineShutdown }, nil)
}

func (pl *poller) close() error { return pl.np.Close() }

// raise sets bits and notifies the owner if none were pending.
func (p *Process) raise(bits uint32) {
	if p.ready.Or(bits) == 0 {
		p.notify.Notify(p)
	}
}
