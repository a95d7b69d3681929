package engine

import (
	"time"

	"github.com/gobwas/ws"

	"github.com/wsplex/wsplex/codec"
	"github.com/wsplex/wsplex/internal/logline"
)

// instant is a point in time on the monotonic clock, in nanoseconds since
// the package's epoch; zero is "not set". It is 8 bytes where a time.Time
// is 24, and every connection holds six of them, idle or not.
type instant int64

var epoch = time.Now()

func now() instant { return instant(time.Since(epoch)) + 1 } // never zero

func (t instant) add(d time.Duration) instant { return t + instant(d) }

// deadlines are every timed thing a connection may be waiting for. One
// loop timer per connection is armed for the earliest; when it fires the
// loop checks them all. Zero is "not waiting".
type deadlines struct {
	head   instant // request head must have arrived
	ping   instant // next ping to send
	pong   instant // a pong must have arrived
	linger instant // look again whether a closing socket may close
}

func (d *deadlines) earliest() instant {
	var t instant
	for _, x := range [...]instant{d.head, d.ping, d.pong, d.linger} {
		if x != 0 && (t == 0 || x < t) {
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
		if t == 0 {
			return
		}
		c.loop.InitTimer(&c.timer, c.onTimer)
		c.timerSet = true
	}
	if t == 0 {
		c.timer.Stop()
		return
	}
	c.timer.Reset(time.Duration(t - now()))
}

func (c *conn) onTimer() {
	now := now()
	due := func(t *instant) bool {
		if *t == 0 || now < *t {
			return false
		}
		*t = 0
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
		c.dl.ping = now.add(c.e.cfg.PingInterval)
	}
	if due(&c.dl.linger) {
		c.lingerCheck()
	}
	c.arm()
}
