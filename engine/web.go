package engine

import (
	"github.com/wsplex/wsplex/engine/web"
	"github.com/wsplex/wsplex/internal/confine"
	"github.com/wsplex/wsplex/internal/logline"
)

// The plain HTTP side (static files, CGI, the dev console, --redirport) is
// package web; this is the engine's side of it.

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
	e.web = web.New(web.Config{
		StaticDir:      e.cfg.StaticDir,
		StaticList:     e.cfg.StaticList,
		StaticDotfiles: e.cfg.StaticDotfiles,
		CGIDir:         e.cfg.CGIDir,
		DevConsole:     e.cfg.DevConsole,
		PTY:            e.cfg.PTY,
		SSL:            e.cfg.SSL,
		ServerSoftware: e.cfg.ServerSoftware,
		Headers:        e.hdrHTTP,
		Started:        e.started,
		HeadTimeout:    HeadTimeout,
		Log:            e.log,
		ReserveFork:    e.reserveFork,
		ReleaseFork:    e.releaseFork,
	})
}

// logWebStartup writes websocketd's startup lines for the HTTP side.
func (e *Engine) logWebStartup() {
	if e.cfg.Dir != "" {
		e.log.Log(logline.LevelInfo, "server", nil, "Serving from directory      : %s", e.cfg.Dir)
	}
	if e.cfg.StaticDir != "" {
		e.log.Log(logline.LevelInfo, "server", nil, "Serving static content from : %s", e.cfg.StaticDir)
	}
	if e.cfg.CGIDir != "" {
		e.log.Log(logline.LevelInfo, "server", nil, "Serving CGI scripts from    : %s", e.cfg.CGIDir)
	}
}

// closeWeb ends the requests still in flight at shutdown (a CGI child whose
// connection closes is killed by net/http/cgi).
func (e *Engine) closeWeb() {
	if e.web != nil {
		e.web.Close()
	}
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

// listenRedirect opens the --redirport listener for one --address (host
// part as given; "" for all interfaces).
func (e *Engine) listenRedirect(addr string) (*web.Redirect, error) {
	return web.ListenRedirect(addr, e.cfg.RedirPort, e.cfg.Port, e.tlsConf != nil, HeadTimeout)
}

func (e *Engine) serveRedirects() {
	for _, r := range e.redirects {
		go r.Serve()
	}
}

// closeRedirects stops the redirect servers (Close also closes listeners
// that never got to Serve).
func (e *Engine) closeRedirects() {
	for _, r := range e.redirects {
		r.Close()
	}
}
