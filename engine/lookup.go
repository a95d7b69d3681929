package engine

import (
	"context"
	"net"
	"strings"
	"time"
)

// reverseLookupTimeout bounds --reverselookup's DNS query. A resolver that
// does not answer in that time gets the same treatment as one that fails:
// REMOTE_HOST is the client's address, as websocketd sets it then.
const reverseLookupTimeout = 3 * time.Second

// lookupThenStart is --reverselookup: the client's name is looked up off
// the event loop, on a goroutine of its own that ends within
// reverseLookupTimeout, and the child starts once the loop has the answer.
// The lookup used to run on the loop, where one slow resolver stalled every
// connection of that loop. Meanwhile the endpoint is starting: nothing is
// read from the client, and the child's slot and fds are charged.
func (ch *childEndpoint) lookupThenStart() {
	c := ch.c
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
		c.exec(func(*conn) { ch.lookedUp(host) })
	}()
}

// lookedUp runs on the loop with the client's name (or address): it goes
// into REMOTE_HOST and the log lines, and the child starts. A connection
// that closed or began closing meanwhile (the client left, the daemon is
// shutting down) gets no child; its slot and fds are given back.
func (ch *childEndpoint) lookedUp(host string) {
	c, e := ch.c, ch.e
	if c.state != stOpen {
		e.children.Add(-1)
		e.fdsHeld.Add(-ch.fdsCharged)
		ch.fdsCharged = 0
		ch.life = lifeNone
		c.released()
		return
	}
	c.fields.Remote = host
	for i, kv := range ch.spec.Env {
		if strings.HasPrefix(kv, "REMOTE_HOST=") {
			ch.spec.Env[i] = "REMOTE_HOST=" + cleanValue(host)
			break
		}
	}
	ch.spawn()
}
