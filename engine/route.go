package engine

import (
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/wsplex/wsplex/codec"
	"github.com/wsplex/wsplex/internal/confine"
)

// route is what a WebSocket URL runs. In single-command mode it is
// COMMAND for every path, with SCRIPT_NAME "/" and the whole path as
// PATH_INFO. With --dir it is found by walking the URL path, as websocketd
// does: "/sub/f.sh/extra/p" runs DIR/sub/f.sh with SCRIPT_NAME "/sub/f.sh"
// and PATH_INFO "/extra/p".
//
// It is the upgrade's (upgrade passes it along), not the connection's: an
// idle connection does not hold it, nor, through pathInfo and protocol, the
// request head they are substrings of.
type route struct {
	script     string // file to run, by absolute path, with no arguments
	scriptName string // SCRIPT_NAME
	pathInfo   string // PATH_INFO
	protocol   string // the subprotocol answered, WEBSOCKET_PROTOCOL; "" for none (subprotocol.go)
}

// routeDir finds the script for a raw (still percent-encoded) URL path
// under the --dir jail. The walk takes one segment at a time: a directory
// means go on, the first regular file is the script and the rest of the
// path is PATH_INFO; anything missing, a directory at the end of the path,
// or something that is neither file nor directory is "no script" (404).
//
// Confinement: encoded slashes and backslashes and NULs are refused before
// any file is looked at; "." and ".." segments are resolved first, and a
// ".." that would leave DIR is refused (confine.ResolveDots); the script found must
// resolve, symlinks followed, to a file inside DIR.
func routeDir(j confine.Jail, rawPath string) (rt route, ok bool) {
	if confine.Suspect(rawPath) {
		return route{}, false
	}
	p, err := url.PathUnescape(rawPath)
	if err != nil || !strings.HasPrefix(p, "/") || confine.Suspect(p) {
		return route{}, false
	}
	if p, ok = confine.ResolveDots(p); !ok {
		return route{}, false
	}
	parts := strings.Split(p[1:], "/")
	scriptName := ""
	for i, part := range parts {
		scriptName += "/" + part
		file := filepath.Join(j.Dir(), filepath.FromSlash(scriptName))
		st, err := os.Stat(file)
		last := i == len(parts)-1
		switch {
		case err != nil:
			return route{}, false
		case st.IsDir() && last:
			return route{}, false
		case st.IsDir():
			continue
		case !st.Mode().IsRegular() || !j.Contains(file):
			return route{}, false
		}
		rt = route{script: file, scriptName: scriptName}
		if !last {
			rt.pathInfo = "/" + strings.Join(parts[i+1:], "/")
		}
		return rt, true
	}
	return route{}, false
}

// routeUpgrade sets rt (whose protocol, and with --protodir script,
// pickProtocol has chosen) for an upgrade request and names the program in
// the log fields; false means there is no script for the path (404).
func (c *conn) routeUpgrade(req *codec.Request, rt *route) bool {
	e := c.e
	switch {
	case e.cfg.ProtoDir != "":
		// pickProtocol has chosen the program.
		*rt = route{script: rt.script, scriptName: "/", pathInfo: unescapePath(req.Path), protocol: rt.protocol}
	case e.cfg.Dir == "":
		*rt = route{script: e.cfg.Command, scriptName: "/", pathInfo: unescapePath(req.Path), protocol: rt.protocol}
	default:
		found, ok := routeDir(e.dirJail, req.Path)
		if !ok {
			return false
		}
		found.protocol = rt.protocol
		*rt = found
	}
	c.fields.Command = rt.script
	return true
}
