package web

import (
	"embed"
	"encoding/json"
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

// termAssets is xterm.js, its CSS and the fit addon, vendored from npm at
// the versions pinned in term/package-lock.json (make term-assets
// refreshes them), each with its package.json and MIT licence.
// term/SHA256SUMS records their checksums; term_test.go checks both, so
// every build, `go install` included, has the same terminal.
//
//go:embed term/xterm term/addon-fit term/SHA256SUMS
var termAssets embed.FS

// termPackage is one vendored npm package: its directory under term/ and
// the files the page inlines from it.
type termPackage struct {
	dir     string
	scripts []string // inlined into <script>, in this order
	styles  []string // inlined into <style>
}

// termPackages are the packages the page is built from, xterm first (the
// addon needs it).
var termPackages = []termPackage{
	{dir: "xterm", scripts: []string{"xterm.js"}, styles: []string{"xterm.css"}},
	{dir: "addon-fit", scripts: []string{"addon-fit.js"}},
}

// termPackageInfo reads the name and version of a vendored package from
// its package.json.
func termPackageInfo(dir string) (name, version string, err error) {
	b, err := termAssets.ReadFile("term/" + dir + "/package.json")
	if err != nil {
		return "", "", err
	}
	var p struct{ Name, Version string }
	err = json.Unmarshal(b, &p)
	return p.Name, p.Version, err
}

// termPage is termHTML with the assets inlined, split around {{addr}}, so
// the page stays one self-contained response (no CDN, no second request,
// as with the plain console) and each request only adds the URL. Each
// inlined package is preceded by a comment with its name, version and
// licence, as the MIT licence asks of copies (the minified scripts carry
// none).
var termPage = sync.OnceValue(func() [2]string {
	read := func(name string) string {
		// The files are embedded above: a read cannot fail, and
		// term_test.go reads each one.
		b, _ := termAssets.ReadFile("term/" + name)
		// Inlined into <script>/<style>: "</" could end the element early.
		return strings.ReplaceAll(string(b), "</", `<\/`)
	}
	var css, js strings.Builder
	for _, p := range termPackages {
		name, version, _ := termPackageInfo(p.dir)
		notice := "/*! " + name + " " + version + "\n" + read(p.dir+"/LICENSE") + "*/\n"
		if len(p.styles) > 0 {
			css.WriteString(notice)
		}
		for _, f := range p.styles {
			css.WriteString(read(p.dir + "/" + f))
		}
		js.WriteString("<script>" + notice)
		for _, f := range p.scripts {
			js.WriteString(read(p.dir + "/" + f))
		}
		js.WriteString("</script>\n")
	}
	// Cut before inlining: the assets are not searched for placeholders.
	before, after, _ := strings.Cut(termHTML, "{{addr}}")
	fill := strings.NewReplacer(
		"{{xtermcss}}", css.String(),
		"{{xtermscripts}}", js.String(),
	)
	return [2]string{fill.Replace(before), fill.Replace(after)}
})

// serveTerm is serveConsole for --pty.
func (w *Server) serveTerm(rw http.ResponseWriter, r *http.Request) {
	addr := w.scheme("ws") + "://" + r.Host + r.RequestURI
	p := termPage()
	page := p[0] + html.EscapeString(addr) + p[1]
	rw.Header().Set("Content-Type", "text/html; charset=utf-8")
	http.ServeContent(rw, r, "", w.cfg.Started, strings.NewReader(page))
}
