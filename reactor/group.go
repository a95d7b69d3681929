package reactor

import (
	"runtime"
	"sync/atomic"
)

// Group is N loops, by default one per core, and the choice of the loop a
// new connection goes to.
type Group struct {
	loops []*Loop
	rr    atomic.Uint64
}

// NewGroup starts n loops (n <= 0: runtime.NumCPU()), numbered 0..n-1.
func NewGroup(n int) (*Group, error) {
	if n <= 0 {
		n = runtime.NumCPU()
	}
	g := &Group{}
	for i := 0; i < n; i++ {
		l, err := New(i)
		if err != nil {
			g.Close()
			return nil, err
		}
		g.loops = append(g.loops, l)
	}
	return g, nil
}

// Loops returns the loops, indexed by their ID.
func (g *Group) Loops() []*Loop { return g.loops }

// Next picks a loop round robin. Safe from any goroutine.
func (g *Group) Next() *Loop {
	return g.loops[(g.rr.Add(1)-1)%uint64(len(g.loops))]
}

// Least picks the loop with the fewest watches (ties: the lowest ID), for
// connections whose lifetimes vary so much that round robin would leave
// one loop with the long-lived ones. Safe from any goroutine; the counts
// are read without stopping the loops, so two callers at once may pick
// the same loop.
func (g *Group) Least() *Loop {
	best := g.loops[0]
	bl := best.Load()
	for _, l := range g.loops[1:] {
		if n := l.Load(); n < bl {
			best, bl = l, n
		}
	}
	return best
}

// Close closes every loop (see Loop.Close) and returns the first error.
func (g *Group) Close() error {
	var first error
	for _, l := range g.loops {
		if err := l.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}
