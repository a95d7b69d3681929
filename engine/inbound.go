package engine

import (
	"errors"

	"github.com/gobwas/ws"

	"github.com/wsplex/wsplex/codec"
	"github.com/wsplex/wsplex/internal/logline"
)

// maxChunk bounds the payload handed to the child per write, and so the
// most that is copied aside when the child's pipe is full.
const maxChunk = 64 << 10

var newline = []byte{'\n'}

// readFrames decodes what the client sent and hands it to the endpoint. It
// stops early while the endpoint takes no more input: the rest stays in
// the connection's input buffer, reads on the socket are paused, and TCP
// flow control slows the client; the endpoint's inputResumed resumes them.
func (c *conn) readFrames() {
	gc := c.gc
	if gc == nil {
		return
	}
	if c.far == farStarting {
		// Frames wait in the input buffer until started; reading is
		// paused (startEndpoint), and what was read is bounded by
		// --inbuffer as it is once the endpoint runs.
		c.checkInBuffer()
		return
	}
	if c.inputDone {
		// After a protocol error or the client's close frame nothing it
		// sends is forwarded; it is read only to notice the socket close.
		gc.Discard(-1)
		return
	}
	if !c.inPaused {
		buf := gc.Peek()
		off := 0
		for off < len(buf) && !c.inPaused && c.gc != nil {
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
		// The batch aliases the input: it goes before the input does.
		if !gc.lb.batch.flush() {
			c.pauseInput()
		}
		if off > 0 {
			gc.Discard(off)
		}
	}
	c.checkInBuffer()
}

// checkInBuffer closes with 1008 a client that has sent more than
// --inbuffer bytes its endpoint has not taken.
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
	c.hangup()
}

func (c *conn) onFrame(ev *codec.Event) {
	switch ev.Kind {
	case codec.Data:
		if c.state != stOpen || c.far != farUp {
			return
		}
		c.e.metrics.bytesIn.Add(float64(len(ev.Payload)))
		if ev.Fin {
			c.e.metrics.msgsIn.Inc()
		}
		more, cerr := c.ep.input(ev.Op, ev.First, ev.Fin, ev.Payload)
		if cerr != nil {
			c.protocolError(cerr)
			return
		}
		if !more {
			c.pauseInput()
		}
	case codec.Ping:
		if !c.closeSent {
			_, _ = c.gc.Write(codec.AppendFrame(nil, true, ws.OpPong, ev.Payload))
		}
	case codec.Pong:
		if c.e.cfg.PingInterval > 0 {
			c.dl.pong = now().add(2 * c.e.cfg.PingInterval)
		}
	case codec.Close:
		c.closeRecv, c.inputDone = true, true
		if !c.closeSent {
			c.echoClose(ev.CloseCode)
		}
		c.hangup()
		c.lingerCheck()
	}
}

// echoClose answers the client's close frame with the same code, or with
// an empty close frame if the client sent no code.
func (c *conn) echoClose(code ws.StatusCode) {
	c.closeSent, c.closeCode = true, code
	c.state = stClosing
	c.e.metrics.closes.WithLabelValues(itoa(int(code))).Inc()
	if code == ws.StatusNoStatusRcvd {
		_, _ = c.gc.Write([]byte{0x88, 0})
		return
	}
	_, _ = c.gc.Write(codec.AppendClose(nil, code, ""))
}

// pauseInput stops reading the client: its endpoint is starting, or takes
// no more input for now.
func (c *conn) pauseInput() {
	if c.inPaused || c.gc == nil {
		return
	}
	c.inPaused = true
	if err := c.pauseRead(); err != nil {
		c.e.log.Log(logline.LevelDebug, "websocket", &c.fields, "Could not pause reads: %v", err)
	}
}

// resumeInput reads the client again.
func (c *conn) resumeInput() {
	if c.inPaused && c.gc != nil {
		c.inPaused = false
		_ = c.resumeRead()
	}
}
