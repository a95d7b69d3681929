package engine

import (
	"path"
	"path/filepath"
	"strings"
)

// jail is a directory that URL paths may not leave: --dir, --staticdir and
// --cgidir each have one. Cleaning the URL path keeps "..", "%2e%2e" and
// friends inside the directory, but not a symlink that points elsewhere, so
// every file is also resolved with filepath.EvalSymlinks and must still be
// under the directory's own resolved path.
type jail struct {
	dir  string // as configured (absolute for --dir, as given for the others)
	real string // dir with every symlink resolved; "" if it could not be
}

func newJail(dir string) jail {
	real, err := filepath.EvalSymlinks(dir)
	if err == nil {
		real, err = filepath.Abs(real)
	}
	if err != nil {
		real = ""
	}
	return jail{dir: dir, real: real}
}

// contains reports whether name (a path under j.dir) resolves to j.dir
// itself or to something below it. A path that does not resolve (missing,
// a dangling or looping link) is not contained.
func (j jail) contains(name string) bool {
	if j.real == "" {
		return false
	}
	real, err := filepath.EvalSymlinks(name)
	if err == nil {
		real, err = filepath.Abs(real)
	}
	if err != nil {
		return false
	}
	return real == j.real || strings.HasPrefix(real, j.real+string(filepath.Separator)) || j.real == string(filepath.Separator)
}

// suspectPath reports whether a URL path, raw or decoded, is spelled in a
// way no honest client needs and that only serves to confuse a path walk:
// an encoded slash or backslash (which would change where segments split),
// a backslash, a NUL. Such requests are refused outright rather than
// interpreted.
func suspectPath(raw string) bool {
	if strings.ContainsAny(raw, "\\\x00") {
		return true
	}
	for i := 0; i+2 < len(raw); i++ {
		if raw[i] != '%' {
			continue
		}
		switch strings.ToLower(raw[i+1 : i+3]) {
		case "2f", "5c", "00":
			return true
		}
	}
	return false
}

// resolveDots resolves the "." and ".." segments of a decoded URL path
// that starts with "/", as websocketd does before it looks for the file:
// "/sub/../hello.sh" is "/hello.sh". A ".." that would climb above the
// root is refused (false), not clamped: such a request is an attempt to
// leave the directory. A path without dot segments is returned unchanged,
// so that PATH_INFO keeps its slashes as the client sent them.
func resolveDots(p string) (string, bool) {
	depth, dots := 0, false
	for seg := range strings.SplitSeq(p, "/") {
		switch seg {
		case "":
		case ".":
			dots = true
		case "..":
			dots = true
			if depth--; depth < 0 {
				return "", false
			}
		default:
			depth++
		}
	}
	if !dots {
		return p, true
	}
	return path.Clean(p), true
}
