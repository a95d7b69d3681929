package main

// Connection and process lifecycle: every way a connection closes, the
// termination ladder, daemon shutdown, pings, limits, protocol errors and
// bad requests.

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
)

// connectPid dials url and returns the client and its child's pid, from
// the CONNECT log line.
func connectPid(t testing.TB, d *daemon, path string) (*wsClient, int) {
	t.Helper()
	mark := d.logMark()
	c := dialWS(t, d.url(path))
	return c, parsePid(t, d.waitLogSince(t, mark, "| CONNECT", waitTimeout))
}

// TestLifeChildExitZero: a child that exits 0 closes with 1000 after all of
// its output.
func TestLifeChildExitZero(t *testing.T) {
	t.Parallel()
	skipUnlessWsplex(t, "a close frame when the child exits (websocketd #404)")
	script := writeScript(t, "seq.sh", "#!/bin/bash\nfor ((i = 1; i <= 2000; i++)); do echo \"line $i\"; done\n")
	d := startDaemon(t, script)
	c := dialWS(t, d.url("/"))
	msgs, code, reason := readUntilClose(t, c, 2*waitTimeout)
	got := texts(t, msgs)
	if len(got) != 2000 || got[0] != "line 1" || got[1999] != "line 2000" {
		t.Errorf("got %d messages (first %q), want line 1 .. line 2000 before the close", len(got), got[:min(len(got), 1)])
	}
	for i, m := range got {
		if m != "line "+strconv.Itoa(i+1) {
			t.Fatalf("message %d is %q", i, m)
		}
	}
	if code != ws.StatusNormalClosure {
		t.Errorf("close %d %q, want 1000", code, reason)
	}
	c.waitEOF(t, waitTimeout)
}

// TestLifeChildExitCode: exit status N closes with 4000+N, "exit status N".
func TestLifeChildExitCode(t *testing.T) {
	t.Parallel()
	skipUnlessWsplex(t, "a close frame when the child exits (websocketd #404)")
	for _, n := range []int{1, 3, 127} {
		t.Run(strconv.Itoa(n), func(t *testing.T) {
			t.Parallel()
			script := writeScript(t, "exit.sh", fmt.Sprintf("#!/bin/bash\necho before\nexit %d\n", n))
			d := startDaemon(t, script)
			c := dialWS(t, d.url("/"))
			msgs, code, reason := readUntilClose(t, c, waitTimeout)
			if got := texts(t, msgs); len(got) != 1 || got[0] != "before" {
				t.Errorf("messages %q, want [before]", got)
			}
			if code != ws.StatusCode(4000+n) || reason != fmt.Sprintf("exit status %d", n) {
				t.Errorf("close %d %q, want %d \"exit status %d\"", code, reason, 4000+n, n)
			}
		})
	}
}

// TestLifeChildSignal: a child killed by signal S closes with 4128+S.
func TestLifeChildSignal(t *testing.T) {
	t.Parallel()
	skipUnlessWsplex(t, "a close frame when the child exits (websocketd #404)")
	for _, sig := range []struct {
		num  int
		name string
	}{{9, "SIGKILL"}, {15, "SIGTERM"}, {11, "SIGSEGV"}} {
		t.Run(sig.name, func(t *testing.T) {
			t.Parallel()
			script := writeScript(t, "sig.sh", fmt.Sprintf("#!/bin/bash\necho before\nkill -%d $$\necho after\n", sig.num))
			d := startDaemon(t, script)
			c := dialWS(t, d.url("/"))
			msgs, code, reason := readUntilClose(t, c, waitTimeout)
			if got := texts(t, msgs); len(got) != 1 || got[0] != "before" {
				t.Errorf("messages %q, want [before]", got)
			}
			wantReason := fmt.Sprintf("killed by signal %d (%s)", sig.num, sig.name)
			if code != ws.StatusCode(4128+sig.num) || reason != wantReason {
				t.Errorf("close %d %q, want %d %q", code, reason, 4128+sig.num, wantReason)
			}
		})
	}
}

// mlSignalLogger is a bash child that echoes lines, and appends "INT",
// "TERM" and, at the end of stdin, "EOF" to the file named by $1.
const mlSignalLogger = `#!/bin/bash
log=$1
trap 'echo INT >> "$log"' INT
trap 'echo TERM >> "$log"' TERM
echo ready
while IFS= read -r line; do echo "$line"; done
echo EOF >> "$log"
`

// TestLifeClientClose: a client close is echoed with its code, and the child
// sees the end of stdin and exits before any signal. --closems gives it 5 s
// for that: with the default ladder SIGINT follows the end of stdin by
// 100 ms, and a loaded machine may not run bash within 100 ms.
func TestLifeClientClose(t *testing.T) {
	t.Parallel()
	logFile := filepath.Join(t.TempDir(), "signals")
	d := startDaemon(t, "--closems=5000", writeScript(t, "logger.sh", mlSignalLogger), logFile)
	c, pid := connectPid(t, d, "/")
	c.expectText(t, "ready")
	c.sendText(t, "x")
	c.expectText(t, "x")
	mark := d.logMark()
	c.sendClose(t, 4321, "bye")
	if code, reason := c.readClose(t, waitTimeout); code != 4321 {
		t.Errorf("close %d %q, want the client's 4321 echoed", code, reason)
	}
	c.waitEOF(t, waitTimeout)
	waitGone(t, pid, waitTimeout)
	d.waitLogSince(t, mark, "DISCONNECT", waitTimeout)
	if b, _ := os.ReadFile(logFile); string(b) != "EOF\n" {
		t.Errorf("child recorded %q, want only EOF (stdin closed, no signal)", b)
	}
}

// TestLifeClientDrop: a client that drops TCP without a close frame gets its
// child stopped by the ladder (here: sleep, which ignores stdin, dies of
// SIGINT).
func TestLifeClientDrop(t *testing.T) {
	t.Parallel()
	d := startDaemon(t, lookPath(t, "sleep"), "600")
	c, pid := connectPid(t, d, "/")
	killIfAlive(t, pid, "sleep")
	mark := d.logMark()
	c.close()
	waitGone(t, pid, waitTimeout)
	d.waitLogSince(t, mark, "DISCONNECT", waitTimeout)
}

// mlLadderChild records, with CLOCK_MONOTONIC, the end of stdin and every
// SIGINT and SIGTERM, and never exits by itself: only SIGKILL ends it.
const mlLadderChild = `#!/usr/bin/env python3
import os, signal, sys, time
log = sys.argv[1]
def rec(what):
    fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    os.write(fd, ("%s %d\n" % (what, time.monotonic_ns())).encode())
    os.close(fd)
signal.signal(signal.SIGINT, lambda s, f: rec("INT"))
signal.signal(signal.SIGTERM, lambda s, f: rec("TERM"))
print("ready", flush=True)
while os.read(0, 65536):
    pass
rec("EOF")
while True:
    time.sleep(1)
`

// TestLifeLadderTiming: client gone -> stdin EOF, then SIGINT after
// 100+closems, SIGTERM after 250+closems, SIGKILL after 500+closems.
func TestLifeLadderTiming(t *testing.T) {
	t.Parallel()
	const closems = 150
	logFile := filepath.Join(t.TempDir(), "ladder")
	d := startDaemon(t, "--closems="+strconv.Itoa(closems), writeScript(t, "ladder.py", mlLadderChild), logFile)
	c, pid := connectPid(t, d, "/")
	killIfAlive(t, pid, "python3")
	c.expectText(t, "ready")
	dropped := monoNow()
	c.close()
	gone := waitGone(t, pid, 2*waitTimeout)

	b, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatal(err)
	}
	var events []string
	at := map[string]int64{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		what, ns, _ := strings.Cut(line, " ")
		v, err := strconv.ParseInt(ns, 10, 64)
		if err != nil {
			t.Fatalf("bad record %q in %q", line, b)
		}
		events = append(events, what)
		at[what] = v
	}
	if strings.Join(events, " ") != "EOF INT TERM" {
		t.Fatalf("child saw %q, want EOF INT TERM (then SIGKILL)", events)
	}
	checkLadderTimes(t, dropped, []ladderEvent{
		{"stdin EOF", at["EOF"], 0},
		{"SIGINT", at["INT"], (100 + closems) * time.Millisecond},
		{"SIGTERM", at["TERM"], (250 + closems) * time.Millisecond},
		{"SIGKILL (gone)", gone, (500 + closems) * time.Millisecond},
	})
}

// ladderEvent is a rung of the ladder as the child saw it: when it
// recorded it (CLOCK_MONOTONIC, ns), and the rung's wait after the one
// before.
type ladderEvent struct {
	name string
	at   int64
	wait time.Duration
}

// checkLadderTimes checks the events' times against their waits. The
// child records an event when it gets to run, which on a loaded machine
// may be late by any amount, and a late record of the earlier event
// shortens a gap measured between two records: so the lower bounds are
// measured from the drop, which precedes the ladder, each rung waiting its
// time after the one before. Each gap may be 3 s longer than its wait.
func checkLadderTimes(t *testing.T, dropped int64, events []ladderEvent) {
	t.Helper()
	prev, prevName, sum := dropped, "drop", time.Duration(0)
	for _, e := range events {
		sum += e.wait
		since, gap := time.Duration(e.at-dropped), time.Duration(e.at-prev)
		t.Logf("%s -> %s: %v (%v after the drop)", prevName, e.name, gap, since)
		if since < sum {
			t.Errorf("%s %v after the drop, want at least %v", e.name, since, sum)
		}
		if gap > e.wait+3*time.Second {
			t.Errorf("%s -> %s: %v, want about %v (3 s of slack)", prevName, e.name, gap, e.wait)
		}
		prev, prevName = e.at, e.name
	}
}

// TestLifeLadderGrandchildren: the ladder signals the process group, so
// grandchildren do not outlive the connection: one that dies of SIGINT, and
// one that ignores SIGINT and so outlives the child itself, which must then
// get the SIGTERM.
func TestLifeLadderGrandchildren(t *testing.T) {
	t.Parallel()
	skipUnlessWsplex(t, "the ladder signals the process group (websocketd #191)")
	script := writeScript(t, "family.sh", `#!/bin/bash
python3 -c '
import os, signal, time
signal.signal(signal.SIGINT, signal.SIG_DFL)
print("gc1 ready", flush=True)
os.close(1); os.close(2)
time.sleep(600)
' </dev/null &
echo "gc1 $!"
sleep 600 </dev/null >/dev/null 2>&1 &
echo "gc2 $!"
wait
`)
	d := startDaemon(t, script)
	c, leader := connectPid(t, d, "/")
	pids := map[string]int{}
	ready := false
	for len(pids) < 2 || !ready {
		m := c.readMessage(t, waitTimeout)
		if m.Op != ws.OpText {
			t.Fatalf("got %s, want the grandchildren's pids", m)
		}
		name, pid, _ := strings.Cut(string(m.Data), " ")
		if pid == "ready" {
			ready = true
			continue
		}
		n, err := strconv.Atoi(pid)
		if err != nil {
			t.Fatalf("unexpected message %q", m.Data)
		}
		pids[name] = n
	}
	killIfAlive(t, pids["gc1"], "python3")
	killIfAlive(t, pids["gc2"], "sleep")
	c.close()
	waitGone(t, leader, waitTimeout)
	for _, name := range []string{"gc1", "gc2"} {
		deadline := time.Now().Add(waitTimeout)
		for !procGone(pids[name]) && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond) // polling /proc
		}
		if !procGone(pids[name]) {
			what := map[string]string{"gc1": "dies of SIGINT", "gc2": "ignores SIGINT, outlives the child"}[name]
			t.Errorf("grandchild %s (pid %d, %s) still running %v after the child %d exited", name, pids[name], what, waitTimeout, leader)
		}
	}
}

// TestLifeDaemonSIGTERM: SIGTERM to the daemon closes every client with
// 1001, stops every child (here children that ignore stdin and SIGINT), and
// exits 0.
func TestLifeDaemonSIGTERM(t *testing.T) {
	t.Parallel()
	skipUnlessWsplex(t, "graceful shutdown on SIGTERM")
	script := writeScript(t, "stubborn.sh", "#!/bin/bash\ntrap '' INT\necho ready\nwhile :; do sleep 0.2; done\n")
	d := startDaemon(t, script)
	var clients []*wsClient
	var pids []int
	for range 3 {
		c, pid := connectPid(t, d, "/")
		killIfAlive(t, pid, "stubborn.sh")
		c.expectText(t, "ready")
		clients = append(clients, c)
		pids = append(pids, pid)
	}
	if code := d.stop(t); code != 0 {
		t.Errorf("daemon exit code %d after SIGTERM, want 0", code)
	}
	for i, c := range clients {
		if code, reason := c.readClose(t, waitTimeout); code != ws.StatusGoingAway {
			t.Errorf("client %d: close %d %q, want 1001", i, code, reason)
		}
	}
	for _, pid := range pids {
		deadline := time.Now().Add(2 * time.Second)
		for !procGone(pid) && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond) // polling /proc
		}
		if !procGone(pid) {
			t.Errorf("child %d still running after the daemon exited", pid)
		}
	}
}

// TestLifePing: with --pingms the daemon pings; clients that answer (the Go
// client here, Node's ws on its own) stay connected.
func TestLifePing(t *testing.T) {
	t.Parallel()
	d := startDaemon(t, "--pingms=200", "cat")
	c := dialWS(t, d.url("/"))
	pings := 0
	start := time.Now()
	for pings < 6 { // 1.2 s: well past the 400 ms a silent peer gets
		f, err := c.readFrame(waitTimeout)
		if err != nil {
			t.Fatalf("after %d pings in %v: %v", pings, time.Since(start), err)
		}
		if f.Header.OpCode != ws.OpPing {
			t.Fatalf("got frame %#x %q, want pings", f.Header.OpCode, f.Payload)
		}
		pings++
		c.sendFrame(t, ws.NewPongFrame(f.Payload))
	}
	t.Logf("6 pings in %v", time.Since(start))
	if elapsed := time.Since(start); elapsed < 900*time.Millisecond {
		t.Errorf("6 pings in %v, want one every 200 ms", elapsed)
	}
	c.sendText(t, "still here")
	c.expectText(t, "still here")

	n := nodeClient(t, d.url("/"))
	n.expectOpen(t)
	for pings = 0; pings < 4; {
		ev := n.next(t, waitTimeout)
		if ev.Ping == nil {
			t.Fatalf("node client: got %s, want pings", ev.Line)
		}
		pings++
	}
	n.send(t, "node here")
	for {
		ev := n.next(t, waitTimeout)
		if ev.Ping != nil {
			continue
		}
		if ev.Message == nil || *ev.Message != "node here" {
			t.Fatalf("node client: got %s, want the echo", ev.Line)
		}
		break
	}
}

// TestLifePingNoPong: a peer that never answers pings is dropped after about
// 2×pingms, and its child stopped.
func TestLifePingNoPong(t *testing.T) {
	t.Parallel()
	d := startDaemon(t, "--pingms=200", "cat")
	mark := d.logMark()
	start := time.Now()
	c := rawUpgrade(t, d.addr, "/", d.addr, "", nil)
	pid := parsePid(t, d.waitLogSince(t, mark, "| CONNECT", waitTimeout))
	pings := 0
	for {
		f, err := c.readFrame(waitTimeout)
		if err != nil {
			var ne interface{ Timeout() bool }
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatalf("still connected %v after the handshake, %d pings unanswered", time.Since(start), pings)
			}
			break // the daemon closed the connection
		}
		if f.Header.OpCode == ws.OpPing {
			pings++
			continue
		}
		code, reason := ws.ParseCloseFrameData(f.Payload)
		t.Logf("frame %#x: close %d %q", f.Header.OpCode, code, reason)
	}
	elapsed := time.Since(start)
	t.Logf("dropped after %v and %d pings", elapsed, pings)
	if pings == 0 {
		t.Errorf("dropped without a ping")
	}
	if elapsed < 350*time.Millisecond || elapsed > 8*time.Second {
		t.Errorf("dropped after %v, want about 2×200 ms", elapsed)
	}
	waitGone(t, pid, waitTimeout)
}

// TestLifeMaxForks: over --maxforks, the upgrade gets 429 with the exact
// body; once a connection ends, a new one succeeds.
func TestLifeMaxForks(t *testing.T) {
	t.Parallel()
	d := startDaemon(t, "--maxforks=2", "cat")
	c1, pid1 := connectPid(t, d, "/")
	c2, _ := connectPid(t, d, "/")
	c1.sendText(t, "one")
	c1.expectText(t, "one")
	c2.sendText(t, "two")
	c2.expectText(t, "two")

	_, err := dialWSWith(t, d.url("/"), wsDialOptions{})
	var refused *handshakeError
	if !errors.As(err, &refused) || refused.Status != http.StatusTooManyRequests || refused.Body != "429 Too Many Requests\n" {
		t.Fatalf("third connection: %v, want HTTP 429 with body \"429 Too Many Requests\\n\"", err)
	}

	mark := d.logMark()
	c1.sendClose(t, ws.StatusNormalClosure, "")
	c1.readClose(t, waitTimeout)
	d.waitLogSince(t, mark, "DISCONNECT", waitTimeout)
	// The slot is the child's: it is free once cat has exited and the
	// daemon's loop has taken the exit report, which comes after the
	// spawner has reaped it; /proc shows the exit before either (waitGone
	// counts a zombie as gone), and on a loaded machine the report may
	// follow by any amount. Each attempt is answered at once; the 429s
	// until the slot is free are the wait.
	waitGone(t, pid1, waitTimeout)
	var c4 *wsClient
	deadline := time.Now().Add(waitTimeout)
	for attempt := 1; ; attempt++ {
		c4, err = dialWSWith(t, d.url("/"), wsDialOptions{})
		if err == nil {
			if attempt > 1 {
				t.Logf("fourth connection accepted at attempt %d", attempt)
			}
			break
		}
		if !errors.As(err, &refused) || refused.Status != http.StatusTooManyRequests || time.Now().After(deadline) {
			t.Fatalf("fourth connection, after the first closed and its child exited: %v (%d attempts)", err, attempt)
		}
		time.Sleep(25 * time.Millisecond) // polling for the slot: there is no event to wait on
	}
	c4.sendText(t, "four")
	c4.expectText(t, "four")
	c2.sendText(t, "two again")
	c2.expectText(t, "two again")
}

// TestLifeMaxFrameSize: an inbound message over --maxframesize closes with
// 1009, whether in one frame or in fragments.
func TestLifeMaxFrameSize(t *testing.T) {
	t.Parallel()
	d := startDaemon(t, "--maxframesize=1000", "cat")
	c := dialWS(t, d.url("/"))
	exact := strings.Repeat("a", 1000)
	c.sendText(t, exact)
	c.expectText(t, exact)
	c.sendFrame(t, ws.Frame{Header: ws.Header{OpCode: ws.OpText, Length: 500}, Payload: []byte(exact[:500])})
	c.sendFrame(t, ws.Frame{Header: ws.Header{OpCode: ws.OpContinuation, Fin: true, Length: 500}, Payload: []byte(exact[:500])})
	c.expectText(t, exact)

	cases := map[string][][]byte{
		"single frame": {rawFrame(true, 0, 0x1, true, bytes.Repeat([]byte("b"), 1001))},
		"fragments":    {rawFrame(false, 0, 0x1, true, bytes.Repeat([]byte("c"), 600)), rawFrame(true, 0, 0x0, true, bytes.Repeat([]byte("c"), 401))},
		"many fragments": func() [][]byte {
			var fs [][]byte
			for i := range 11 {
				op := byte(0x0)
				if i == 0 {
					op = 0x1
				}
				fs = append(fs, rawFrame(i == 10, 0, op, true, bytes.Repeat([]byte("d"), 100)))
			}
			return fs
		}(),
		"binary": {rawFrame(true, 0, 0x2, true, bytes.Repeat([]byte("e"), 1001))},
	}
	for name, frames := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := dialWS(t, d.url("/"))
			for _, f := range frames {
				c.sendRaw(t, f)
			}
			msgs, code, reason := readUntilClose(t, c, waitTimeout)
			if len(msgs) != 0 || code != ws.StatusMessageTooBig {
				t.Errorf("got %d messages and close %d %q, want close 1009", len(msgs), code, reason)
			}
		})
	}
}

// TestLifeProtocolErrors: frames that break RFC 6455 close with 1002.
func TestLifeProtocolErrors(t *testing.T) {
	t.Parallel()
	d := startDaemon(t, "cat")
	hugeLen := append([]byte{0x81, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 1}, 1, 2, 3, 4)
	cases := map[string][][]byte{
		"unmasked text":              {rawFrame(true, 0, 0x1, false, []byte("hi"))},
		"unmasked close":             {rawFrame(true, 0, 0x8, false, closeBody(1000, ""))},
		"RSV1":                       {rawFrame(true, 4, 0x1, true, []byte("hi"))},
		"RSV2":                       {rawFrame(true, 2, 0x1, true, []byte("hi"))},
		"RSV3 on a ping":             {rawFrame(true, 1, 0x9, true, []byte("hi"))},
		"opcode 0x3":                 {rawFrame(true, 0, 0x3, true, []byte("hi"))},
		"opcode 0x7":                 {rawFrame(true, 0, 0x7, true, nil)},
		"opcode 0xB":                 {rawFrame(true, 0, 0xB, true, []byte("hi"))},
		"opcode 0xF":                 {rawFrame(true, 0, 0xF, true, nil)},
		"fragmented ping":            {rawFrame(false, 0, 0x9, true, []byte("hi")), rawFrame(true, 0, 0x0, true, []byte("ho"))},
		"fragmented close":           {rawFrame(false, 0, 0x8, true, closeBody(1000, ""))},
		"ping of 126 bytes":          {rawFrame(true, 0, 0x9, true, bytes.Repeat([]byte("p"), 126))},
		"pong of 200 bytes":          {rawFrame(true, 0, 0xA, true, bytes.Repeat([]byte("p"), 200))},
		"close of 126 bytes":         {rawFrame(true, 0, 0x8, true, closeBody(1000, strings.Repeat("r", 124)))},
		"close body of 1 byte":       {rawFrame(true, 0, 0x8, true, []byte{0x03})},
		"continuation first":         {rawFrame(true, 0, 0x0, true, []byte("hi"))},
		"text inside a fragmented":   {rawFrame(false, 0, 0x1, true, []byte("a")), rawFrame(true, 0, 0x1, true, []byte("b"))},
		"binary inside a fragmented": {rawFrame(false, 0, 0x2, true, []byte("a")), rawFrame(true, 0, 0x2, true, []byte("b"))},
		"64-bit length with MSB set": {hugeLen},
	}
	for _, code := range []uint16{0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999} {
		cases[fmt.Sprintf("close code %d", code)] = [][]byte{rawFrame(true, 0, 0x8, true, closeBody(code, ""))}
	}
	for name, frames := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			expectClose(t, d, ws.StatusProtocolError, frames...)
		})
	}
	// The daemon is still well.
	c := dialWS(t, d.url("/"))
	c.sendText(t, "ok")
	c.expectText(t, "ok")
}

// TestLifeProtocolErrorCloses: after a protocol error and the client's
// answering close frame, the daemon closes the TCP connection at once
// (RFC 6455 7.1.7: fail the connection), rather than waiting for a close
// frame it will no longer parse.
func TestLifeProtocolErrorCloses(t *testing.T) {
	t.Parallel()
	d := startDaemon(t, "cat")
	c := dialWS(t, d.url("/"))
	c.sendRaw(t, rawFrame(true, 0, 0x3, true, []byte("reserved opcode")))
	if code, reason := c.readClose(t, waitTimeout); code != ws.StatusProtocolError {
		t.Fatalf("close %d %q, want 1002", code, reason)
	}
	start := time.Now() // readClose has answered with a close frame
	c.waitEOF(t, waitTimeout)
	if took := time.Since(start); took > 1500*time.Millisecond {
		t.Errorf("TCP connection closed %v after the client answered the close frame, want at once", took)
	}
}

// TestLifeInvalidUTF8: invalid UTF-8 in a text message or close reason
// closes with 1007, also when the bad sequence spans fragments; a valid
// character split across fragments is fine.
func TestLifeInvalidUTF8(t *testing.T) {
	t.Parallel()
	d := startDaemon(t, "cat")
	cases := map[string][][]byte{
		"one frame":                   {rawFrame(true, 0, 0x1, true, []byte("a\xffb"))},
		"surrogate":                   {rawFrame(true, 0, 0x1, true, []byte("\xed\xa0\x80"))},
		"overlong":                    {rawFrame(true, 0, 0x1, true, []byte("\xc0\xaf"))},
		"split, bad continuation":     {rawFrame(false, 0, 0x1, true, []byte("ok\xc3")), rawFrame(true, 0, 0x0, true, []byte("\x28ok"))},
		"bad first fragment":          {rawFrame(false, 0, 0x1, true, []byte("\xff")), rawFrame(true, 0, 0x0, true, []byte("ok"))},
		"truncated at the end":        {rawFrame(false, 0, 0x1, true, []byte("ab")), rawFrame(true, 0, 0x0, true, []byte("\xe2\x82"))},
		"bad in a middle fragment":    {rawFrame(false, 0, 0x1, true, []byte("a")), rawFrame(false, 0, 0x0, true, []byte("\xe2\x28")), rawFrame(true, 0, 0x0, true, []byte("\xa1"))},
		"close reason not UTF-8":      {rawFrame(true, 0, 0x8, true, closeBody(1000, "bad \xff"))},
		"split over a ping, then bad": {rawFrame(false, 0, 0x1, true, []byte("\xf0\x9f")), rawFrame(true, 0, 0x9, true, nil), rawFrame(true, 0, 0x0, true, []byte("\x98"))},
	}
	for name, frames := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			expectClose(t, d, ws.StatusInvalidFramePayloadData, frames...)
		})
	}
	t.Run("valid characters split", func(t *testing.T) {
		t.Parallel()
		c := dialWS(t, d.url("/"))
		c.sendRaw(t, rawFrame(false, 0, 0x1, true, []byte("caf\xc3")))
		c.sendRaw(t, rawFrame(true, 0, 0x0, true, []byte("\xa9")))
		c.expectText(t, "café")
		c.sendRaw(t, rawFrame(false, 0, 0x1, true, []byte("\xe2")))
		c.sendRaw(t, rawFrame(false, 0, 0x0, true, []byte("\x82")))
		c.sendRaw(t, rawFrame(true, 0, 0x9, true, []byte("p"))) // a ping between fragments
		c.sendRaw(t, rawFrame(true, 0, 0x0, true, []byte("\xac!")))
		c.expectText(t, "€!")
	})
}

// TestLifeFramesWithHandshake: frames in the same TCP write as the handshake
// are processed.
func TestLifeFramesWithHandshake(t *testing.T) {
	t.Parallel()
	d := startDaemon(t, "cat")
	early := append(rawFrame(true, 0, 0x1, true, []byte("early")), rawFrame(true, 0, 0x1, true, []byte("bird"))...)
	c := rawUpgrade(t, d.addr, "/", d.addr, "", early)
	c.expectText(t, "early")
	c.expectText(t, "bird")
	c.sendClose(t, ws.StatusNormalClosure, "")
	if code, reason := c.readClose(t, waitTimeout); code != ws.StatusNormalClosure {
		t.Errorf("close %d %q, want 1000", code, reason)
	}
}

// TestLifeBadHandshake: malformed upgrades get a 4xx, start no child, and
// the daemon keeps serving.
func TestLifeBadHandshake(t *testing.T) {
	t.Parallel()
	d := startDaemon(t, "cat")
	host := d.addr
	cases := []struct {
		name string
		req  string
		want func(int) bool
		desc string
	}{
		{"no Sec-WebSocket-Key",
			"GET / HTTP/1.1\r\nHost: " + host + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n",
			func(s int) bool { return s == 400 }, "400"},
		{"Sec-WebSocket-Version 8",
			"GET / HTTP/1.1\r\nHost: " + host + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + testKey + "\r\nSec-WebSocket-Version: 8\r\n\r\n",
			func(s int) bool { return s == 400 || s == 426 }, "400 or 426"},
		{"no Sec-WebSocket-Version",
			"GET / HTTP/1.1\r\nHost: " + host + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + testKey + "\r\n\r\n",
			func(s int) bool { return s == 400 || s == 426 }, "400 or 426"},
		{"POST",
			"POST / HTTP/1.1\r\nHost: " + host + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + testKey + "\r\nSec-WebSocket-Version: 13\r\nContent-Length: 0\r\n\r\n",
			func(s int) bool { return s == 400 || s == 405 }, "400 or 405"},
		{"head over 16 KiB",
			upgradeRequest("/", host, "X-Big: "+strings.Repeat("b", 17<<10)+"\r\n"),
			func(s int) bool { return s == 431 }, "431"},
	}
	mark := d.logMark()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, _, resp := sendRawRequest(t, d.addr, tc.req)
			resp.Body.Close()
			if !tc.want(resp.StatusCode) {
				t.Errorf("HTTP %d, want %s", resp.StatusCode, tc.desc)
			}
		})
	}
	c := dialWS(t, d.url("/"))
	c.sendText(t, "still serving")
	c.expectText(t, "still serving")
	d.waitLogSince(t, mark, "| CONNECT", waitTimeout)
	connects := 0
	for _, ln := range d.logLines()[mark:] {
		if strings.HasSuffix(ln.Text, "| CONNECT") {
			connects++
		}
	}
	if connects != 1 {
		t.Errorf("%d CONNECT lines, want 1: the bad handshakes must start no child", connects)
	}
}

// TestLifePlainHTTP: a plain GET is 404 "404 page not found\n", logged with
// its path.
func TestLifePlainHTTP(t *testing.T) {
	t.Parallel()
	d := startDaemon(t, "cat")
	resp, err := http.Get(d.httpURL("/plain/path-x1?q=1"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound || string(body) != "404 page not found\n" {
		t.Errorf("HTTP %d %q, want 404 \"404 page not found\\n\"", resp.StatusCode, body)
	}
	line := d.waitLog(t, "/plain/path-x1", waitTimeout)
	if !strings.Contains(line, "ACCESS") || !strings.Contains(line, "NOT FOUND") {
		t.Errorf("log line %q, want an ACCESS line with NOT FOUND", line)
	}
}

// TestLifeSlowloris: a client that sends half a request head blocks nobody
// and gets 408 after 10 s (the head timeout is not configurable: this test
// takes 10 s, in parallel with the others).
func TestLifeSlowloris(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("takes 10 s")
	}
	d := startDaemon(t, "cat")
	conn, err := net.DialTimeout("tcp", d.addr, waitTimeout)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	start := time.Now()
	if _, err := conn.Write([]byte("GET / HTTP/1.1\r\nHost: " + d.addr + "\r\nUpgrade: websocket\r\n")); err != nil {
		t.Fatal(err)
	}

	others := time.Now()
	c := dialWS(t, d.url("/"))
	c.sendText(t, "not blocked")
	c.expectText(t, "not blocked")
	resp, err := http.Get(d.httpURL("/meanwhile"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if took := time.Since(others); took > 5*time.Second {
		t.Errorf("other clients took %v next to a slow one", took)
	}

	_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	got, err := io.ReadAll(conn)
	elapsed := time.Since(start)
	if err != nil {
		t.Fatalf("after %v: %v (read %q)", elapsed, err, got)
	}
	if !strings.HasPrefix(string(got), "HTTP/1.1 408 ") {
		t.Errorf("slow client got %q after %v, want HTTP/1.1 408", got, elapsed)
	}
	if elapsed < 9*time.Second || elapsed > 25*time.Second {
		t.Errorf("408 after %v, want about 10 s", elapsed)
	}
}
