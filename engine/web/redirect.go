package web

import (
	"io"
	"log"
	"net"
	"net/http"
	"strconv"
	"time"
)

// Redirect is one --redirport listener. It is plain net/http: it answers
// one tiny response per request, carries no WebSocket and runs no child,
// so the reactor gains nothing from it.
type Redirect struct {
	ln    net.Listener
	srv   *http.Server
	name  string // as logged: the --address given, ":" and the port
	https bool   // the main listener speaks TLS (--ssl)
	port  int    // the main listener's port (--port)
}

// ListenRedirect opens the redirect listener on redirPort for one
// --address (host part as given; "" for all interfaces). Its answers send
// the client to port, over https if https is set.
func ListenRedirect(addr string, redirPort, port int, https bool, headTimeout time.Duration) (*Redirect, error) {
	p := strconv.Itoa(redirPort)
	ln, err := net.Listen("tcp", net.JoinHostPort(trimBrackets(addr), p))
	if err != nil {
		return nil, err
	}
	r := &Redirect{ln: ln, name: addr + ":" + p, https: https, port: port}
	r.srv = &http.Server{
		Handler:           http.HandlerFunc(r.redirectTo),
		ReadHeaderTimeout: headTimeout,
		ErrorLog:          log.New(io.Discard, "", 0), // websocketd's log format only
	}
	return r, nil
}

// Name is the listener as websocketd logs it: the --address given, ":" and
// the port.
func (r *Redirect) Name() string { return r.name }

// Serve answers requests until Close.
func (r *Redirect) Serve() { _ = r.srv.Serve(r.ln) }

// Close stops the redirect server (it also closes a listener that never
// got to Serve).
func (r *Redirect) Close() {
	_ = r.ln.Close()
	_ = r.srv.Close()
}

// redirectTo answers every request with 301 to the main port on the host
// the client asked for, http or https as the main listener speaks: what
// websocketd does, except that an IPv6 Host or one without a port works.
func (rd *Redirect) redirectTo(w http.ResponseWriter, r *http.Request) {
	scheme := "http"
	if rd.https {
		scheme = "https"
	}
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	} else {
		host = trimBrackets(host)
	}
	if host == "" {
		if la, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
			host, _, _ = net.SplitHostPort(la.String())
		}
	}
	http.Redirect(w, r, scheme+"://"+net.JoinHostPort(host, strconv.Itoa(rd.port))+"/", http.StatusMovedPermanently)
}

// trimBrackets is h without the brackets of an IPv6 literal ("[::1]").
func trimBrackets(h string) string {
	if len(h) > 1 && h[0] == '[' && h[len(h)-1] == ']' {
		return h[1 : len(h)-1]
	}
	return h
}
