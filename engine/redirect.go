package engine

import (
	"io"
	"log"
	"net"
	"net/http"
	"strconv"
)

// redirect is one --redirport listener. It is plain net/http: it answers
// one tiny response per request, carries no WebSocket and runs no child,
// so the reactor gains nothing from it.
type redirect struct {
	ln   net.Listener
	srv  *http.Server
	name string // as logged: the --address given, ":" and the port
}

// listenRedirect opens the redirect listener for one --address (host part
// as given; "" for all interfaces).
func (e *Engine) listenRedirect(addr string) (*redirect, error) {
	port := strconv.Itoa(e.cfg.RedirPort)
	ln, err := net.Listen("tcp", net.JoinHostPort(trimBrackets(addr), port))
	if err != nil {
		return nil, err
	}
	srv := &http.Server{
		Handler:           http.HandlerFunc(e.redirectTo),
		ReadHeaderTimeout: HeadTimeout,
		ErrorLog:          log.New(io.Discard, "", 0), // websocketd's log format only
	}
	return &redirect{ln: ln, srv: srv, name: addr + ":" + port}, nil
}

// redirectTo answers every request with 301 to the main port on the host
// the client asked for, http or https as the main listener speaks: what
// websocketd does, except that an IPv6 Host or one without a port works.
func (e *Engine) redirectTo(w http.ResponseWriter, r *http.Request) {
	scheme := "http"
	if e.tlsConf != nil {
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
	http.Redirect(w, r, scheme+"://"+net.JoinHostPort(host, strconv.Itoa(e.cfg.Port))+"/", http.StatusMovedPermanently)
}

func (e *Engine) serveRedirects() {
	for _, r := range e.redirects {
		go func() { _ = r.srv.Serve(r.ln) }()
	}
}

// closeRedirects stops the redirect servers (Close also closes listeners
// that never got to Serve).
func (e *Engine) closeRedirects() {
	for _, r := range e.redirects {
		_ = r.ln.Close()
		_ = r.srv.Close()
	}
}
