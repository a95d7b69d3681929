package engine

import (
	"errors"
	"fmt"

	"github.com/gobwas/ws"
	"golang.org/x/sys/unix"

	"github.com/wsplex/wsplex/codec"
	"github.com/wsplex/wsplex/internal/logline"
	"github.com/wsplex/wsplex/reactor"
	"github.com/wsplex/wsplex/spawn"
)

// childEndpoint is websocketd's model: a process per connection, the
// client's messages on its stdin, its stdout lines as messages. Its pipes
// and its exit are watches of the connection's loop (spawn.Process.Attach),
// so its events are handled where the socket's are, with no hop.
//
// Flow control, both ways, is interest on the loop: a child whose client
// is behind by --outbuffer is not read (its pipe fills and it blocks in
// write) until the socket's Writable says the client took half of it
// (resumeOutput); input the child's stdin does not take is kept in
// stdinPend and the client is not read until the pipe's Writable drains it
// (flushStdin).
//
// When the client goes, the termination ladder (spawn.Ladder) runs: stdin
// closed, then SIGINT, SIGTERM, SIGKILL, its output drained and dropped
// meanwhile. A child that exits leaves its process group behind it only as
// long as its connection stays: once the client goes, the ladder runs
// against the group.
type childEndpoint struct {
	c    *conn
	e    *Engine
	spec *spawn.Spec    // what to start; dropped once started (spawn)
	size *spawn.Winsize // on a terminal of this size (--pty, endpoint_pty.go); nil on pipes

	proc *spawn.Process
	here bool // proc is attached to c's loop (not a --prefork child still on the spawner's)
	life life // life.go

	outEOF, errEOF bool
	outPaused      bool // not reading its output: the client is behind
	pacedErr       bool // stderr goes to the client (--passstderr): paused with stdout
	inText         bool // the client message in progress is one this mode forwards
	timerSet       bool
	stdinPend      []byte
	fdsCharged     int64 // fds counted in Engine.fdsHeld for this child

	ladder spawn.Ladder
	timer  reactor.Timer // the ladder's next rung
}

// childFDs is what a child costs the daemon in fds (three pipes), charged
// before the start; childStarted corrects it to what the Process holds.
const childFDs = 3

func (ch *childEndpoint) start(c *conn) {
	ch.c, ch.e = c, c.e
	ch.pacedErr = c.framer.stderrToClient()
	// The slot (--maxforks) and the fds are the child's from now on, so
	// that upgrades arriving while it starts count it.
	ch.e.children.Add(1)
	ch.fdsCharged = childFDs
	ch.e.fdsHeld.Add(ch.fdsCharged)
	ch.life = lifeStarting
	if ch.e.cfg.ReverseLookup && c.remoteAddr != "unix-socket" {
		ch.lookupThenStart() // lookup.go
		return
	}
	ch.spawn()
}

// spawn gives the connection a waiting child if the --prefork pool has one
// for this program, else starts one; childStarted follows, at once or,
// through the spawner process, once it has answered: the loop does not
// wait for the fork.
func (ch *childEndpoint) spawn() {
	e := ch.e
	// The environment is the child's, not the connection's: an idle
	// connection should not hold a KiB of it.
	spec := *ch.spec
	ch.spec = nil
	if ch.size != nil {
		ch.childStarted(e.startPTY(spec, *ch.size))
		return
	}
	if e.pool != nil && spec.Path == e.cfg.Command {
		if p, ok := e.pool.Take(spec.Env, ch); ok {
			ch.childStarted(p, nil)
			return
		}
	}
	e.starts.Add(1)
	e.spawner.SpawnAsync(spec, func(p *spawn.Process, err error) {
		e.handChild(ch, p, err) // sweep.go
	})
}

// childStarted runs on the loop once the child runs, or could not be
// started.
func (ch *childEndpoint) childStarted(p *spawn.Process, err error) {
	c, e := ch.c, ch.e
	if err != nil {
		e.children.Add(-1)
		e.fdsHeld.Add(-ch.fdsCharged)
		ch.fdsCharged = 0
		e.metrics.spawnFail.Inc()
		name := e.cfg.CommandName
		if name == "" {
			name = c.route.script
		}
		e.log.Log(logline.LevelError, "process", &c.fields, "Could not launch process %s: %v", name, err)
		ch.life = lifeReaped
		reason := "could not start the program"
		var se *spawn.StartError
		if errors.As(err, &se) {
			reason = "could not start: " + se.Reason // AppendClose cuts it to 123 bytes
		}
		c.started(&endpointError{Code: ws.StatusInternalServerError, Reason: reason})
		return
	}
	if p.Loop() == nil {
		if err := p.Attach(c.loop, ch); err != nil {
			e.log.Log(logline.LevelError, "process", &c.fields, "Could not watch process %d: %v", p.Pid, err)
		}
		ch.here = true
	}
	ch.proc = p
	ch.life = lifeRunning
	c.fields.PID = p.Pid
	e.fdsHeld.Add(int64(p.FDs()) - ch.fdsCharged)
	ch.fdsCharged = int64(p.FDs())
	e.metrics.children.Inc()
	c.started(nil)
	ch.onChild() // events that came before proc was set
}

// Notify is spawn's signal that the child has events. A child attached to
// this loop is told here, on the loop: its events are taken at once. A
// --prefork child still watched on the spawner's loop is taken over by a
// post.
func (ch *childEndpoint) Notify(*spawn.Process) {
	if ch.here {
		ch.onChild()
		return
	}
	ch.c.loop.Post(ch.onChild)
}

// onChild takes the child's events on the loop.
func (ch *childEndpoint) onChild() {
	p := ch.proc
	if p == nil || ch.life.finished() {
		return
	}
	bits := p.TakeEvents()
	if bits&spawn.EvStdin != 0 {
		ch.flushStdin()
	}
	if bits&spawn.EvExit != 0 {
		p.Reap()
	}
	if bits&(spawn.EvStdout|spawn.EvStderr|spawn.EvExit) != 0 {
		ch.pump()
	}
}

// pump reads the child's stdout and stderr until they are empty, the
// client falls behind (then the child is paused: its pipe fills and it
// blocks), or this event has had its share of the loop.
func (ch *childEndpoint) pump() {
	p := ch.proc
	if p == nil || ch.life.finished() {
		return
	}
	bp := scratch.Get().(*[]byte)
	buf := *bp
	defer scratch.Put(bp)

	more := false
	for i := 0; !ch.outEOF && !ch.outPaused; i++ {
		if i == readsPerRun {
			more = true
			break
		}
		n, err := p.ReadStdout(buf)
		if n > 0 && ch.c.output(streamOut, buf[:n]) {
			ch.setOutPaused(true)
		}
		if ch.endOfStream(err) {
			ch.outEOF = true
			p.PauseRead(spawn.EvStdout) // a grandchild may hold it open: not watched any more
		}
		if err != nil {
			break
		}
	}
	for i := 0; !ch.errEOF && !(ch.pacedErr && ch.outPaused); i++ {
		if i == readsPerRun {
			more = true
			break
		}
		n, err := p.ReadStderr(buf)
		if n > 0 && ch.c.output(streamErr, buf[:n]) && ch.pacedErr {
			ch.setOutPaused(true)
		}
		if ch.endOfStream(err) {
			ch.errEOF = true
			p.PauseRead(spawn.EvStderr)
		}
		if err != nil {
			break
		}
	}
	if ch.outEOF && ch.errEOF && p.Exited() {
		ch.finish()
		return
	}
	if more && !ch.here {
		// A --prefork child still on the spawner's loop is not told
		// again about data already there: read on in a later task. On
		// this loop, readiness is level-triggered: the next wait says so.
		ch.c.loop.Post(ch.pump)
	}
}

// endOfStream: a pipe is done at EOF, or, once the child is reaped, when it
// is merely empty: what still holds it open is a grandchild, and the
// connection does not wait for those.
func (ch *childEndpoint) endOfStream(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, spawn.ErrWouldBlock) {
		return ch.proc.Exited()
	}
	return true
}

// setOutPaused turns reading the child's output off or on: the pipe's
// read interest goes off (the pipe fills and the child blocks in write),
// and the socket's Writable is where it comes back (resumeOutput).
func (ch *childEndpoint) setOutPaused(on bool) {
	ch.outPaused = on
	if ch.proc == nil || ch.life.finished() {
		return
	}
	var bits uint32
	if !ch.outEOF {
		bits |= spawn.EvStdout
	}
	if ch.pacedErr && !ch.errEOF {
		bits |= spawn.EvStderr
	}
	if on {
		ch.proc.PauseRead(bits)
	} else {
		ch.proc.ResumeRead(bits)
	}
}

func (ch *childEndpoint) resumeOutput() {
	if !ch.outPaused {
		return
	}
	ch.setOutPaused(false)
	ch.pump()
}

// input forwards what websocketd forwards: text messages in text mode,
// each ended by a newline, binary messages as they are with --binary; the
// other kind is ignored.
func (ch *childEndpoint) input(op ws.OpCode, first, fin bool, payload []byte) (bool, *codec.CloseError) {
	binary := ch.e.cfg.Binary
	if first {
		want := ws.OpText
		if binary {
			want = ws.OpBinary
		}
		ch.inText = op == want
	}
	if ch.inText {
		ch.write(payload, fin && !binary)
	}
	return ch.stdinPend == nil, nil
}

// write writes one piece of a message (and the newline that ends a text
// message) to the child's stdin. What the pipe does not take is kept
// until the child has read it.
func (ch *childEndpoint) write(payload []byte, nl bool) {
	p := ch.proc
	if p == nil || ch.life != lifeRunning {
		return
	}
	total := len(payload)
	var n int
	var err error
	if nl {
		total++
		n, err = p.WriteStdin(payload, newline)
	} else {
		n, err = p.WriteStdin(payload)
	}
	switch {
	case err == nil && n == total:
	case err == nil || errors.Is(err, spawn.ErrWouldBlock):
		if n < len(payload) {
			ch.stdinPend = append(ch.stdinPend, payload[n:]...)
		}
		if nl {
			ch.stdinPend = append(ch.stdinPend, '\n')
		}
	default:
		// The child closed its stdin or is exiting: what it will not
		// read is dropped, as with websocketd.
		ch.e.log.Log(logline.LevelDebug, "process", &ch.c.fields, "Input dropped: %v", err)
	}
}

// flushStdin runs when the child's stdin accepts writes again.
func (ch *childEndpoint) flushStdin() {
	if ch.stdinPend == nil || ch.proc == nil {
		return
	}
	n, err := ch.proc.WriteStdin(ch.stdinPend)
	if errors.Is(err, spawn.ErrWouldBlock) || (err == nil && n < len(ch.stdinPend)) {
		ch.stdinPend = ch.stdinPend[:copy(ch.stdinPend, ch.stdinPend[n:])]
		return
	}
	ch.stdinPend = nil
	ch.c.inputResumed()
}

// hangup starts the termination ladder, against the child if it runs, or
// against what it left behind in its process group.
func (ch *childEndpoint) hangup() {
	p := ch.proc
	running := ch.life == lifeRunning
	switch ch.life {
	case lifeRunning:
		ch.life = lifeLaddering
	case lifeOrphans:
		if !p.GroupAlive() {
			ch.life = lifeReaped
			ch.c.released()
			return
		}
		ch.life = lifeGroupLadder
	default:
		return
	}
	ch.stdinPend = nil
	if ch.outPaused {
		ch.setOutPaused(false) // drained and dropped from here on
	}
	if ch.size != nil && running {
		p.Hangup() // what a closed terminal does; the ladder follows
	}
	ch.ladder.CloseExtra = ch.e.cfg.CloseExtra
	ch.ladderStep()
}

func (ch *childEndpoint) ladderStep() {
	if !ch.life.laddering() {
		return
	}
	if ch.life == lifeGroupLadder && !ch.proc.GroupAlive() {
		ch.life = lifeReaped
		ch.stopTimer()
		ch.c.released()
		return
	}
	rung := ch.ladder.Rung()
	wait, done := ch.ladder.Step(ch.proc)
	if rung > spawn.RungStdin {
		ch.e.log.Log(logline.LevelDebug, "process", &ch.c.fields, "Termination ladder: rung %d", rung)
	}
	if done {
		// After SIGKILL only the exit event is left to wait for; of
		// grandchildren, only zombies can remain, and they are not ours
		// to reap.
		ch.stopTimer()
		if ch.life == lifeGroupLadder {
			ch.life = lifeReaped
			ch.c.released()
		}
		return
	}
	if !ch.timerSet {
		ch.c.loop.InitTimer(&ch.timer, ch.ladderStep)
		ch.timerSet = true
	}
	ch.timer.Reset(wait)
	if ch.life == lifeLaddering {
		// Closing stdin may have been all it took; output is drained
		// (and dropped) from here on, so a child blocked writing can exit.
		ch.pump()
	}
}

func (ch *childEndpoint) stopTimer() {
	if ch.timerSet {
		ch.timer.Stop()
	}
}

// finish runs once the child is reaped and its output read: the connection
// gets the close frame that carries the exit status. If what the child
// started still runs, the ladder goes on against the process group (at
// once if the client has gone, else when it goes): grandchildren do not
// outlive the connection.
func (ch *childEndpoint) finish() {
	p, e := ch.proc, ch.e
	status, _ := p.Reap()
	switch {
	case ch.life == lifeLaddering && ch.ladder.Rung() != spawn.RungDone && p.GroupAlive():
		ch.life = lifeGroupLadder
	case ch.life == lifeRunning && p.GroupAlive():
		ch.life = lifeOrphans
	default:
		ch.life = lifeReaped
		ch.stopTimer()
	}
	done := ch.life == lifeReaped
	e.children.Add(-1)
	e.fdsHeld.Add(-ch.fdsCharged)
	ch.fdsCharged = 0
	e.metrics.children.Dec()
	p.Release()
	ch.stdinPend = nil
	code, reason := exitClose(status)
	e.log.Log(logline.LevelDebug, "process", &ch.c.fields, "Process %s", reason)
	ch.c.ended(code, reason)
	if done {
		ch.c.released()
	}
}

// sweep hands the sweep a child that was not reaped, and kills the group of
// one that was.
func (ch *childEndpoint) sweep() {
	p := ch.proc
	switch {
	case p == nil:
	case !ch.life.finished():
		ch.e.leftBehind = append(ch.e.leftBehind, p)
	case ch.life != lifeReaped && p.GroupAlive():
		_ = p.Signal(unix.SIGKILL) // grandchildren of a reaped child
	}
}

// exitClose maps an exit status to the close frame wsplex sends: 1000 for
// exit 0; 4000+N for exit N; 4128+S for death by signal S (the shell's
// 128+S convention, in the private-use range).
func exitClose(st unix.WaitStatus) (ws.StatusCode, string) {
	switch {
	case st.Signaled():
		return ws.StatusCode(4128 + int(st.Signal())), fmt.Sprintf("killed by signal %d (%s)", int(st.Signal()), unix.SignalName(st.Signal()))
	case st.ExitStatus() == 0:
		return ws.StatusNormalClosure, "exit status 0"
	default:
		return ws.StatusCode(4000 + st.ExitStatus()), fmt.Sprintf("exit status %d", st.ExitStatus())
	}
}
