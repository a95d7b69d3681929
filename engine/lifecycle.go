package engine

import (
	"time"

	"github.com/gobwas/ws"

	"github.com/wsplex/wsplex/codec"
	"github.com/wsplex/wsplex/internal/logline"
)

const (
	// echoWait is how long a flushed close frame waits for the client's
	// answering close frame before the socket is closed anyway.
	echoWait = 2 * time.Second
	// stallLimit: a client that reads nothing at all for this long while
	// its connection is closing is cut off.
	stallLimit = 30 * time.Second
)

// logDisconnect writes the DISCONNECT access line once the socket is closed
// and the child has ended (or never started), so that the line carries
// how it ended. websocketd, too, logs it after its child is gone.
func (c *conn) logDisconnect() {
	if c.disconnectLogged || !c.upgraded || c.state != stGone || (c.far != farEnded && c.far != farReleased) {
		return
	}
	c.disconnectLogged = true
	c.e.log.Log(logline.LevelAccess, "session", &c.fields, "DISCONNECT")
}

// sendClose starts the closing handshake from our side.
func (c *conn) sendClose(code ws.StatusCode, reason string) {
	if c.closeSent || c.gc == nil {
		return
	}
	c.closeSent, c.closeCode = true, code
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
	now := now()
	ob := gc.OutboundBuffered()
	if ob == 0 {
		if !c.upgraded || c.closeRecv || c.errClose || (c.flushedAt != 0 && now > c.flushedAt.add(echoWait)) || !c.closeSent {
			c.dl.linger = 0
			c.closeSocket()
			return
		}
		if c.flushedAt == 0 {
			c.flushedAt = now
		}
		c.dl.linger = c.flushedAt.add(echoWait)
		c.arm()
		return
	}
	c.flushedAt = 0
	if ob < c.lastProgress || c.progressAt == 0 {
		c.progressAt = now
	}
	c.lastProgress = ob
	limit := stallLimit
	if c.errClose {
		// A client that broke the protocol does not get 30 s of patience.
		limit = echoWait
	}
	if time.Duration(now-c.progressAt) > limit {
		c.e.log.Log(logline.LevelAccess, "websocket", &c.fields, "Client read nothing for %v while closing: dropped", limit)
		c.closeSocket()
		return
	}
	c.dl.linger = now.add(10 * time.Millisecond)
	c.arm()
}

// socketGone follows the socket's close (closeSocket), whoever closed it.
func (c *conn) socketGone() {
	c.inPaused = false
	c.gc = nil
	c.state = stGone
	c.dl = deadlines{}
	c.e.conns.Add(-1)
	c.e.metrics.conns.Dec()
	c.logDisconnect() // else ended, released or started does
	c.hangup()
	c.maybeRelease()
}

// maybeRelease drops the connection once nothing of it is left.
func (c *conn) maybeRelease() {
	if c.state != stGone || (c.far != farNone && c.far != farReleased) {
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
		c.hangup()
	default:
		c.hangup()
	}
}
