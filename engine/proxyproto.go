package engine

import (
	"errors"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/wsplex/wsplex/codec"
	"github.com/wsplex/wsplex/internal/logline"
)

// Running behind a load balancer.
//
// --proxy-protocol: connections from the listed networks start with a
// PROXY protocol header (HAProxy's send-proxy / send-proxy-v2, AWS NLB),
// parsed on the event loop like the request head, under the same head
// timeout; the client it names becomes REMOTE_ADDR/REMOTE_PORT and the
// log's remote. Other sources must not send one: a header from them is a
// bad request, never trusted. Over TLS the header comes before the
// ClientHello and is read by the TLS goroutine (readProxyTLS).
//
// --trusted-proxy: from the listed peers, REMOTE_ADDR is taken from
// X-Forwarded-For, as nginx's realip module does.

// proxyState is where a connection is with its PROXY header.
type proxyState uint8

const (
	proxyNone proxyState = iota // none expected: one is refused
	proxyWant                   // the source must send one first
	proxyDone                   // read
)

// inPrefixes reports whether addr is in one of the networks.
func inPrefixes(list []netip.Prefix, addr netip.Addr) bool {
	addr = addr.Unmap()
	for _, p := range list {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// proxySource reports whether a TCP peer must send a PROXY header.
func (e *Engine) proxySource(addr net.Addr) bool {
	ta, ok := addr.(*net.TCPAddr)
	if !ok || len(e.cfg.ProxyProtocol) == 0 {
		return false
	}
	ip, ok := netip.AddrFromSlice(ta.IP)
	return ok && inPrefixes(e.cfg.ProxyProtocol, ip)
}

// readProxy runs before the request head is parsed. It returns false when
// the head must wait (the PROXY header is incomplete) or the connection
// has been refused.
func (c *conn) readProxy() bool {
	if c.proxy == proxyDone || len(c.e.cfg.ProxyProtocol) == 0 {
		return true
	}
	buf := c.gc.Peek()
	if c.proxy == proxyNone {
		if codec.LooksLikeProxy(buf) {
			c.refuseProxy("PROXY protocol header from a source not in --proxy-protocol: refused")
			return false
		}
		return !codec.ProxyPending(buf)
	}
	h, n, err := codec.ParseProxy(buf)
	switch {
	case errors.Is(err, codec.ErrIncomplete):
		return false
	case errors.Is(err, codec.ErrNotProxy):
		c.refuseProxy("no PROXY protocol header from a source in --proxy-protocol: closed")
		return false
	case err != nil:
		c.refuseProxy("Bad PROXY protocol header: " + err.Error())
		return false
	}
	c.gc.Discard(n)
	c.proxy = proxyDone
	if !h.Local {
		c.setProxied(h.Source)
	}
	return true
}

// setProxied makes the client named by a PROXY header the remote.
func (c *conn) setProxied(src netip.AddrPort) {
	c.remoteAddr = src.Addr().Unmap().String()
	c.remotePort = strconv.Itoa(int(src.Port()))
	c.fields.Remote = c.remoteAddr
}

func (c *conn) refuseProxy(why string) {
	c.fields.Remote = c.remoteAddr
	c.fields.ID = c.id
	c.e.metrics.handshakeFail.WithLabelValues("400").Inc()
	c.e.log.Log(logline.LevelAccess, "http", &c.fields, "%s", why)
	c.respond(400, "400 Bad Request\n")
}

// applyForwarded takes REMOTE_ADDR from X-Forwarded-For when the peer is a
// --trusted-proxy: the rightmost address that is not itself a trusted
// proxy (the leftmost if all are). An unparsable entry where the walk
// stops leaves the peer's address. REMOTE_PORT is then unknown: empty.
func (c *conn) applyForwarded(req *codec.Request) {
	e := c.e
	if len(e.cfg.TrustedProxies) == 0 {
		return
	}
	peer, err := netip.ParseAddr(c.remoteAddr)
	if err != nil || !inPrefixes(e.cfg.TrustedProxies, peer) {
		return
	}
	var client netip.Addr
	found := false
	for i := len(req.Headers) - 1; i >= 0 && !found; i-- {
		if !strings.EqualFold(req.Headers[i].Name, "X-Forwarded-For") {
			continue
		}
		list := req.Headers[i].Value
		for list != "" {
			var item string
			if j := strings.LastIndexByte(list, ','); j >= 0 {
				item, list = list[j+1:], list[:j]
			} else {
				item, list = list, ""
			}
			a, err := netip.ParseAddr(strings.TrimSpace(item))
			if err != nil {
				return
			}
			client = a
			if !inPrefixes(e.cfg.TrustedProxies, a) {
				found = true
				break
			}
		}
	}
	if !client.IsValid() {
		return
	}
	c.remoteAddr, c.remotePort = client.Unmap().String(), ""
}

// readProxyTLS reads the PROXY header that precedes a TLS ClientHello from
// a --proxy-protocol source, with blocking reads (this is the connection's
// own goroutine) bounded by the head timeout. It returns the connection to
// hand to crypto/tls, holding the bytes read past the header, and the
// client's address (the socket's own for a LOCAL header).
func (e *Engine) readProxyTLS(nc net.Conn) (net.Conn, net.Addr, error) {
	tc, ok := nc.(*net.TCPConn)
	if !ok {
		return nc, nc.RemoteAddr(), nil
	}
	_ = nc.SetReadDeadline(time.Now().Add(HeadTimeout))
	defer func() { _ = nc.SetReadDeadline(time.Time{}) }()
	buf := make([]byte, 0, 512)
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := nc.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		h, hn, perr := codec.ParseProxy(buf)
		switch {
		case perr == nil:
			addr := nc.RemoteAddr()
			if !h.Local {
				addr = net.TCPAddrFromAddrPort(netip.AddrPortFrom(h.Source.Addr().Unmap(), h.Source.Port()))
			}
			return &prefixConn{TCPConn: tc, rest: buf[hn:]}, addr, nil
		case !errors.Is(perr, codec.ErrIncomplete):
			return nil, nil, perr
		case err != nil:
			return nil, nil, err
		}
	}
}

// prefixConn is a TCP connection whose first reads return bytes already
// read from it. It keeps *net.TCPConn's methods (SyscallConn for the
// bridge's read pause).
type prefixConn struct {
	*net.TCPConn
	rest []byte
}

func (p *prefixConn) Read(b []byte) (int, error) {
	if len(p.rest) > 0 {
		n := copy(b, p.rest)
		p.rest = p.rest[n:]
		return n, nil
	}
	return p.TCPConn.Read(b)
}
