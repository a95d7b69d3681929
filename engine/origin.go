package engine

import (
	"errors"
	"net"
	"net/url"
	"strings"
)

// checkOrigin applies --origin and --sameorigin to an upgrade, with
// websocketd's rules exactly (libwebsocketd/http.go, checkOrigin), because
// deployments written for websocketd rely on what it lets through:
//
//   - no Origin header, or "null" when no restriction is set, counts as
//     "file:";
//   - the Origin must parse as a request URI (url.ParseRequestURI) even
//     when nothing is restricted, so garbage is refused;
//   - --sameorigin: the Origin's host and port (default 80, 443 for https)
//     must equal the Host header's (default 443 on a TLS listener), as
//     strings;
//   - --origin: an entry with "scheme://" must match the scheme; an entry
//     without a port matches any port of that host; one with a port must
//     match host and port (the Origin's default port applying).
//
// It returns the Origin as websocketd logs it (the parsed URL) and, on
// refusal, the reason for the access log ("" when the Origin passes).
func checkOrigin(origin, host string, secure bool, sameOrigin bool, allowed []string) (logged, refusal string) {
	if origin == "" || (origin == "null" && len(allowed) == 0) {
		origin = "file:"
		if !sameOrigin && len(allowed) == 0 {
			return origin, "" // as below, without parsing it (most clients but browsers send none)
		}
	}
	u, err := url.ParseRequestURI(origin)
	if err != nil {
		return "", "Origin parsing error: " + err.Error()
	}
	if !sameOrigin && len(allowed) == 0 {
		return u.String(), ""
	}
	oHost, oPort, err := hostPort(u.Host, u.Scheme == "https")
	if err != nil {
		return u.String(), "Origin hostname parsing error: " + err.Error()
	}
	if sameOrigin {
		lHost, lPort, err := hostPort(host, secure)
		if err != nil {
			return u.String(), "Request hostname parsing error: " + err.Error()
		}
		if oHost != lHost || oPort != lPort {
			return u.String(), "Same origin policy mismatch"
		}
	}
	if len(allowed) > 0 && !originListed(u, oHost, oPort, allowed) {
		return u.String(), "Origin is not listed in allowed list"
	}
	return u.String(), ""
}

// originListed is the --origin half of checkOrigin.
func originListed(u *url.URL, oHost, oPort string, allowed []string) bool {
	for _, a := range allowed {
		if pos := strings.Index(a, "://"); pos > 0 {
			au, err := url.Parse(a)
			if err != nil || au.Scheme != u.Scheme {
				continue
			}
			a = a[pos+3:]
		}
		aHost, aPort, err := hostPort(a, false)
		if err != nil {
			continue
		}
		if aPort == "80" && !strings.HasSuffix(a, ":80") {
			// No port in the entry: any port of that host.
			if aHost == oHost {
				return true
			}
		} else if aHost == oHost && aPort == oPort {
			return true
		}
	}
	return false
}

// hostPort splits host[:port], defaulting the port to 80, or 443 when
// secure; other malformations are errors.
func hostPort(hp string, secure bool) (string, string, error) {
	h, p, err := net.SplitHostPort(hp)
	if err == nil {
		return h, p, nil
	}
	var ae *net.AddrError
	if errors.As(err, &ae) && strings.Contains(ae.Err, "missing port") {
		if secure {
			return hp, "443", nil
		}
		return hp, "80", nil
	}
	return "", "", err
}
