package engine

import (
	"errors"

	"github.com/gobwas/ws"

	"github.com/wsplex/wsplex/codec"
	"github.com/wsplex/wsplex/internal/logline"
	"github.com/wsplex/wsplex/reactor"
	"github.com/wsplex/wsplex/spawn"
)

// childEndpoint is websocketd's model: a process per connection (a
// child, child.go), the client's messages on its stdin, its output framed
// by the connection's mode. Its pipes and its exit are watches of the
// connection's loop, so its events are handled where the socket's are,
// with no hop.
//
// Flow control, both ways, is interest on the loop: a child whose client
// is behind by --outbuffer is not read (its pipe fills and it blocks in
// write) until the socket's Writable says the client took half of it
// (resumeOutput); input the child's stdin does not take is kept in
// stdinPend and the client is not read until the pipe's Writable drains it
// (flushStdin). When the client goes, the child's termination ladder runs.
type childEndpoint struct {
	child
	c    *conn
	spec *spawn.Spec    // what to start; dropped once started (spawn)
	size *spawn.Winsize // on a terminal of this size (--pty, endpoint_pty.go); nil on pipes

	stdinPend []byte
}

func (ch *childEndpoint) start(c *conn) {
	ch.c = c
	ch.init(c.e, c.loop, ch, &c.fields)
	ch.holdOrphans = true // until the client goes
	ch.pacedErr = c.framer.stderrToClient()
	ch.charge()
	if wantsLookup(c) {
		lookUpRemote(c, ch.lookedUp) // lookup.go
		return
	}
	ch.spawn()
}

// spawn gives the connection a waiting child if the --prefork pool has one
// for this program, else starts one; started follows, at once or, through
// the spawner process, once it has answered.
func (ch *childEndpoint) spawn() {
	e := ch.e
	// The environment is the child's, not the connection's: an idle
	// connection should not hold a KiB of it.
	spec := *ch.spec
	ch.spec = nil
	if ch.size != nil {
		ch.started(e.startPTY(spec, *ch.size))
		return
	}
	if e.pool != nil && spec.Path == e.cfg.Command {
		if p, ok := e.pool.Take(spec.Env, &ch.child); ok {
			ch.started(p, nil)
			return
		}
	}
	ch.spawnAsync(spec)
}

func (ch *childEndpoint) childStarted(err error) {
	c := ch.c
	if err == nil {
		c.started(nil)
		return
	}
	name := ch.e.cfg.CommandName
	if name == "" {
		name = c.fields.Command // the script (routeUpgrade)
	}
	ch.e.log.Log(logline.LevelError, "process", &c.fields, "Could not launch process %s: %v", name, err)
	c.started(&endpointError{Code: ws.StatusInternalServerError, Reason: startReason(err)})
}

func (ch *childEndpoint) childOutput(s stream, data []byte) bool { return ch.c.output(s, data) }
func (ch *childEndpoint) childStdin()                            { ch.flushStdin() }
func (ch *childEndpoint) childReleased()                         { ch.c.released() }

func (ch *childEndpoint) childExited(code ws.StatusCode, reason string) {
	ch.stdinPend = nil
	ch.c.ended(code, reason)
}

func (ch *childEndpoint) resumeOutput() { ch.resume() }

// input forwards what websocketd forwards: text messages in text mode,
// each ended by a newline, binary messages as they are with --binary; the
// other kind is ignored. op is the message's on every chunk (codec.Event),
// so nothing about the message in progress need be kept. The pieces of
// one read go to the child's stdin together (inputbatch.go).
func (ch *childEndpoint) input(op ws.OpCode, _, fin bool, payload []byte) (bool, *codec.CloseError) {
	binary := ch.e.cfg.Binary
	want := ws.OpText
	if binary {
		want = ws.OpBinary
	}
	more := true
	if op == want {
		more = ch.write(payload, fin && !binary)
	}
	return more && ch.stdinPend == nil, nil
}

// write adds one piece of a message (and the newline that ends a text
// message) to the read's batch for the child's stdin.
func (ch *childEndpoint) write(payload []byte, nl bool) bool {
	if ch.proc == nil || ch.life != lifeRunning {
		return true
	}
	if nl {
		return ch.c.gc.lb.batch.add(ch, payload, newline)
	}
	return ch.c.gc.lb.batch.add(ch, payload)
}

// writeBatch writes a read's input to the child's stdin in one writev.
// What the pipe does not take is kept until the child has read it, and
// the client is not read meanwhile.
func (ch *childEndpoint) writeBatch(bufs [][]byte) bool {
	p := ch.proc
	if p == nil || ch.life != lifeRunning {
		return true
	}
	if ch.stdinPend != nil {
		for _, b := range bufs {
			ch.stdinPend = append(ch.stdinPend, b...)
		}
		return false
	}
	n, err := p.WriteStdin(bufs...)
	if err != nil && !errors.Is(err, spawn.ErrWouldBlock) {
		// The child closed its stdin or is exiting: what it will not
		// read is dropped, as with websocketd.
		ch.e.log.Log(logline.LevelDebug, "process", &ch.c.fields, "Input dropped: %v", err)
		return true
	}
	ch.stdinPend = reactor.AppendUnwritten(ch.stdinPend, bufs, n)
	return ch.stdinPend == nil
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

// hangup: the client has gone. The child's ladder starts (after the
// terminal's hangup, which is what a closed terminal does), or the one
// against its orphans.
func (ch *childEndpoint) hangup() {
	ch.stdinPend = nil
	if ch.size != nil && ch.life == lifeRunning {
		ch.proc.Hangup()
	}
	ch.child.hangup()
}

// sweep hands the shutdown sweep what is left of the child.
func (ch *childEndpoint) sweep() { ch.e.leftBehind = ch.child.sweep(ch.e.leftBehind) }
