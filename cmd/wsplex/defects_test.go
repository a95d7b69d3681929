package main

// Section 4 of issue 10: defects found reading the code, each with the test
// that showed it.

import (
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
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

// TestFlagHeaderValidated: a --header, --header-ws or --header-http value
// that would split a response (CR, LF) or has no valid name is refused at
// startup, by the real binary, with exit 1 and a message naming the flag.
func TestFlagHeaderValidated(t *testing.T) {
	port := "--port=" + strconv.Itoa(freePort(t))
	for _, tt := range []struct{ arg, want string }{
		{"--header=X-A: 1\r\nSet-Cookie: evil=1", `Invalid --header "X-A: 1\r\nSet-Cookie: evil=1": the value contains the control character "\r"`},
		{"--header-ws=X-B: 1\nX-C: 2", `Invalid --header-ws "X-B: 1\nX-C: 2": the value contains the control character "\n"`},
		{"--header-http=X-D: a\x01b", `Invalid --header-http "X-D: a\x01b": the value contains the control character "\x01"`},
		{"--header=Bad Name: v", `Invalid --header "Bad Name: v": the header name "Bad Name" may only contain`},
		{"--header-http=X\r\nInjected: 1", `Invalid --header-http "X\r\nInjected: 1": the header name`},
		{"--header=: v", `Invalid --header ": v": want "Name: value" with a header name`},
	} {
		r := runDaemon(t, port, "--address=127.0.0.1", tt.arg, "cat")
		if r.ExitCode != 1 || !strings.HasPrefix(r.Stderr, tt.want) {
			t.Errorf("%q: exit %d, stderr %q; want exit 1 and a message starting %q", tt.arg, r.ExitCode, r.Stderr, tt.want)
		}
	}
	// Valid ones still start: a tab in a value, a name with token symbols,
	// a name with no value, as websocketd takes them.
	d := startDaemon(t, "--header=X-Tab: a\tb", "--header-http=X-Sym!#$%&'*+.^_`|~: ok", "--header-http=X-Empty", "cat")
	r := rawRequest(t, d.addr, "GET", "/", "")
	if r.Header.Get("X-Tab") != "a\tb" || r.Header.Get("X-Sym!#$%&'*+.^_`|~") != "ok" || len(r.Header.Values("X-Empty")) != 1 {
		t.Errorf("headers %v", r.Header)
	}
}

// TestPreforkDiscardedChildReaped: a --prefork child that cannot be used
// (here: the connection's environment, over 64 KiB with a big --passenv
// variable, does not fit in its stdin pipe) is killed and must also be
// reaped, not left a zombie until the daemon exits. The daemon forks
// directly (WSPLEX_SPAWN=direct): with the spawner process, the spawner
// reaps every child itself.
func TestPreforkDiscardedChildReaped(t *testing.T) {
	skipUnlessWsplex(t, "--prefork is wsplex's")
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc")
	}
	big := strings.Repeat("x", 70<<10)
	d := startDaemonWith(t, daemonOptions{Env: []string{"WSPLEX_SPAWN=direct", "WSPLEX_TEST_BIG=" + big}},
		"--prefork=1", "--passenv=PATH,WSPLEX_TEST_BIG", lookPath(t, "cat"))
	waiting := waitProgram(t, d, waitTimeout) // the preforked cat

	c := dialWS(t, d.url("/"))
	c.sendText(t, "hi")
	c.expectText(t, "hi") // served by a cat started for the connection

	deadline := time.Now().Add(waitTimeout)
	for {
		st, err := readProcStat(waiting.Pid)
		if err != nil {
			break // reaped
		}
		if st.PPid != d.pid() {
			t.Fatalf("pid %d is no longer the daemon's child: %+v", waiting.Pid, st)
		}
		if time.Now().After(deadline) {
			t.Fatalf("the discarded prefork child %d is still there after %v: %+v", waiting.Pid, waitTimeout, st)
		}
		time.Sleep(20 * time.Millisecond) // polling /proc
	}
	c.sendClose(t, ws.StatusNormalClosure, "")
	c.readClose(t, waitTimeout)
}
