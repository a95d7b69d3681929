package engine

import (
	"net"
	"strconv"

	"github.com/wsplex/wsplex/engine/tlsbridge"
	"github.com/wsplex/wsplex/internal/logline"
)

// listen opens every listener the configuration asks for, before anything
// else starts, so that a port in use, a live Unix socket or a bad
// certificate is reported (exit 3) before the first connection:
//
//   - one TCP listener per --address (all interfaces without one), unless
//     --unixsocket was the only listen option given;
//   - the --unixsocket listener;
//   - one plain-HTTP redirect listener per address with --redirport.
//
// On failure whatever was opened is closed again (which also removes a Unix
// socket file this call created).
func (e *Engine) listen() error {
	if e.cfg.SSL {
		conf, err := tlsbridge.LoadConfig(e.cfg.SSLCert, e.cfg.SSLKey, e.cfg.SSLCA)
		if err != nil {
			return &ListenError{Err: err}
		}
		e.tlsConf = conf
	}
	addrs := e.cfg.Addresses
	if len(addrs) == 0 {
		addrs = []string{""}
	}
	if !e.cfg.UnixOnly {
		for _, a := range addrs {
			ln, err := net.Listen("tcp", net.JoinHostPort(trimBrackets(a), strconv.Itoa(e.cfg.Port)))
			if err != nil {
				e.closeListeners()
				return &ListenError{Err: err}
			}
			e.listeners = append(e.listeners, ln)
		}
	}
	if e.cfg.UnixSocket != "" {
		ln, err := listenUnix(e.cfg.UnixSocket)
		if err != nil {
			e.closeListeners()
			return &ListenError{Err: err}
		}
		e.listeners = append(e.listeners, ln)
	}
	if e.cfg.RedirPort != 0 {
		for _, a := range addrs {
			r, err := e.listenRedirect(a)
			if err != nil {
				e.closeListeners()
				e.closeRedirects()
				return &ListenError{Err: err}
			}
			e.redirects = append(e.redirects, r)
		}
	}
	return nil
}

// logListeners writes websocketd's startup lines: one per listener, with
// wss:// under --ssl, and one per redirect listener.
func (e *Engine) logListeners() {
	scheme := "ws"
	if e.tlsConf != nil {
		scheme = "wss"
	}
	for _, ln := range e.listeners {
		if ua, ok := ln.Addr().(*net.UnixAddr); ok {
			e.log.Log(logline.LevelInfo, "server", nil, "Starting WebSocket server   : unix socket at %s", ua.Name)
			continue
		}
		e.log.Log(logline.LevelInfo, "server", nil, "Starting WebSocket server   : %s://%s/", scheme, displayHostPort(ln.Addr()))
	}
	for _, r := range e.redirects {
		e.log.Log(logline.LevelInfo, "server", nil, "Starting redirect server   : http://%s/", r.Name())
	}
}

// displayHostPort is how websocketd shows a listen address in its log:
// "localhost" for all interfaces, IPv6 in brackets.
func displayHostPort(a net.Addr) string {
	host, port, _ := net.SplitHostPort(a.String())
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "localhost"
	}
	return net.JoinHostPort(host, port)
}
