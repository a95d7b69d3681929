package web

import (
	"io/fs"
	"net/http"
	"path"
	"path/filepath"
	"strings"

	"github.com/wsplex/wsplex/internal/confine"
)

// staticFS is http.Dir for --staticdir with three refusals added, so that
// http.FileServer keeps everything it is good at (index.html, Range,
// Last-Modified and 304, content types) and loses what surprises people:
//
//   - nothing that resolves outside the directory: http.Dir cleans away
//     "..", but follows symlinks anywhere;
//   - no dotfiles (.git, .env, .htpasswd) unless --staticdotfiles;
//   - no directory listings unless --staticlist: a directory without
//     index.html is "not found", not a list of its files (websocketd
//     issue #476).
//
// Each refusal is fs.ErrNotExist, which FileServer answers with 404, so a
// refused file is indistinguishable from a missing one.
type staticFS struct {
	root     http.Dir
	jail     confine.Jail
	list     bool
	dotfiles bool
}

func newStaticFS(dir string, list, dotfiles bool) staticFS {
	return staticFS{root: http.Dir(dir), jail: confine.New(dir), list: list, dotfiles: dotfiles}
}

func (s staticFS) Open(name string) (http.File, error) {
	clean := path.Clean("/" + name)
	if confine.Suspect(name) || (!s.dotfiles && hasDotSegment(clean)) {
		return nil, fs.ErrNotExist
	}
	if !s.jail.Contains(filepath.Join(s.jail.Dir(), filepath.FromSlash(clean))) {
		return nil, fs.ErrNotExist
	}
	f, err := s.root.Open(clean)
	if err != nil || s.list {
		return f, err
	}
	st, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	if st.IsDir() {
		// FileServer serves a directory only through its index.html; the
		// index goes through Open (and its checks) again.
		idx, err := s.Open(path.Join(clean, "index.html"))
		if err != nil {
			_ = f.Close()
			return nil, fs.ErrNotExist
		}
		_ = idx.Close()
	}
	return f, nil
}

// hasDotSegment reports whether a cleaned URL path names a dotfile or
// something inside a dot directory.
func hasDotSegment(p string) bool {
	for seg := range strings.SplitSeq(p, "/") {
		if seg != "" && seg[0] == '.' {
			return true
		}
	}
	return false
}
