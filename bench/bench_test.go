package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"golang.org/x/sys/unix"
)

// TestMain lets the test binary stand in for cmd/wsbench, so --workers (which
// re-executes the program) and the fd-limit test can run without a build.
func TestMain(m *testing.M) {
	if os.Getenv("WSBENCH_SERVE") == "1" {
		// Serve the test echo server from its own process (for measuring
		// how many connections one wsbench process holds), until stdin
		// closes.
		s := startServer(&testing.T{}, faults{})
		os.Stdout.WriteString(s.URL + "\n")
		io.Copy(io.Discard, os.Stdin)
		os.Exit(0)
	}
	if len(os.Args) > 1 && os.Args[1] == "resume-child" {
		// The resume scenario's child, run by a daemon under test.
		os.Exit(resumeChildMain())
	}
	if len(os.Args) > 1 && os.Args[1] == "room-child" {
		os.Exit(roomChildMain(context.Background(), os.Args[2:]))
	}
	if len(os.Args) > 1 && os.Args[1] == "echo-backend" {
		os.Exit(echoBackendMain(context.Background(), os.Args[2:]))
	}
	if os.Getenv("WSBENCH_FAKE_DAEMON") == "1" {
		fakeDaemon(os.Args[1:]) // the suite's tests: a stand-in for wsplex and websocketd
	}
	if os.Getenv("WSBENCH_AS_MAIN") == "1" {
		if n := os.Getenv("WSBENCH_NOFILE"); n != "" {
			var lim uint64
			for _, c := range n {
				lim = lim*10 + uint64(c-'0')
			}
			var r unix.Rlimit
			setRlim(&r.Cur, lim)
			setRlim(&r.Max, lim)
			if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &r); err != nil {
				panic(err)
			}
		}
		os.Exit(Main(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

func testOptions(t testing.TB, url string, d time.Duration) *Options {
	t.Helper()
	tg, err := ParseTarget(url, false)
	if err != nil {
		t.Fatal(err)
	}
	return &Options{Target: tg, Duration: d, HandshakeTimeout: 5 * time.Second}
}

func runScenario(t testing.TB, sc Scenario, o *Options) *Result {
	t.Helper()
	res, err := sc.Run(context.Background(), o)
	if err != nil {
		t.Fatalf("%s: %v", sc.Name(), err)
	}
	return res
}

func TestEchoClean(t *testing.T) {
	s := startServer(t, faults{})
	res := runScenario(t, &LatencyScenario{Conns: 2, Rate: 400, Size: 64, Drain: 3 * time.Second}, testOptions(t, s.URL, 500*time.Millisecond))
	if !res.OK || res.Msgs.Sent == 0 || res.Msgs.Received != res.Msgs.Sent {
		t.Fatalf("clean echo not OK: %+v %+v", res.Msgs, res.ErrorSamples)
	}
	if want := int64(200); res.Msgs.Sent < want-2 || res.Msgs.Sent > want+2 {
		t.Errorf("open loop sent %d messages at 400/s for 0.5s, want about %d", res.Msgs.Sent, want)
	}
}

func TestSequenceCatchesDrop(t *testing.T) {
	s := startServer(t, faults{drop: 5})
	res := runScenario(t, &LatencyScenario{Conns: 1, Rate: 200, Size: 32, Drain: time.Second}, testOptions(t, s.URL, 300*time.Millisecond))
	if res.Msgs.Lost != 1 || res.Msgs.Reordered != 0 || res.OK {
		t.Fatalf("dropped message: lost=%d reordered=%d ok=%v, want lost=1 reordered=0 ok=false", res.Msgs.Lost, res.Msgs.Reordered, res.OK)
	}
}

func TestSequenceCatchesReorder(t *testing.T) {
	s := startServer(t, faults{swap: 5})
	res := runScenario(t, &ThroughputScenario{Conns: 1, Inflight: 4, Size: 32, Drain: 3 * time.Second}, testOptions(t, s.URL, 200*time.Millisecond))
	if res.Msgs.Reordered != 1 || res.Msgs.Lost != 0 || res.OK {
		t.Fatalf("swapped messages: reordered=%d lost=%d ok=%v, want reordered=1 lost=0 ok=false", res.Msgs.Reordered, res.Msgs.Lost, res.OK)
	}
}

func TestHistogramMatchesInjectedDelay(t *testing.T) {
	const delay = 25 * time.Millisecond
	s := startServer(t, faults{delay: delay})
	res := runScenario(t, &LatencyScenario{Conns: 1, Rate: 200, Size: 64, Drain: 3 * time.Second}, testOptions(t, s.URL, time.Second))
	l := res.Latency["echo"]
	if l == nil || l.Count < 150 {
		t.Fatalf("too few samples: %+v", l)
	}
	d := float64(delay.Milliseconds())
	// Lower bound is hard (the echo cannot come back before the delay);
	// the upper margin is generous for a loaded 2-core machine running -race.
	if l.P50 < d || l.P50 > d+40 {
		t.Errorf("p50 %.3f ms, want in [%.0f, %.0f]", l.P50, d, d+40)
	}
	if l.Min < d {
		t.Errorf("min %.3f ms is below the injected delay %v", l.Min, delay)
	}
	if l.Max < l.P99 || l.P99 < l.P90 || l.P90 < l.P50 {
		t.Errorf("percentiles out of order: %+v", l)
	}
}

// TestLatencyWarmUp: by default each connection echoes one message before
// the clock starts, so a server whose first echo is late (a child starting)
// has that in no figure; with --cold it is in the figures. Neither run
// counts the warm-up message as sent or received.
func TestLatencyWarmUp(t *testing.T) {
	const late = time.Second
	s := startServer(t, faults{late: late})
	for _, cold := range []bool{false, true} {
		res := runScenario(t, &LatencyScenario{Conns: 4, Rate: 100, Size: 64, Drain: 3 * time.Second, Cold: cold}, testOptions(t, s.URL, time.Second))
		l := res.Latency["echo"]
		if l == nil || l.Count < 50 {
			t.Fatalf("cold=%v: too few samples: %+v", cold, l)
		}
		if res.Msgs.Sent != res.Msgs.Received || l.Count != res.Msgs.Received {
			t.Errorf("cold=%v: sent %d, received %d, recorded %d: want all equal", cold, res.Msgs.Sent, res.Msgs.Received, l.Count)
		}
		if got := l.Max >= float64(late.Milliseconds()); got != cold {
			t.Errorf("cold=%v: max %.1f ms; the late first echo (%v) in the figures: %v, want %v", cold, l.Max, late, got, cold)
		}
	}
}

// greetHandler records what arrives on one connection.
type greetHandler struct {
	opened chan struct{}
	msgs   chan string
	closed chan error
}

func (h *greetHandler) OnOpen(c *Conn) {
	close(h.opened)
	c.Send(ws.OpText, []byte("ping-1"))
}
func (h *greetHandler) OnMessage(c *Conn, op ws.OpCode, data []byte) {
	h.msgs <- string(data)
	if string(data) == "ping-1" {
		c.Close()
	}
}
func (h *greetHandler) OnClose(c *Conn, err error) { h.closed <- err }

func TestFrameInSameSegmentAs101(t *testing.T) {
	s := startServer(t, faults{greeting: "hello from the 101 segment"})
	e, err := NewEngine(EngineConfig{Target: testOptions(t, s.URL, 0).Target})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	h := &greetHandler{opened: make(chan struct{}), msgs: make(chan string, 4), closed: make(chan error, 1)}
	e.Dial(h)
	// The handler closes after the echo of ping-1; then both messages must
	// be there, the greeting first.
	select {
	case err := <-h.closed:
		if err != nil {
			t.Fatalf("close: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("timed out")
	}
	close(h.msgs)
	var got []string
	for m := range h.msgs {
		got = append(got, m)
	}
	if len(got) != 2 || got[0] != "hello from the 101 segment" || got[1] != "ping-1" {
		t.Fatalf("got %q, want the greeting then ping-1", got)
	}
}

func TestJSONOutputParses(t *testing.T) {
	s := startServer(t, faults{})
	var out, errb bytes.Buffer
	code := Main(context.Background(), []string{"latency", "--json", "--duration=300ms", "--rate=100", s.URL}, &out, &errb)
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	var m map[string]any
	if err := json.Unmarshal(out.Bytes(), &m); err != nil {
		t.Fatalf("--json output does not parse: %v\n%s", err, out.String())
	}
	rs, err := ParseResults(&out)
	if err != nil || len(rs) != 1 {
		t.Fatalf("ParseResults: %v (%d results)", err, len(rs))
	}
	r := rs[0]
	if r.Scenario != "latency" || r.Latency["echo"] == nil || r.Latency["echo"].Count == 0 || r.Latency["echo"].Hist == "" {
		t.Fatalf("unexpected result: %+v", r)
	}
	if h := decodeHist(r.Latency["echo"].Hist); h == nil || h.TotalCount() != r.Latency["echo"].Count {
		t.Fatalf("embedded histogram does not decode to the same count")
	}
}

func TestRefusedUpgradeShowsStatusAndBody(t *testing.T) {
	s := startServer(t, faults{reject: 403})
	var out, errb bytes.Buffer
	code := Main(context.Background(), []string{"latency", "--duration=200ms", s.URL}, &out, &errb)
	if code != ExitFatal {
		t.Fatalf("exit %d, want %d", code, ExitFatal)
	}
	msg := errb.String()
	if !strings.Contains(msg, "403") || !strings.Contains(msg, "go away: test server refuses") {
		t.Fatalf("error does not show status and body: %q", msg)
	}
}

func TestUnreachableTarget(t *testing.T) {
	ln := startServer(t, faults{})
	url := ln.URL
	ln.ln.Close() // nothing listens there any more
	var out, errb bytes.Buffer
	code := Main(context.Background(), []string{"storm", "--conns=3", url}, &out, &errb)
	if code != ExitFatal || !strings.Contains(errb.String(), "refused") {
		t.Fatalf("exit %d, stderr %q: want a 'refused' error", code, errb.String())
	}
}

func TestRefusesRemoteTargets(t *testing.T) {
	if _, err := ParseTarget("ws://192.0.2.1:80/", false); err == nil || !strings.Contains(err.Error(), "--allow-remote") {
		t.Fatalf("non-loopback target accepted: %v", err)
	}
	if _, err := ParseTarget("ws://192.0.2.1:80/", true); err != nil {
		t.Fatalf("--allow-remote: %v", err)
	}
	var errb bytes.Buffer
	if code := Main(context.Background(), []string{"latency", "ws://192.0.2.1:80/"}, &bytes.Buffer{}, &errb); code != ExitFatal {
		t.Fatalf("exit %d for a remote target", code)
	}
	if tg, err := ParseTarget("127.0.0.1:9/x?y=1", false); err != nil || tg.Path != "/x?y=1" || tg.Addr.Port() != 9 {
		t.Fatalf("bare host:port: %+v %v", tg, err)
	}
}

func TestBinaryByteStream(t *testing.T) {
	s := startServer(t, faults{binary: true})
	res := runScenario(t, &BinaryScenario{Sizes: "16,1000,70000", Conns: 2, Inflight: 3, Drain: 5 * time.Second}, testOptions(t, s.URL, 600*time.Millisecond))
	if !res.OK || res.Msgs.Received == 0 {
		t.Fatalf("binary stream echo: %+v %v", res.Msgs, res.ErrorSamples)
	}
	for _, n := range []string{"echo_16B", "echo_1000B", "echo_70000B"} {
		if l := res.Latency[n]; l == nil || l.Count == 0 {
			t.Errorf("no samples for %s", n)
		}
	}
}

func TestStormChurnHold(t *testing.T) {
	s := startServer(t, faults{})
	o := testOptions(t, s.URL, 300*time.Millisecond)
	o.Loops = 2
	res := runScenario(t, &StormScenario{Conns: 300, Concurrency: 50, Size: 32, Keep: true}, o)
	if !res.OK || res.Conns.Opened != 300 || res.Msgs.Received != 300 || res.Conns.PeakOpen < 300 {
		t.Fatalf("storm: %+v %+v %v", res.Conns, res.Msgs, res.ErrorSamples)
	}
	res = runScenario(t, &ChurnScenario{Concurrency: 2, Size: 32}, o)
	if !res.OK || res.Rate <= 0 || res.Latency["cycle"].Count == 0 {
		t.Fatalf("churn: %+v %+v %v", res.Conns, res.Msgs, res.ErrorSamples)
	}
	res = runScenario(t, &HoldScenario{Conns: 500, Concurrency: 100, Check: true}, o)
	if !res.OK || res.Extra["alive_after_hold"] != 500 {
		t.Fatalf("hold: %+v %+v %v", res.Conns, res.Extra, res.ErrorSamples)
	}
}

func TestBroadcast(t *testing.T) {
	s := startServer(t, faults{hub: true})
	res := runScenario(t, &BroadcastScenario{Listeners: 5, Concurrency: 5, Size: 48, Rate: 200, Producer: "conn", Drain: 3 * time.Second},
		testOptions(t, s.URL, 300*time.Millisecond))
	if !res.OK || res.Latency["delivery"].Count == 0 || res.Msgs.Received != res.Msgs.Sent {
		t.Fatalf("broadcast: %+v %v %v", res.Msgs, res.ErrorSamples, res.Notes)
	}
	// An echo server does not broadcast: reported, not hidden.
	e := startServer(t, faults{})
	res = runScenario(t, &BroadcastScenario{Listeners: 2, Concurrency: 2, Size: 48, Rate: 100, Producer: "conn", Drain: time.Second},
		testOptions(t, e.URL, 100*time.Millisecond))
	if res.OK || !strings.Contains(strings.Join(res.Notes, " "), "does not broadcast") {
		t.Fatalf("echo server in broadcast: ok=%v notes=%v", res.OK, res.Notes)
	}
}

func TestSlowReaderStalls(t *testing.T) {
	s := startServer(t, faults{})
	res := runScenario(t, &SlowScenario{Conns: 1, Size: 16 << 10, Stall: 500 * time.Millisecond, RcvBuf: 64 << 10},
		testOptions(t, s.URL, 20*time.Second))
	if _, ok := res.Extra["stalled_after_s"]; !ok {
		t.Fatalf("a server with flow control should stall a client that does not read: %+v %v", res.Extra, res.Notes)
	}
}

func testExe(t *testing.T, env []string, args ...string) (string, string, int) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, args...)
	cmd.Env = append(append(os.Environ(), "WSBENCH_AS_MAIN=1"), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

func TestWorkersMerge(t *testing.T) {
	s := startServer(t, faults{})
	out, errs, code := testExe(t, nil, "storm", "--workers=2", "--conns=200", "--concurrency=20", "--json", s.URL)
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	rs, err := ParseResults(strings.NewReader(out))
	if err != nil || len(rs) != 1 {
		t.Fatalf("parse: %v %q", err, out)
	}
	r := rs[0]
	if r.Workers != 2 || r.Conns.Opened != 200 || r.Latency["first_echo"].Count != 200 {
		t.Fatalf("merged: workers=%d opened=%d echoes=%d", r.Workers, r.Conns.Opened, r.Latency["first_echo"].Count)
	}
}

func TestFdLimitIsReported(t *testing.T) {
	s := startServer(t, faults{})
	out, errs, code := testExe(t, []string{"WSBENCH_NOFILE=64"}, "hold", "--conns=200", "--concurrency=20", "--duration=0s", "--check=false", s.URL)
	if code != ExitProblems {
		t.Fatalf("exit %d, want %d (ran, with failures)\n%s\n%s", code, ExitProblems, out, errs)
	}
	if !strings.Contains(out, "fd limit reached") || !strings.Contains(out, "RLIMIT_NOFILE") {
		t.Fatalf("fd limit not explained:\n%s", out)
	}
}
