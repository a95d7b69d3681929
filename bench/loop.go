package bench

import (
	"math/rand/v2"
	"time"

	"github.com/wsplex/wsplex/reactor"
)

// Loop is what wsbench keeps per event loop: the reactor.Loop that owns
// the connections' sockets and timers (the same loop package the daemon
// uses), plus a read buffer and a random source for masks shared by its
// connections. Everything about a connection runs on its loop goroutine,
// so none of it needs locks; other goroutines reach a loop through Post.
type Loop struct {
	id  int
	e   *Engine
	r   *reactor.Loop
	buf []byte
	rng *rand.Rand
	// now is refreshed on every socket event; handlers use it instead of
	// time.Now() when a few microseconds of staleness do not matter.
	now time.Time
}

func newLoop(e *Engine, r *reactor.Loop) *Loop {
	id := r.ID()
	return &Loop{
		id:  id,
		e:   e,
		r:   r,
		buf: make([]byte, 64<<10),
		rng: rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(id))),
		now: time.Now(),
	}
}

// ID is the loop's index in its Engine, for per-loop (lock-free) recorders.
func (l *Loop) ID() int { return l.id }

// Post queues f to run on the loop goroutine. Safe from any goroutine; f
// is dropped once the engine is closing.
func (l *Loop) Post(f func()) { l.r.Post(f) }

// Timer is a one-shot callback on a loop. Loop goroutine only.
type Timer = reactor.Timer

// After runs f on the loop goroutine once d has elapsed.
func (l *Loop) After(d time.Duration, f func()) *Timer {
	return l.r.AfterFunc(d, f)
}

// At runs f on the loop goroutine at (or as soon as possible after) t.
func (l *Loop) At(t time.Time, f func()) *Timer {
	tm := l.r.NewTimer(f)
	tm.ResetAt(t)
	return tm
}

// Stop cancels the timer if it has not fired (nil is fine). Loop
// goroutine only.
func (l *Loop) Stop(t *Timer) { t.Stop() }
