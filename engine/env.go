package engine

import (
	"net"
	"os"
	"strconv"
	"strings"

	"github.com/wsplex/wsplex/codec"
)

// environ builds the child's environment exactly as websocketd does (see
// the compatibility reference): the CGI/1.1 variables, the --passenv
// variables, and HTTP_* for every request header but Host. Nothing else of
// the daemon's environment leaks through.
//
// It is written into the loop's scratch buffer and then made one string,
// cut into the variables: two allocations (that string and the slice)
// rather than one per variable and per HTTP_ name, and a map of the names
// seen. It runs on c's loop.
func (c *conn) environ(req *codec.Request, rt *route) []string {
	e := c.e
	b := &c.gc.lb.env
	b.reset()
	b.add("SERVER_SOFTWARE", e.cfg.ServerSoftware)
	for _, name := range e.cfg.PassEnv {
		if v := os.Getenv(name); v != "" {
			b.add(name, v)
		}
	}
	// With --reverselookup, REMOTE_HOST is replaced once the name is known
	// (lookup.go); until then, and if there is none, it is the address.
	remoteHost := c.remoteAddr
	c.fields.Remote = remoteHost
	defPort := "80"
	if e.tlsConf != nil {
		defPort = "443"
	}
	serverName, serverPort := splitHostDefault(req.Host(), defPort)
	b.add("REMOTE_ADDR", c.remoteAddr)
	b.add("REMOTE_HOST", remoteHost)
	b.add("SERVER_NAME", serverName)
	b.add("SERVER_PORT", serverPort)
	b.add("SERVER_PROTOCOL", req.Proto)
	b.add("GATEWAY_INTERFACE", "CGI/1.1")
	b.add("REQUEST_METHOD", req.Method)
	b.add("SCRIPT_NAME", rt.scriptName)
	b.add("PATH_INFO", rt.pathInfo)
	b.add("PATH_TRANSLATED", unescapePath(req.Path))
	b.add("QUERY_STRING", req.RawQuery)
	b.add("AUTH_TYPE", "")
	b.add("CONTENT_LENGTH", "")
	b.add("CONTENT_TYPE", "")
	b.add("REMOTE_IDENT", "")
	b.add("REMOTE_USER", "")
	b.add("UNIQUE_ID", c.id)
	b.add("REMOTE_PORT", c.remotePort)
	b.add("REQUEST_URI", requestURI(req))
	if e.tlsConf != nil {
		b.add("HTTPS", "on")
	}
	b.add("WEBSOCKET_PROTOCOL", rt.protocol)

	// Repeated headers are joined with ", " into one variable, in order of
	// first appearance: a header's variable is written at its first
	// appearance, with the values of the later ones of the same name.
	hs := req.Headers
	for i := range hs {
		if strings.EqualFold(hs[i].Name, "Host") || seenBefore(hs[:i], hs[i].Name) {
			continue
		}
		b.buf = appendHTTPName(b.buf, hs[i].Name)
		b.buf = append(b.buf, '=')
		b.buf = appendClean(b.buf, hs[i].Value)
		for j := i + 1; j < len(hs); j++ {
			if sameHTTPName(hs[i].Name, hs[j].Name) {
				b.buf = append(b.buf, ", "...)
				b.buf = appendClean(b.buf, hs[j].Value)
			}
		}
		b.end()
	}
	return b.strings()
}

// envBuilder is a loop's scratch for environ: the variables one after
// another in buf, and where each ends. Its buffers are reused, so they
// grow to the largest environment the loop has made and stay.
type envBuilder struct {
	buf  []byte
	ends []int
}

func (b *envBuilder) reset() { b.buf, b.ends = b.buf[:0], b.ends[:0] }

// add writes the variable k=cleanValue(v).
func (b *envBuilder) add(k, v string) {
	b.buf = append(b.buf, k...)
	b.buf = append(b.buf, '=')
	b.buf = appendClean(b.buf, v)
	b.end()
}

// end ends the variable being written.
func (b *envBuilder) end() { b.ends = append(b.ends, len(b.buf)) }

// strings makes the variables written: one string, cut.
func (b *envBuilder) strings() []string {
	all := string(b.buf)
	env := make([]string, len(b.ends))
	start := 0
	for i, end := range b.ends {
		env[i], start = all[start:end], end
	}
	return env
}

// seenBefore reports whether a header of earlier has name's variable.
func seenBefore(earlier []codec.Header, name string) bool {
	for _, h := range earlier {
		if sameHTTPName(h.Name, name) {
			return true
		}
	}
	return false
}

// httpNameByte is a header name's byte as it is in its HTTP_ variable:
// upper case, '-' as '_'.
func httpNameByte(c byte) byte {
	switch {
	case c == '-':
		return '_'
	case 'a' <= c && c <= 'z':
		return c - ('a' - 'A')
	}
	return c
}

// sameHTTPName reports whether two header names make the same variable.
func sameHTTPName(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if httpNameByte(a[i]) != httpNameByte(b[i]) {
			return false
		}
	}
	return true
}

// appendHTTPName appends a header's variable name: HTTP_ and the name.
func appendHTTPName(b []byte, name string) []byte {
	b = append(b, "HTTP_"...)
	for i := 0; i < len(name); i++ {
		b = append(b, httpNameByte(name[i]))
	}
	return b
}

// appendClean appends cleanValue(v) without making it.
func appendClean(b []byte, v string) []byte {
	return codec.AppendNoEOL(b, strings.TrimSpace(v))
}

// cleanValue turns newlines into spaces and trims, as websocketd does, so a
// header cannot smuggle a second variable into the environment.
func cleanValue(v string) string {
	if strings.ContainsAny(v, "\r\n") {
		v = strings.NewReplacer("\n", " ", "\r", " ").Replace(v)
	}
	return strings.TrimSpace(v)
}

func requestURI(req *codec.Request) string {
	if req.RawQuery != "" {
		return req.Path + "?" + req.RawQuery
	}
	return req.Path
}

// splitHostDefault splits a Host header into name and port, with def when
// the port is absent.
func splitHostDefault(host, def string) (string, string) {
	if h, p, err := net.SplitHostPort(host); err == nil {
		return h, p
	}
	return strings.TrimSuffix(strings.TrimPrefix(host, "["), "]"), def
}

func itoa(n int) string { return strconv.Itoa(n) }
