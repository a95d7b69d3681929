package engine

import (
	"bytes"
	"io"
	"log"
	"net/http"
	"time"

	"github.com/wsplex/wsplex/internal/confine"
)

// web is the plain HTTP side of the daemon: one http.Server shared by every
// connection handed off by the reactor (handoff.go). It exists only when
// there is something to serve (--staticdir, --cgidir or --devconsole);
// otherwise a plain request gets its 404 without leaving the event loop.
type web struct {
	e      *Engine
	srv    *http.Server
	static http.Handler // nil without --staticdir
	cgi    confine.Jail
	errLog *log.Logger // net/http's and net/http/cgi's complaints, as ERROR lines
}

// initRouting prepares what the configuration asks for: the --dir jail and,
// when plain HTTP has anything to serve, the web side. New calls it.
func (e *Engine) initRouting() {
	if e.cfg.Dir != "" {
		e.dirJail = confine.New(e.cfg.Dir)
	}
	if e.cfg.ProtoDir != "" {
		e.protoJail = confine.New(e.cfg.ProtoDir)
	}
	if e.cfg.StaticDir == "" && e.cfg.CGIDir == "" && !e.cfg.DevConsole {
		return
	}
	w := &web{e: e}
	w.errLog = log.New(logWriter{e.log}, "", 0)
	if e.cfg.StaticDir != "" {
		w.static = http.FileServer(newStaticFS(e.cfg.StaticDir, e.cfg.StaticList, e.cfg.StaticDotfiles))
	}
	if e.cfg.CGIDir != "" {
		w.cgi = confine.New(e.cfg.CGIDir)
	}
	w.srv = &http.Server{
		Handler: w,
		// The head has already arrived (the reactor read it); the bound
		// is for a request body that never comes.
		ReadHeaderTimeout: HeadTimeout,
		ReadTimeout:       5 * time.Minute,
		ErrorLog:          w.errLog,
	}
	w.srv.SetKeepAlivesEnabled(false)
	e.web = w
}

// logWebStartup writes websocketd's startup lines for the HTTP side.
func (e *Engine) logWebStartup() {
	if e.cfg.Dir != "" {
		e.log.Log(LevelInfo, "server", nil, "Serving from directory      : %s", e.cfg.Dir)
	}
	if e.cfg.StaticDir != "" {
		e.log.Log(LevelInfo, "server", nil, "Serving static content from : %s", e.cfg.StaticDir)
	}
	if e.cfg.CGIDir != "" {
		e.log.Log(LevelInfo, "server", nil, "Serving CGI scripts from    : %s", e.cfg.CGIDir)
	}
}

// closeWeb ends the requests still in flight at shutdown (a CGI child whose
// connection closes is killed by net/http/cgi).
func (e *Engine) closeWeb() {
	if e.web != nil {
		_ = e.web.srv.Close()
	}
}

// ServeHTTP routes a plain request in websocketd's order: the --header and
// --header-http headers, then the dev console, CGI, static files, and
// finally "404 page not found".
func (w *web) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	for _, h := range w.e.hdrHTTP {
		rw.Header().Add(h.Name, h.Value)
	}
	f := &Fields{URL: w.e.scheme("http") + "://" + r.Host + r.RequestURI}
	switch {
	case w.e.cfg.DevConsole:
		w.e.log.Log(LevelAccess, "http", f, "DEVCONSOLE")
		w.serveConsole(rw, r)
	case w.e.cfg.CGIDir != "" && w.serveCGI(rw, r, f):
	case w.static != nil:
		if confine.Suspect(r.URL.EscapedPath()) {
			w.e.log.Log(LevelAccess, "http", f, "NOT FOUND")
			http.NotFound(rw, r)
			return
		}
		w.static.ServeHTTP(&staticLogger{ResponseWriter: rw, w: w, f: f}, r)
	default:
		w.e.log.Log(LevelAccess, "http", f, "NOT FOUND")
		http.NotFound(rw, r)
	}
}

// scheme is s ("http" or "ws") with an "s" under --ssl.
func (e *Engine) scheme(s string) string {
	if e.cfg.SSL {
		return s + "s"
	}
	return s
}

// reserveFork takes one of the --maxforks slots, which WebSocket children
// and CGI scripts share, or reports that none is free.
func (e *Engine) reserveFork() bool {
	for {
		n := e.children.Load()
		if e.cfg.MaxForks > 0 && n >= int64(e.cfg.MaxForks) {
			return false
		}
		if e.children.CompareAndSwap(n, n+1) {
			e.metrics.children.Inc()
			return true
		}
	}
}

func (e *Engine) releaseFork() {
	e.children.Add(-1)
	e.metrics.children.Dec()
}

// logWriter turns the lines of a log.Logger into ERROR lines of ours.
type logWriter struct{ l *Logger }

func (w logWriter) Write(p []byte) (int, error) {
	w.l.Log(LevelError, "http", nil, "%s", bytes.TrimRight(p, "\n"))
	return len(p), nil
}

// staticLogger writes the access line of a static request once its status
// is known: STATIC for a file (or a 304, a 206...), NOT FOUND for a miss,
// as websocketd logs a request nothing serves. The line is written before
// the response goes out.
type staticLogger struct {
	http.ResponseWriter
	w      *web
	f      *Fields
	logged bool
}

func (s *staticLogger) WriteHeader(status int) {
	if !s.logged {
		s.logged = true
		msg := "STATIC"
		if status == http.StatusNotFound {
			msg = "NOT FOUND"
		}
		s.w.e.log.Log(LevelAccess, "http", s.f, "%s", msg)
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
