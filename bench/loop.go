package bench

import (
	"container/heap"
	"math/rand/v2"
	"sync"
	"time"
)

// Loop is one event loop: a goroutine that owns a poller, the connections
// registered on it, and a timer heap. Everything about a connection (its
// handler callbacks, its buffers, its timers) runs on its loop's goroutine, so
// none of it needs locks; other goroutines talk to a loop only through Post.
type Loop struct {
	id     int
	e      *Engine
	p      *poller
	mu     sync.Mutex
	tasks  []func()
	spare  []func()
	conns  map[int]*Conn
	timers timerHeap
	buf    []byte
	rng    *rand.Rand
	done   chan struct{}
	stop   bool
	// Now is refreshed once per wake-up; handlers use it instead of
	// time.Now() when a few microseconds of staleness do not matter.
	now time.Time
}

func newLoop(id int) (*Loop, error) {
	p, err := openPoller()
	if err != nil {
		return nil, err
	}
	return &Loop{
		id:    id,
		p:     p,
		conns: make(map[int]*Conn),
		buf:   make([]byte, 64<<10),
		rng:   rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(id))),
		done:  make(chan struct{}),
	}, nil
}

// ID is the loop's index in its Engine, for per-loop (lock-free) recorders.
func (l *Loop) ID() int { return l.id }

// Post queues f to run on the loop goroutine. Safe from any goroutine.
func (l *Loop) Post(f func()) {
	l.mu.Lock()
	l.tasks = append(l.tasks, f)
	n := len(l.tasks)
	l.mu.Unlock()
	if n == 1 {
		l.p.wake()
	}
}

// Timer is a one-shot callback on a loop. Loop goroutine only.
type Timer struct {
	when  time.Time
	f     func()
	index int
}

// After runs f on the loop goroutine once d has elapsed.
func (l *Loop) After(d time.Duration, f func()) *Timer {
	return l.At(time.Now().Add(d), f)
}

// At runs f on the loop goroutine at (or as soon as possible after) t.
func (l *Loop) At(t time.Time, f func()) *Timer {
	tm := &Timer{when: t, f: f}
	heap.Push(&l.timers, tm)
	return tm
}

// Stop cancels the timer if it has not fired. Loop goroutine only.
func (l *Loop) Stop(t *Timer) {
	if t != nil && t.index >= 0 && t.index < len(l.timers) && l.timers[t.index] == t {
		heap.Remove(&l.timers, t.index)
	}
}

func (l *Loop) run() {
	defer close(l.done)
	for !l.stop {
		l.mu.Lock()
		tasks := l.tasks
		l.tasks = l.spare[:0]
		l.mu.Unlock()
		for i, f := range tasks {
			f()
			tasks[i] = nil
		}
		l.spare = tasks
		l.now = time.Now()
		for len(l.timers) > 0 && !l.timers[0].when.After(l.now) {
			t := heap.Pop(&l.timers).(*Timer)
			t.f()
			l.now = time.Now()
		}
		if l.stop {
			break
		}
		timeout := time.Duration(-1)
		if len(l.timers) > 0 {
			timeout = l.timers[0].when.Sub(l.now)
			if timeout < 0 {
				timeout = 0
			}
		}
		l.mu.Lock()
		if len(l.tasks) > 0 {
			timeout = 0
		}
		l.mu.Unlock()
		if err := l.p.wait(timeout, l.event); err != nil {
			panic("wsbench: poller: " + err.Error())
		}
	}
	for _, c := range l.conns {
		c.finish(errEngineClosed)
	}
	l.p.close()
}

func (l *Loop) event(fd int, readable, writable, hup bool) {
	c := l.conns[fd]
	if c == nil {
		return
	}
	l.now = time.Now()
	c.event(readable, writable, hup)
}

type timerHeap []*Timer

func (h timerHeap) Len() int           { return len(h) }
func (h timerHeap) Less(i, j int) bool { return h[i].when.Before(h[j].when) }
func (h timerHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index = i
	h[j].index = j
}
func (h *timerHeap) Push(x any) {
	t := x.(*Timer)
	t.index = len(*h)
	*h = append(*h, t)
}
func (h *timerHeap) Pop() any {
	old := *h
	n := len(old)
	t := old[n-1]
	old[n-1] = nil
	t.index = -1
	*h = old[:n-1]
	return t
}
