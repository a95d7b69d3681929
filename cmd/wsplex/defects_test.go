package main

// Section 4 of issue 10: defects found reading the code, each with the test
// that showed it.

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
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

// TestReverseLookupDoesNotStallLoop: --reverselookup asks a DNS server that
// never answers (the test's own, through WSPLEX_DNS) for a client coming
// from 127.0.0.2. While that lookup is pending, other clients (from
// 127.0.0.1, which /etc/hosts names) are served, on every event loop,
// including the stalled client's: the lookup is not done on the loop. The
// stalled client gets its child once the lookup gives up, with REMOTE_HOST
// its address, as websocketd does when a lookup fails.
func TestReverseLookupDoesNotStallLoop(t *testing.T) {
	skipUnlessWsplex(t, "WSPLEX_DNS is wsplex's")
	if b, err := os.ReadFile("/etc/hosts"); err != nil || !regexp.MustCompile(`(?m)^127\.0\.0\.1\s+localhost\b`).Match(b) {
		t.Skip("needs /etc/hosts to name 127.0.0.1 localhost")
	}
	dns, queried := silentDNS(t)
	script := writeScript(t, "host.sh", "#!/bin/sh\necho \"REMOTE_HOST=$REMOTE_HOST\"\nexec cat\n")
	d := startDaemonWith(t, daemonOptions{Env: []string{"WSPLEX_DNS=" + dns}}, "--reverselookup", script)

	// The stalled client: its first message says its child has started,
	// which is after its lookup has ended.
	nd := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}, Timeout: waitTimeout}
	sc, err := nd.Dial("tcp", d.addr)
	if err != nil {
		t.Skipf("cannot connect from 127.0.0.2: %v", err)
	}
	t.Cleanup(func() { sc.Close() })
	if _, err := io.WriteString(sc, upgradeRequest("/", d.addr, "")); err != nil {
		t.Fatal(err)
	}
	slow := &wsClient{conn: sc, br: bufio.NewReader(sc)}
	type first struct {
		msg string
		err error
	}
	slowFirst := make(chan first, 1)
	go func() {
		_ = sc.SetReadDeadline(time.Now().Add(2 * waitTimeout))
		resp, err := http.ReadResponse(slow.br, nil)
		if err == nil && resp.StatusCode != http.StatusSwitchingProtocols {
			err = fmt.Errorf("handshake: HTTP %d", resp.StatusCode)
		}
		if err != nil {
			slowFirst <- first{err: err}
			return
		}
		f, err := slow.readFrame(2 * waitTimeout)
		slowFirst <- first{string(f.Payload), err}
	}()
	select {
	case <-queried:
	case <-time.After(waitTimeout):
		t.Fatalf("no reverse lookup reached the test's DNS server within %v", waitTimeout)
	}

	// Enough clients, all at once and all kept open, to land on every
	// loop (gnet enrolls into the loop with the fewest connections), each
	// served while the lookup is pending.
	n := 2*runtime.NumCPU() + 2
	served := make(chan error, n)
	for i := range n {
		go func() { served <- greetAndEcho(t, d, "ping "+strconv.Itoa(i)) }()
	}
	for range n {
		select {
		case err := <-served:
			if err != nil {
				t.Fatal(err)
			}
		case f := <-slowFirst:
			t.Fatalf("the stalled client's child started (%q, %v) before the other clients were served: they waited for its lookup", f.msg, f.err)
		}
	}
	f := <-slowFirst
	if f.err != nil || f.msg != "REMOTE_HOST=127.0.0.2" {
		t.Fatalf("stalled client's first message %q, %v; want REMOTE_HOST=127.0.0.2 once the lookup gives up", f.msg, f.err)
	}
	_ = sc.SetReadDeadline(time.Time{})
	slow.sendText(t, "late")
	slow.expectText(t, "late")
	d.waitLog(t, "remote:'127.0.0.2'", waitTimeout)
}

// greetAndEcho connects, expects the greeting of TestReverseLookupDoesNotStallLoop's
// script and an echo of msg, and leaves the connection open (closed when
// the test ends). It reports instead of failing: it runs on its own goroutine.
func greetAndEcho(t *testing.T, d *daemon, msg string) error {
	c, err := dialWSWith(t, d.url("/"), wsDialOptions{})
	if err != nil {
		return err
	}
	f, err := c.readFrame(2 * waitTimeout)
	if err != nil || string(f.Payload) != "REMOTE_HOST=localhost" {
		return fmt.Errorf("client %q: first message %q, %v; want REMOTE_HOST=localhost", msg, f.Payload, err)
	}
	return echoOnce(c, msg)
}

// TestShutdownUnderLoadLeavesNoChild: SIGTERM while clients keep
// connecting and children keep starting, children that ignore SIGINT,
// SIGTERM and the end of their input: when the daemon has exited, none of
// them runs and none is a zombie (PID 1 here reaps nothing, so a child the
// daemon left unreaped would stay one). Both ways of starting children.
func TestShutdownUnderLoadLeavesNoChild(t *testing.T) {
	skipUnlessWsplex(t, "WSPLEX_SPAWN is wsplex's")
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc")
	}
	for _, mode := range []string{"spawner", "direct"} {
		t.Run(mode, func(t *testing.T) {
			// The children run a copy of sleep under a name of their own,
			// which /proc/PID/comm shows even for a zombie.
			dir := t.TempDir()
			comm := "slp" + strconv.Itoa(os.Getpid()%100000) + mode[:1]
			if err := os.Symlink(lookPath(t, "sleep"), filepath.Join(dir, comm)); err != nil {
				t.Fatal(err)
			}
			script := writeScript(t, "stubborn.sh", "#!/bin/sh\ntrap '' INT TERM HUP\necho up\nexec "+filepath.Join(dir, comm)+" 1000\n")
			t.Cleanup(func() { killByComm(comm) })
			d := startDaemonWith(t, daemonOptions{Env: []string{"WSPLEX_SPAWN=" + mode}}, "--maxforks=0", script)

			const clients = 40
			up := make(chan struct{}, clients)
			var wg sync.WaitGroup
			defer wg.Wait() // the clients' goroutines end with the daemon's sockets
			for range clients {
				wg.Add(1)
				go func() {
					defer wg.Done()
					c, err := dialWSWith(t, d.url("/"), wsDialOptions{})
					if err != nil {
						return // refused once the daemon stops accepting
					}
					if f, err := c.readFrame(waitTimeout); err == nil && string(f.Payload) == "up" {
						up <- struct{}{}
					}
				}()
			}
			for range clients / 2 {
				select {
				case <-up:
				case <-time.After(waitTimeout):
					t.Fatalf("fewer than %d of %d clients served within %v", clients/2, clients, waitTimeout)
				}
			}
			if code := d.stop(t); code != 0 {
				t.Fatalf("daemon exit %d, want 0", code)
			}
			deadline := time.Now().Add(waitTimeout)
			for {
				left := procsByComm(comm)
				if len(left) == 0 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("%d children left after the daemon exited, e.g. %+v", len(left), left[0])
				}
				time.Sleep(20 * time.Millisecond) // polling /proc
			}
		})
	}
}

// procsByComm lists the processes, zombies included, named comm.
func procsByComm(comm string) []procStat {
	ents, _ := os.ReadDir("/proc")
	var out []procStat
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if st, err := readProcStat(pid); err == nil && st.Comm == comm {
			out = append(out, st)
		}
	}
	return out
}

// killByComm kills what a failed test left running under the name comm.
func killByComm(comm string) {
	for _, st := range procsByComm(comm) {
		_ = syscall.Kill(st.Pid, syscall.SIGKILL)
	}
}

// silentDNS is a DNS server on loopback that reads queries and never
// answers, for --reverselookup (the daemon asks it through WSPLEX_DNS):
// its address, and a channel told of each query (without blocking).
func silentDNS(t testing.TB) (addr string, queried <-chan struct{}) {
	t.Helper()
	dns, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dns.Close() })
	q := make(chan struct{}, 1)
	go func() {
		buf := make([]byte, 1500)
		for {
			if _, _, err := dns.ReadFrom(buf); err != nil {
				return
			}
			select { // and never answer
			case q <- struct{}{}:
			default:
			}
		}
	}()
	return dns.LocalAddr().String(), q
}
