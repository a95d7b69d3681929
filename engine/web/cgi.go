package web

import (
	"net/http"
	"net/http/cgi"
	"os"
	"path"
	"path/filepath"

	"github.com/wsplex/wsplex/internal/confine"
	"github.com/wsplex/wsplex/internal/logline"
)

// serveCGI runs the --cgidir script the URL path names, if there is one,
// and reports whether it answered. The path maps one to one onto a file
// under the directory (no PATH_INFO walk, as in websocketd); a miss falls
// through to static files. Confinement is that of --dir: encoded slashes
// and backslashes are misses, dot segments are resolved first and a ".."
// that leaves the directory is a miss, and the script must resolve,
// symlinks followed, inside the directory. The script is a child like a
// WebSocket's and takes a --maxforks slot while it runs: over the limit
// the answer is 429.
//
// net/http/cgi does the CGI/1.1 work: the environment, the request body
// on stdin, Status: and Location: (a local Location is followed
// internally, as RFC 3875 says).
func (w *Server) serveCGI(rw http.ResponseWriter, r *http.Request, f *logline.Fields) bool {
	file, ok := w.cgiScript(r)
	if !ok {
		return false
	}
	f.CGIScript = file
	if !w.cfg.ReserveFork() {
		w.log.Log(logline.LevelError, "http", f, "Fork not allowed since maxforks amount has been reached. CGI was not run.")
		http.Error(rw, "429 Too Many Requests", http.StatusTooManyRequests)
		return true
	}
	defer w.cfg.ReleaseFork()
	env := []string{"SERVER_SOFTWARE=" + w.cfg.ServerSoftware}
	if w.cfg.SSL {
		env = append(env, "HTTPS=on")
	}
	w.log.Log(logline.LevelAccess, "http", f, "CGI")
	h := &cgi.Handler{Path: file, Env: env, Logger: w.errLog}
	h.ServeHTTP(rw, r)
	return true
}

// cgiScript maps the request to a regular file under --cgidir.
func (w *Server) cgiScript(r *http.Request) (string, bool) {
	p := r.URL.Path
	if confine.Suspect(r.URL.EscapedPath()) || confine.Suspect(p) {
		return "", false
	}
	p, ok := confine.ResolveDots("/" + p)
	if !ok {
		return "", false
	}
	file := filepath.Join(w.cgi.Dir(), filepath.FromSlash(path.Clean(p)))
	st, err := os.Stat(file)
	if err != nil || !st.Mode().IsRegular() || !w.cgi.Contains(file) {
		return "", false
	}
	return file, true
}
