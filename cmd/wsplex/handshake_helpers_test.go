package main

// Helpers of the handshake tests (subprotocols, signed URLs, PROXY
// protocol): raw upgrades whose every header the test chooses, and a count
// of the children started, to show that a refused upgrade forks nothing.

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// forkCounter counts the children started from its scripts: each appends
// a line to one file before doing anything else.
type forkCounter struct{ file string }

func newForkCounter(t testing.TB) *forkCounter {
	t.Helper()
	return &forkCounter{file: filepath.Join(t.TempDir(), "forks")}
}

// script writes an executable shell script dir/name that counts itself,
// then runs body.
func (f *forkCounter) script(t testing.TB, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	src := "#!/bin/sh\necho started >> '" + f.file + "'\n" + body + "\n"
	if err := os.WriteFile(p, []byte(src), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// count is the number of children started so far. Call it after a
// served connection's first message: that child's line is in by then.
func (f *forkCounter) count(t testing.TB) int {
	t.Helper()
	b, err := os.ReadFile(f.file)
	if os.IsNotExist(err) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(b), "\n")
}

// protoEcho is a script body that says which program runs and with which
// WEBSOCKET_PROTOCOL, then echoes.
const protoEcho = `echo "${0##*/} p=$WEBSOCKET_PROTOCOL offered=$HTTP_SEC_WEBSOCKET_PROTOCOL"; exec cat`

// hsResult is the answer to a raw upgrade.
type hsResult struct {
	status   int
	protocol string // Sec-WebSocket-Protocol of the answer
	body     string // of a refusal
	client   *wsClient
}

// upgradeAt sends an upgrade for target to d with the extra header lines
// (each ending "\r\n") and reads the answer; a 101 comes with its client.
func upgradeAt(t testing.TB, d *daemon, target, extra string) hsResult {
	t.Helper()
	conn, br, resp := sendRawRequest(t, d.addr, upgradeRequest(target, d.addr, extra))
	r := hsResult{status: resp.StatusCode, protocol: resp.Header.Get("Sec-WebSocket-Protocol")}
	if resp.StatusCode == http.StatusSwitchingProtocols {
		r.client = &wsClient{conn: conn, br: br}
		return r
	}
	_ = conn.SetReadDeadline(time.Now().Add(waitTimeout))
	b, _ := io.ReadAll(resp.Body)
	r.body = string(b)
	return r
}

// offer is the header line offering the subprotocols list.
func offer(list string) string {
	if list == "" {
		return ""
	}
	return "Sec-WebSocket-Protocol: " + list + "\r\n"
}

// httpGet fetches url and returns the body of a 200.
func httpGet(t testing.TB, url string) string {
	t.Helper()
	c := http.Client{Timeout: waitTimeout}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: HTTP %d %q", url, resp.StatusCode, b)
	}
	return string(b)
}
