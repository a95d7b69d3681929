package engine

import (
	"embed"
	"html"
	"net/http"
	"strings"
	"sync"
)

// termHTML is the --devconsole page under --pty: a terminal (xterm.js)
// that attaches to the endpoint of the page's own URL, follows the
// window's size with resize messages, and shows the close status.
//
//go:embed term.html
var termHTML string

// termAssets holds xterm.js, its CSS and the fit addon when they were
// fetched before the build (make term-assets). They are not committed, so
// the directory has only its README on a fresh clone: the build works, and
// the page falls back to a plain text terminal (its script checks for
// xterm.js).
//
//go:embed term/assets
var termAssets embed.FS

// termPage is termHTML with the assets inlined, split around {{addr}}, so
// the page stays one self-contained response (no CDN, no second request,
// as with the plain console) and each request only adds the URL.
var termPage = sync.OnceValue(func() [2]string {
	asset := func(name string) string {
		b, _ := termAssets.ReadFile("term/assets/" + name)
		// Inlined into <script>/<style>: "</" could end the element early.
		return strings.ReplaceAll(string(b), "</", `<\/`)
	}
	page := strings.NewReplacer(
		"{{xtermcss}}", asset("xterm.css"),
		"{{xtermjs}}", asset("xterm.js"),
		"{{fitjs}}", asset("addon-fit.js"),
	).Replace(termHTML)
	before, after, _ := strings.Cut(page, "{{addr}}")
	return [2]string{before, after}
})

// TermAssetsPresent reports whether the terminal page has xterm.js built
// in (tests skip the browser test without it).
func TermAssetsPresent() bool {
	_, err := termAssets.Open("term/assets/xterm.js")
	return err == nil
}

// serveTerm is serveConsole for --pty.
func (w *web) serveTerm(rw http.ResponseWriter, r *http.Request) {
	addr := w.e.scheme("ws") + "://" + r.Host + r.RequestURI
	p := termPage()
	page := p[0] + html.EscapeString(addr) + p[1]
	rw.Header().Set("Content-Type", "text/html; charset=utf-8")
	http.ServeContent(rw, r, "", w.e.started, strings.NewReader(page))
}
