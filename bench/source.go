package bench

import (
	"fmt"
	"net/netip"
	"strings"
)

// Sources is a list of local addresses to bind outgoing connections to. Each
// source address has its own ephemeral port range towards a given
// destination, so spreading connections over 127.0.0.2-127.0.0.50 lifts the
// ~28,000-connection limit of one (source, destination) pair.
type Sources []netip.Addr

// ParseSources parses "a-b" ranges and single addresses, comma separated,
// e.g. "127.0.0.2-127.0.0.50,127.1.0.1". Empty means "let the kernel pick".
func ParseSources(s string) (Sources, error) {
	var out Sources
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := netip.ParseAddr(strings.TrimSpace(lo))
		if err != nil {
			return nil, fmt.Errorf("--source %q: %v", part, err)
		}
		if !isRange {
			out = append(out, a)
			continue
		}
		b, err := netip.ParseAddr(strings.TrimSpace(hi))
		if err != nil {
			return nil, fmt.Errorf("--source %q: %v", part, err)
		}
		if a.BitLen() != b.BitLen() || b.Less(a) {
			return nil, fmt.Errorf("--source %q: range end before start", part)
		}
		for x := a; ; x = x.Next() {
			out = append(out, x)
			if len(out) > 1<<16 {
				return nil, fmt.Errorf("--source %q: more than 65536 addresses", part)
			}
			if x == b {
				break
			}
		}
	}
	return out, nil
}

// CheckLoopback refuses non-loopback sources when the target is loopback:
// the kernel would refuse the route anyway, with a less helpful error.
func (s Sources) CheckLoopback(t *Target) error {
	for _, a := range s {
		if t.Addr.Addr().IsLoopback() && !a.IsLoopback() {
			return fmt.Errorf("--source %s is not a loopback address but the target %s is", a, t.Addr)
		}
		if a.Is4() != t.Addr.Addr().Is4() {
			return fmt.Errorf("--source %s and target %s are of different address families", a, t.Addr)
		}
	}
	return nil
}
