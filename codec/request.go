package codec

// Header is one header line of a request head, or an extra header for a
// response. Name is as the client sent it (case preserved); Value has the
// spaces and tabs around it trimmed.
type Header struct {
	Name, Value string
}

// Request is a parsed HTTP/1.x request head. Its strings do not alias the
// buffer it was parsed from.
type Request struct {
	Method   string
	Target   string // request-target exactly as sent, e.g. "/a/b?x=1"
	Path     string // Target before '?', still percent-encoded; for "http://h/p?q" it is "/p"
	RawQuery string // after '?', undecoded; "" if none
	Proto    string // e.g. "HTTP/1.1"
	Headers  []Header
}

// Get returns the value of the first header called name (ASCII
// case-insensitive), or "".
func (r *Request) Get(name string) string {
	for i := range r.Headers {
		if equalFold(r.Headers[i].Name, name) {
			return r.Headers[i].Value
		}
	}
	return ""
}

// Values returns the values of every header called name (ASCII
// case-insensitive), in order, or nil.
func (r *Request) Values(name string) []string {
	var vs []string
	for i := range r.Headers {
		if equalFold(r.Headers[i].Name, name) {
			vs = append(vs, r.Headers[i].Value)
		}
	}
	return vs
}

// Host returns the value of the Host header.
func (r *Request) Host() string {
	return r.Get("Host")
}

// IsUpgrade reports whether the request asks for a WebSocket: an Upgrade
// header lists the token "websocket" and a Connection header lists the
// token "upgrade" (comma separated lists, case-insensitive, every header
// line of that name is looked at). It is what routes a request to the
// WebSocket path; whether the handshake is valid is for Upgrade to say.
func (r *Request) IsUpgrade() bool {
	return r.hasToken("Upgrade", "websocket") && r.hasToken("Connection", "upgrade")
}

func (r *Request) hasToken(name, token string) bool {
	for i := range r.Headers {
		if equalFold(r.Headers[i].Name, name) && listHasToken(r.Headers[i].Value, token) {
			return true
		}
	}
	return false
}

// listHasToken reports whether the comma separated list has an element equal
// to token, ignoring ASCII case and the optional whitespace around elements.
func listHasToken(list, token string) bool {
	found := false
	listElements(list, func(elem string) bool {
		found = equalFold(elem, token)
		return !found
	})
	return found
}

// listElements calls yield with each non-empty element of a comma separated
// header list, the optional whitespace around it trimmed, until yield
// returns false. The elements alias list: nothing is allocated.
func listElements(list string, yield func(string) bool) bool {
	for len(list) > 0 {
		elem := list
		if i := indexByteString(list, ','); i >= 0 {
			elem, list = list[:i], list[i+1:]
		} else {
			list = ""
		}
		for len(elem) > 0 && isOWS(elem[0]) {
			elem = elem[1:]
		}
		for len(elem) > 0 && isOWS(elem[len(elem)-1]) {
			elem = elem[:len(elem)-1]
		}
		if elem != "" && !yield(elem) {
			return false
		}
	}
	return true
}

// equalFold is strings.EqualFold for ASCII only: header names are tokens,
// and the Unicode folding of strings.EqualFold would let "\u212a" (the
// Kelvin sign) match "k".
func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if x == y {
			continue
		}
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
