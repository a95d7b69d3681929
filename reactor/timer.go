package reactor

import "time"

// Timer is a one-shot callback on a loop, kept in the loop's heap; the
// earliest timer bounds the poller's wait, so no timerfd or goroutine is
// involved. A Timer is made once (NewTimer, or InitTimer on one embedded in
// a connection) and re-armed with Reset as often as needed: Reset and Stop
// do not allocate. All methods run on the loop goroutine.
type Timer struct {
	l    *Loop
	f    func()
	when int64 // nanoseconds since l.base (monotonic)
	idx  int   // position in the heap, -1 when not armed
}

// NewTimer returns a stopped timer that will run f on the loop.
func (l *Loop) NewTimer(f func()) *Timer {
	t := &Timer{}
	l.InitTimer(t, f)
	return t
}

// InitTimer sets up t (for instance a field of a connection) to run f.
func (l *Loop) InitTimer(t *Timer, f func()) {
	*t = Timer{l: l, f: f, idx: -1}
}

// AfterFunc runs f once d has elapsed. It allocates the Timer.
func (l *Loop) AfterFunc(d time.Duration, f func()) *Timer {
	t := l.NewTimer(f)
	t.Reset(d)
	return t
}

// Reset (re)arms the timer to fire d from now.
func (t *Timer) Reset(d time.Duration) {
	t.set(int64(time.Since(t.l.base) + d))
}

// ResetAt (re)arms the timer to fire at at (or as soon as possible after).
func (t *Timer) ResetAt(at time.Time) {
	t.set(int64(at.Sub(t.l.base)))
}

func (t *Timer) set(when int64) {
	h := &t.l.timers
	t.when = when
	if t.idx >= 0 {
		h.fix(t.idx)
		return
	}
	h.push(t)
}

// Stop disarms the timer; it reports whether it was armed.
func (t *Timer) Stop() bool {
	if t == nil || t.idx < 0 {
		return false
	}
	t.l.timers.remove(t.idx)
	return true
}

// Active reports whether the timer is armed.
func (t *Timer) Active() bool { return t != nil && t.idx >= 0 }

// runTimers fires the timers due at now (nanoseconds since base), at most
// as many as were armed when it started: a timer a callback re-arms in the
// past (an open-loop sender behind schedule) fires again on the next
// round, after the poller has had its turn.
func (l *Loop) runTimers(now int64) {
	h := &l.timers
	for budget := len(*h); budget > 0 && len(*h) > 0 && (*h)[0].when <= now; budget-- {
		t := (*h)[0]
		h.remove(0)
		t.f()
	}
}

// timerHeap is a binary min-heap on when, with each timer's index kept in
// it so Stop and Reset are O(log n) without a search.
type timerHeap []*Timer

func (h *timerHeap) push(t *Timer) {
	t.idx = len(*h)
	*h = append(*h, t)
	h.up(t.idx)
}

func (h *timerHeap) remove(i int) {
	s := *h
	n := len(s) - 1
	t := s[i]
	if i != n {
		s[i] = s[n]
		s[i].idx = i
	}
	s[n] = nil
	*h = s[:n]
	t.idx = -1
	if i != n {
		h.fix(i)
	}
}

func (h timerHeap) fix(i int) {
	if !h.down(i) {
		h.up(i)
	}
}

func (h timerHeap) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if h[p].when <= h[i].when {
			break
		}
		h.swap(i, p)
		i = p
	}
}

func (h timerHeap) down(i0 int) bool {
	i, n := i0, len(h)
	for {
		c := 2*i + 1
		if c >= n {
			break
		}
		if r := c + 1; r < n && h[r].when < h[c].when {
			c = r
		}
		if h[i].when <= h[c].when {
			break
		}
		h.swap(i, c)
		i = c
	}
	return i > i0
}

func (h timerHeap) swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].idx = i
	h[j].idx = j
}
