// Package web is the plain-HTTP side of the daemon: the requests that are
// not WebSocket upgrades, when there is anything to serve them (--staticdir,
// --cgidir, --devconsole), and the --redirport listeners. It is ordinary
// net/http, off the engine's event loops.
//
// Start with Server (web.go): New builds it from a Config, and Handoff
// (handoff.go) gives it one connection the engine has taken off its loop,
// with the bytes already read. ServeHTTP routes in websocketd's order: the
// dev console (console.go, or term.go's terminal page under --pty), CGI
// (cgi.go), static files (static.go). redirect.go is --redirport. Paths are
// confined by package internal/confine.
package web

import (
	"bytes"
	"io"
	"log"
	"net/http"
	"time"

	"github.com/wsplex/wsplex/codec"
	"github.com/wsplex/wsplex/internal/confine"
	"github.com/wsplex/wsplex/internal/logline"
)

// Config is what the plain-HTTP side serves and how; the engine fills it
// from its own configuration.
type Config struct {
	StaticDir      string // --staticdir; "" for none
	StaticList     bool   // --staticlist
	StaticDotfiles bool   // --staticdotfiles
	CGIDir         string // --cgidir; "" for none
	DevConsole     bool   // --devconsole
	PTY            bool   // --pty: the console is the terminal page
	SSL            bool   // --ssl: https and wss in URLs, HTTPS=on for CGI
	ServerSoftware string // SERVER_SOFTWARE of CGI scripts

	Headers     []codec.Header // added to every answer: --header + --header-http
	Started     time.Time      // the daemon's start: the console pages' Last-Modified
	HeadTimeout time.Duration  // bound on a request body that never comes
	Log         *logline.Logger

	// ReserveFork takes one of the --maxforks slots, which WebSocket
	// children and CGI scripts share, or reports that none is free;
	// ReleaseFork gives it back.
	ReserveFork func() bool
	ReleaseFork func()
}

// Server is the plain HTTP side of the daemon: one http.Server shared by
// every connection handed off by the engine (Handoff). The engine builds
// one only when there is something to serve (--staticdir, --cgidir or
// --devconsole); otherwise a plain request gets its 404 without leaving the
// event loop.
type Server struct {
	cfg    Config
	log    *logline.Logger
	srv    *http.Server
	static http.Handler // nil without --staticdir
	cgi    confine.Jail
	errLog *log.Logger // net/http's and net/http/cgi's complaints, as ERROR lines
}

// New prepares the server for what cfg asks.
func New(cfg Config) *Server {
	w := &Server{cfg: cfg, log: cfg.Log}
	w.errLog = log.New(logWriter{w.log}, "", 0)
	if cfg.StaticDir != "" {
		w.static = http.FileServer(newStaticFS(cfg.StaticDir, cfg.StaticList, cfg.StaticDotfiles))
	}
	if cfg.CGIDir != "" {
		w.cgi = confine.New(cfg.CGIDir)
	}
	w.srv = &http.Server{
		Handler: w,
		// The head has already arrived (the reactor read it); the bound
		// is for a request body that never comes.
		ReadHeaderTimeout: cfg.HeadTimeout,
		ReadTimeout:       5 * time.Minute,
		ErrorLog:          w.errLog,
	}
	w.srv.SetKeepAlivesEnabled(false)
	return w
}

// Close ends the requests still in flight at shutdown (a CGI child whose
// connection closes is killed by net/http/cgi).
func (w *Server) Close() {
	_ = w.srv.Close()
}

// ServeHTTP routes a plain request in websocketd's order: the --header and
// --header-http headers, then the dev console, CGI, static files, and
// finally "404 page not found".
func (w *Server) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	for _, h := range w.cfg.Headers {
		rw.Header().Add(h.Name, h.Value)
	}
	f := &logline.Fields{URL: w.scheme("http") + "://" + r.Host + r.RequestURI}
	switch {
	case w.cfg.DevConsole:
		w.log.Log(logline.LevelAccess, "http", f, "DEVCONSOLE")
		w.serveConsole(rw, r)
	case w.cfg.CGIDir != "" && w.serveCGI(rw, r, f):
	case w.static != nil:
		if confine.Suspect(r.URL.EscapedPath()) {
			w.log.Log(logline.LevelAccess, "http", f, "NOT FOUND")
			http.NotFound(rw, r)
			return
		}
		w.static.ServeHTTP(&staticLogger{ResponseWriter: rw, w: w, f: f}, r)
	default:
		w.log.Log(logline.LevelAccess, "http", f, "NOT FOUND")
		http.NotFound(rw, r)
	}
}

// scheme is s ("http" or "ws") with an "s" under --ssl.
func (w *Server) scheme(s string) string {
	if w.cfg.SSL {
		return s + "s"
	}
	return s
}

// logWriter turns the lines of a log.Logger into ERROR lines of ours.
type logWriter struct{ l *logline.Logger }

func (w logWriter) Write(p []byte) (int, error) {
	w.l.Log(logline.LevelError, "http", nil, "%s", bytes.TrimRight(p, "\n"))
	return len(p), nil
}

// staticLogger writes the access line of a static request once its status
// is known: STATIC for a file (or a 304, a 206...), NOT FOUND for a miss,
// as websocketd logs a request nothing serves. The line is written before
// the response goes out.
type staticLogger struct {
	http.ResponseWriter
	w      *Server
	f      *logline.Fields
	logged bool
}

func (s *staticLogger) WriteHeader(status int) {
	if !s.logged {
		s.logged = true
		msg := "STATIC"
		if status == http.StatusNotFound {
			msg = "NOT FOUND"
		}
		s.w.log.Log(logline.LevelAccess, "http", s.f, "%s", msg)
	}
	s.ResponseWriter.WriteHeader(status)
}

func (s *staticLogger) Write(p []byte) (int, error) {
	if !s.logged {
		s.WriteHeader(http.StatusOK)
	}
	return s.ResponseWriter.Write(p)
}

// ReadFrom keeps the response's own ReadFrom (sendfile) for file bodies.
func (s *staticLogger) ReadFrom(r io.Reader) (int64, error) {
	if !s.logged {
		s.WriteHeader(http.StatusOK)
	}
	return io.Copy(s.ResponseWriter, r)
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (s *staticLogger) Unwrap() http.ResponseWriter { return s.ResponseWriter }
