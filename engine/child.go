package engine

import (
	"errors"
	"fmt"

	"github.com/gobwas/ws"
	"golang.org/x/sys/unix"

	"github.com/wsplex/wsplex/internal/logline"
	"github.com/wsplex/wsplex/reactor"
	"github.com/wsplex/wsplex/spawn"
)

// child is a process the daemon runs, on one loop: its slot and fds, its
// start through the spawner, its pipes and exit as watches of the loop
// (spawn.Process.Attach), the reading of its output with the pause a slow
// reader asks for, and the termination ladder. Its owner (a connection's
// childEndpoint, or a room) decides what its output becomes and when it
// must end, and hears of it through childOwner; the owner embeds the child
// and calls init once.
//
// When it must end (hangup), the ladder runs: stdin closed, then SIGINT,
// SIGTERM, SIGKILL, its output drained meanwhile. A child that exits
// leaves its process group behind it only as long as its owner holds
// orphans (a connection, until its client goes): then the ladder runs
// against the group.
type child struct {
	e      *Engine
	loop   *reactor.Loop
	owner  childOwner
	fields *logline.Fields // the owner's log line keys

	proc *spawn.Process
	here bool // proc is attached to the loop (not a --prefork child still on the spawner's)
	life life // life.go

	outEOF, errEOF bool
	outPaused      bool // not reading its output: the owner's reader is behind
	pacedErr       bool // stderr is paused with stdout
	holdOrphans    bool // orphans wait for hangup; else the group ladder follows the exit at once
	timerSet       bool
	fdsCharged     int64 // fds counted in Engine.fdsHeld for this child

	ladder spawn.Ladder
	timer  reactor.Timer // the ladder's next rung
}

// childOwner is told what becomes of a child, on the child's loop.
type childOwner interface {
	// childStarted: the child runs, or could not be started (err, logged
	// and its slot given back already).
	childStarted(err error)
	// childOutput is a read of stdout or stderr. behind: stop reading the
	// output until the owner calls resume.
	childOutput(s stream, data []byte) (behind bool)
	// childStdin: the child's stdin takes writes again.
	childStdin()
	// childExited: reaped and its output read; childReleased may follow
	// later (a ladder against its group).
	childExited(code ws.StatusCode, reason string)
	// childReleased: nothing of the child is left.
	childReleased()
}

// childFDs is what a child costs the daemon in fds (three pipes), charged
// before the start; started corrects it to what the Process holds.
const childFDs = 3

func (ch *child) init(e *Engine, l *reactor.Loop, owner childOwner, fields *logline.Fields) {
	ch.e, ch.loop, ch.owner, ch.fields = e, l, owner, fields
}

// charge takes the child's slot (--maxforks) and fds, so that upgrades
// arriving while it starts count it.
func (ch *child) charge() {
	ch.e.children.Add(1)
	ch.fdsCharged = childFDs
	ch.e.fdsHeld.Add(ch.fdsCharged)
	ch.life = lifeStarting
}

// uncharge gives back the slot and fds of a child that will not run.
func (ch *child) uncharge() {
	ch.e.children.Add(-1)
	ch.e.fdsHeld.Add(-ch.fdsCharged)
	ch.fdsCharged = 0
	ch.life = lifeNone
}

// spawnAsync starts the child through the spawner; started follows on the
// loop once it has answered: the loop does not wait for the fork. The
// answer, and later the child's exit report, are read on this loop
// (SpawnOn).
func (ch *child) spawnAsync(spec spawn.Spec) {
	e := ch.e
	e.starts.Add(1)
	e.spawner.SpawnOn(ch.loop, spec, func(p *spawn.Process, err error) {
		e.handChild(ch, p, err) // sweep.go
	})
}

// started runs on the loop once the child runs, or could not be started.
func (ch *child) started(p *spawn.Process, err error) {
	e := ch.e
	if err != nil {
		ch.uncharge()
		ch.life = lifeReaped
		e.metrics.spawnFail.Inc()
		ch.owner.childStarted(err)
		return
	}
	if p.Loop() == nil {
		if err := p.Attach(ch.loop, ch); err != nil {
			e.log.Log(logline.LevelError, "process", ch.fields, "Could not watch process %d: %v", p.Pid, err)
		}
		ch.here = true
	}
	ch.proc = p
	ch.life = lifeRunning
	ch.fields.PID = p.Pid
	e.fdsHeld.Add(int64(p.FDs()) - ch.fdsCharged)
	ch.fdsCharged = int64(p.FDs())
	e.metrics.children.Inc()
	ch.owner.childStarted(nil)
	ch.onEvents() // events that came before proc was set
}

// startReason is the close reason of a child that could not be started.
func startReason(err error) string {
	var se *spawn.StartError
	if errors.As(err, &se) {
		return "could not start: " + se.Reason // AppendClose cuts it to 123 bytes
	}
	return "could not start the program"
}

// Notify is spawn's signal that the child has events. A child attached to
// this loop is told here, on the loop: its events are taken at once. A
// --prefork child still watched on the spawner's loop is taken over by a
// post.
func (ch *child) Notify(*spawn.Process) {
	if ch.here {
		ch.onEvents()
		return
	}
	ch.loop.Post(ch.onEvents)
}

func (ch *child) onEvents() {
	p := ch.proc
	if p == nil || ch.life.finished() {
		return
	}
	bits := p.TakeEvents()
	if bits&spawn.EvStdin != 0 {
		ch.owner.childStdin()
	}
	if bits&spawn.EvExit != 0 {
		p.Reap()
	}
	if bits&(spawn.EvStdout|spawn.EvStderr|spawn.EvExit) != 0 {
		ch.pump()
	}
}

// pump reads the child's stdout and stderr until they are empty, the owner
// says its reader is behind (then the child is paused: its pipe fills and
// it blocks), or this event has had its share of the loop.
func (ch *child) pump() {
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
		if n > 0 && ch.owner.childOutput(streamOut, buf[:n]) {
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
		if n > 0 && ch.owner.childOutput(streamErr, buf[:n]) && ch.pacedErr {
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
		ch.loop.Post(ch.pump)
	}
}

// endOfStream: a pipe is done at EOF, or, once the child is reaped, when it
// is merely empty: what still holds it open is a grandchild, and the owner
// does not wait for those.
func (ch *child) endOfStream(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, spawn.ErrWouldBlock) {
		return ch.proc.Exited()
	}
	return true
}

// setOutPaused turns reading the child's output off or on: the pipe's
// read interest goes off (the pipe fills and the child blocks in write)
// until the owner's reader catches up (resume).
func (ch *child) setOutPaused(on bool) {
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

// resume reads the output again after childOutput said behind.
func (ch *child) resume() {
	if !ch.outPaused {
		return
	}
	ch.setOutPaused(false)
	ch.pump()
}

// hangup starts the termination ladder, against the child if it runs, or
// against the orphans it left in its process group. It reports whether the
// child was running.
func (ch *child) hangup() (running bool) {
	switch ch.life {
	case lifeRunning:
		ch.life = lifeLaddering
		running = true
	case lifeOrphans:
		if !ch.proc.GroupAlive() {
			ch.life = lifeReaped
			ch.owner.childReleased()
			return false
		}
		ch.life = lifeGroupLadder
	default:
		return false
	}
	if ch.outPaused {
		ch.setOutPaused(false) // drained from here on
	}
	ch.ladder.CloseExtra = ch.e.cfg.CloseExtra
	ch.ladderStep()
	return running
}

func (ch *child) ladderStep() {
	if !ch.life.laddering() {
		return
	}
	if ch.life == lifeGroupLadder && !ch.proc.GroupAlive() {
		ch.life = lifeReaped
		ch.stopTimer()
		ch.owner.childReleased()
		return
	}
	rung := ch.ladder.Rung()
	wait, done := ch.ladder.Step(ch.proc)
	if rung > spawn.RungStdin {
		ch.e.log.Log(logline.LevelDebug, "process", ch.fields, "Termination ladder: rung %d", rung)
	}
	if done {
		// After SIGKILL only the exit event is left to wait for; of
		// grandchildren, only zombies can remain, and they are not ours
		// to reap.
		ch.stopTimer()
		if ch.life == lifeGroupLadder {
			ch.life = lifeReaped
			ch.owner.childReleased()
		}
		return
	}
	if !ch.timerSet {
		ch.loop.InitTimer(&ch.timer, ch.ladderStep)
		ch.timerSet = true
	}
	ch.timer.Reset(wait)
	if ch.life == lifeLaddering {
		// Closing stdin may have been all it took; output is drained
		// from here on, so a child blocked writing can exit.
		ch.pump()
	}
}

func (ch *child) stopTimer() {
	if ch.timerSet {
		ch.timer.Stop()
	}
}

// finish runs once the child is reaped and its output read: the owner
// hears how it ended. If what the child started still runs, the ladder
// goes on against the process group (at once, or, for an owner that holds
// orphans, at its hangup): grandchildren do not outlive their owner.
func (ch *child) finish() {
	p, e := ch.proc, ch.e
	status, _ := p.Reap()
	ladderGroup := false
	switch {
	case ch.life == lifeLaddering && ch.ladder.Rung() != spawn.RungDone && p.GroupAlive():
		ch.life = lifeGroupLadder
	case ch.life == lifeRunning && p.GroupAlive():
		ch.life = lifeOrphans
		ladderGroup = !ch.holdOrphans
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
	code, reason := exitClose(status)
	e.log.Log(logline.LevelDebug, "process", ch.fields, "Process %s", reason)
	ch.owner.childExited(code, reason)
	switch {
	case done:
		ch.owner.childReleased()
	case ladderGroup && ch.life == lifeOrphans:
		ch.hangup()
	}
}

// sweep is the shutdown sweep's (off the loops): a child not reaped goes
// to procs, to be killed and reaped; the group of one that was is killed.
func (ch *child) sweep(procs []*spawn.Process) []*spawn.Process {
	p := ch.proc
	switch {
	case p == nil:
	case !ch.life.finished():
		procs = append(procs, p)
	case ch.life != lifeReaped && p.GroupAlive():
		_ = p.Signal(unix.SIGKILL) // grandchildren of a reaped child
	}
	return procs
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
