package main

// Section 4 of issue 10: defects found reading the code, each with the test
// that showed it.

import (
	"testing"
)

// TestMetricsHandshakeFailureStatus: a refused handshake is counted under
// the status it was answered with, not always under 400.
func TestMetricsHandshakeFailureStatus(t *testing.T) {
	skipUnlessWsplex(t, "--metrics is wsplex's")
	d, m := startMetricsDaemon(t, 0, "cat")
	for _, tt := range []struct {
		method string
		hdr    []string
		status int
	}{
		{"POST", upgradeHeaders, 405},
		{"GET", []string{"Upgrade: websocket", "Connection: Upgrade", "Sec-WebSocket-Version: 8", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=="}, 426},
		{"GET", []string{"Upgrade: websocket", "Connection: Upgrade", "Sec-WebSocket-Version: 13"}, 400},
		{"GET", []string{"Upgrade: websocket", "Connection: Upgrade", "Sec-WebSocket-Version: 13"}, 400},
	} {
		if r := rawRequest(t, d.addr, tt.method, "/", "", tt.hdr...); r.Status != tt.status {
			t.Fatalf("%s %v: %d %q, want %d", tt.method, tt.hdr, r.Status, r.Body, tt.status)
		}
	}
	// The counter is raised before the answer is written.
	v := m.scrape(t)
	for status, want := range map[string]float64{"400": 2, "405": 1, "426": 1} {
		if got := v[`wsplex_handshake_failures_total{status="`+status+`"}`]; got != want {
			t.Errorf("handshake failures with status %s: %v, want %v", status, got, want)
		}
	}
}
