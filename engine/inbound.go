package engine

import (
	"errors"
	"time"

	"github.com/gobwas/ws"

	"github.com/wsplex/wsplex/codec"
	"github.com/wsplex/wsplex/internal/logline"
	"github.com/wsplex/wsplex/spawn"
)

// maxChunk bounds the payload handed to the child per write, and so the
// most that is copied aside when the child's pipe is full.
const maxChunk = 64 << 10

var newline = []byte{'\n'}

// readFrames decodes what the client sent and forwards it. It stops early
// while the child is not taking input: the rest stays in the connection's
// input buffer, reads on the socket are paused, and TCP flow control slows
// the client; the pipe's Writable (flushStdin) resumes them.
func (c *conn) readFrames() {
	gc := c.gc
	if gc == nil {
		return
	}
	if c.life == lifeStarting {
		// Frames wait in the input buffer until childStarted; reading is
		// paused (startChild), and what was read is bounded by --inbuffer
		// as it is once the child runs.
		c.checkInBuffer()
		return
	}
	if c.inputDone {
		// After a protocol error or the client's close frame nothing it
		// sends is forwarded; it is read only to notice the socket close.
		gc.Discard(-1)
		return
	}
	if c.stdinPend == nil && !c.epBlocked {
		buf := gc.Peek()
		off := 0
		for off < len(buf) && c.stdinPend == nil && !c.epBlocked && c.gc != nil {
			ev, n, err := c.dec.Next(buf[off:], maxChunk)
			off += n
			if err != nil {
				off = len(buf)
				c.protocolError(err)
				break
			}
			if ev.Kind == codec.NeedMore {
				break
			}
			c.onFrame(&ev)
		}
		if off > 0 {
			gc.Discard(off)
		}
	}
	c.checkInBuffer()
}

// checkInBuffer closes with 1008 a client that has sent more than
// --inbuffer bytes its child has not taken.
func (c *conn) checkInBuffer() {
	if c.gc != nil && c.gc.InboundBuffered() > c.e.cfg.InBuffer {
		c.e.log.Log(logline.LevelError, "websocket", &c.fields, "Client sent %d bytes its program has not read (limit %d): closing with 1008", c.gc.InboundBuffered(), c.e.cfg.InBuffer)
		c.gc.Discard(-1)
		c.protocolError(&codec.CloseError{Code: ws.StatusPolicyViolation, Reason: "program is not reading its input"})
	}
}

func (c *conn) protocolError(err error) {
	ce := &codec.CloseError{Code: ws.StatusProtocolError, Reason: err.Error()}
	errors.As(err, &ce)
	c.e.metrics.protocolErr.WithLabelValues(itoa(int(ce.Code))).Inc()
	c.e.log.Log(logline.LevelAccess, "websocket", &c.fields, "Closing with %d: %s", ce.Code, ce.Reason)
	c.inputDone, c.errClose = true, true
	c.sendClose(ce.Code, ce.Reason)
	c.clientGone()
}

func (c *conn) onFrame(ev *codec.Event) {
	switch ev.Kind {
	case codec.Data:
		if c.state != stOpen {
			return
		}
		if c.e.cfg.PTY {
			c.ptyFrame(ev)
			return
		}
		if c.ep != nil {
			more, cerr := c.ep.input(ev.Op, ev.First, ev.Fin, ev.Payload)
			if cerr != nil {
				c.protocolError(cerr)
			} else if !more {
				c.epBlocked = true
				c.pauseInput()
			}
			return
		}
		if ev.First {
			want := ws.OpText
			if c.e.cfg.Binary {
				want = ws.OpBinary
			}
			c.inText = ev.Op == want
		}
		if !c.inText {
			return // websocketd ignores the other kind of message
		}
		c.e.metrics.bytesIn.Add(float64(len(ev.Payload)))
		if ev.Fin {
			c.e.metrics.msgsIn.Inc()
		}
		c.toChild(ev.Payload, ev.Fin && !c.e.cfg.Binary)
	case codec.Ping:
		if !c.closeSent {
			_, _ = c.gc.Write(codec.AppendFrame(nil, true, ws.OpPong, ev.Payload))
		}
	case codec.Pong:
		if c.e.cfg.PingInterval > 0 {
			c.dl.pong = time.Now().Add(2 * c.e.cfg.PingInterval)
		}
	case codec.Close:
		c.closeRecv, c.inputDone = true, true
		if !c.closeSent {
			c.echoClose(ev.CloseCode)
		}
		c.clientGone()
		c.lingerCheck()
	}
}

// echoClose answers the client's close frame with the same code, or with
// an empty close frame if the client sent no code.
func (c *conn) echoClose(code ws.StatusCode) {
	c.closeSent = true
	c.state = stClosing
	c.e.metrics.closes.WithLabelValues(itoa(int(code))).Inc()
	if code == ws.StatusNoStatusRcvd {
		_, _ = c.gc.Write([]byte{0x88, 0})
		return
	}
	_, _ = c.gc.Write(codec.AppendClose(nil, code, ""))
}

// toChild writes one piece of a message (and the newline that ends a text
// message) to the child's stdin. What the pipe does not take is kept, and
// the socket paused, until the child has read it.
func (c *conn) toChild(payload []byte, nl bool) {
	p := c.proc
	if p == nil || c.life != lifeRunning {
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
		return
	case err == nil || errors.Is(err, spawn.ErrWouldBlock):
		if n < len(payload) {
			c.stdinPend = append(c.stdinPend, payload[n:]...)
		}
		if nl {
			c.stdinPend = append(c.stdinPend, '\n')
		}
		c.pauseInput()
	default:
		// The child closed its stdin or is exiting: what it will not
		// read is dropped, as with websocketd.
		c.e.log.Log(logline.LevelDebug, "process", &c.fields, "Input dropped: %v", err)
	}
}

func (c *conn) pauseInput() {
	if c.inPaused || c.gc == nil {
		return
	}
	c.inPaused = true
	if err := c.pauseRead(); err != nil {
		c.e.log.Log(logline.LevelDebug, "websocket", &c.fields, "Could not pause reads: %v", err)
	}
}

// flushStdin runs when the child's stdin accepts writes again.
func (c *conn) flushStdin() {
	if c.stdinPend == nil || c.proc == nil {
		return
	}
	n, err := c.proc.WriteStdin(c.stdinPend)
	if errors.Is(err, spawn.ErrWouldBlock) || (err == nil && n < len(c.stdinPend)) {
		c.stdinPend = c.stdinPend[:copy(c.stdinPend, c.stdinPend[n:])]
		return
	}
	c.stdinPend = nil
	if c.inPaused && c.gc != nil {
		c.inPaused = false
		_ = c.resumeRead()
	}
	if c.state == stOpen {
		c.readFrames()
	}
}
