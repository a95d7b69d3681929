package main

// Rooms (--broadcast, issue 14) against the real daemon over real sockets:
// the clients of one URL path share one child; each line it writes reaches
// every client, each client message reaches it once, whole; --envelope=json
// names the clients; a slow client never slows the others; the child's end
// and the last client's departure end the room cleanly.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gobwas/ws"
)

// roomEcho is a room's child that numbers the lines it reads: "N text",
// after a first line "start PID ROOM REMOTE_ADDR" (REMOTE_ADDR must be
// unset: a room's child has no client's variables).
const roomEcho = "#!/bin/bash\necho \"start $$ $ROOM ${REMOTE_ADDR-unset}\"\nn=0\nwhile read -r l; do n=$((n+1)); echo \"$n $l\"; done\n"

// roomStart reads a room's "start PID ROOM REMOTE_ADDR" line.
func roomStart(t testing.TB, c *wsClient) (pid int, room, remote string) {
	t.Helper()
	m := c.readMessage(t, waitTimeout)
	f := strings.Fields(string(m.Data))
	if m.Op != ws.OpText || len(f) != 4 || f[0] != "start" {
		t.Fatalf("want the start line, got %s", m)
	}
	pid, _ = strconv.Atoi(f[1])
	return pid, f[2], f[3]
}

// TestRoomSharedLines: two clients of one path share one child: both see
// its lines, and a line from either reaches it once (its count goes up by
// one per message sent, whoever sent it).
func TestRoomSharedLines(t *testing.T) {
	t.Parallel()
	skipUnlessWsplex(t, "--broadcast")
	d, metrics := startMetricsDaemon(t, 0, "--broadcast", writeScript(t, "echo.sh", roomEcho))
	a := dialWS(t, d.url("/chat"))
	pid, room, remote := roomStart(t, a)
	if room != "/chat" || remote != "unset" {
		t.Errorf("child sees ROOM %q and REMOTE_ADDR %q, want /chat and unset", room, remote)
	}
	b := dialWS(t, d.url("/chat"))
	a.sendText(t, "from a")
	for _, c := range []*wsClient{a, b} {
		c.expectText(t, "1 from a")
	}
	// A fragmented message reaches the child whole, as one line.
	b.sendFrame(t, ws.NewFrame(ws.OpText, false, []byte("from ")))
	b.sendFrame(t, ws.NewFrame(ws.OpContinuation, true, []byte("b")))
	a.sendText(t, "again a")
	for _, c := range []*wsClient{a, b} {
		got := []string{string(c.readMessage(t, waitTimeout).Data), string(c.readMessage(t, waitTimeout).Data)}
		if got[0][:2] != "2 " || got[1][:2] != "3 " || got[0][2:] == got[1][2:] {
			t.Errorf("want lines 2 and 3 (one from each client), got %q", got)
		}
	}
	if p := waitProgram(t, d, waitTimeout); p.Pid != pid {
		t.Errorf("program %d runs, want the room's %d", p.Pid, pid)
	}
	// 1 start line to a, then 3 lines to both: 7 deliveries, each timed
	// (counted just after the write: polled).
	v := metrics.scrape(t)
	for deadline := time.Now().Add(waitTimeout); v["wsplex_room_deliveries_total"] < 7 && time.Now().Before(deadline); v = metrics.scrape(t) {
		time.Sleep(10 * time.Millisecond) // polling the counter
	}
	if v["wsplex_rooms"] != 1 || v["wsplex_room_clients_count"] != 2 || v["wsplex_room_deliveries_total"] != 7 ||
		v["wsplex_room_delivery_seconds_count"] < 1 || v["wsplex_running_children"] != 1 {
		t.Errorf("metrics: rooms %v, clients observed %v, deliveries %v, delivery timings %v, children %v; want 1, 2, 7, >= 1, 1",
			v["wsplex_rooms"], v["wsplex_room_clients_count"], v["wsplex_room_deliveries_total"], v["wsplex_room_delivery_seconds_count"], v["wsplex_running_children"])
	}
}

// TestRoomExampleTicker: examples/rooms/ticker.sh, one ticker for the
// clients of a path: a client that joins late gets the same ticks as the
// first from then on.
func TestRoomExampleTicker(t *testing.T) {
	t.Parallel()
	skipUnlessWsplex(t, "--broadcast")
	d := startDaemon(t, "--broadcast", exampleScript("rooms/ticker.sh"), "0.02")
	a := dialWS(t, d.url("/eur"))
	a.readMessage(t, waitTimeout)
	b := dialWS(t, d.url("/eur"))
	first := b.readMessage(t, waitTimeout)
	if f := strings.Fields(string(first.Data)); len(f) != 5 || f[1] != "/eur" || f[2] != "tick" {
		t.Fatalf("tick %q, want \"TIME /eur tick N PRICE\"", first.Data)
	}
	for m := a.readMessage(t, waitTimeout); string(m.Data) != string(first.Data); m = a.readMessage(t, waitTimeout) {
	}
	for range 3 {
		if x, y := a.readMessage(t, waitTimeout), b.readMessage(t, waitTimeout); string(x.Data) != string(y.Data) {
			t.Fatalf("the clients got %q and %q", x.Data, y.Data)
		}
	}
}

// TestRoomBinary: with --binary, each read of the child is one binary
// message to every client, and binary messages reach it as they are.
func TestRoomBinary(t *testing.T) {
	t.Parallel()
	skipUnlessWsplex(t, "--broadcast")
	d := startDaemon(t, "--broadcast", "--binary", "cat")
	a := dialWS(t, d.url("/"))
	b := dialWS(t, d.url("/"))
	a.sendBinary(t, []byte{0, 0xff, '\n', 1})
	for _, c := range []*wsClient{a, b} {
		if m := c.readMessage(t, waitTimeout); m.Op != ws.OpBinary || string(m.Data) != "\x00\xff\n\x01" {
			t.Fatalf("want the bytes back as binary, got %s", m)
		}
	}
}

// TestRoomTextModes: a room's text is valid UTF-8 (invalid bytes repaired
// as in text mode), and with --passstderr its stdout and stderr lines
// reach every client as JSON.
func TestRoomTextModes(t *testing.T) {
	t.Parallel()
	skipUnlessWsplex(t, "--broadcast")
	script := writeScript(t, "bytes.sh", "#!/bin/bash\nread -r l\nprintf 'ok\\xff\\n'\nread -r l\necho oops >&2\nread -r l\n")
	plain := startDaemon(t, "--broadcast", script)
	c := dialWS(t, plain.url("/"))
	c.sendText(t, "go")
	c.expectText(t, "ok\ufffd")
	c.sendText(t, "more")
	plain.waitLog(t, "oops", waitTimeout)

	js := startDaemon(t, "--broadcast", "--passstderr", script)
	a := dialWS(t, js.url("/"))
	b := dialWS(t, js.url("/"))
	a.sendText(t, "go")
	for _, c := range []*wsClient{a, b} {
		c.expectText(t, `{"stream":"stdout","data":"ok\ufffd"}`)
	}
	a.sendText(t, "more")
	for _, c := range []*wsClient{a, b} {
		c.expectText(t, `{"stream":"stderr","data":"oops"}`)
	}
}

// TestRoomStartFails: a room whose program cannot start closes each of
// its clients with 1011 and the cause; the next client tries again.
func TestRoomStartFails(t *testing.T) {
	t.Parallel()
	skipUnlessWsplex(t, "--broadcast")
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "noexec.sh"), "#!/bin/sh\necho hi\n", 0o644)
	d := startDaemon(t, "--broadcast", "--dir="+dir)
	for range 2 {
		c := dialWS(t, d.url("/noexec.sh"))
		if code, reason := c.readClose(t, waitTimeout); code != ws.StatusInternalServerError || !strings.Contains(reason, "not executable") {
			t.Errorf("closed with %d %q, want 1011 and why", code, reason)
		}
	}
}

// TestRoomShutdown: SIGTERM closes a room's clients with 1001, ends its
// child and exits 0 with nothing left behind.
func TestRoomShutdown(t *testing.T) {
	t.Parallel()
	skipUnlessWsplex(t, "--broadcast")
	d := startDaemon(t, "--broadcast", "--broadcast-linger=60s", writeScript(t, "echo.sh", roomEcho))
	a := dialWS(t, d.url("/"))
	pid, _, _ := roomStart(t, a)
	b := dialWS(t, d.url("/"))
	done := make(chan int, 1)
	go func() { done <- d.stop(t) }()
	for _, c := range []*wsClient{a, b} {
		if code, _ := c.readClose(t, waitTimeout); code != ws.StatusGoingAway {
			t.Errorf("closed with %d, want 1001", code)
		}
	}
	if code := <-done; code != 0 {
		t.Errorf("daemon exit code %d, want 0", code)
	}
	if !procGone(pid) {
		t.Errorf("room child %d outlived the daemon", pid)
		killIfAlive(t, pid, "echo.sh")
	}
}

// TestRoomManyClients: 200 clients of one room (on every loop) each get
// every one of 500 lines, in order: the deliveries coalesced per loop lose
// no wake-up.
func TestRoomManyClients(t *testing.T) {
	t.Parallel()
	skipUnlessWsplex(t, "--broadcast")
	const clients, lines = 200, 500
	raiseNoFile(t, 4*clients)
	script := writeScript(t, "burst.sh", fmt.Sprintf("#!/bin/bash\nread -r l\nfor ((i = 0; i < %d; i++)); do echo \"line $i\"; done\nread -r l\n", lines))
	d := startDaemon(t, "--broadcast", script)
	cs := make([]*wsClient, clients)
	for i := range cs {
		cs[i] = dialWS(t, d.url("/"))
	}
	cs[0].sendText(t, "go")
	errs := make(chan error, clients)
	for _, c := range cs {
		go func() {
			for i := 0; i < lines; i++ {
				m, err := c.recvMessage(waitTimeout)
				if err != nil || string(m.Data) != "line "+strconv.Itoa(i) {
					errs <- fmt.Errorf("message %d: %s (%v)", i, m, err)
					return
				}
			}
			errs <- nil
		}()
	}
	for range clients {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

// TestRoomNothingAfterClose: the close-order rounds of closeorder_test.go
// against one room of `cat` shared by every round: a client's message is
// echoed to every client, its own included, while it closes; nothing
// reaches a client after its close frame, whoever's echo it is.
func TestRoomNothingAfterClose(t *testing.T) {
	skipUnlessWsplex(t, "the close policy for a room's frames")
	for _, m := range []struct {
		name string
		args []string
		op   byte
	}{{"text", nil, 0x1}, {"binary", []string{"--binary"}, 0x2}} {
		t.Run(m.name, func(t *testing.T) {
			d := startDaemon(t, append(append([]string{"--broadcast"}, m.args...), lookPath(t, "cat"))...)
			closeFrame := rawFrame(true, 0, 0x8, true, closeBody(1000, ""))
			frames := cat(rawFrame(true, 0, m.op, true, []byte("Hello World")), closeFrame)
			var wg sync.WaitGroup
			errs := make(chan error, closeOrderRounds)
			work := make(chan int)
			for range 8 {
				wg.Go(func() {
					for i := range work {
						if err := closeOrderRound(d, frames, ws.StatusNormalClosure); err != nil {
							errs <- fmt.Errorf("round %d: %w", i, err)
						}
					}
				})
			}
			for i := range closeOrderRounds {
				work <- i
			}
			close(work)
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
		})
	}
}

// TestRoomByPath: two paths are two rooms, two children, each with its
// own ROOM; a message in one is not seen in the other.
func TestRoomByPath(t *testing.T) {
	t.Parallel()
	skipUnlessWsplex(t, "--broadcast")
	d := startDaemon(t, "--broadcast", writeScript(t, "echo.sh", roomEcho))
	a := dialWS(t, d.url("/room/a"))
	pidA, roomA, _ := roomStart(t, a)
	b := dialWS(t, d.url("/room/b"))
	pidB, roomB, _ := roomStart(t, b)
	if pidA == pidB || roomA != "/room/a" || roomB != "/room/b" {
		t.Fatalf("rooms: pid %d %q and pid %d %q, want two children for /room/a and /room/b", pidA, roomA, pidB, roomB)
	}
	a.sendText(t, "only a")
	b.sendText(t, "only b")
	a.expectText(t, "1 only a")
	b.expectText(t, "1 only b")
	a.sendText(t, "a again")
	a.expectText(t, "2 a again")
}

// roomEnvelopeChild is a chat server as an --envelope=json room: welcome
// the newcomer (to it alone, with its id and REMOTE_ADDR), announce joins
// and departures, relay messages with the sender's id, and obey a few
// commands: "to:ID:text" (to one), "close me", "bad" (an invalid line
// first), and binary messages back as binary to all.
const roomEnvelopeChild = `#!/usr/bin/env python3
import json, sys
def out(**m):
    sys.stdout.write(json.dumps(m) + "\n"); sys.stdout.flush()
for line in sys.stdin:
    m = json.loads(line)
    i = m["id"]
    if m["type"] == "join":
        e = m["env"]
        out(to=i, data="welcome %s %s %s" % (i, e["UNIQUE_ID"], e["REMOTE_ADDR"]))
        out(data="joined " + i)
    elif m["type"] == "leave":
        out(data="left %s %d" % (i, m["code"]))
    elif "data64" in m:
        out(data64=m["data64"])
    elif m["data"] == "close me":
        out(close=i, code=4001, reason="bye")
    elif m["data"] == "bad":
        sys.stdout.write("this is not json\n"); sys.stdout.flush()
        out(data="after bad")
    elif m["data"].startswith("to:"):
        _, to, text = m["data"].split(":", 2)
        out(to=[to], data=text)
    else:
        out(data="%s: %s" % (i, m["data"]))
`

// expectWelcome reads the welcome of an envelope room and returns the
// client's id, checked against its UNIQUE_ID and REMOTE_ADDR.
func expectWelcome(t testing.TB, c *wsClient) string {
	t.Helper()
	m := c.readMessage(t, waitTimeout)
	f := strings.Fields(string(m.Data))
	if len(f) != 4 || f[0] != "welcome" || f[1] != f[2] || f[3] != "127.0.0.1" {
		t.Fatalf("want \"welcome ID ID 127.0.0.1\", got %s", m)
	}
	return f[1]
}

// TestRoomEnvelope: join, message and leave with the clients' real ids
// and environment; messages to all, to one, binary; a close order; an
// invalid line logged and skipped.
func TestRoomEnvelope(t *testing.T) {
	t.Parallel()
	skipUnlessWsplex(t, "--envelope=json")
	lookPath(t, "python3")
	d := startDaemon(t, "--broadcast", "--envelope=json", writeScript(t, "chat.py", roomEnvelopeChild))
	a := dialWS(t, d.url("/"))
	idA := expectWelcome(t, a)
	a.expectText(t, "joined "+idA)
	b := dialWS(t, d.url("/"))
	idB := expectWelcome(t, b)
	if idA == idB {
		t.Fatalf("two clients with id %q", idA)
	}
	for _, c := range []*wsClient{a, b} {
		c.expectText(t, "joined "+idB)
	}
	a.sendText(t, "hi")
	for _, c := range []*wsClient{a, b} {
		c.expectText(t, idA+": hi")
	}
	// To B alone: A's next message is the broadcast that follows.
	a.sendText(t, "to:"+idB+":psst")
	b.expectText(t, "psst")
	mark := d.logMark()
	a.sendText(t, "bad")
	for _, c := range []*wsClient{a, b} {
		c.expectText(t, "after bad")
	}
	d.waitLogSince(t, mark, "invalid envelope line skipped", waitTimeout)
	b.sendBinary(t, []byte{0, 1, 2, 0xff})
	for _, c := range []*wsClient{a, b} {
		if m := c.readMessage(t, waitTimeout); m.Op != ws.OpBinary || string(m.Data) != "\x00\x01\x02\xff" {
			t.Fatalf("want the binary message back, got %s", m)
		}
	}
	b.sendText(t, "close me")
	if code, reason := b.readClose(t, waitTimeout); code != 4001 || reason != "bye" {
		t.Errorf("closed with %d %q, want 4001 bye", code, reason)
	}
	a.expectText(t, "left "+idB+" 4001")
	a.sendClose(t, ws.StatusNormalClosure, "")
	if code, _ := a.readClose(t, waitTimeout); code != ws.StatusNormalClosure {
		t.Errorf("close echo %d, want 1000", code)
	}
	waitNoPrograms(t, d, waitTimeout)
}

// TestRoomChildExit: the child exits with clients connected: each gets
// its last output, then the close frame with the exit status; the next
// client starts a new child.
func TestRoomChildExit(t *testing.T) {
	t.Parallel()
	skipUnlessWsplex(t, "--broadcast")
	script := writeScript(t, "once.sh", "#!/bin/bash\necho \"start $$ $ROOM x\"\nread -r l\nprintf 'bye %s\\nno newline' \"$l\"\nexit 3\n")
	d := startDaemon(t, "--broadcast", script)
	a := dialWS(t, d.url("/"))
	pid1, _, _ := roomStart(t, a)
	b := dialWS(t, d.url("/"))
	a.sendText(t, "now")
	for _, c := range []*wsClient{a, b} {
		msgs, code, reason := readUntilClose(t, c, waitTimeout)
		if got := texts(t, msgs); len(got) != 2 || got[0] != "bye now" || got[1] != "no newline" || code != 4003 || reason != "exit status 3" {
			t.Errorf("got %q then %d %q; want bye now, no newline, then 4003 exit status 3", got, code, reason)
		}
	}
	c := dialWS(t, d.url("/"))
	if pid2, _, _ := roomStart(t, c); pid2 == pid1 {
		t.Errorf("the next client joined the ended child %d", pid1)
	}
}

// TestRoomLastClientLeaves: with --broadcast-linger, a client that comes
// while the room lingers keeps its child; once the last client has gone
// and the linger is over, the child's stdin is closed (a child that ignores
// it gets the signals), it is reaped, and the daemon holds no more fds than
// before.
func TestRoomLastClientLeaves(t *testing.T) {
	t.Parallel()
	skipUnlessWsplex(t, "--broadcast")
	// The second path's child ignores end of input and SIGINT/SIGTERM.
	stubborn := writeScript(t, "stubborn.sh", "#!/bin/bash\ntrap '' INT TERM\necho \"start $$ $ROOM x\"\nwhile :; do read -r l || sleep 0.05; done\n")
	dir := filepath.Dir(stubborn)
	writeFile(t, filepath.Join(dir, "echo.sh"), roomEcho, 0o755)
	d := startDaemon(t, "--broadcast", "--broadcast-linger=2s", "--dir="+dir)
	base := procFDCount(t, d.pid())

	a := dialWS(t, d.url("/echo.sh"))
	pid, _, _ := roomStart(t, a)
	a.sendClose(t, ws.StatusNormalClosure, "")
	a.readClose(t, waitTimeout)
	b := dialWS(t, d.url("/echo.sh"))
	b.sendText(t, "still here")
	b.expectText(t, "1 still here") // the same child: its count goes on from 0, no new start line
	if p := waitProgram(t, d, waitTimeout); p.Pid != pid {
		t.Fatalf("program %d, want the lingering %d", p.Pid, pid)
	}
	b.close()
	waitGone(t, pid, waitTimeout)

	s := dialWS(t, d.url("/stubborn.sh"))
	spid, _, _ := roomStart(t, s)
	mark := d.logMark()
	s.close()
	waitGone(t, spid, waitTimeout)
	d.waitLogSince(t, mark, "Room /stubborn.sh: process killed by signal 9 (SIGKILL)", waitTimeout)
	waitNoPrograms(t, d, waitTimeout)
	waitFDsAtMost(t, d.pid(), base, waitTimeout)
}

// slowClient connects and upgrades with a tiny receive buffer, then reads
// nothing until told: the kernel's buffers fill at once.
func slowClient(t testing.TB, url string) *wsClient {
	t.Helper()
	d := ws.Dialer{Timeout: waitTimeout, NetDial: func(ctx context.Context, network, addr string) (net.Conn, error) {
		nd := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
			var serr error
			err := rc.Control(func(fd uintptr) { serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
			if err != nil {
				return err
			}
			return serr
		}}
		return nd.DialContext(ctx, network, addr)
	}}
	conn, br, _, err := d.Dial(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	if br == nil {
		br = bufio.NewReader(conn)
	}
	c := &wsClient{conn: conn, br: br}
	t.Cleanup(func() { conn.Close() })
	return c
}

// roomFloodChild writes N numbered lines of 200 bytes (as progs/lines.c
// does: the number in 10 digits, a space, dots) in batches of B, once it
// has read a first line and then after each line it reads: the fast
// client's acknowledgement paces it, the slow client's silence does not.
// The next line after the last batch is answered with "after LINE".
const roomFloodChild = `#!/usr/bin/env python3
import sys
n, b = int(sys.argv[1]), int(sys.argv[2])
pad = "." * 189
sys.stdin.readline()
i = 0
while i < n:
    k = min(b, n - i)
    sys.stdout.write("".join("%010d %s\n" % (j, pad) for j in range(i, i + k)))
    sys.stdout.flush()
    i += k
    sys.stdin.readline()
print("after " + sys.stdin.readline().strip(), flush=True)
sys.stdin.readline()
`

// roomFloodRun: a slow client (reads nothing) and a fast one join a flood
// room; the fast one reads every line, in order, acknowledging each batch.
// It returns the slow client and the daemon's largest RSS meanwhile.
func roomFloodRun(t *testing.T, lines, batch int, args ...string) (*daemon, *metricsScraper, *wsClient, int) {
	t.Helper()
	lookPath(t, "python3")
	script := writeScript(t, "flood.py", roomFloodChild)
	d, m := startMetricsDaemon(t, 0, append(args, "--broadcast", script, strconv.Itoa(lines), strconv.Itoa(batch))...)
	rss := sampleRSS(t, d.pid(), 50*time.Millisecond)
	slow := slowClient(t, d.url("/"))
	fast := dialWS(t, d.url("/"))
	fast.sendText(t, "start")
	for i := 0; i < lines; i++ {
		msg := fast.readMessage(t, waitTimeout)
		if got, _ := strconv.Atoi(strings.Fields(string(msg.Data) + " x")[0]); got != i || msg.Op != ws.OpText {
			t.Fatalf("fast client's message %d: %.40q", i, msg.Data)
		}
		if (i+1)%batch == 0 || i == lines-1 {
			fast.sendText(t, "next")
		}
	}
	fast.sendText(t, "go")
	fast.expectText(t, "after go")
	return d, m, slow, rss.finish()
}

// TestRoomSlowClose: a client that reads nothing falls behind and is
// closed with 1008 "slow consumer" after a prefix of the lines, in order;
// the other client gets every line, and the daemon stays small although
// the child writes 32 MB.
func TestRoomSlowClose(t *testing.T) {
	t.Parallel()
	skipUnlessWsplex(t, "--slow")
	const lines = 160000
	_, m, slow, maxRSS := roomFloodRun(t, lines, 500, "--broadcast-queue=262144")
	n := 0
	for {
		msg := slow.readMessage(t, waitTimeout)
		if msg.Op == ws.OpClose {
			if msg.Code != ws.StatusPolicyViolation || msg.Reason != "slow consumer" {
				t.Errorf("slow client closed with %d %q, want 1008 slow consumer", msg.Code, msg.Reason)
			}
			break
		}
		if got, _ := strconv.Atoi(strings.Fields(string(msg.Data) + " x")[0]); got != n {
			t.Fatalf("slow client's message %d: %.40q", n, msg.Data)
		}
		n++
	}
	v := m.scrape(t)
	t.Logf("slow client got %d of %d lines before its close; daemon max RSS %d KiB", n, lines, maxRSS)
	if n >= lines || v["wsplex_room_slow_closes_total"] != 1 {
		t.Errorf("slow client got %d lines, slow closes %v; want a prefix and 1", n, v["wsplex_room_slow_closes_total"])
	}
	if maxRSS >= rssBound {
		t.Errorf("daemon RSS reached %d KiB, want < %d", maxRSS, rssBound)
	}
}

// TestRoomSlowDrop: with --slow=drop the slow client is not closed: it
// gets a prefix of the lines, then (after gaps) newer ones, the last being
// the child's answer to the fast client; what it missed is counted.
func TestRoomSlowDrop(t *testing.T) {
	t.Parallel()
	skipUnlessWsplex(t, "--slow")
	const lines = 160000
	_, m, slow, maxRSS := roomFloodRun(t, lines, 500, "--broadcast-queue=262144", "--slow=drop")
	got, last, gaps := 0, -1, 0
	for {
		msg := slow.readMessage(t, waitTimeout)
		if msg.Op != ws.OpText {
			t.Fatalf("slow client: %s", msg)
		}
		if string(msg.Data) == "after go" {
			break
		}
		i, _ := strconv.Atoi(strings.Fields(string(msg.Data) + " x")[0])
		if i <= last {
			t.Fatalf("slow client: line %d after %d", i, last)
		}
		if i != last+1 {
			gaps++
		}
		last = i
		got++
	}
	v := m.scrape(t)
	t.Logf("slow client got %d of %d lines (%d gaps); %v dropped; daemon max RSS %d KiB", got, lines, gaps, v["wsplex_room_drops_total"], maxRSS)
	if gaps == 0 || float64(got)+v["wsplex_room_drops_total"] != lines {
		t.Errorf("slow client got %d lines with %d gaps, drops %v; want gaps, and got + dropped = %d", got, gaps, v["wsplex_room_drops_total"], lines)
	}
	if maxRSS >= rssBound {
		t.Errorf("daemon RSS reached %d KiB, want < %d", maxRSS, rssBound)
	}
}

// TestRoomFanInPaused: two clients send 8 MB each to a child that reads
// nothing until told: they are held back (not closed), the daemon stays
// small, and once the child reads, every line of both arrives whole and
// once, each client's in its order.
func TestRoomFanInPaused(t *testing.T) {
	t.Parallel()
	skipUnlessWsplex(t, "--broadcast")
	fifo := filepath.Join(t.TempDir(), "go")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	script := writeScript(t, "late.sh", "#!/bin/bash\necho ready\nread -r x < \"$0.fifo\"\nexec cat\n")
	if err := os.Symlink(fifo, script+".fifo"); err != nil {
		t.Fatal(err)
	}
	const perClient, size = 8000, 1000
	d, metrics := startMetricsDaemon(t, 0, "--broadcast", "--broadcast-queue=1073741824", script)
	rss := sampleRSS(t, d.pid(), 50*time.Millisecond)
	a := dialWS(t, d.url("/"))
	a.expectText(t, "ready")
	b := dialWS(t, d.url("/"))
	var wg sync.WaitGroup
	sent := make(chan error, 2)
	for _, cl := range []struct {
		c    *wsClient
		name string
	}{{a, "a"}, {b, "b"}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < perClient; i++ {
				line := fmt.Sprintf("%s %06d ", cl.name, i)
				line += strings.Repeat(".", size-len(line))
				if err := cl.c.writeFrame(ws.NewTextFrame([]byte(line))); err != nil {
					sent <- fmt.Errorf("%s: message %d: %w", cl.name, i, err)
					return
				}
			}
		}()
	}
	// Both send far more than the child's pipe and the room's queue hold:
	// the child reads once the room has paused them.
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	for deadline := time.Now().Add(waitTimeout); metrics.scrape(t)["wsplex_room_input_pauses_total"] < 1; {
		if time.Now().After(deadline) {
			t.Fatalf("the clients were not paused within %v", waitTimeout)
		}
		time.Sleep(10 * time.Millisecond) // polling the counter
	}
	f, err := os.OpenFile(fifo, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(f, "go")
	f.Close()
	errs := make(chan error, 2)
	for _, c := range []*wsClient{a, b} {
		go func() {
			next := map[string]int{"a": 0, "b": 0}
			for k := 0; k < 2*perClient; k++ {
				m, err := c.recvMessage(2 * waitTimeout)
				s := string(m.Data)
				if err != nil || m.Op != ws.OpText || len(s) != size {
					errs <- fmt.Errorf("message %d: %s (%v)", k, m, err)
					return
				}
				who, i := s[:1], s[2:8]
				if n, _ := strconv.Atoi(i); n != next[who] || strings.Trim(s[9:], ".") != "" {
					errs <- fmt.Errorf("message %d: %.20q, want %s %06d next", k, s, who, next[who])
					return
				}
				next[who]++
			}
			errs <- nil
		}()
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	<-done
	select {
	case err := <-sent:
		t.Fatal(err)
	default:
	}
	maxRSS := rss.finish()
	t.Logf("clients paused %v times; daemon max RSS %d KiB", metrics.scrape(t)["wsplex_room_input_pauses_total"], maxRSS)
	if maxRSS >= rssBound {
		t.Errorf("daemon RSS reached %d KiB, want < %d", maxRSS, rssBound)
	}
}

// TestRoomLimits: --room-max answers 429 to one client too many of a room
// (not of another), and --maxforks counts rooms, not clients.
func TestRoomLimits(t *testing.T) {
	t.Parallel()
	skipUnlessWsplex(t, "--room-max")
	d := startDaemon(t, "--broadcast", "--room-max=2", "--maxforks=2", writeScript(t, "echo.sh", roomEcho))
	a1 := dialWS(t, d.url("/a"))
	roomStart(t, a1)
	dialWS(t, d.url("/a"))
	var he *handshakeError
	if _, err := dialWSWith(t, d.url("/a"), wsDialOptions{}); !asHandshake(err, &he) || he.Status != 429 {
		t.Fatalf("third client of /a: %v, want 429", err)
	}
	dialWS(t, d.url("/b"))
	dialWS(t, d.url("/b"))
	if _, err := dialWSWith(t, d.url("/c"), wsDialOptions{}); !asHandshake(err, &he) || he.Status != 429 {
		t.Fatalf("a third room under --maxforks=2: %v, want 429", err)
	}
}

func asHandshake(err error, he **handshakeError) bool { return errors.As(err, he) }

// TestRoomFlags: the room flags need --broadcast, and --broadcast refuses
// what a shared child cannot be.
func TestRoomFlags(t *testing.T) {
	newSandbox(t)
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"--slow=drop", "prog"}, "--slow only applies to rooms: add --broadcast."},
		{[]string{"--envelope=json", "prog"}, "--envelope only applies to rooms: add --broadcast."},
		{[]string{"--broadcast", "--pty", "prog"}, "--broadcast cannot be used with --pty"},
		{[]string{"--broadcast", "--prefork=2", "prog"}, "--broadcast cannot be used with --prefork"},
		{[]string{"--broadcast", "--slow=wait", "prog"}, "Incorrect --slow 'wait'"},
		{[]string{"--broadcast", "--envelope=xml", "prog"}, "Incorrect --envelope 'xml'"},
		{[]string{"--broadcast", "--envelope=json", "--binary", "prog"}, "--envelope=json cannot be used with --binary"},
		{[]string{"--broadcast", "--staticdir=."}, "--broadcast needs COMMAND"},
	} {
		_, code, _, stderr := parse(tc.args...)
		if code != exitInvalid || !strings.Contains(stderr, tc.msg) {
			t.Errorf("%v: exit %d, %q; want %d and %q", tc.args, code, stderr, exitInvalid, tc.msg)
		}
	}
	cfg, code, _, stderr := parse("--broadcast", "--broadcast-linger=1500ms", "--broadcast-queue=4096", "--slow=drop", "--envelope=json", "--room-max=9", "prog")
	if code != continueRun || !cfg.Broadcast || cfg.BroadcastLinger != 1500*time.Millisecond || cfg.BroadcastQueue != 4096 || !cfg.SlowDrop || cfg.Envelope != "json" || cfg.RoomMax != 9 {
		t.Errorf("exit %d %q: %+v", code, stderr, cfg)
	}
}

// TestRoomReverseLookup: with --reverselookup the join of an envelope room
// carries the client's name in REMOTE_HOST (127.0.0.1 is "localhost" in
// /etc/hosts, which Go's resolver reads first), and without it the
// address. The lookup is the one a child's start waits for (lookup.go).
func TestRoomReverseLookup(t *testing.T) {
	t.Parallel()
	skipUnlessWsplex(t, "--envelope=json")
	lookPath(t, "python3")
	child := writeScript(t, "host.py", `#!/usr/bin/env python3
import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m["type"] == "join":
        sys.stdout.write(json.dumps({"to": m["id"], "data": "host " + m["env"]["REMOTE_HOST"]}) + "\n")
        sys.stdout.flush()
`)
	for _, tc := range []struct {
		flags []string
		want  string
	}{
		{nil, "host 127.0.0.1"},
		{[]string{"--reverselookup"}, "host localhost"},
	} {
		d := startDaemon(t, append(append([]string{"--broadcast", "--envelope=json"}, tc.flags...), child)...)
		c := dialWS(t, d.url("/"))
		c.expectText(t, tc.want)
		c.sendClose(t, ws.StatusNormalClosure, "")
		if code, _ := c.readClose(t, waitTimeout); code != ws.StatusNormalClosure {
			t.Errorf("%v: close echo %d, want 1000", tc.flags, code)
		}
	}
}
