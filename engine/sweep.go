package engine

import (
	"time"

	"golang.org/x/sys/unix"

	"github.com/wsplex/wsplex/internal/logline"
	"github.com/wsplex/wsplex/spawn"
)

// What shutdown does about work that cannot reach an event loop any more.
//
// Shutdown waits for every connection to be released, but only so long
// (the drain bound in shutdown); then it closes the loops. From then on
// conn.exec hands work to nobody: a child's exit report, a rung of its
// ladder, the answer of a start still in flight are lost. Without the sweep
// such a child would outlive the daemon, or stay a zombie of it, its pipes
// never closed. So once the loops are gone, the shutdown goroutine, the
// only one left to own connections, kills, reaps and releases what they
// still hold, and handChild does the same to a child that started too late
// to have a connection.

// sweepWait bounds how long the sweep waits for killed children to be
// reaped. SIGKILL takes effect at once; the bound is for a child stuck in
// the kernel.
const sweepWait = 2 * time.Second

// handChild takes a StartAsync answer to its connection's loop. The child is noted as
// on its way until the loop has it, so that if the loop never runs the
// hand-off (it is stopping, or already gone), the sweep disposes of it. An
// answer that comes once the loops are gone is left to the sweep, which
// waits a little for the starts still in flight; after the sweep, the child
// is killed and released here.
func (e *Engine) handChild(ch *childEndpoint, p *spawn.Process, err error) {
	defer e.starts.Add(-1)
	if p != nil {
		e.handMu.Lock()
		switch {
		case e.swept:
			e.handMu.Unlock()
			_ = p.Signal(unix.SIGKILL)
			p.Release() // its spawner (or, direct, the daemon's exit) reaps it
			return
		case e.loopsGone:
			e.late = append(e.late, p)
			e.handMu.Unlock()
			return
		}
		e.handing[p] = struct{}{}
		e.handMu.Unlock()
	}
	ch.c.exec(func(*conn) {
		if p != nil {
			e.handMu.Lock()
			delete(e.handing, p)
			e.handMu.Unlock()
		}
		ch.childStarted(p, err)
	})
}

// sweep runs after the loops have stopped (Group.Close has returned, so
// no loop goroutine touches a conn any more; the loops' shutdown has
// deregistered every watch and closed the sockets, leaving the children's
// descriptors to their Process): every child still held by a
// connection, on its way to one, or started for one too late, is killed
// with its process group, reaped and released; the connections are dropped
// from the registry.
func (e *Engine) sweep() {
	e.handMu.Lock()
	e.loopsGone = true
	var procs []*spawn.Process
	for p := range e.handing {
		procs = append(procs, p)
	}
	clear(e.handing)
	e.handMu.Unlock()

	e.mu.Lock()
	left := make([]*conn, 0, len(e.live))
	for c := range e.live {
		left = append(left, c)
	}
	clear(e.live)
	e.mu.Unlock()
	for _, c := range left {
		if c.ep != nil {
			c.ep.sweep() // children not reaped go to e.leftBehind
		}
	}
	procs = append(procs, e.leftBehind...)
	e.leftBehind = nil
	procs = append(procs, e.sweepRooms()...)
	// Starts still in flight (the spawner is still up) answer soon.
	deadline := time.Now().Add(sweepWait)
	for e.starts.Load() > 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond) // polling: the loops that would hear of them are gone
	}
	e.handMu.Lock()
	e.swept = true
	procs = append(procs, e.late...)
	e.late = nil
	e.handMu.Unlock()
	if len(procs) > 0 {
		e.log.Log(logline.LevelError, "server", nil, "Shutdown: killing %d children the event loops left behind", len(procs))
		e.disposeAll(procs)
	}
}

// disposeAll kills, reaps and releases children nobody else owns now.
func (e *Engine) disposeAll(procs []*spawn.Process) {
	for _, p := range procs {
		if !p.Exited() {
			_ = p.Signal(unix.SIGKILL)
		}
	}
	deadline := time.Now().Add(sweepWait)
	for _, p := range procs {
		for {
			if _, ok := p.Reap(); ok || time.Now().After(deadline) {
				break
			}
			// The exit report goes to a Notifier whose loop is gone:
			// poll for it instead.
			time.Sleep(5 * time.Millisecond)
		}
		if !p.Exited() {
			e.log.Log(logline.LevelError, "server", nil, "Shutdown: child %d not reaped after SIGKILL", p.Pid)
		}
		p.Release()
	}
}
