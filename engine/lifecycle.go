package engine

import (
	"fmt"
	"time"

	"github.com/gobwas/ws"
	"golang.org/x/sys/unix"

	"github.com/wsplex/wsplex/codec"
	"github.com/wsplex/wsplex/internal/logline"
	"github.com/wsplex/wsplex/spawn"
)

const (
	// echoWait is how long a flushed close frame waits for the client's
	// answering close frame before the socket is closed anyway.
	echoWait = 2 * time.Second
	// stallLimit: a client that reads nothing at all for this long while
	// its connection is closing is cut off.
	stallLimit = 30 * time.Second
)

// onChild takes the child's events on the loop.
func (c *conn) onChild() {
	p := c.proc
	if p == nil || c.life.finished() {
		return
	}
	bits := p.TakeEvents()
	if bits&spawn.EvStdin != 0 {
		c.flushStdin()
	}
	if bits&spawn.EvExit != 0 {
		p.Reap()
	}
	if bits&(spawn.EvStdout|spawn.EvStderr|spawn.EvExit) != 0 {
		c.pumpOutput()
	}
}

// finishChild runs once the child is reaped and its output read: the last
// partial line goes out, then a close frame that carries the exit status.
func (c *conn) finishChild() {
	p := c.proc
	status, _ := p.Reap()
	c.flushPartial()
	// If the client is gone and what the child started still runs, the
	// ladder goes on against the process group: grandchildren do not
	// outlive the connection.
	if c.life == lifeLaddering && c.ladder.Rung() != spawn.RungDone && p.GroupAlive() {
		c.life = lifeGroupLadder
	} else {
		c.life = lifeReaped
		c.dl.ladder = time.Time{}
	}
	c.e.children.Add(-1)
	c.e.fdsHeld.Add(-c.fdsCharged)
	c.e.metrics.children.Dec()
	p.Release()
	c.stdinPend = nil
	code, reason := exitClose(status)
	c.fields.Status = reason
	c.e.log.Log(logline.LevelDebug, "process", &c.fields, "Process %s", reason)
	if c.dropped > 0 {
		c.e.log.Log(logline.LevelDebug, "process", &c.fields, "Dropped %d bytes of output written after the connection began closing", c.dropped)
	}
	if c.gc != nil && c.state == stOpen {
		c.sendClose(code, reason)
	}
	c.logDisconnect()
	c.maybeRelease()
}

// logDisconnect writes the DISCONNECT access line once the socket is closed
// and the child has ended (or never started), so that the line carries
// how it ended. websocketd, too, logs it after its child is gone.
func (c *conn) logDisconnect() {
	if c.disconnectLogged || !c.upgraded || c.state != stGone || !c.life.finished() {
		return
	}
	c.disconnectLogged = true
	c.e.log.Log(logline.LevelAccess, "session", &c.fields, "DISCONNECT")
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

// sendClose starts the closing handshake from our side.
func (c *conn) sendClose(code ws.StatusCode, reason string) {
	if c.closeSent || c.gc == nil {
		return
	}
	c.closeSent = true
	c.state = stClosing
	c.e.metrics.closes.WithLabelValues(itoa(int(code))).Inc()
	_, _ = c.gc.Write(codec.AppendClose(nil, code, reason))
	c.lingerCheck()
}

// closeAfterFlush closes the socket once everything queued has been sent.
func (c *conn) closeAfterFlush() {
	if c.state != stGone {
		c.state = stClosing
	}
	c.lingerCheck()
}

// lingerCheck closes the socket when it may: everything flushed and, for a
// WebSocket, the client's close frame seen (or echoWait passed). A client
// that stops reading entirely is cut off after stallLimit without progress.
func (c *conn) lingerCheck() {
	gc := c.gc
	if gc == nil || c.state != stClosing {
		return
	}
	now := time.Now()
	ob := gc.OutboundBuffered()
	if ob == 0 {
		if !c.upgraded || c.closeRecv || c.errClose || (!c.flushedAt.IsZero() && now.After(c.flushedAt.Add(echoWait))) || !c.closeSent {
			c.dl.linger = time.Time{}
			c.closeSocket()
			return
		}
		if c.flushedAt.IsZero() {
			c.flushedAt = now
		}
		c.dl.linger = c.flushedAt.Add(echoWait)
		c.arm()
		return
	}
	c.flushedAt = time.Time{}
	if ob < c.lastProgress || c.progressAt.IsZero() {
		c.progressAt = now
	}
	c.lastProgress = ob
	limit := stallLimit
	if c.errClose {
		// A client that broke the protocol does not get 30 s of patience.
		limit = echoWait
	}
	if now.Sub(c.progressAt) > limit {
		c.e.log.Log(logline.LevelAccess, "websocket", &c.fields, "Client read nothing for %v while closing: dropped", limit)
		c.closeSocket()
		return
	}
	c.dl.linger = now.Add(10 * time.Millisecond)
	c.arm()
}

// clientGone starts the termination ladder if the child still runs.
func (c *conn) clientGone() {
	if c.ep != nil {
		if !c.epHung && c.life != lifeReaped {
			c.epHung = true
			c.ep.hangup()
		}
		return
	}
	if c.proc == nil || c.life.laddering() {
		return
	}
	if c.life.finished() && (c.ladder.Rung() == spawn.RungDone || !c.proc.GroupAlive()) {
		return
	}
	running := c.life == lifeRunning
	if running {
		c.life = lifeLaddering
	} else {
		c.life = lifeGroupLadder
	}
	c.stdinPend = nil
	if c.e.cfg.PTY && running {
		c.proc.Hangup() // what a closed terminal does; the ladder follows
	}
	c.ladder.CloseExtra = c.e.cfg.CloseExtra
	c.ladderStep()
}

func (c *conn) ladderStep() {
	if !c.life.laddering() {
		return
	}
	if c.life == lifeGroupLadder && !c.proc.GroupAlive() {
		c.life = lifeReaped
		c.dl.ladder = time.Time{}
		c.maybeRelease()
		return
	}
	rung := c.ladder.Rung()
	wait, done := c.ladder.Step(c.proc)
	if rung > spawn.RungStdin {
		c.e.log.Log(logline.LevelDebug, "process", &c.fields, "Termination ladder: rung %d", rung)
	}
	if done {
		// After SIGKILL only the exit event is left to wait for; of
		// grandchildren, only zombies can remain, and they are not ours
		// to reap.
		c.dl.ladder = time.Time{}
		if c.life == lifeGroupLadder {
			c.life = lifeReaped
			c.maybeRelease()
		}
		return
	}
	c.dl.ladder = time.Now().Add(wait)
	c.arm()
	if c.life == lifeLaddering {
		// Closing stdin may have been all it took; output is drained
		// (and dropped) from here on, so a child blocked writing can exit.
		c.pumpOutput()
	}
}

// socketGone follows the socket's close (closeSocket), whoever closed it.
func (c *conn) socketGone() {
	if c.inPaused {
		c.inPaused = false
	}
	c.gc = nil
	c.state = stGone
	c.dl.head, c.dl.ping, c.dl.pong, c.dl.linger = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	if c.outPaused {
		c.setOutPaused(false)
	}
	c.e.conns.Add(-1)
	c.e.metrics.conns.Dec()
	c.logDisconnect() // else finishChild or childStarted does
	c.clientGone()
	if c.proc != nil && !c.life.finished() {
		c.pumpOutput() // unpaused: drain what the child wrote meanwhile
	}
	c.maybeRelease()
}

// maybeRelease drops the connection once nothing of it is left.
func (c *conn) maybeRelease() {
	if c.state != stGone || c.life == lifeStarting || ((c.proc != nil || c.ep != nil) && c.life != lifeReaped) {
		return
	}
	c.dl = deadlines{}
	if c.timerSet {
		c.timer.Stop()
	}
	c.e.untrack(c)
}

// goingAway is the daemon's shutdown, per connection.
func (c *conn) goingAway() {
	switch c.state {
	case stHead:
		c.closeSocket()
	case stOpen:
		c.sendClose(ws.StatusGoingAway, "server shutting down")
		c.clientGone()
	default:
		c.clientGone()
	}
}
