package engine

import (
	"net"
	"strconv"

	"github.com/wsplex/wsplex/engine/tlsbridge"
)

// peer travels with a socket handed to a loop (Engine.enroll) when the
// socket the loop sees is not the client's own: a TLS connection reaches
// the loop through a socketpair, whose addresses say nothing about the
// client.
type peer struct {
	addr   net.Addr          // the client's address
	bridge *tlsbridge.Bridge // the pumps between the client and the socketpair
}

// setRemote fills REMOTE_ADDR/REMOTE_PORT and c.bridge from the accepted
// socket's peer (or the TLS bridge's). Anything that is
// not TCP is a Unix-socket client: websocketd's "unix-socket", no port.
func (c *conn) setRemote(addr net.Addr, p *peer) {
	if p != nil {
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

// pauseRead stops reading the client until resumeRead. On a socket that is
// the read interest taken out of the loop's poller (Watch.PauseRead), so
// the kernel's buffer fills and TCP holds the client back; through a TLS
// bridge the bridge stops reading the client.
func (c *conn) pauseRead() error {
	if c.bridge != nil {
		c.bridge.Pause()
		return nil
	}
	return c.gc.PauseRead()
}

func (c *conn) resumeRead() error {
	if c.bridge != nil {
		c.bridge.Resume()
		return nil
	}
	return c.gc.ResumeRead()
}
