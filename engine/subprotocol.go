package engine

import (
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/wsplex/wsplex/codec"
	"github.com/wsplex/wsplex/internal/confine"
)

// Subprotocol negotiation (Sec-WebSocket-Protocol).
//
// websocketd never answers a subprotocol, and a browser whose page offers
// one (new WebSocket(url, "chat")) fails the handshake of a server that
// does not answer it. wsplex answers by default the client's first offer;
// --subprotocol restricts the answer to a list, --protodir makes the
// chosen subprotocol pick the program.

// pickProtocol chooses the subprotocol of an upgrade and, with --protodir,
// the program that speaks it (rt.script). It returns "" when the
// upgrade may go on, else the reason for a 400, for the log line.
func (c *conn) pickProtocol(req *codec.Request, rt *route) string {
	e := c.e
	rt.protocol = ""
	switch {
	case e.cfg.ProtoDir != "":
		offered := false
		for p := range req.Subprotocols {
			offered = true
			if script, ok := protoProgram(e.protoJail, p); ok {
				rt.protocol, rt.script = p, script
				return ""
			}
		}
		if offered {
			return "Bad handshake: no program in --protodir for the subprotocols offered (" + offeredList(req) + ")"
		}
		if script, ok := protoProgram(e.protoJail, "default"); ok {
			rt.script = script
			return ""
		}
		return "Bad handshake: no subprotocol offered and no program 'default' in --protodir"
	case len(e.cfg.Subprotocols) > 0:
		offered := false
		for p := range req.Subprotocols {
			offered = true
			if slices.Contains(e.cfg.Subprotocols, p) {
				rt.protocol = p
				return ""
			}
		}
		if offered {
			return "Bad handshake: subprotocols offered (" + offeredList(req) + ") not among --subprotocol (" + strings.Join(e.cfg.Subprotocols, ", ") + ")"
		}
		return ""
	default:
		for p := range req.Subprotocols {
			rt.protocol = p
			break
		}
		return ""
	}
}

// offeredList is the client's offer for a log line.
func offeredList(req *codec.Request) string {
	var b strings.Builder
	for p := range req.Subprotocols {
		if b.Len() > 0 {
			b.WriteString(", ")
		}
		b.WriteString(p)
	}
	return b.String()
}

// protoProgram finds the program for subprotocol name in the --protodir
// jail. The name is one file name: no separator, no NUL, nothing starting
// with a dot ("..", ".hidden"), and the file, symlinks followed, must be
// an executable regular file inside the directory.
func protoProgram(j confine.Jail, name string) (string, bool) {
	if name == "" || name[0] == '.' || strings.ContainsAny(name, "/\\\x00") {
		return "", false
	}
	file := filepath.Join(j.Dir(), name)
	st, err := os.Stat(file)
	if err != nil || !st.Mode().IsRegular() || st.Mode().Perm()&0o111 == 0 || !j.Contains(file) {
		return "", false
	}
	return file, true
}

// protocolSelector is what codec.Upgrade echoes: the chosen subprotocol,
// or no negotiation.
func protocolSelector(chosen string) func(string) bool {
	if chosen == "" {
		return nil
	}
	return func(p string) bool { return p == chosen }
}
