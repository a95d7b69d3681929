package codec

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net/netip"
)

// The PROXY protocol (HAProxy's proxy-protocol.txt, versions 1 and 2): a
// load balancer that connects to us on behalf of a client first sends a
// header naming the client's address. ParseProxy reads it the way
// ParseHead reads a request head: from the bytes received so far, bounded,
// allocating nothing, returning ErrIncomplete until the header is whole.

// MaxProxyV1 is the longest version 1 header, CRLF included (the
// specification's bound).
const MaxProxyV1 = 107

// MaxProxyV2 bounds a version 2 header: 16 bytes, the addresses and TLVs.
// The TLVs load balancers add (SSL details, AWS VPC endpoint ids) are far
// smaller; a longer header is refused rather than buffered.
const MaxProxyV2 = 16 + 4096

// proxyV2Sig starts every version 2 header.
var proxyV2Sig = []byte("\r\n\r\n\x00\r\nQUIT\n")

var proxyV1Prefix = []byte("PROXY ")

// ProxyHeader is a parsed PROXY protocol header.
type ProxyHeader struct {
	Version int // 1 or 2
	// Local: the header carries no client address (v1 UNKNOWN, v2 LOCAL
	// as in health checks, or an address family other than TCP over
	// IPv4/IPv6): the connection's own addresses stand.
	Local  bool
	Source netip.AddrPort // the client
	Dest   netip.AddrPort // the address the client connected to
}

// ProxyError is a malformed PROXY header.
type ProxyError struct{ Reason string }

func (e *ProxyError) Error() string { return "PROXY protocol: " + e.Reason }

// The malformations, made once: parsing allocates nothing, even to fail.
var (
	errV1Long    = &ProxyError{Reason: "v1 header longer than 107 bytes"}
	errV1CR      = &ProxyError{Reason: "v1 header: CR not followed by LF"}
	errV1CRLF    = &ProxyError{Reason: "v1 header: line not ended by CRLF"}
	errV1Proto   = &ProxyError{Reason: "v1 header: unknown protocol"}
	errV1Fields  = &ProxyError{Reason: "v1 header: want 5 fields separated by single spaces"}
	errV1Addr    = &ProxyError{Reason: "v1 header: bad address"}
	errV1Port    = &ProxyError{Reason: "v1 header: bad port"}
	errV2Version = &ProxyError{Reason: "v2 header: version not 2"}
	errV2Long    = &ProxyError{Reason: "v2 header longer than the limit"}
	errV2Command = &ProxyError{Reason: "v2 header: unknown command"}
	errV2Short4  = &ProxyError{Reason: "v2 header: short IPv4 address block"}
	errV2Short6  = &ProxyError{Reason: "v2 header: short IPv6 address block"}
)

// ErrNotProxy: the bytes do not start with a PROXY header.
var ErrNotProxy = errors.New("codec: not a PROXY protocol header")

// LooksLikeProxy reports whether p starts with the signature of a PROXY
// header of either version ("PROXY " or the 12 bytes of version 2). A
// shorter p never does: "P" may be the start of a PUT, and ParseHead waits
// for more of it anyway.
func LooksLikeProxy(p []byte) bool {
	return bytes.HasPrefix(p, proxyV1Prefix) || bytes.HasPrefix(p, proxyV2Sig)
}

// ProxyPending reports whether p is the start of a version 2 signature
// past its two empty lines ("\r\n\r\n\x00..."): never HTTP, so worth
// waiting for the rest to tell a PROXY header apart from garbage.
func ProxyPending(p []byte) bool {
	return len(p) > 4 && len(p) < len(proxyV2Sig) && bytes.Equal(p, proxyV2Sig[:len(p)])
}

// isPrefixOrHas: p starts with sig, or p (non-empty) is the start of sig.
func isPrefixOrHas(p, sig []byte) bool {
	if len(p) >= len(sig) {
		return bytes.Equal(p[:len(sig)], sig)
	}
	return len(p) > 0 && bytes.Equal(p, sig[:len(p)])
}

// ParseProxy parses the PROXY header at the start of p and returns it and
// its length. Errors: ErrIncomplete (a valid start, wait for more bytes),
// ErrNotProxy, or a *ProxyError.
func ParseProxy(p []byte) (ProxyHeader, int, error) {
	switch {
	case isPrefixOrHas(p, proxyV2Sig):
		if len(p) < len(proxyV2Sig) {
			return ProxyHeader{}, 0, ErrIncomplete
		}
		return parseProxyV2(p)
	case isPrefixOrHas(p, proxyV1Prefix):
		if len(p) < len(proxyV1Prefix) {
			return ProxyHeader{}, 0, ErrIncomplete
		}
		return parseProxyV1(p)
	case len(p) == 0:
		return ProxyHeader{}, 0, ErrIncomplete
	}
	return ProxyHeader{}, 0, ErrNotProxy
}

// parseProxyV1: "PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\n",
// "PROXY TCP6 ...", or "PROXY UNKNOWN[ anything]\r\n".
func parseProxyV1(p []byte) (ProxyHeader, int, error) {
	end := bytes.IndexByte(p[:min(len(p), MaxProxyV1)], '\n')
	if end < 0 {
		if len(p) >= MaxProxyV1 {
			return ProxyHeader{}, 0, errV1Long
		}
		if bytes.IndexByte(p, '\r') >= 0 && p[len(p)-1] != '\r' {
			return ProxyHeader{}, 0, errV1CR
		}
		return ProxyHeader{}, 0, ErrIncomplete
	}
	if end == 0 || p[end-1] != '\r' {
		return ProxyHeader{}, 0, errV1CRLF
	}
	if bytes.IndexByte(p[:end-1], '\r') >= 0 {
		return ProxyHeader{}, 0, errV1CR
	}
	line := p[len(proxyV1Prefix) : end-1]
	h := ProxyHeader{Version: 1}
	proto, line := nextField(line)
	switch string(proto) {
	case "UNKNOWN":
		h.Local = true
		return h, end + 1, nil
	case "TCP4", "TCP6":
	default:
		return ProxyHeader{}, 0, errV1Proto
	}
	src, line := nextField(line)
	dst, line := nextField(line)
	sport, line := nextField(line)
	dport, rest := nextField(line)
	if rest != nil || len(dport) == 0 {
		return ProxyHeader{}, 0, errV1Fields
	}
	v6 := proto[3] == '6'
	sa, ok1 := parseIP(src, v6)
	da, ok2 := parseIP(dst, v6)
	sp, ok3 := parsePort(sport)
	dp, ok4 := parsePort(dport)
	if !ok1 || !ok2 {
		return ProxyHeader{}, 0, errV1Addr
	}
	if !ok3 || !ok4 {
		return ProxyHeader{}, 0, errV1Port
	}
	h.Source, h.Dest = netip.AddrPortFrom(sa, sp), netip.AddrPortFrom(da, dp)
	return h, end + 1, nil
}

// nextField splits at the first space. A field may not be empty, so a
// double space shows as an empty field and fails the caller's checks.
func nextField(p []byte) (field, rest []byte) {
	if i := bytes.IndexByte(p, ' '); i >= 0 {
		return p[:i], p[i+1:]
	}
	return p, nil
}

// parsePort: 0 to 65535 in decimal, no sign, no leading zero.
func parsePort(p []byte) (uint16, bool) {
	if len(p) == 0 || len(p) > 5 || (p[0] == '0' && len(p) > 1) {
		return 0, false
	}
	n := 0
	for _, c := range p {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return uint16(n), n <= 65535
}

// parseIP parses a textual IPv4 (v6 false) or IPv6 address without
// allocating (netip.ParseAddr needs a string). No zones.
func parseIP(p []byte, v6 bool) (netip.Addr, bool) {
	if !v6 {
		a, ok := parseIPv4(p)
		return netip.AddrFrom4(a), ok
	}
	var ip [16]byte
	ellipsis := -1 // index in ip where "::" was
	i := 0
	if len(p) >= 2 && p[0] == ':' && p[1] == ':' {
		ellipsis = 0
		p = p[2:]
		if len(p) == 0 {
			return netip.AddrFrom16(ip), true
		}
	}
	for i < 16 {
		// An embedded IPv4 address ends the address.
		if bytes.IndexByte(p, ':') < 0 && bytes.IndexByte(p, '.') >= 0 {
			if i > 12 {
				return netip.Addr{}, false
			}
			a4, ok := parseIPv4(p)
			if !ok {
				return netip.Addr{}, false
			}
			copy(ip[i:], a4[:])
			i += 4
			p = nil
			break
		}
		n, digits := 0, 0
		for digits < len(p) && digits < 5 {
			c := p[digits]
			var v int
			switch {
			case c >= '0' && c <= '9':
				v = int(c - '0')
			case c >= 'a' && c <= 'f':
				v = int(c-'a') + 10
			case c >= 'A' && c <= 'F':
				v = int(c-'A') + 10
			default:
				v = -1
			}
			if v < 0 {
				break
			}
			n = n<<4 | v
			digits++
		}
		if digits == 0 || digits > 4 {
			return netip.Addr{}, false
		}
		ip[i], ip[i+1] = byte(n>>8), byte(n)
		i += 2
		p = p[digits:]
		if len(p) == 0 {
			break
		}
		if p[0] != ':' || len(p) == 1 {
			return netip.Addr{}, false
		}
		p = p[1:]
		if p[0] == ':' {
			if ellipsis >= 0 {
				return netip.Addr{}, false
			}
			ellipsis = i
			p = p[1:]
			if len(p) == 0 {
				break
			}
		}
	}
	if len(p) != 0 {
		return netip.Addr{}, false
	}
	if i < 16 {
		if ellipsis < 0 {
			return netip.Addr{}, false
		}
		n := 16 - i
		copy(ip[ellipsis+n:], ip[ellipsis:i])
		clear(ip[ellipsis : ellipsis+n])
	} else if ellipsis >= 0 {
		return netip.Addr{}, false // "::" must stand for at least one group
	}
	return netip.AddrFrom16(ip), true
}

// parseIPv4: four decimal octets, no leading zeros.
func parseIPv4(p []byte) ([4]byte, bool) {
	var a [4]byte
	for k := range 4 {
		if k > 0 {
			if len(p) == 0 || p[0] != '.' {
				return a, false
			}
			p = p[1:]
		}
		n, digits := 0, 0
		for digits < len(p) && p[digits] >= '0' && p[digits] <= '9' && digits < 3 {
			n = n*10 + int(p[digits]-'0')
			digits++
		}
		if digits == 0 || n > 255 || (digits > 1 && p[0] == '0') {
			return a, false
		}
		a[k] = byte(n)
		p = p[digits:]
	}
	return a, len(p) == 0
}

// parseProxyV2: the 16-byte fixed part (signature, version and command,
// family and transport, length), then the addresses and TLVs.
func parseProxyV2(p []byte) (ProxyHeader, int, error) {
	if len(p) < 16 {
		return ProxyHeader{}, 0, ErrIncomplete
	}
	verCmd, fam := p[12], p[13]
	if verCmd>>4 != 2 {
		return ProxyHeader{}, 0, errV2Version
	}
	n := 16 + int(binary.BigEndian.Uint16(p[14:16]))
	if n > MaxProxyV2 {
		return ProxyHeader{}, 0, errV2Long
	}
	if len(p) < n {
		return ProxyHeader{}, 0, ErrIncomplete
	}
	body := p[16:n]
	h := ProxyHeader{Version: 2}
	switch verCmd & 0xf {
	case 0: // LOCAL: the proxy's own connection (health check)
		h.Local = true
		return h, n, nil
	case 1: // PROXY
	default:
		return ProxyHeader{}, 0, errV2Command
	}
	switch fam {
	case 0x11: // TCP over IPv4
		if len(body) < 12 {
			return ProxyHeader{}, 0, errV2Short4
		}
		h.Source = netip.AddrPortFrom(netip.AddrFrom4([4]byte(body[0:4])), binary.BigEndian.Uint16(body[8:10]))
		h.Dest = netip.AddrPortFrom(netip.AddrFrom4([4]byte(body[4:8])), binary.BigEndian.Uint16(body[10:12]))
	case 0x21: // TCP over IPv6
		if len(body) < 36 {
			return ProxyHeader{}, 0, errV2Short6
		}
		h.Source = netip.AddrPortFrom(netip.AddrFrom16([16]byte(body[0:16])), binary.BigEndian.Uint16(body[32:34]))
		h.Dest = netip.AddrPortFrom(netip.AddrFrom16([16]byte(body[16:32])), binary.BigEndian.Uint16(body[34:36]))
	default:
		// UNSPEC, UDP, Unix sockets: accepted, but the connection's own
		// addresses stand (as the specification asks).
		h.Local = true
	}
	return h, n, nil
}
