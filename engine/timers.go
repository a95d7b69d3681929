package engine

import (
	"time"

	"github.com/gobwas/ws"

	"github.com/wsplex/wsplex/codec"
	"github.com/wsplex/wsplex/internal/logline"
)

// deadlines are every timed thing a connection may be waiting for. One
// loop timer per connection is armed for the earliest; when it fires the
// loop checks them all. A zero time is "not waiting".
type deadlines struct {
	head   time.Time // request head must have arrived
	ping   time.Time // next ping to send
	pong   time.Time // a pong must have arrived
	linger time.Time // look again whether a closing socket may close
}

func (d *deadlines) earliest() time.Time {
	var t time.Time
	for _, x := range [...]time.Time{d.head, d.ping, d.pong, d.linger} {
		if !x.IsZero() && (t.IsZero() || x.Before(t)) {
			t = x
		}
	}
	return t
}

// arm sets the connection's one loop timer (a reactor timer: an entry in
// the loop's heap, no goroutine, no allocation when re-armed) to the
// earliest deadline, or stops it when there is none.
func (c *conn) arm() {
	t := c.dl.earliest()
	if !c.timerSet {
		if t.IsZero() {
			return
		}
		c.loop.InitTimer(&c.timer, c.onTimer)
		c.timerSet = true
	}
	if t.IsZero() {
		c.timer.Stop()
		return
	}
	c.timer.ResetAt(t)
}

func (c *conn) onTimer() {
	now := time.Now()
	due := func(t *time.Time) bool {
		if t.IsZero() || now.Before(*t) {
			return false
		}
		*t = time.Time{}
		return true
	}
	if due(&c.dl.head) && c.state == stHead && c.gc != nil {
		c.e.metrics.handshakeFail.WithLabelValues("408").Inc()
		c.respond(408, "408 Request Timeout\n")
	}
	if due(&c.dl.pong) && c.state == stOpen && c.gc != nil {
		c.e.log.Log(logline.LevelAccess, "websocket", &c.fields, "No pong for %v: dropping the client", 2*c.e.cfg.PingInterval)
		c.e.metrics.closes.WithLabelValues("pong_timeout").Inc()
		_, _ = c.gc.Write(codec.AppendClose(nil, ws.StatusGoingAway, "ping timeout"))
		c.closeSent = true
		c.closeSocket()
	}
	if due(&c.dl.ping) && c.state == stOpen && c.gc != nil {
		_, _ = c.gc.Write(codec.AppendFrame(nil, true, ws.OpPing, nil))
		c.dl.ping = now.Add(c.e.cfg.PingInterval)
	}
	if due(&c.dl.linger) {
		c.lingerCheck()
	}
	c.arm()
}
