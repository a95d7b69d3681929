package codec

import (
	"errors"
	"io"

	"github.com/gobwas/ws"
)

// UpgradeOptions are the server's choices for the opening handshake.
type UpgradeOptions struct {
	// Header is written into the 101 response after the handshake headers
	// (wsplex's --header and --header-ws). It is not written into error
	// responses: websocketd does not send them there either.
	Header []Header

	// Protocols selects the subprotocol. nil means no negotiation: no
	// Sec-WebSocket-Protocol in the response. Otherwise it is called with
	// each protocol the client offers, in the client's order of
	// preference, and the first one it accepts is echoed.
	Protocols func(offered string) bool
}

// upgradeReadBufferSize is the size of the bufio.Reader gobwas reads the
// head through. A head up to this size is read without copying lines out of
// the buffer; larger ones still work, gobwas then appends line pieces.
const upgradeReadBufferSize = 16 << 10

// Upgrade validates head as a WebSocket opening handshake (RFC 6455
// section 4.2.1) and returns the complete response to send.
//
// head should be the bytes ParseHead counted (empty lines before the request
// line are skipped here too); bytes after the blank line are ignored.
// Upgrade does not consume anything from a connection, so frames that the
// client sent right behind its head stay in the caller's buffer for the
// Decoder: the bug of running ws.Upgrade on the connection itself, whose
// bufio.Reader swallows them, cannot happen.
//
// The checks and the 101 response are gobwas/ws's (ws.Upgrader run over an
// io.ReadWriter that reads head and appends to a slice): GET, HTTP/1.1 or
// later, Host present, "Upgrade: websocket", Connection listing "upgrade", a
// 24-byte Sec-WebSocket-Key, Sec-WebSocket-Version 13.
//
// On success err is nil, resp is the 101 response and subprotocol is the
// negotiated protocol ("" if none). On failure err is a *HeadError carrying
// gobwas's status (400 bad request, 405 not GET, 426 wrong version, which
// also gets "Sec-WebSocket-Version: 13", 505 not HTTP/1.1) and reason, and
// resp is a complete plain text response built by AppendResponse with that
// status, "Connection: close" and the reason as body: send it and close.
func Upgrade(head []byte, opt UpgradeOptions) (resp []byte, subprotocol string, err error) {
	rw := headReadWriter{r: skipEmptyLines(head)}
	u := ws.Upgrader{
		ReadBufferSize:  upgradeReadBufferSize,
		WriteBufferSize: 1024,
	}
	if len(opt.Header) > 0 {
		u.Header = ws.HandshakeHeaderBytes(appendHeaders(nil, opt.Header))
	}
	if sel := opt.Protocols; sel != nil {
		u.Protocol = func(p []byte) bool { return sel(string(p)) }
	}
	hs, err := u.Upgrade(&rw)
	if err == nil {
		return rw.w, hs.Protocol, nil
	}

	// gobwas has already written its own error response into rw.w; it
	// carries the 101's extra headers and no "Connection: close", so it is
	// replaced.
	herr := &HeadError{Status: 400, Reason: "malformed HTTP request"}
	var rej *ws.ConnectionRejectedError
	if errors.As(err, &rej) {
		herr.Status, herr.Reason = rej.StatusCode(), rej.Error()
	}
	var extra []Header
	if herr.Status == 426 {
		extra = []Header{{Name: "Sec-WebSocket-Version", Value: "13"}}
	}
	return AppendResponse(nil, herr.Status, extra, herr.Reason+"\n"), "", herr
}

// headReadWriter is the connection ws.Upgrader sees: reads come from the head
// bytes only, writes are appended to w.
type headReadWriter struct {
	r, w []byte
}

func (rw *headReadWriter) Read(p []byte) (int, error) {
	if len(rw.r) == 0 {
		return 0, io.EOF
	}
	n := copy(p, rw.r)
	rw.r = rw.r[n:]
	return n, nil
}

func (rw *headReadWriter) Write(p []byte) (int, error) {
	rw.w = append(rw.w, p...)
	return len(p), nil
}
