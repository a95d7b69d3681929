// Package confine keeps URL paths inside the directories they name: --dir,
// --staticdir, --cgidir and --protodir each have a Jail. Start with Jail
// (a directory and its resolved path; Contains checks that a file, symlinks
// resolved, is still under it), then Suspect (spellings refused outright)
// and ResolveDots (the "." and ".." segments of a URL path).
package confine

import (
	"path"
	"path/filepath"
	"strings"
)

// Jail is a directory that URL paths may not leave: --dir, --staticdir and
// --cgidir each have one. Cleaning the URL path keeps "..", "%2e%2e" and
// friends inside the directory, but not a symlink that points elsewhere, so
// every file is also resolved with filepath.EvalSymlinks and must still be
// under the directory's own resolved path.
type Jail struct {
	dir  string // as configured (absolute for --dir, as given for the others)
	real string // dir with every symlink resolved; "" if it could not be
}

// New returns the Jail of dir, resolving its symlinks once, now.
func New(dir string) Jail {
	real, err := filepath.EvalSymlinks(dir)
	if err == nil {
		real, err = filepath.Abs(real)
	}
	if err != nil {
		real = ""
	}
	return Jail{dir: dir, real: real}
}

// Dir returns the directory as configured.
func (j Jail) Dir() string { return j.dir }

// Contains reports whether name (a path under j.Dir()) resolves to j.Dir()
// itself or to something below it. A path that does not resolve (missing,
// a dangling or looping link) is not contained.
func (j Jail) Contains(name string) bool {
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

// Suspect reports whether a URL path, raw or decoded, is spelled in a
// way no honest client needs and that only serves to confuse a path walk:
// an encoded slash or backslash (which would change where segments split),
// a backslash, a NUL. Such requests are refused outright rather than
// interpreted.
func Suspect(raw string) bool {
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

// ResolveDots resolves the "." and ".." segments of a decoded URL path
// that starts with "/", as websocketd does before it looks for the file:
// "/sub/../hello.sh" is "/hello.sh". A ".." that would climb above the
// root is refused (false), not clamped: such a request is an attempt to
// leave the directory. A path without dot segments is returned unchanged,
// so that PATH_INFO keeps its slashes as the client sent them.
func ResolveDots(p string) (string, bool) {
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
