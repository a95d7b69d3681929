package main

// Flow control, both ways, against the real daemon: a child that writes
// faster than its client reads is paused (blocked on its full stdout pipe)
// instead of buffered without bound; a client that sends faster than its
// child reads is slowed by TCP, and one that sends too much to a child that
// does not read is closed with 1008. The daemon's memory stays bounded.

import (
	"bytes"
	"fmt"
	"hash/fnv"
	"math/rand"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobwas/ws"
)

// rssBound is what the daemon's RSS must stay under while a flow is held
// back, in KiB: a few times its idle size (about 15 MiB), far below the 256
// MiB or 64 MiB in flight. The race detector multiplies memory use, so a
// daemon built with -race gets four times as much.
var rssBound = func() int {
	if raceEnabled() {
		return 256 << 10
	}
	return 64 << 10
}()

// rssSampler records the daemon's largest RSS until stopped.
type rssSampler struct {
	pid     int
	max     atomic.Int64 // KiB
	samples atomic.Int64
	stop    chan struct{}
	done    chan struct{}
}

// TestFlowChildToClient: a child writes 256 MiB of numbered lines to a
// client that reads nothing for 5 s. Meanwhile the daemon stays small and
// the child is blocked (its write count stops growing, far short of 256
// MiB); then the client reads every line exactly once, in order.
func TestFlowChildToClient(t *testing.T) {
	const (
		lineSize = 1024 // newline included
		lines    = 256 << 20 / lineSize
		idle     = 5 * time.Second
	)
	d := startDaemon(t, progBin(t, "lines"), strconv.Itoa(lines), strconv.Itoa(lineSize))
	c := dialWS(t, d.url("/"))
	child := waitProgram(t, d, waitTimeout)

	// The client reads nothing for idle; sample the daemon and the child.
	rss := sampleRSS(t, d.pid(), 100*time.Millisecond)
	wchar, stalled, err := watchGrowth(idle, 100*time.Millisecond, func() (int64, error) { return procWChar(child.Pid) })
	if err != nil {
		t.Fatalf("child %d gone while its client read nothing (it wrote %d bytes): %v", child.Pid, wchar, err)
	}
	maxRSS := rss.finish()
	st, _ := readProcStat(child.Pid)
	t.Logf("after %v without reading: child wrote %.1f MiB, unchanged for the last %v, state %c, wchan %q; daemon max RSS %d KiB (%d samples)",
		idle, float64(wchar)/(1<<20), stalled.Round(time.Millisecond), st.State, procWChan(child.Pid), maxRSS, rss.samples.Load())
	if maxRSS >= rssBound {
		t.Errorf("daemon RSS reached %d KiB while its client read nothing, want < %d KiB", maxRSS, rssBound)
	}
	if wchar >= lines*lineSize {
		t.Errorf("the child wrote all %d bytes while its client read nothing: not paused", wchar)
	}
	if stalled < 2*time.Second {
		t.Errorf("the child's write count still grew %v before the end of the idle period: not paused", stalled)
	}

	// Now read it all.
	start := time.Now()
	want := bytes.Repeat([]byte{'.'}, lineSize-1)
	want[10] = ' '
	for i := 0; i < lines; i++ {
		m := c.readMessage(t, waitTimeout)
		copy(want, fmt.Sprintf("%010d", i))
		if m.Op != ws.OpText || !bytes.Equal(m.Data, want) {
			got := m.Data
			if len(got) > 40 {
				got = got[:40]
			}
			t.Fatalf("message %d: got op %#x, %d bytes %q...; want line %d", i, m.Op, len(m.Data), got, i)
		}
	}
	if code, reason := c.readClose(t, waitTimeout); code != ws.StatusNormalClosure {
		t.Errorf("after the last line: close %d %q, want 1000 (exit status 0)", code, reason)
	}
	t.Logf("read %d lines (%d MiB) in %v", lines, lines*lineSize>>20, time.Since(start).Round(time.Millisecond))
}

// TestFlowBinaryBothWays: through --binary cat, the client writes 32
// messages of 64 KiB without reading anything, then reads: the 2 MiB come
// back intact. Each direction is paused while the other is full; neither
// may wait for the other forever (websocketd deadlocks here).
func TestFlowBinaryBothWays(t *testing.T) {
	const (
		msgs    = 32
		msgSize = 64 << 10
	)
	d := startDaemon(t, "--binary", lookPath(t, "cat"))
	c := dialWS(t, d.url("/"))
	data := make([]byte, msgs*msgSize)
	rand.New(rand.NewSource(1)).Read(data)

	_ = c.conn.SetWriteDeadline(time.Now().Add(20 * time.Second))
	for i := 0; i < msgs; i++ {
		f := ws.MustCompileFrame(ws.MaskFrame(ws.NewBinaryFrame(data[i*msgSize : (i+1)*msgSize])))
		if _, err := c.conn.Write(f); err != nil {
			t.Fatalf("message %d of %d: %v: the client cannot send while it is not reading (deadlock)", i, msgs, err)
		}
	}
	var got []byte
	for len(got) < len(data) {
		m := c.readMessage(t, waitTimeout)
		if m.Op != ws.OpBinary {
			t.Fatalf("after %d bytes: got %s, want binary", len(got), m)
		}
		got = append(got, m.Data...)
	}
	if !bytes.Equal(got, data) {
		i := 0
		for i < len(got) && i < len(data) && got[i] == data[i] {
			i++
		}
		t.Fatalf("the bytes came back different (%d bytes, want %d; first difference at %d)", len(got), len(data), i)
	}
	c.sendClose(t, ws.StatusNormalClosure, "")
	if code, _ := c.readClose(t, waitTimeout); code != ws.StatusNormalClosure {
		t.Errorf("close: %d, want 1000", code)
	}
}

// slowSinkRun sends msgs text messages of msgSize bytes (a newline each
// added by the daemon) to sink, which reads nothing for its first seconds,
// and returns what came back: the sink's summary line, or the close.
type sinkResult struct {
	sent     int       // messages written before the connection failed
	writeErr error     // why the writer stopped early
	reply    wsMessage // the summary line or the close
	wantSum  string    // the summary the sink prints if everything arrived
	maxRSS   int       // the daemon's largest RSS, KiB
}

func slowSinkRun(t *testing.T, d *daemon, msgs, msgSize int) sinkResult {
	t.Helper()
	c := dialWS(t, d.url("/"))
	rss := sampleRSS(t, d.pid(), 50*time.Millisecond)

	h := fnv.New64a()
	payload := make([]byte, msgSize)
	rnd := rand.New(rand.NewSource(2))
	frames := make(chan []byte, 4)
	var res sinkResult
	var wg sync.WaitGroup
	wg.Add(1)
	// The writer builds and hashes each message just before sending it, so
	// memory stays small on the client side too.
	go func() {
		defer wg.Done()
		for f := range frames {
			_ = c.conn.SetWriteDeadline(time.Now().Add(30 * time.Second))
			if _, err := c.conn.Write(f); err != nil {
				res.writeErr = err
				for range frames {
				}
				return
			}
			res.sent++
		}
	}()
	for i := 0; i < msgs; i++ {
		for j := range payload {
			payload[j] = 'a' + byte(rnd.Intn(26))
		}
		copy(payload, fmt.Sprintf("%08d ", i))
		h.Write(payload)
		h.Write([]byte{'\n'})
		frames <- ws.MustCompileFrame(ws.MaskFrame(ws.NewTextFrame(payload)))
	}
	frames <- ws.MustCompileFrame(ws.MaskFrame(ws.NewTextFrame([]byte("END"))))
	close(frames)
	wg.Wait()
	res.wantSum = fmt.Sprintf("%d %d %016x", msgs, msgs*(msgSize+1), h.Sum64())
	res.reply = c.readMessage(t, 30*time.Second)
	res.maxRSS = rss.finish()
	if res.reply.Op == ws.OpClose {
		return res
	}
	c.sendClose(t, ws.StatusNormalClosure, "")
	c.readClose(t, waitTimeout)
	return res
}

// TestFlowClientToChild: with the default limits, a client sends 64 MiB to
// a child that reads nothing for 3 s and then everything. The daemon does
// not buffer it: it stops reading the socket, so TCP holds the client back,
// and every byte reaches the child in order once it reads. The daemon's RSS
// stays bounded throughout.
func TestFlowClientToChild(t *testing.T) {
	const (
		msgSize = 64<<10 - 1 // a line of 64 KiB with the newline
		msgs    = 1024       // 64 MiB
	)
	d := startDaemon(t, progBin(t, "sink"), "3000")
	res := slowSinkRun(t, d, msgs, msgSize)
	t.Logf("sent %d of %d messages; reply %s; daemon max RSS %d KiB", res.sent, msgs+1, res.reply, res.maxRSS)
	if res.maxRSS >= rssBound {
		t.Errorf("daemon RSS reached %d KiB while its child did not read, want < %d KiB", res.maxRSS, rssBound)
	}
	if res.writeErr != nil {
		t.Errorf("the client could not send everything (%d of %d messages): %v", res.sent, msgs+1, res.writeErr)
	}
	if res.reply.Op == ws.OpClose && res.reply.Code == ws.StatusPolicyViolation {
		t.Fatalf("closed with 1008 (%q) after %d of %d messages: the daemon kept reading the paused socket until --inbuffer was exceeded, instead of letting TCP hold the client back", res.reply.Reason, res.sent, msgs+1)
	}
	if res.reply.Op != ws.OpText || string(res.reply.Data) != res.wantSum {
		t.Fatalf("the child's summary: got %s, want text %q (every line once, in order)", res.reply, res.wantSum)
	}
}

// TestFlowClientHeldBack: a client that keeps sending to a child that never
// reads is held back by TCP, because the daemon stops reading its socket
// (engine/readpause.go); it is neither buffered without bound nor closed.
// --inbuffer stays the bound on what the daemon itself holds (a 1008 close
// would only come if gnet read past the pause), so nothing is closed here.
func TestFlowClientHeldBack(t *testing.T) {
	skipUnlessWsplex(t, "the read pause")
	d := startDaemon(t, "--inbuffer=65536", lookPath(t, "sleep"), "600")
	c := dialWS(t, d.url("/"))
	rss := sampleRSS(t, d.pid(), 50*time.Millisecond)

	f := ws.MustCompileFrame(ws.MaskFrame(ws.NewTextFrame(bytes.Repeat([]byte("x"), 64<<10))))
	var sent int64
	timeouts := 0
	for i := 0; i < 4096 && timeouts < 3; i++ {
		_ = c.conn.SetWriteDeadline(time.Now().Add(500 * time.Millisecond))
		n, err := c.conn.Write(f)
		sent += int64(n)
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			timeouts++ // held back by TCP: the framing is broken from here on, which no one reads
			continue
		}
		if err != nil {
			t.Fatalf("write failed after %.1f MiB: %v (the daemon dropped the client?)", float64(sent)/(1<<20), err)
		}
	}
	maxRSS := rss.finish()
	t.Logf("sent %.1f MiB before being held back; daemon max RSS %d KiB", float64(sent)/(1<<20), maxRSS)
	if timeouts < 3 {
		t.Fatalf("sent %.1f MiB without ever being held back", float64(sent)/(1<<20))
	}
	if sent > 64<<20 {
		t.Errorf("the daemon let %.1f MiB in for a child that reads nothing", float64(sent)/(1<<20))
	}
	if maxRSS >= rssBound {
		t.Errorf("daemon RSS reached %d KiB, want < %d KiB", maxRSS, rssBound)
	}
	for _, ln := range d.logLines() {
		if strings.Contains(ln.Text, "Closing with") {
			t.Errorf("the held-back client was closed: %s", ln.Text)
		}
	}
	// The client's FIN would queue behind the bytes the daemon never read;
	// a reset is how such a client actually goes away.
	if tc, ok := c.conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	c.close()
	d.waitLog(t, "DISCONNECT", waitTimeout)
	waitNoPrograms(t, d, waitTimeout)
}

// watchGrowth samples count every interval for d, an idle period that is
// the scenario (not a wait for an event), and returns its last value and
// how long it had gone unchanged by the end: a producer held back by flow
// control stops growing. An error from count ends the sampling with it.
func watchGrowth(d, every time.Duration, count func() (int64, error)) (last int64, stalled time.Duration, err error) {
	start := time.Now()
	last = -1
	var grew time.Time
	for time.Since(start) < d {
		n, err := count()
		if err != nil {
			return last, 0, err
		}
		if n != last {
			last, grew = n, time.Now()
		}
		time.Sleep(every)
	}
	return last, time.Since(grew), nil
}
