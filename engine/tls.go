package engine

import (
	"crypto/tls"
	"net"
	"time"

	"github.com/wsplex/wsplex/engine/tlsbridge"
	"github.com/wsplex/wsplex/internal/logline"
)

// serveTLS runs one TLS connection: handshake (bounded like a request
// head), then the bridge (package tlsbridge) until both directions are
// done. The accept loop has counted tlsbridge.FDs in fdsHeld and added to
// e.bridges.
func (e *Engine) serveTLS(nc net.Conn) {
	defer e.bridges.Done()
	defer e.fdsHeld.Add(-tlsbridge.FDs)
	client := nc.RemoteAddr()
	if e.proxySource(client) {
		pc, addr, err := e.readProxyTLS(nc)
		if err != nil {
			e.log.Log(logline.LevelAccess, "server", nil, "Bad PROXY protocol header before TLS from %s: %v", client, err)
			_ = nc.Close()
			return
		}
		nc, client = pc, addr
	}
	tc := tls.Server(nc, e.tlsConf)
	_ = tc.SetDeadline(time.Now().Add(HeadTimeout))
	if err := tc.Handshake(); err != nil {
		e.log.Log(logline.LevelInfo, "server", nil, "TLS handshake error from %s: %v", nc.RemoteAddr(), err)
		_ = nc.Close()
		return
	}
	_ = tc.SetDeadline(time.Time{})
	b, theirs, err := tlsbridge.New(tc)
	if err != nil {
		e.log.Log(logline.LevelError, "server", nil, "Could not bridge TLS connection from %s: %v", nc.RemoteAddr(), err)
		_ = tc.Close()
		return
	}
	e.enroll(theirs, nil, &peer{addr: client, bridge: b})
	b.Run()
}

// waitBridges gives the TLS pumps up to limit to deliver their last bytes
// (the 1001 close frames of shutdown) before the process exits.
func (e *Engine) waitBridges(limit time.Duration) {
	done := make(chan struct{})
	go func() { e.bridges.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(limit):
	}
}
