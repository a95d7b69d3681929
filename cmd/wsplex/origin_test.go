package main

import (
	"os"
	"path/filepath"
	"testing"
)

// originCase is one Origin header ("" = none sent) and whether the upgrade
// passes. The expectations were taken from websocketd (bin/websocketd) by
// sending the same requests: WSPLEX_TEST_BIN=bin/websocketd runs them
// against it.
type originCase struct {
	origin string
	pass   bool
}

func checkOrigins(t *testing.T, d *daemon, cases []originCase) {
	t.Helper()
	for _, tc := range cases {
		hdr := upgradeHeaders
		if tc.origin != "" {
			hdr = append(append([]string{}, upgradeHeaders...), "Origin: "+tc.origin)
		}
		r := rawRequest(t, d.addr, "GET", "/", "", hdr...)
		switch {
		case tc.pass && r.Status != 101:
			t.Errorf("Origin %q: %d %q, want 101", tc.origin, r.Status, r.Body)
		case !tc.pass && r.Status != 403:
			t.Errorf("Origin %q: %d, want 403", tc.origin, r.Status)
		}
	}
}

func TestOriginUnrestricted(t *testing.T) {
	d := startDaemon(t, "cat")
	checkOrigins(t, d, []originCase{
		{"", true},
		{"null", true},
		{"http://anything.test:1234", true},
		{"javascript:alert(1)", true}, // parses as a URL
		{"bad url", false},            // does not: refused even when unrestricted
		{"http://x:y", false},
		{"%zz", false},
	})
	d.waitLog(t, "Origin parsing error", waitTimeout)
}

func TestOriginList(t *testing.T) {
	d := startDaemon(t, "--origin=example.com,https://a.test:8443", "cat")
	checkOrigins(t, d, []originCase{
		{"", false},
		{"null", false},
		{"http://example.com", true},
		{"http://example.com:99", true}, // no port in the list: any port
		{"https://example.com", true},   // no scheme in the list: any scheme
		{"http://example.com:80", true},
		{"http://example.com/x", true},
		{"http://EXAMPLE.com", false}, // host names compare as strings
		{"http://evil.test", false},
		{"http://example.com.evil.test", false},
		{"https://a.test:8443", true},
		{"HTTPS://a.test:8443", true}, // the scheme is case-insensitive
		{"https://a.test:8443/", true},
		{"http://a.test:8443", false}, // scheme given: must match
		{"https://a.test", false},     // port given: must match (443 here)
		{"http://[::1]:5", false},
		{"bad url", false},
		{"/relative", false},
	})
	d.waitLog(t, "Origin is not listed in allowed list", waitTimeout)
}

func TestSameOrigin(t *testing.T) {
	d := startDaemon(t, "--sameorigin", "cat")
	checkOrigins(t, d, []originCase{
		{"", false},
		{"null", false},
		{"http://" + d.addr, true},
		{"http://" + d.addr + "/", true},
		{"HTTP://" + d.addr, true},
		{"https://" + d.addr, true}, // the port is explicit: only host:port compare
		{"http://127.0.0.1", false}, // port 80 by default
		{"http://localhost:" + d.addr[len("127.0.0.1:"):], false},
	})
	d.waitLog(t, "Same origin policy mismatch", waitTimeout)
}

// TestUpgradeRefusalOrder: maxforks 429, then script lookup 404, then origin
// 403, then a bad handshake 400, as in websocketd.
func TestUpgradeRefusalOrder(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "cat.sh"), "#!/bin/sh\nexec cat\n", 0o755)
	d := startDaemon(t, "--dir="+dir, "--origin=good.test", "--maxforks=1")

	bad := append(append([]string{}, upgradeHeaders...), "Origin: http://bad.test")
	noKey := []string{"Upgrade: websocket", "Connection: Upgrade", "Sec-WebSocket-Version: 13", "Origin: http://bad.test"}
	noKeyGood := []string{"Upgrade: websocket", "Connection: Upgrade", "Sec-WebSocket-Version: 13", "Origin: http://good.test"}
	for _, tt := range []struct {
		name, path string
		hdr        []string
		want       int
	}{
		{"missing script and bad origin", "/nope", bad, 404},
		{"bad origin and bad handshake", "/cat.sh", noKey, 403},
		{"bad handshake", "/cat.sh", noKeyGood, 400},
	} {
		if r := rawRequest(t, d.addr, "GET", tt.path, "", tt.hdr...); r.Status != tt.want {
			t.Errorf("%s: %d %q, want %d", tt.name, r.Status, r.Body, tt.want)
		}
	}

	// Hold the only fork: now everything is 429 first.
	c, err := dialWSWith(t, d.url("/cat.sh"), wsDialOptions{Header: map[string][]string{"Origin": {"http://good.test"}}})
	if err != nil {
		t.Fatal(err)
	}
	c.sendText(t, "held")
	c.expectText(t, "held")
	if r := rawRequest(t, d.addr, "GET", "/nope", "", bad...); r.Status != 429 || r.Body != "429 Too Many Requests\n" {
		t.Errorf("over --maxforks: %d %q, want 429", r.Status, r.Body)
	}
	if _, err := os.Stat(dir); err != nil {
		t.Fatal(err)
	}
}
