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

// lookUpRemote is --reverselookup: the client's name is looked up off the
// event loop, on a goroutine of its own that ends within
// reverseLookupTimeout, and then runs on c's loop with the name (or the
// address) in the log fields. The lookup used to run on the loop, where
// one slow resolver stalled every connection of that loop. Meanwhile the
// endpoint is starting: nothing is read from the client.
func lookUpRemote(c *conn, then func(host string)) {
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
		c.exec(func(*conn) {
			c.fields.Remote = host
			then(host)
		})
	}()
}

// wantsLookup says whether --reverselookup applies to c (a client on a
// Unix socket has no address to look up).
func wantsLookup(c *conn) bool {
	return c.e.cfg.ReverseLookup && c.remoteAddr != "unix-socket"
}

// setRemoteHost puts host into env's REMOTE_HOST.
func setRemoteHost(env []string, host string) {
	for i, kv := range env {
		if strings.HasPrefix(kv, "REMOTE_HOST=") {
			env[i] = "REMOTE_HOST=" + cleanValue(host)
			return
		}
	}
}

// lookedUp runs on the loop with the client's name (or address): it goes
// into REMOTE_HOST, and the child starts. A connection that closed or
// began closing meanwhile (the client left, the daemon is shutting down)
// gets no child; its slot and fds are given back. The child's slot and fds
// were charged before the lookup.
func (ch *childEndpoint) lookedUp(host string) {
	c := ch.c
	if c.state != stOpen {
		ch.uncharge()
		c.released()
		return
	}
	setRemoteHost(ch.spec.Env, host)
	ch.spawn()
}
