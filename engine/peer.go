package engine

import (
	"net"
	"strconv"

	"github.com/panjf2000/gnet/v2"
)

// peer travels with a socket enrolled into gnet (EnrollContext's context,
// read back in OnOpen) when the socket gnet sees is not the client's own: a
// TLS connection reaches the reactor through a socketpair, whose addresses
// say nothing about the client.
type peer struct {
	addr   net.Addr   // the client's address
	bridge *tlsBridge // the pumps between the client and the socketpair
}

// setRemote fills REMOTE_ADDR/REMOTE_PORT and c.bridge. It must run in
// OnOpen before the conn replaces the enrolment context. Anything that is
// not TCP is a Unix-socket client: websocketd's "unix-socket", no port.
func (c *conn) setRemote(gc gnet.Conn) {
	addr := gc.RemoteAddr()
	if p, ok := gc.Context().(*peer); ok {
		addr, c.bridge = p.addr, p.bridge
	}
	if ta, ok := addr.(*net.TCPAddr); ok {
		c.remoteAddr, c.remotePort = ta.IP.String(), strconv.Itoa(ta.Port)
		// Over TLS the header came before the handshake (readProxyTLS).
		if c.bridge == nil && c.e.proxySource(addr) {
			c.proxy = proxyWant
		}
		return
	}
	c.remoteAddr = "unix-socket"
}

// pauseRead stops reading the client until resumeRead. On TCP that is the
// read interest taken out of the event loop's poller (readpause.go); through
// a TLS bridge the bridge stops reading.
func (c *conn) pauseRead() error {
	if c.bridge != nil {
		c.bridge.pause()
		return nil
	}
	return pauseTCP(c.gc)
}

func (c *conn) resumeRead() error {
	if c.bridge != nil {
		c.bridge.resume()
		return nil
	}
	return resumeTCP(c.gc)
}
