package engine

import (
	"errors"
	"net/url"
	"strings"

	"github.com/wsplex/wsplex/codec"
	"github.com/wsplex/wsplex/internal/logline"
)

// readHead waits for a whole request head, then routes it: a WebSocket
// upgrade gets its child, anything else a plain HTTP answer. Bytes after
// the head (frames sent together with the handshake) stay in the
// connection's input buffer for readFrames.
func (c *conn) readHead() {
	if !c.readProxy() {
		return
	}
	buf := c.gc.Peek()
	req, n, err := codec.ParseHead(buf, MaxHeadSize)
	switch {
	case errors.Is(err, codec.ErrIncomplete):
		return
	case errors.Is(err, codec.ErrHeadTooLarge):
		c.e.metrics.handshakeFail.WithLabelValues("431").Inc()
		c.respond(431, "431 Request Header logline.Fields Too Large\n")
		return
	case err != nil:
		status := 400
		var he *codec.HeadError
		if errors.As(err, &he) {
			status = he.Status
		}
		c.e.metrics.handshakeFail.WithLabelValues(itoa(status)).Inc()
		c.respond(status, statusLine(status)+"\n")
		return
	}
	c.dl.head = 0
	scheme := "http://"
	if c.e.tlsConf != nil {
		scheme = "https://"
	}
	c.fields.URL = scheme + req.Host() + req.Target
	c.applyForwarded(req)
	c.fields.Remote = c.remoteAddr
	c.fields.ID = c.id
	// Without COMMAND, --dir, --protodir or --backend (only --staticdir or
	// --cgidir) there is nothing to upgrade to, and websocketd serves even
	// an upgrade request as HTTP.
	if !req.IsUpgrade() || (c.e.cfg.Command == "" && c.e.cfg.Dir == "" && c.e.cfg.ProtoDir == "" && c.e.cfg.Backend == nil) {
		c.plainHTTP(req)
		return
	}
	c.upgrade(req, buf[:n], n)
}

// plainHTTP answers a request that is not an upgrade: net/http serves it
// if there is anything to serve (handoff.go, web.go), else it is a 404
// answered right here.
func (c *conn) plainHTTP(req *codec.Request) {
	if c.e.web != nil && c.handOff() {
		return
	}
	c.e.log.Log(logline.LevelAccess, "http", &c.fields, "NOT FOUND")
	c.respondWith(404, c.e.httpHeaders(), "404 page not found\n")
}

func (c *conn) upgrade(req *codec.Request, head []byte, n int) {
	e := c.e
	if !c.checkSigned(req.Target) {
		return
	}
	// A room's client needs a child only if it makes the room (joinRoom).
	if !e.cfg.Broadcast && e.cfg.MaxForks > 0 && e.children.Load() >= int64(e.cfg.MaxForks) {
		e.metrics.handshakeFail.WithLabelValues("429").Inc()
		e.log.Log(logline.LevelError, "http", &c.fields, "Max of possible forks already active, upgrade rejected")
		c.respondWith(429, e.httpHeaders(), "429 Too Many Requests\n")
		return
	}
	if !e.fdHeadroom(5) {
		e.metrics.handshakeFail.WithLabelValues("503").Inc()
		e.log.Log(logline.LevelError, "http", &c.fields, "Open-files limit (%d) reached: upgrade rejected", e.nofile)
		c.respondWith(503, e.httpHeaders(), "503 Service Unavailable: too many open files\n")
		return
	}
	// The route is the upgrade's only: what the connection keeps of it is
	// in its log fields (the program) and in its endpoint.
	var rt route
	if refusal := c.pickProtocol(req, &rt); refusal != "" {
		e.metrics.handshakeFail.WithLabelValues("400").Inc()
		e.log.Log(logline.LevelAccess, "http", &c.fields, "%s", refusal)
		c.respondWith(400, e.httpHeaders(), "400 Bad Request: no acceptable subprotocol\n")
		return
	}
	if !c.routeUpgrade(req, &rt) {
		e.metrics.handshakeFail.WithLabelValues("404").Inc()
		e.log.Log(logline.LevelAccess, "session", &c.fields, "NOT FOUND: script not found")
		c.respondWith(404, e.httpHeaders(), "404 Not Found\n")
		return
	}
	origin, refusal := checkOrigin(req.Get("Origin"), req.Host(), c.bridge != nil, e.cfg.SameOrigin, e.cfg.Origins)
	c.fields.Origin = origin // made by checkOrigin, not a substring of the head (which it would keep)
	if refusal != "" {
		e.metrics.handshakeFail.WithLabelValues("403").Inc()
		e.log.Log(logline.LevelAccess, "session", &c.fields, "%s", refusal)
		c.respondWith(403, e.httpHeaders(), "Forbidden\n")
		return
	}
	var m *member
	if e.cfg.Broadcast {
		// A room's place is taken before the 101, so that a full room
		// (--room-max) or a new room over --maxforks is a 429.
		if m, refusal = e.joinRoom(c, &rt, unescapePath(req.Path)); m == nil {
			e.metrics.handshakeFail.WithLabelValues("429").Inc()
			e.log.Log(logline.LevelError, "http", &c.fields, "%s", refusal)
			c.respondWith(429, e.httpHeaders(), "429 Too Many Requests\n")
			return
		}
	}
	resp, _, err := codec.Upgrade(head, codec.UpgradeOptions{Header: e.wsHeaders(), Protocols: protocolSelector(rt.protocol)})
	if err != nil {
		// Counted under the status answered: 400, 405 (not GET), 426
		// (wrong Sec-WebSocket-Version) or 505.
		status := 400
		var he *codec.HeadError
		if errors.As(err, &he) {
			status = he.Status
		}
		e.metrics.handshakeFail.WithLabelValues(itoa(status)).Inc()
		e.log.Log(logline.LevelAccess, "http", &c.fields, "Bad handshake: %v", err)
		if m != nil {
			m.leave()
		}
		c.inputDone = true // what follows the answer is not frames
		c.gc.Discard(-1)
		_, _ = c.gc.Write(resp)
		c.closeAfterFlush()
		return
	}
	// The CGI environment is a child's (and a room's join, with
	// --envelope); a socket backend or a plain room has none.
	var env []string
	if e.cfg.Backend == nil && (m == nil || e.cfg.Envelope != "") {
		env = c.environ(req, &rt)
	}
	c.gc.Discard(n)
	_, _ = c.gc.Write(resp)
	c.upgraded = true
	c.state = stOpen
	c.framer = newFramer(&e.cfg)
	if m != nil {
		m.env = env
		c.startEndpoint(m)
		return
	}
	c.startEndpoint(e.newEndpoint(c, &rt, env, req.RawQuery))
}

// startPings arms --pingms once the endpoint runs.
func (c *conn) startPings() {
	if iv := c.e.cfg.PingInterval; iv > 0 {
		now := now()
		c.dl.ping = now.add(iv)
		c.dl.pong = now.add(2 * iv)
		c.arm()
	}
}

// respond sends a plain answer with the --header headers and closes.
func (c *conn) respond(status int, body string) {
	c.respondWith(status, c.e.httpHeaders(), body)
}

func (c *conn) respondWith(status int, hdr []codec.Header, body string) {
	c.dl.head = 0
	// Whatever the client sends after the answer is not WebSocket frames:
	// read only to notice the close.
	c.inputDone = true
	c.gc.Discard(-1)
	_, _ = c.gc.Write(codec.AppendResponse(nil, status, hdr, body))
	c.closeAfterFlush()
}

// httpHeaders are the headers of plain HTTP answers: --header and
// --header-http.
func (e *Engine) httpHeaders() []codec.Header { return e.hdrHTTP }

// wsHeaders are the headers of the 101: --header and --header-ws.
func (e *Engine) wsHeaders() []codec.Header { return e.hdrWS }

// parseHeaders turns "Name: value" flags into headers; cmd/wsplex has
// validated them (checkHeader: a token name, no CR, LF or other control).
func parseHeaders(lists ...[]string) []codec.Header {
	var out []codec.Header
	for _, l := range lists {
		for _, h := range l {
			name, value, _ := strings.Cut(h, ":")
			out = append(out, codec.Header{Name: strings.TrimSpace(name), Value: strings.TrimSpace(value)})
		}
	}
	return out
}

func statusLine(status int) string {
	switch status {
	case 400:
		return "400 Bad Request"
	case 405:
		return "405 Method Not Allowed"
	case 408:
		return "408 Request Timeout"
	case 431:
		return "431 Request Header logline.Fields Too Large"
	case 505:
		return "505 HTTP Version Not Supported"
	}
	return itoa(status)
}

func unescapePath(p string) string {
	if u, err := url.PathUnescape(p); err == nil {
		return u
	}
	return p
}
