package main

// Listen options: several --address values, IPv6, --redirport, a port in
// use. Helpers here start with "lx" so that they do not clash with the other
// test files of this package.

import (
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// haveIPv6 reports whether the machine has a usable ::1.
func haveIPv6() bool {
	l, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		return false
	}
	l.Close()
	return true
}

// TestListenTwoAddressesIPv6 serves on 127.0.0.1 and [::1] at once (the
// harness adds --address=127.0.0.1), logs both, and echoes on both.
func TestListenTwoAddressesIPv6(t *testing.T) {
	if !haveIPv6() {
		t.Skip("no IPv6 loopback on this machine")
	}
	d := startDaemon(t, "--address=[::1]", "cat")
	port := strconv.Itoa(d.port)
	d.waitLog(t, "Starting WebSocket server   : ws://127.0.0.1:"+port+"/", waitTimeout)
	d.waitLog(t, "Starting WebSocket server   : ws://[::1]:"+port+"/", waitTimeout)

	echoLine(t, dialWS(t, d.url("/")), "over IPv4")
	echoLine(t, dialWS(t, "ws://[::1]:"+port+"/"), "over IPv6")

	envd := startDaemon(t, "--address=[::1]", "env")
	env := readEnv(t, dialWS(t, "ws://[::1]:"+strconv.Itoa(envd.port)+"/"))
	if env["REMOTE_ADDR"] != "::1" || env["REMOTE_PORT"] == "" || env["SERVER_NAME"] != "::1" {
		t.Errorf("over IPv6: REMOTE_ADDR %q REMOTE_PORT %q SERVER_NAME %q; want ::1, a port, ::1", env["REMOTE_ADDR"], env["REMOTE_PORT"], env["SERVER_NAME"])
	}
}

// TestListenRedirPort: every request to --redirport gets a 301 to the main
// port on the host the client asked for, with a startup line per listener.
func TestListenRedirPort(t *testing.T) {
	rp := freePort(t)
	d := startDaemon(t, "--redirport="+strconv.Itoa(rp), "cat")
	d.waitLog(t, "Starting redirect server   : http://127.0.0.1:"+strconv.Itoa(rp)+"/", waitTimeout)

	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, tc := range []struct{ host, want string }{
		{"", "http://127.0.0.1:" + strconv.Itoa(d.port) + "/"},
		{"example.com:" + strconv.Itoa(rp), "http://example.com:" + strconv.Itoa(d.port) + "/"},
		{"example.com", "http://example.com:" + strconv.Itoa(d.port) + "/"},
		{"[::1]:" + strconv.Itoa(rp), "http://[::1]:" + strconv.Itoa(d.port) + "/"},
	} {
		req, err := http.NewRequest("GET", "http://127.0.0.1:"+strconv.Itoa(rp)+"/some/path?q=1", nil)
		if err != nil {
			t.Fatal(err)
		}
		if tc.host != "" {
			req.Host = tc.host
		}
		resp, err := noFollow.Do(req)
		if err != nil {
			t.Fatalf("GET via redirect port (Host %q): %v", tc.host, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMovedPermanently || resp.Header.Get("Location") != tc.want {
			t.Errorf("Host %q: %d Location %q, want 301 %q", tc.host, resp.StatusCode, resp.Header.Get("Location"), tc.want)
		}
	}
	echoLine(t, dialWS(t, d.url("/")), "main port still serves")
}

// TestListenPortInUse: a port taken by someone else is websocketd's
// "Can't start server" on stdout and exit 3, for the main port and for the
// redirect port alike.
func TestListenPortInUse(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	busy := strconv.Itoa(taken.Addr().(*net.TCPAddr).Port)

	for _, args := range [][]string{
		{"--port=" + busy, "--address=127.0.0.1", "cat"},
		{"--port=" + strconv.Itoa(freePort(t)), "--address=127.0.0.1", "--redirport=" + busy, "cat"},
	} {
		r := runDaemon(t, args...)
		if r.ExitCode != 3 || !strings.Contains(r.Stdout, "Can't start server: ") || !strings.Contains(r.Stdout, "address already in use") {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want exit 3 and Can't start server", args, r.ExitCode, r.Stdout, r.Stderr)
		}
	}
}
