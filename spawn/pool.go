package spawn

import (
	"encoding/json"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// PreforkVar is set (to "1") in the environment of a preforked child: it
// tells the program that its first line of input is its environment.
const PreforkVar = "WSPLEX_PREFORK"

// Pool keeps a number of children of one Spec started and waiting, so that
// a connection to a slow-starting program (Python, the JVM) is served at
// once (--prefork). What a waiting child cannot have is the connection's
// environment, unknown when it started: Take hands it over as the first
// line of the child's stdin, a JSON object of name -> value, and the child
// (which sees WSPLEX_PREFORK=1 in its own environment) applies it.
//
// While a child waits the Pool owns it: its events go to the Pool, which
// notices an early exit, reaps it and starts another. Take hands the owner
// role and the events gathered so far to the connection.
type Pool struct {
	s    *Spawner
	spec Spec
	size int

	mu      sync.Mutex
	idle    []*Process
	filling int // starts under way
	closed  bool
	deaths  int  // waiting children that exited on their own since the last Take
	backoff bool // a delayed refill is armed
}

// NewPool starts size children of spec (whose Env gets PreforkVar) in the
// background and keeps that many waiting.
func (s *Spawner) NewPool(spec Spec, size int) *Pool {
	spec.Env = append(append([]string(nil), spec.Env...), PreforkVar+"=1")
	pl := &Pool{s: s, spec: spec, size: size}
	pl.refill()
	return pl
}

// handoff is a waiting child's notifier: the Pool's until Take, then the
// connection's.
type handoff struct {
	pl     *Pool
	mu     sync.Mutex
	owner  Notifier // nil while waiting
	bits   uint32   // events taken while waiting, handed over at Take
	exited bool     // reaped while waiting (possibly before refill had it)
}

func (h *handoff) Notify(p *Process) {
	h.mu.Lock()
	if h.owner != nil {
		o := h.owner
		h.mu.Unlock()
		o.Notify(p)
		return
	}
	h.bits |= p.TakeEvents()
	exited := false
	if h.bits&EvExit != 0 {
		_, exited = p.Reap()
	}
	h.exited = h.exited || exited
	h.mu.Unlock()
	if exited {
		h.pl.drop(p)
	}
}

// Take returns a waiting child, already given env (the connection's
// environment) on its first line of input, whose events now go to n; false
// if none is waiting (the caller then starts one the usual way). A
// replacement starts in the background.
func (pl *Pool) Take(env []string, n Notifier) (*Process, bool) {
	line, err := envLine(env)
	if err != nil {
		return nil, false
	}
	for {
		pl.mu.Lock()
		if pl.closed || len(pl.idle) == 0 {
			pl.mu.Unlock()
			pl.refill()
			return nil, false
		}
		p := pl.idle[0]
		pl.idle = pl.idle[1:]
		pl.mu.Unlock()
		pl.refill()

		h := p.notify.(*handoff)
		h.mu.Lock()
		if _, gone := p.Reap(); gone {
			h.mu.Unlock()
			p.Release()
			continue
		}
		// A fresh pipe takes 64 KiB at once; a longer environment does not
		// fit and the child is not used.
		if k, err := p.WriteStdin(line); err != nil || k != len(line) {
			h.mu.Unlock()
			pl.discard(p)
			continue
		}
		pl.mu.Lock()
		pl.deaths = 0
		pl.mu.Unlock()
		h.owner = n
		p.ready.Or(h.bits)
		h.bits = 0
		pending := p.ready.Load() != 0
		h.mu.Unlock()
		if pending {
			n.Notify(p)
		}
		return p, true
	}
}

// envLine is the handover line: {"NAME":"value",...}\n.
func envLine(env []string) ([]byte, error) {
	m := make(map[string]string, len(env))
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	b, err := json.Marshal(m)
	return append(b, '\n'), err
}

// refill starts children until size are waiting or starting. Starting
// blocks (a fork), so it happens on a goroutine of its own, never on the
// caller's event loop.
func (pl *Pool) refill() {
	pl.mu.Lock()
	want := pl.size - len(pl.idle) - pl.filling
	if pl.closed || pl.backoff || want <= 0 {
		pl.mu.Unlock()
		return
	}
	pl.filling += want
	pl.mu.Unlock()
	go func() {
		for i := 0; i < want; i++ {
			h := &handoff{pl: pl}
			p, err := pl.s.Start(pl.spec, h)
			pl.mu.Lock()
			pl.filling--
			if err == nil && !pl.closed {
				// Its exit may have been seen before Start returned; drop
				// then found nothing to drop.
				h.mu.Lock()
				gone := h.exited
				h.mu.Unlock()
				if gone {
					pl.died(p) // unlocks pl.mu
					continue
				}
				pl.idle = append(pl.idle, p)
				p = nil
			}
			pl.mu.Unlock()
			if p != nil {
				pl.discard(p)
			}
			if err != nil {
				pl.mu.Lock()
				pl.filling -= want - 1 - i
				pl.mu.Unlock()
				return // the next Take tries again
			}
		}
	}()
}

// drop removes a waiting child that exited on its own, and replaces it
// after a delay that doubles with each such death (10 ms up to 5 s): a
// program that cannot wait for input must not turn --prefork into a fork
// loop.
func (pl *Pool) drop(p *Process) {
	pl.mu.Lock()
	for i, q := range pl.idle {
		if q == p {
			pl.idle = append(pl.idle[:i], pl.idle[i+1:]...)
			pl.died(p)
			return
		}
	}
	pl.mu.Unlock()
}

// died counts a waiting child's death and arms the delayed refill. It is
// called with pl.mu held and releases it.
func (pl *Pool) died(p *Process) {
	pl.deaths++
	delay := min(10*time.Millisecond<<min(pl.deaths-1, 9), 5*time.Second)
	arm := !pl.backoff
	pl.backoff = true
	pl.mu.Unlock()
	p.Release()
	if arm {
		time.AfterFunc(delay, func() {
			pl.mu.Lock()
			pl.backoff = false
			pl.mu.Unlock()
			pl.refill()
		})
	}
}

// discard kills a waiting child that will not be used; the reaper reaps
// and releases it once its exit is seen. Releasing it at once would close
// the exit watch with the pipes, and a child forked by the daemon itself
// would stay a zombie until the daemon exits. The signal goes out under
// h.mu, before anyone can have reaped the child (its exit report waits for
// the lock), so it cannot reach a reused process group. The caller must not
// use p again.
func (pl *Pool) discard(p *Process) {
	h := p.notify.(*handoff)
	h.mu.Lock()
	if h.exited {
		h.mu.Unlock()
		p.Release() // the handoff has reaped it
		return
	}
	_ = p.Signal(unix.SIGKILL)
	h.owner = reaper{}
	h.mu.Unlock()
}

// reaper owns a discarded child: it reaps it when its exit is seen, then
// releases it.
type reaper struct{}

func (reaper) Notify(p *Process) {
	if p.TakeEvents()&EvExit == 0 {
		return
	}
	if _, ok := p.Reap(); ok {
		p.Release()
	}
}

// Close kills the waiting children and waits until they are reaped.
func (pl *Pool) Close() {
	pl.mu.Lock()
	pl.closed = true
	idle := pl.idle
	pl.idle = nil
	pl.mu.Unlock()
	for _, p := range idle {
		h := p.notify.(*handoff)
		done := make(chan struct{}, 1)
		h.mu.Lock()
		h.owner = closeNotifier(done)
		h.mu.Unlock()
		_ = p.Signal(unix.SIGKILL)
		for {
			if _, ok := p.Reap(); ok {
				break
			}
			<-done
			p.TakeEvents()
		}
		p.Release()
	}
}

// closeNotifier wakes Close.
type closeNotifier chan struct{}

func (c closeNotifier) Notify(*Process) {
	select {
	case c <- struct{}{}:
	default:
	}
}
