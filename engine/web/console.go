package web

import (
	_ "embed"
	"html"
	"net/http"
	"strings"
)

// consoleHTML is the --devconsole page: one self-contained file (no CDN,
// no external script), so that it works on a machine without internet
// access, which is where a development console often runs.
//
//go:embed console.html
var consoleHTML string

// serveConsole answers every non-upgrade request with the console, its URL
// field preset to this very URL with ws:// or wss://, so that visiting
// http://host/foo lets one try ws://host/foo at once. The URL comes from
// the request (Host header and target), so it is HTML-escaped: websocketd
// put it in the page as it came, which made the console a reflected XSS.
func (w *Server) serveConsole(rw http.ResponseWriter, r *http.Request) {
	if w.cfg.PTY {
		w.serveTerm(rw, r) // term.go
		return
	}
	addr := w.scheme("ws") + "://" + r.Host + r.RequestURI
	page := strings.ReplaceAll(consoleHTML, "{{addr}}", html.EscapeString(addr))
	rw.Header().Set("Content-Type", "text/html; charset=utf-8")
	http.ServeContent(rw, r, "", w.cfg.Started, strings.NewReader(page))
}
