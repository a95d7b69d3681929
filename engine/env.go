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
func (c *conn) environ(req *codec.Request, rt *route) []string {
	e := c.e
	env := make([]string, 0, 24+len(e.cfg.PassEnv)+len(req.Headers))
	add := func(k, v string) { env = append(env, k+"="+cleanValue(v)) }

	add("SERVER_SOFTWARE", e.cfg.ServerSoftware)
	for _, name := range e.cfg.PassEnv {
		if v := os.Getenv(name); v != "" {
			add(name, v)
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
	path := unescapePath(req.Path)
	add("REMOTE_ADDR", c.remoteAddr)
	add("REMOTE_HOST", remoteHost)
	add("SERVER_NAME", serverName)
	add("SERVER_PORT", serverPort)
	add("SERVER_PROTOCOL", req.Proto)
	add("GATEWAY_INTERFACE", "CGI/1.1")
	add("REQUEST_METHOD", req.Method)
	add("SCRIPT_NAME", rt.scriptName)
	add("PATH_INFO", rt.pathInfo)
	add("PATH_TRANSLATED", path)
	add("QUERY_STRING", req.RawQuery)
	add("AUTH_TYPE", "")
	add("CONTENT_LENGTH", "")
	add("CONTENT_TYPE", "")
	add("REMOTE_IDENT", "")
	add("REMOTE_USER", "")
	add("UNIQUE_ID", c.id)
	add("REMOTE_PORT", c.remotePort)
	add("REQUEST_URI", requestURI(req))
	if e.tlsConf != nil {
		add("HTTPS", "on")
	}
	add("WEBSOCKET_PROTOCOL", rt.protocol)

	// Repeated headers are joined with ", " into one variable, in order of
	// first appearance.
	seen := make(map[string]int, len(req.Headers))
	for _, h := range req.Headers {
		if strings.EqualFold(h.Name, "Host") {
			continue
		}
		key := "HTTP_" + strings.ToUpper(strings.ReplaceAll(h.Name, "-", "_"))
		if i, ok := seen[key]; ok {
			env[i] += ", " + cleanValue(h.Value)
			continue
		}
		seen[key] = len(env)
		add(key, h.Value)
	}
	return env
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
