package engine

// PROVISIONAL: the endpoint seam of issue 11 as SEAM.md describes it, for
// the socket endpoint only, until the seam lands on main; then this file
// goes and endpoint_socket.go is wired through the real one.

import (
	"errors"
	"time"

	"github.com/gobwas/ws"

	"github.com/wsplex/wsplex/codec"
	"github.com/wsplex/wsplex/internal/logline"
)

type endpoint interface {
	start(c *conn)
	input(op ws.OpCode, first, fin bool, payload []byte) (more bool, cerr *codec.CloseError)
	resumeOutput()
	hangup()
	sweep()
}

type endpointError struct {
	Code   ws.StatusCode
	Reason string
}

func (e *endpointError) Error() string { return e.Reason }

type stream uint8

const (
	streamOut stream = iota
	streamErr
)

func (c *conn) started(err error) {
	e := c.e
	if err != nil {
		code, reason := ws.StatusInternalServerError, "could not start"
		var ee *endpointError
		if errors.As(err, &ee) {
			code, reason = ee.Code, ee.Reason
		}
		c.life = lifeReaped
		c.fields.Status = "not started"
		c.sendClose(code, reason)
		if c.inPaused && c.gc != nil {
			c.inPaused = false
			_ = c.resumeRead()
		}
		c.readFrames()
		c.logDisconnect()
		c.maybeRelease()
		return
	}
	c.life = lifeRunning
	e.log.Log(logline.LevelAccess, "session", &c.fields, "CONNECT")
	if c.state != stOpen {
		c.clientGone()
		c.maybeRelease()
		return
	}
	if e.cfg.PingInterval > 0 {
		now := time.Now()
		c.dl.ping = now.Add(e.cfg.PingInterval)
		c.dl.pong = now.Add(2 * e.cfg.PingInterval)
		c.arm()
	}
	if c.inPaused {
		c.inPaused = false
		_ = c.resumeRead()
	}
	c.readFrames()
}

func (c *conn) output(_ stream, data []byte) bool {
	b := batches.Get().(*batch)
	defer batches.Put(b)
	c.fromStdout(b, data)
	c.flush(b)
	return c.outPausedNow()
}

func (c *conn) ended(code ws.StatusCode, reason string) {
	c.flushPartial()
	c.fields.Status = reason
	if c.gc != nil && c.state == stOpen {
		c.sendClose(code, reason)
	}
}

func (c *conn) released() {
	c.life = lifeReaped
	c.logDisconnect()
	c.maybeRelease()
}

func (c *conn) inputResumed() {
	c.epBlocked = false
	if c.inPaused && c.gc != nil {
		c.inPaused = false
		_ = c.resumeRead()
	}
	if c.state == stOpen {
		c.readFrames()
	}
}
