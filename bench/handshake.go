package bench

import (
	"bytes"
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
)

const wsGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// maxHead bounds the response head; a server that sends more is broken.
const maxHead = 16 << 10

// maxRejectBody bounds how much of a refused upgrade's body is kept for the
// error message.
const maxRejectBody = 4 << 10

func newKey(l *Loop) string {
	var k [16]byte
	for i := range k {
		k[i] = byte(l.rng.Uint32())
	}
	return base64.StdEncoding.EncodeToString(k[:])
}

func acceptFor(key string) string {
	s := sha1.Sum([]byte(key + wsGUID))
	return base64.StdEncoding.EncodeToString(s[:])
}

func appendRequest(dst []byte, t *Target, key string) []byte {
	dst = append(dst, "GET "...)
	dst = append(dst, t.Path...)
	dst = append(dst, " HTTP/1.1\r\nHost: "...)
	dst = append(dst, t.Host...)
	dst = append(dst, "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: "...)
	dst = append(dst, key...)
	if t.Origin != "" {
		dst = append(dst, "\r\nOrigin: "...)
		dst = append(dst, t.Origin...)
	}
	return append(dst, "\r\n\r\n"...)
}

// response is a parsed HTTP response head.
type response struct {
	status  int
	reason  string
	headers map[string]string // lower-case names
	headLen int               // bytes of b consumed by the head
}

// parseResponse parses the response head at the start of b. It returns
// ok=false while the head is incomplete. Bytes after the head (frames the
// server sent in the same segment as its 101) are left for the frame decoder:
// a reader that buffers the head would swallow them.
func parseResponse(b []byte) (r response, ok bool, err error) {
	end := bytes.Index(b, []byte("\r\n\r\n"))
	if end < 0 {
		if len(b) > maxHead {
			return r, false, fmt.Errorf("response head longer than %d bytes", maxHead)
		}
		return r, false, nil
	}
	head := string(b[:end])
	r.headLen = end + 4
	lines := strings.Split(head, "\r\n")
	parts := strings.SplitN(lines[0], " ", 3)
	if len(parts) < 2 || !strings.HasPrefix(parts[0], "HTTP/1.") {
		return r, false, fmt.Errorf("not an HTTP response: %q", truncate(lines[0], 80))
	}
	r.status, err = strconv.Atoi(parts[1])
	if err != nil {
		return r, false, fmt.Errorf("bad status line: %q", truncate(lines[0], 80))
	}
	if len(parts) == 3 {
		r.reason = parts[2]
	}
	r.headers = make(map[string]string, len(lines))
	for _, ln := range lines[1:] {
		k, v, found := strings.Cut(ln, ":")
		if !found {
			continue
		}
		r.headers[strings.ToLower(strings.TrimSpace(k))] = strings.TrimSpace(v)
	}
	return r, true, nil
}

// checkUpgrade verifies a 101 response against the key we sent.
func (r *response) checkUpgrade(key string) error {
	if !strings.EqualFold(r.headers["upgrade"], "websocket") {
		return fmt.Errorf("101 response without Upgrade: websocket")
	}
	if got, want := r.headers["sec-websocket-accept"], acceptFor(key); got != want {
		return fmt.Errorf("bad Sec-WebSocket-Accept %q (want %q)", got, want)
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
