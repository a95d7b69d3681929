package codec

import (
	"bytes"
	"errors"
	"strconv"
)

// ErrIncomplete means that p holds no complete request head yet (no blank
// line), fewer than max bytes were seen, and nothing seen so far is
// malformed: wait for more bytes and call ParseHead again with all of them.
var ErrIncomplete = errors.New("codec: request head incomplete")

// ErrHeadTooLarge means that no end of the request head was found within the
// limit. The engine answers 431 Request Header Fields Too Large.
var ErrHeadTooLarge = errors.New("codec: request head too large")

// HeadError is a malformed request head (or, from Upgrade, a rejected
// WebSocket handshake). Status is the HTTP status to answer with: 400 for
// syntax errors, 505 for an HTTP version other than 1.x; Upgrade adds 405 and
// 426.
type HeadError struct {
	Status int
	Reason string
}

// Error implements the error interface.
func (e *HeadError) Error() string {
	return "codec: " + strconv.Itoa(e.Status) + " " + e.Reason
}

func badRequest(reason string) *HeadError {
	return &HeadError{Status: 400, Reason: reason}
}

// Errors of ParseHead. They are shared values, so that the error path of a
// flood of garbage requests does not allocate: callers must not modify them.
var (
	errBadRequestLine = badRequest("malformed request line")
	errBadMethod      = badRequest("invalid request method")
	errBadTarget      = badRequest("invalid request target")
	errBadProto       = badRequest("malformed HTTP version")
	errBadVersion     = &HeadError{Status: 505, Reason: "HTTP version not supported"}
	errObsFold        = badRequest("obsolete line folding")
	errNoColon        = badRequest("header line without colon")
	errBadName        = badRequest("invalid header name")
	errBadValue       = badRequest("invalid header value")
)

// ParseHead parses the HTTP/1.x request head at the start of p.
//
// On success n is the number of bytes of p that the head occupies, including
// the blank line that ends it; bytes after it (a request body, or WebSocket
// frames sent before the 101 arrived) are not looked at. All strings of the
// Request are copied out of p, so p may be reused at once. Lines may end in
// CRLF or in a bare LF. Empty lines before the request line are skipped, as
// RFC 9112 section 2.2 allows.
//
// max limits the size of the head; max <= 0 means no limit. Errors:
//
//   - ErrIncomplete: no blank line yet, and fewer than max bytes in p.
//   - ErrHeadTooLarge: no end of head within the first max bytes.
//   - *HeadError: the head is malformed. This can be reported before the head
//     is complete, as soon as the request line or the method already is.
//
// n is 0 whenever err is not nil.
//
// The checks are those of RFC 9112, strictly: request line METHOD SP TARGET
// SP HTTP-version with single spaces, method and header names must be tokens,
// no whitespace between a header name and its colon, no obsolete line
// folding, no control characters other than HTAB in header values, none at
// all in the target. Content-Length and Transfer-Encoding are ordinary
// headers here.
//
// ParseHead allocates three times on success (the Request, its Headers and
// one string holding the whole head, which every field is a substring of),
// and not at all on failure. It scans the whole of p[:max] on each call, so
// feeding a head byte by byte costs O(size²): cheap at 16 KiB.
func ParseHead(p []byte, max int) (req *Request, n int, err error) {
	lim := p
	if max > 0 && len(lim) > max {
		lim = lim[:max]
	}
	n = headLength(lim)
	if n < 0 {
		if err := checkPartial(lim); err != nil {
			return nil, 0, err
		}
		if max > 0 && len(p) >= max {
			return nil, 0, ErrHeadTooLarge
		}
		return nil, 0, ErrIncomplete
	}
	req, herr := parseHead(p[:n])
	if herr != nil {
		return nil, 0, herr
	}
	return req, n, nil
}

// headLength returns the length of the request head at the start of p, up to
// and including the empty line that ends it, or -1 if p does not hold one.
// Empty lines before the request line do not end the head.
func headLength(p []byte) int {
	started := false
	for i := 0; i < len(p); {
		j := bytes.IndexByte(p[i:], '\n')
		if j < 0 {
			return -1
		}
		empty := j == 0 || (j == 1 && p[i] == '\r')
		i += j + 1
		if !empty {
			started = true
		} else if started {
			return i
		}
	}
	return -1
}

// skipEmptyLines drops the empty lines before the request line.
func skipEmptyLines(p []byte) []byte {
	for {
		switch {
		case len(p) > 0 && p[0] == '\n':
			p = p[1:]
		case len(p) > 1 && p[0] == '\r' && p[1] == '\n':
			p = p[2:]
		default:
			return p
		}
	}
}

// checkPartial looks at an incomplete head for errors that more bytes cannot
// repair, so that a client speaking something else entirely (TLS, HTTP/2, a
// port scanner) is answered at once instead of at the head timeout.
func checkPartial(p []byte) *HeadError {
	p = skipEmptyLines(p)
	if line, _, ok := CutLine(p); ok {
		_, _, _, err := splitRequestLine(line)
		return err
	}
	if len(p) == 1 && p[0] == '\r' {
		return nil // the start of an empty line
	}
	for _, c := range p {
		if c == ' ' {
			break
		}
		if !isTokenChar(c) {
			return errBadMethod
		}
	}
	return nil
}

// splitRequestLine splits and checks "METHOD SP TARGET SP HTTP/x.y".
func splitRequestLine(line []byte) (method, target, proto []byte, err *HeadError) {
	sp1 := bytes.IndexByte(line, ' ')
	if sp1 < 0 {
		return nil, nil, nil, errBadRequestLine
	}
	method, rest := line[:sp1], line[sp1+1:]
	sp2 := bytes.IndexByte(rest, ' ')
	if sp2 < 0 {
		return nil, nil, nil, errBadRequestLine
	}
	target, proto = rest[:sp2], rest[sp2+1:]
	if !isToken(method) {
		return nil, nil, nil, errBadMethod
	}
	if len(target) == 0 {
		return nil, nil, nil, errBadRequestLine
	}
	for _, c := range target {
		if c <= ' ' || c == 0x7f {
			return nil, nil, nil, errBadTarget
		}
	}
	return method, target, proto, checkProto(proto)
}

// checkProto accepts "HTTP/1.x". Any other well-formed version ("HTTP/2.0",
// "HTTP/0.9") is 505; anything that is not "HTTP/" 1*DIGIT "." 1*DIGIT is
// 400. The RFC grammar has one digit on each side; more are tolerated only
// to tell a version we do not speak from garbage.
func checkProto(p []byte) *HeadError {
	const prefix = "HTTP/"
	if len(p) < len(prefix) || string(p[:len(prefix)]) != prefix {
		return errBadProto
	}
	v := p[len(prefix):]
	dot := bytes.IndexByte(v, '.')
	if dot < 1 || dot == len(v)-1 || !allDigits(v[:dot]) || !allDigits(v[dot+1:]) {
		return errBadProto
	}
	if dot != 1 || v[0] != '1' || len(v) != 3 {
		return errBadVersion
	}
	return nil
}

func allDigits(p []byte) bool {
	for _, c := range p {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// parseHead parses a complete head, h being exactly the bytes that
// headLength counted. A first walk checks it without allocating; only a
// valid head is copied, once: every string of the Request is a substring of
// that copy.
func parseHead(h []byte) (*Request, *HeadError) {
	count, err := walkHead(h, nil, "")
	if err != nil {
		return nil, err
	}
	req := &Request{Headers: make([]Header, 0, count)}
	walkHead(h, req, string(h))
	return req, nil
}

// walkHead checks the head h and counts its headers. If req is not nil it
// also fills it in, with substrings of s, which must be string(h).
func walkHead(h []byte, req *Request, s string) (headers int, err *HeadError) {
	i := len(h) - len(skipEmptyLines(h))
	line, rest, _ := CutLine(h[i:])
	method, target, proto, err := splitRequestLine(line)
	if err != nil {
		return 0, err
	}
	if req != nil {
		req.Method = s[i : i+len(method)]
		req.Target = s[i+len(method)+1 : i+len(method)+1+len(target)]
		req.Proto = s[i+len(line)-len(proto) : i+len(line)]
		req.Path, req.RawQuery = splitTarget(req.Target)
	}
	i = len(h) - len(rest)

	for {
		line, rest, _ = CutLine(h[i:])
		if len(line) == 0 {
			return headers, nil
		}
		if line[0] == ' ' || line[0] == '\t' {
			return 0, errObsFold
		}
		colon := bytes.IndexByte(line, ':')
		if colon < 0 {
			return 0, errNoColon
		}
		if !isToken(line[:colon]) {
			return 0, errBadName
		}
		lo, hi := colon+1, len(line)
		for lo < hi && isOWS(line[lo]) {
			lo++
		}
		for hi > lo && isOWS(line[hi-1]) {
			hi--
		}
		for _, c := range line[lo:hi] {
			if (c < ' ' && c != '\t') || c == 0x7f {
				return 0, errBadValue
			}
		}
		if req != nil {
			req.Headers = append(req.Headers, Header{
				Name:  s[i : i+colon],
				Value: s[i+lo : i+hi],
			})
		}
		headers++
		i = len(h) - len(rest)
	}
}

// splitTarget returns the path and the raw query of a request target. For
// the absolute form ("http://host/p?q") the path is the part after the
// authority, "/" if that is empty (RFC 9112 section 3.2.1: an empty path
// means "/"). Other forms ("*", "host:port") come back whole as the path.
func splitTarget(t string) (path, query string) {
	path = t
	if q := indexByteString(t, '?'); q >= 0 {
		path, query = t[:q], t[q+1:]
	}
	if len(path) > 0 && path[0] != '/' {
		if rest, ok := cutScheme(path); ok {
			if slash := indexByteString(rest, '/'); slash >= 0 {
				path = rest[slash:]
			} else {
				path = "/"
			}
		}
	}
	return path, query
}

// cutScheme cuts `scheme "://"` off the start of t: scheme = ALPHA
// *( ALPHA / DIGIT / "+" / "-" / "." ), RFC 3986 section 3.1.
func cutScheme(t string) (rest string, ok bool) {
	for i := 0; i < len(t); i++ {
		c := t[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		case i > 0 && ('0' <= c && c <= '9' || c == '+' || c == '-' || c == '.'):
		case i > 0 && c == ':':
			if len(t) >= i+3 && t[i+1] == '/' && t[i+2] == '/' {
				return t[i+3:], true
			}
			return t, false
		default:
			return t, false
		}
	}
	return t, false
}

func indexByteString(s string, c byte) int {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return i
		}
	}
	return -1
}

func isOWS(c byte) bool { return c == ' ' || c == '\t' }

func isToken(p []byte) bool {
	if len(p) == 0 {
		return false
	}
	for _, c := range p {
		if !isTokenChar(c) {
			return false
		}
	}
	return true
}

// isTokenChar reports whether c is a tchar of RFC 9110 section 5.6.2.
func isTokenChar(c byte) bool {
	return c < 0x80 && tokenChars[c]
}

var tokenChars = [0x80]bool{
	'!': true, '#': true, '$': true, '%': true, '&': true, '\'': true,
	'*': true, '+': true, '-': true, '.': true, '^': true, '_': true,
	'`': true, '|': true, '~': true,
	'0': true, '1': true, '2': true, '3': true, '4': true,
	'5': true, '6': true, '7': true, '8': true, '9': true,
	'A': true, 'B': true, 'C': true, 'D': true, 'E': true, 'F': true,
	'G': true, 'H': true, 'I': true, 'J': true, 'K': true, 'L': true,
	'M': true, 'N': true, 'O': true, 'P': true, 'Q': true, 'R': true,
	'S': true, 'T': true, 'U': true, 'V': true, 'W': true, 'X': true,
	'Y': true, 'Z': true,
	'a': true, 'b': true, 'c': true, 'd': true, 'e': true, 'f': true,
	'g': true, 'h': true, 'i': true, 'j': true, 'k': true, 'l': true,
	'm': true, 'n': true, 'o': true, 'p': true, 'q': true, 'r': true,
	's': true, 't': true, 'u': true, 'v': true, 'w': true, 'x': true,
	'y': true, 'z': true,
}
