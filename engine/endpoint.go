package engine

import (
	"errors"

	"github.com/gobwas/ws"

	"github.com/wsplex/wsplex/codec"
	"github.com/wsplex/wsplex/internal/logline"
	"github.com/wsplex/wsplex/spawn"
)

// endpoint is what a WebSocket is connected to: a child on pipes
// (endpoint_child.go), a child on a terminal (endpoint_pty.go), and any
// other kind as one more file. The conn owns the client's socket, the
// WebSocket protocol, the output framing and the close handshake; the
// endpoint owns the far side: starting it, feeding it the client's
// messages, reading what it says back, and ending it.
//
// Every method runs on the connection's loop, except sweep. The endpoint
// talks back through conn's sink methods below (started, output, ended,
// released, inputResumed), on the loop too.
type endpoint interface {
	// start begins the far side. It reports exactly once with c.started,
	// at once or later on c's loop; until then the client's frames wait in
	// the socket's input buffer (its reads paused, bounded by --inbuffer).
	start(c *conn)
	// input takes one piece of a client data message: op is the
	// message's opcode (on every piece), first and fin mark its bounds.
	// The endpoint decides what its mode forwards. more=false: the piece
	// was kept, but the far side takes nothing more for now; conn stops
	// reading the client until the endpoint calls c.inputResumed. A close
	// error ends the connection with it.
	input(op ws.OpCode, first, fin bool, payload []byte) (more bool, cerr *codec.CloseError)
	// resumeOutput: the client has taken half of its backlog; output held
	// back because c.output said the client was behind may flow again.
	resumeOutput()
	// hangup: the client has gone, or our close frame is out. The
	// endpoint ends the far side; what it still says may be passed to
	// c.output, which drops and counts it. Called at most once.
	hangup()
	// sweep is the daemon's shutdown after the loops have stopped (off any
	// loop, sweep.go): whatever the endpoint still holds is killed,
	// closed or handed to the sweep.
	sweep()
}

// far is where a connection's endpoint is, as conn sees it.
//
//	farNone      no endpoint (before the upgrade, or a plain HTTP request)
//	farStarting  start has been called; started follows
//	farUp        the far side runs; its output is framed to the client
//	farEnded     it has ended and its output is delivered (ended), but
//	             it still holds something (a ladder against grandchildren)
//	farReleased  nothing of it is left
type far uint8

const (
	farNone far = iota
	farStarting
	farUp
	farEnded
	farReleased
)

// stream is which of the far side's outputs bytes came from.
type stream uint8

const (
	streamOut stream = iota // stdout, a backend's bytes, a room's lines
	streamErr               // stderr: logged, or framed with --passstderr
)

// endpointError is a start that failed with a close code of its own (a
// backend's 1014); any other error closes with 1011.
type endpointError struct {
	Code   ws.StatusCode
	Reason string
}

func (e *endpointError) Error() string { return e.Reason }

// newEndpoint is the endpoint of the configured mode for an upgraded
// connection. env is the connection's CGI environment.
func (e *Engine) newEndpoint(c *conn, rt *route, env []string, rawQuery string) endpoint {
	if e.cfg.Backend != nil {
		c.fields.Command = e.cfg.BackendURL // what the log's command:'' names
		return newSocketEndpoint()
	}
	argv := append([]string{rt.script}, e.cfg.Args...)
	ch := &childEndpoint{spec: &spawn.Spec{Path: rt.script, Args: argv, Env: env}}
	if e.cfg.PTY {
		size := querySize(rawQuery)
		ch.size = &size
		return &ptyEndpoint{childEndpoint: ch}
	}
	return ch
}

// startEndpoint starts the endpoint chosen at the upgrade. The client's
// reads are paused unless it started at once.
func (c *conn) startEndpoint(ep endpoint) {
	c.ep = ep
	c.far = farStarting
	ep.start(c)
	if c.far == farStarting {
		c.pauseInput()
	}
}

// started is the endpoint's report that the far side runs, or could not
// be started (err). Until then (farStarting) nothing was read from the
// client: its frames waited in the socket's input buffer.
func (c *conn) started(err error) {
	if c.far != farStarting {
		return
	}
	if err != nil {
		c.far = farReleased
		c.fields.Status = "not started"
		code, reason := ws.StatusInternalServerError, err.Error()
		var ee *endpointError
		if errors.As(err, &ee) {
			code, reason = ee.Code, ee.Reason
		}
		c.sendClose(code, reason)
		// Reads were paused while it started: the client's answer to our
		// close frame must be read for the handshake to complete (else
		// the socket is closed on unread bytes: a reset).
		c.resumeInput()
		c.readFrames()
		c.logDisconnect()
		c.maybeRelease()
		return
	}
	c.far = farUp
	c.e.log.Log(logline.LevelAccess, "session", &c.fields, "CONNECT")
	if c.state != stOpen {
		// The client left, or the connection began closing (a protocol
		// error or --inbuffer while it started, or shutdown): the far
		// side is ended at once.
		c.hangup()
		c.maybeRelease()
		return
	}
	c.startPings()
	c.resumeInput()
	if c.state == stOpen {
		c.readFrames()
	}
}

// output frames bytes from the far side by the output mode and queues them
// on the socket. behind: the client's backlog is at --outbuffer; the
// endpoint stops reading until resumeOutput. After our close frame, or
// once the socket is gone, nothing is sent: the bytes are dropped and
// counted (doc.go), and the client is never behind.
func (c *conn) output(s stream, data []byte) (behind bool) {
	b := batches.Get().(*batch)
	if s == streamOut {
		c.fromStdout(b, data)
	} else {
		c.fromStderr(b, data)
	}
	c.flush(b)
	batches.Put(b)
	if c.gc == nil || c.closeSent || c.gc.OutboundBuffered() < c.e.cfg.OutBuffer {
		return false
	}
	c.e.metrics.paused.Inc()
	return true
}

// ended is the far side's end, after all its output: the last partial line
// goes out, then the close frame with code and reason (when the
// connection is still open). released may follow later.
func (c *conn) ended(code ws.StatusCode, reason string) {
	if c.far != farUp {
		return
	}
	c.far = farEnded
	c.flushPartial()
	c.fields.Status = reason
	if c.dropped > 0 {
		c.e.log.Log(logline.LevelDebug, "process", &c.fields, "Dropped %d bytes of output written after the connection began closing", c.dropped)
	}
	if c.gc != nil && c.state == stOpen {
		c.sendClose(code, reason)
	}
	c.logDisconnect()
	c.maybeRelease()
}

// released: nothing of the far side is left; the conn may go once its
// socket has.
func (c *conn) released() {
	switch c.far {
	case farReleased:
		return
	case farStarting:
		c.resumeInput() // it never ran: the client's close is read again
	case farUp:
		c.flushPartial()
	}
	c.far = farReleased
	c.logDisconnect()
	c.maybeRelease()
}

// inputResumed: the far side takes input again; the client is read again.
func (c *conn) inputResumed() {
	c.resumeInput()
	if c.state == stOpen {
		c.readFrames()
	}
}

// hangup tells the endpoint, once, that the client is gone or our close
// frame is out.
func (c *conn) hangup() {
	// While it starts, started hangs it up once it runs.
	if c.hungUp || (c.far != farUp && c.far != farEnded) {
		return
	}
	c.hungUp = true
	if c.gc != nil {
		c.gc.lb.batch.flush() // what the client sent before it went
	}
	c.ep.hangup()
}
