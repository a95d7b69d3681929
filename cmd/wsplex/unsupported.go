package main

import "github.com/wsplex/wsplex/engine"

// notYetSupported names the first flag in cfg that the engine does not
// implement yet, or returns "". parseArgs has already validated these flags
// exactly as websocketd does; refusing them here, after validation, means a
// wrong command line still gets websocketd's message, and a right one fails
// loudly instead of silently serving something else (no TLS, no origin
// check...). Delete a line when the engine learns the flag; delete the file
// when it knows them all.
func notYetSupported(cfg engine.Config) string {
	switch {
	case cfg.Dir != "":
		return "--dir"
	case cfg.StaticDir != "":
		return "--staticdir"
	case cfg.CGIDir != "":
		return "--cgidir"
	case cfg.DevConsole:
		return "--devconsole"
	case cfg.SSL:
		return "--ssl"
	case cfg.RedirPort != 0:
		return "--redirport"
	case cfg.UnixSocket != "":
		return "--unixsocket"
	case len(cfg.Origins) > 0:
		return "--origin"
	case cfg.SameOrigin:
		return "--sameorigin"
	case len(cfg.HeadersHTTP) > 0:
		return "--header-http"
	}
	return ""
}
