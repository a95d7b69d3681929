package bench

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
)

// Target is a resolved WebSocket endpoint.
type Target struct {
	URL    string
	Host   string // Host header value
	Path   string // request target, with query
	Addr   netip.AddrPort
	Origin string
}

// ParseTarget resolves a ws:// URL (http:// is accepted as a synonym, a bare
// host:port gets ws:// and "/"). Unless allowRemote is set it refuses any
// address that is not loopback: a load generator pointed at someone else's
// host by a typo is a denial-of-service tool, so that must be explicit.
func ParseTarget(raw string, allowRemote bool) (*Target, error) {
	if !strings.Contains(raw, "://") {
		raw = "ws://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("bad target URL %q: %v", raw, err)
	}
	switch u.Scheme {
	case "ws", "http":
	case "wss", "https":
		return nil, fmt.Errorf("target %q: TLS is not supported; benchmark the plain ws:// listener", raw)
	default:
		return nil, fmt.Errorf("target %q: scheme must be ws://", raw)
	}
	host := u.Hostname()
	port := u.Port()
	if port == "" {
		port = "80"
	}
	ips, err := net.LookupIP(host)
	if err != nil || len(ips) == 0 {
		return nil, fmt.Errorf("target %q: cannot resolve %q: %v", raw, host, err)
	}
	ip, _ := netip.AddrFromSlice(ips[0])
	for _, cand := range ips {
		if a, ok := netip.AddrFromSlice(cand); ok && a.Unmap().Is4() {
			ip = a
			break
		}
	}
	ip = ip.Unmap()
	if !ip.IsLoopback() && !allowRemote {
		return nil, fmt.Errorf("target %q resolves to %s, which is not a loopback address; pass --allow-remote if you really mean to load another host", raw, ip)
	}
	var p uint16
	if _, err := fmt.Sscan(port, &p); err != nil {
		return nil, fmt.Errorf("target %q: bad port %q", raw, port)
	}
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	if u.RawQuery != "" {
		path += "?" + u.RawQuery
	}
	return &Target{URL: raw, Host: u.Host, Path: path, Addr: netip.AddrPortFrom(ip, p)}, nil
}
