package engine

import (
	"context"
	"net"
	"strings"
	"time"

	"github.com/wsplex/wsplex/internal/logline"
	"github.com/wsplex/wsplex/spawn"
)

// reverseLookupTimeout bounds --reverselookup's DNS query. A resolver that
// does not answer in that time gets the same treatment as one that fails:
// REMOTE_HOST is the client's address, as websocketd sets it then.
const reverseLookupTimeout = 3 * time.Second

// lookupThenStart is --reverselookup: the client's name is looked up off
// the event loop, on a goroutine of its own that ends within
// reverseLookupTimeout, and the child starts once the loop has the answer.
// The lookup used to run on the loop, where one slow resolver stalled every
// connection of that loop. Meanwhile the connection is starting: nothing
// is read from the client (readFrames), and its slot and fds are charged.
func (c *conn) lookupThenStart(spec spawn.Spec) {
	c.life = lifeStarting
	c.pauseInput()
	addr, r := c.remoteAddr, c.e.cfg.Resolver
	if r == nil {
		r = net.DefaultResolver
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), reverseLookupTimeout)
		names, err := r.LookupAddr(ctx, addr)
		cancel()
		host := addr
		if err == nil && len(names) > 0 {
			host = strings.TrimSuffix(names[0], ".")
		}
		c.exec(func(c *conn) { c.lookedUp(host, spec) })
	}()
}

// lookedUp runs on the loop with the client's name (or address): it goes
// into REMOTE_HOST and the log lines, and the child starts. A connection
// that closed or began closing meanwhile (the client left, the daemon is
// shutting down) gets no child; its slot and fds are given back.
func (c *conn) lookedUp(host string, spec spawn.Spec) {
	e := c.e
	c.life = lifeNone // lifeRunning once childStarted has the child
	if c.state != stOpen {
		e.children.Add(-1)
		e.fdsHeld.Add(-c.fdsCharged)
		c.fdsCharged = 0
		if c.state == stGone {
			e.log.Log(logline.LevelAccess, "session", &c.fields, "DISCONNECT") // socketGone left it to us
		}
		c.maybeRelease()
		return
	}
	c.fields.Remote = host
	for i, kv := range spec.Env {
		if strings.HasPrefix(kv, "REMOTE_HOST=") {
			spec.Env[i] = "REMOTE_HOST=" + cleanValue(host)
			break
		}
	}
	e.startChild(c, spec)
}
