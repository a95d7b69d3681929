package logline

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// fixedTime is the timestamp of the websocketd lines quoted in the tests.
var fixedTime = time.Date(2026, time.November, 21, 19, 8, 19, 0, time.UTC)

// syncBuffer is an io.Writer safe for the writer goroutine and the test.
type syncBuffer struct {
	mu     sync.Mutex
	b      bytes.Buffer
	writes int
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writes++
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newTestLogger(w *syncBuffer, min Level) *Logger {
	l := NewLogger(w, min)
	l.now = func() time.Time { return fixedTime }
	return l
}

// waitFor polls cond; the logger writes asynchronously.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// The expected lines are copied from websocketd v0.4.1 output (time aside,
// they are byte for byte what it printed for the same events).
func TestFormatMatchesWebsocketd(t *testing.T) {
	conn := &Fields{
		URL:     "http://127.0.0.1:18931/foo?x=1",
		ID:      "1795288099194007546",
		Remote:  "127.0.0.1",
		Command: "/usr/bin/cat",
		Origin:  "http://example.com",
	}
	withPID := *conn
	withPID.PID = 10124
	tests := []struct {
		lv     Level
		cat    string
		f      *Fields
		format string
		args   []any
		want   string
	}{
		{LevelInfo, "server", nil, "Serving using application   : %s %s", []any{"/usr/bin/cat", ""},
			"Sat, 21 Nov 2026 19:08:19 +0000 | INFO   | server     |  | Serving using application   : /usr/bin/cat \n"},
		{LevelFatal, "server", nil, "Invalid parameters: --devconsole cannot be used with --staticdir. Pick one.", nil,
			"Sat, 21 Nov 2026 19:08:19 +0000 | FATAL  | server     |  | Invalid parameters: --devconsole cannot be used with --staticdir. Pick one.\n"},
		{LevelAccess, "session", conn, "CONNECT", nil,
			"Sat, 21 Nov 2026 19:08:19 +0000 | ACCESS | session    | url:'http://127.0.0.1:18931/foo?x=1' id:'1795288099194007546' remote:'127.0.0.1' command:'/usr/bin/cat' origin:'http://example.com' | CONNECT\n"},
		{LevelDebug, "websocket", &withPID, "Cannot receive: %s", []any{"websocket: close 1006 (abnormal closure): unexpected EOF"},
			"Sat, 21 Nov 2026 19:08:19 +0000 | DEBUG  | websocket  | url:'http://127.0.0.1:18931/foo?x=1' id:'1795288099194007546' remote:'127.0.0.1' command:'/usr/bin/cat' origin:'http://example.com' pid:'10124' | Cannot receive: websocket: close 1006 (abnormal closure): unexpected EOF\n"},
		{LevelTrace, "websocket", &withPID, "Terminated websocket connection", nil,
			"Sat, 21 Nov 2026 19:08:19 +0000 | TRACE  | websocket  | url:'http://127.0.0.1:18931/foo?x=1' id:'1795288099194007546' remote:'127.0.0.1' command:'/usr/bin/cat' origin:'http://example.com' pid:'10124' | Terminated websocket connection\n"},
		{LevelAccess, "http", &Fields{URL: "http://127.0.0.1:18931/nope"}, "NOT FOUND", nil,
			"Sat, 21 Nov 2026 19:08:19 +0000 | ACCESS | http       | url:'http://127.0.0.1:18931/nope' | NOT FOUND\n"},
		{LevelError, "stderr", &Fields{ID: "7", PID: 3}, "%s", []any{"100% broken"},
			"Sat, 21 Nov 2026 19:08:19 +0000 | ERROR  | stderr     | id:'7' pid:'3' | 100% broken\n"},
		// Every key, in websocketd's order.
		{LevelInfo, "http", &Fields{URL: "u", ID: "i", Remote: "r", Command: "c", Origin: "o", PID: 1, CGIScript: "s"}, "CGI", nil,
			"Sat, 21 Nov 2026 19:08:19 +0000 | INFO   | http       | url:'u' id:'i' remote:'r' command:'c' origin:'o' pid:'1' cgiscript:'s' | CGI\n"},
		// Empty Fields are the same as nil; padding never truncates.
		{LevelInfo, "a-very-long-category", &Fields{}, "x", nil,
			"Sat, 21 Nov 2026 19:08:19 +0000 | INFO   | a-very-long-category |  | x\n"},
		// Like websocketd, the message always goes through Sprintf.
		{LevelInfo, "env", nil, "100%", nil,
			"Sat, 21 Nov 2026 19:08:19 +0000 | INFO   | env        |  | 100%!(NOVERB)\n"},
	}
	for i, tt := range tests {
		var w syncBuffer
		l := newTestLogger(&w, LevelDebug)
		l.Log(tt.lv, tt.cat, tt.f, tt.format, tt.args...)
		if err := l.Close(); err != nil {
			t.Fatalf("%d: Close: %v", i, err)
		}
		if got := w.String(); got != tt.want {
			t.Errorf("%d:\n got %q\nwant %q", i, got, tt.want)
		}
	}
}

func TestRealClockIsRFC1123Z(t *testing.T) {
	var w syncBuffer
	l := NewLogger(&w, LevelDebug)
	l.Log(LevelInfo, "server", nil, "hello")
	l.Close()
	ts, _, ok := strings.Cut(w.String(), " | ")
	if !ok {
		t.Fatalf("no separator in %q", w.String())
	}
	if _, err := time.Parse(time.RFC1123Z, ts); err != nil {
		t.Errorf("time %q: %v", ts, err)
	}
}

func TestLevelFilter(t *testing.T) {
	for _, min := range []Level{LevelDebug, LevelTrace, LevelAccess, LevelInfo, LevelError, LevelFatal, LevelNone} {
		var w syncBuffer
		l := newTestLogger(&w, min)
		for lv := LevelDebug; lv <= LevelNone; lv++ {
			if got, want := l.Enabled(lv), lv >= min && lv != LevelNone; got != want {
				t.Errorf("min %v: Enabled(%v) = %v", min, lv, got)
			}
			l.Log(lv, "server", nil, "%v", lv)
		}
		l.Close()
		want := int(LevelNone - min)
		if got := strings.Count(w.String(), "\n"); got != want {
			t.Errorf("min %v: %d lines, want %d:\n%s", min, got, want, w.String())
		}
	}
}

func TestNilLogger(t *testing.T) {
	var l *Logger
	if l.Enabled(LevelFatal) {
		t.Error("nil logger enabled")
	}
	l.Log(LevelFatal, "server", nil, "nothing")
	if l.Dropped() != 0 || l.Close() != nil {
		t.Error("nil logger not inert")
	}
}

func TestOrderPreservedAndCloseFlushes(t *testing.T) {
	var w syncBuffer
	l := newTestLogger(&w, LevelDebug)
	const n = 20000
	for i := range n {
		l.Log(LevelAccess, "session", &Fields{PID: i + 1}, "line %d", i)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(w.String(), "\n"), "\n")
	if len(lines) != n {
		t.Fatalf("%d lines, want %d", len(lines), n)
	}
	for i, line := range lines {
		if !strings.HasSuffix(line, " | line "+strconv.Itoa(i)) {
			t.Fatalf("line %d out of order: %q", i, line)
		}
	}
	if l.Dropped() != 0 {
		t.Errorf("dropped %d", l.Dropped())
	}
	if w.writes >= n {
		t.Errorf("%d writes for %d lines: not batched", w.writes, n)
	}
}

// Lines from several goroutines each keep their own order and none is lost
// or torn.
func TestConcurrentLoggers(t *testing.T) {
	var w syncBuffer
	l := newTestLogger(&w, LevelDebug)
	const goroutines, each = 8, 2000
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range each {
				l.Log(LevelInfo, "server", nil, "g%d %d", g, i)
			}
		})
	}
	wg.Wait()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	next := make([]int, goroutines)
	for _, line := range strings.Split(strings.TrimSuffix(w.String(), "\n"), "\n") {
		var g, i int
		_, msg, _ := strings.Cut(line, "|  | ")
		if _, err := fmt.Sscanf(msg, "g%d %d", &g, &i); err != nil {
			t.Fatalf("torn line %q", line)
		}
		if i != next[g] {
			t.Fatalf("goroutine %d: got %d, want %d", g, i, next[g])
		}
		next[g]++
	}
	for g, c := range next {
		if c != each {
			t.Errorf("goroutine %d: %d lines", g, c)
		}
	}
}

// flakyWriter fails (writing nothing, or part of the buffer) while failing
// is set, like a full disk.
type flakyWriter struct {
	syncBuffer
	fmu      sync.Mutex
	failing  bool
	failLeft int // fail this many more writes, then work
	partial  int // bytes written before the error, if > 0
	fails    int
}

func (f *flakyWriter) setFailing(v bool) {
	f.fmu.Lock()
	f.failing = v
	f.fmu.Unlock()
}

func (f *flakyWriter) Write(p []byte) (int, error) {
	f.fmu.Lock()
	failing, partial := f.failing, f.partial
	if f.failLeft > 0 {
		f.failLeft--
		failing = true
	}
	if failing {
		f.fails++
	}
	f.fmu.Unlock()
	if !failing {
		return f.syncBuffer.Write(p)
	}
	n := min(partial, len(p))
	f.syncBuffer.Write(p[:n])
	return n, &writeError{syscall.ENOSPC}
}

func (f *flakyWriter) failCount() int {
	f.fmu.Lock()
	defer f.fmu.Unlock()
	return f.fails
}

type writeError struct{ errno syscall.Errno }

func (e *writeError) Error() string { return "write /dev/stdout: " + e.errno.Error() }
func (e *writeError) Unwrap() error { return e.errno }

func TestWriterFailsThenRecovers(t *testing.T) {
	w := &flakyWriter{failing: true}
	l := NewLogger(w, LevelDebug)
	l.now = func() time.Time { return fixedTime }
	for i := range 5 {
		l.Log(LevelInfo, "server", nil, "lost %d", i)
		// One line per attempt, so that each is seen failing.
		waitFor(t, "write attempt", func() bool { return w.failCount() > i })
	}
	waitFor(t, "drop count", func() bool { return l.Dropped() == 5 })
	w.setFailing(false)
	l.Log(LevelInfo, "server", nil, "back")
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	want := "Sat, 21 Nov 2026 19:08:19 +0000 | ERROR  | server     |  | Log output stalled or failed: 5 log lines dropped (last error: write /dev/stdout: no space left on device)\n" +
		"Sat, 21 Nov 2026 19:08:19 +0000 | INFO   | server     |  | back\n"
	if got := w.String(); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if l.Dropped() != 5 {
		t.Errorf("Dropped = %d", l.Dropped())
	}
}

// A write that stops in the middle of a line leaves a partial line on the
// output; the next write starts on a fresh line, and the cut line counts as
// dropped.
func TestPartialWrite(t *testing.T) {
	w := &flakyWriter{failLeft: 1, partial: 10}
	l := NewLogger(w, LevelDebug)
	l.now = func() time.Time { return fixedTime }
	l.Log(LevelInfo, "server", nil, "cut")
	waitFor(t, "drop", func() bool { return l.Dropped() == 1 })
	l.Log(LevelInfo, "server", nil, "whole")
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	want := "Sat, 21 No\n" +
		"Sat, 21 Nov 2026 19:08:19 +0000 | ERROR  | server     |  | Log output stalled or failed: 1 log lines dropped (last error: write /dev/stdout: no space left on device)\n" +
		"Sat, 21 Nov 2026 19:08:19 +0000 | INFO   | server     |  | whole\n"
	if got := w.String(); got != want {
		t.Errorf("got\n%q\nwant\n%q", got, want)
	}
}

// blockingWriter blocks every Write until released, like stdout piped into a
// process that stopped reading.
type blockingWriter struct {
	syncBuffer
	release chan struct{}
	entered chan struct{}
	once    sync.Once
}

func (b *blockingWriter) Write(p []byte) (int, error) {
	b.once.Do(func() { close(b.entered) })
	<-b.release
	return b.syncBuffer.Write(p)
}

func TestBlockedWriterDropsAndCounts(t *testing.T) {
	w := &blockingWriter{release: make(chan struct{}), entered: make(chan struct{})}
	l := NewLogger(w, LevelDebug)
	l.now = func() time.Time { return fixedTime }
	l.limit = 64 << 10

	l.Log(LevelInfo, "server", nil, "first")
	<-w.entered // the writer is now stuck on "first"
	const n = 10000
	start := time.Now()
	for i := range n {
		l.Log(LevelInfo, "server", nil, "line %d", i)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Log took %v with a blocked writer", d)
	}
	dropped := l.Dropped()
	if dropped == 0 || dropped >= n {
		t.Fatalf("dropped %d of %d with a 64 KiB queue", dropped, n)
	}
	close(w.release)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	out := w.String()
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if !strings.HasSuffix(lines[0], "| first") {
		t.Errorf("first line %q", lines[0])
	}
	wantNotice := fmt.Sprintf("| Log output stalled or failed: %d log lines dropped", dropped)
	if !strings.HasSuffix(lines[1], wantNotice) || !strings.Contains(lines[1], "| ERROR  | server     |") {
		t.Errorf("notice %q, want suffix %q", lines[1], wantNotice)
	}
	// What was kept is a prefix of what was logged, in order.
	kept := lines[2:]
	if uint64(len(kept))+dropped != n {
		t.Errorf("kept %d + dropped %d != %d", len(kept), dropped, n)
	}
	for i, line := range kept {
		if !strings.HasSuffix(line, "| line "+strconv.Itoa(i)) {
			t.Fatalf("kept line %d: %q", i, line)
		}
	}
}

func TestCloseDoesNotHangOnBlockedWriter(t *testing.T) {
	old := closeTimeout
	closeTimeout = 50 * time.Millisecond
	defer func() { closeTimeout = old }()

	w := &blockingWriter{release: make(chan struct{}), entered: make(chan struct{})}
	defer close(w.release)
	l := NewLogger(w, LevelDebug)
	l.Log(LevelInfo, "server", nil, "stuck")
	<-w.entered
	start := time.Now()
	err := l.Close()
	if !errors.Is(err, ErrLogNotFlushed) {
		t.Errorf("Close = %v, want ErrLogNotFlushed", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("Close took %v", d)
	}
	l.Log(LevelInfo, "server", nil, "after close")
	if l.Dropped() != 1 {
		t.Errorf("line after Close: Dropped = %d", l.Dropped())
	}
}

// A writer that never recovers: Log keeps returning, retries are paced, and
// Close reports the loss instead of hanging or panicking.
func TestPermanentlyBrokenWriter(t *testing.T) {
	w := &flakyWriter{failing: true}
	l := NewLogger(w, LevelDebug)
	for i := range 1000 {
		l.Log(LevelInfo, "server", nil, "x %d", i)
	}
	time.Sleep(100 * time.Millisecond)
	err := l.Close()
	if !errors.Is(err, ErrLogNotFlushed) || !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("Close = %v", err)
	}
	if l.Dropped() != 1000 {
		t.Errorf("Dropped = %d", l.Dropped())
	}
	// 100 ms of backoff starting at 10 ms doubling allows only a few attempts.
	if c := w.failCount(); c > 20 {
		t.Errorf("%d write attempts in 100 ms: no backoff", c)
	}
	if w.String() != "" {
		t.Errorf("output %q", w.String())
	}
}

func TestOversizedLineIsDroppedAndReported(t *testing.T) {
	var w syncBuffer
	l := newTestLogger(&w, LevelDebug)
	l.limit = 100
	l.Log(LevelInfo, "server", nil, "%s", strings.Repeat("x", 200))
	waitFor(t, "notice", func() bool { return strings.Contains(w.String(), "1 log lines dropped") })
	l.Log(LevelInfo, "server", nil, "ok")
	l.Close()
	if !strings.HasSuffix(w.String(), "|  | ok\n") || strings.Contains(w.String(), "xxx") {
		t.Errorf("output %q", w.String())
	}
}

func TestParseLevel(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want Level
		name string
	}{
		{"debug", LevelDebug, "DEBUG"},
		{"trace", LevelTrace, "TRACE"},
		{"access", LevelAccess, "ACCESS"},
		{"info", LevelInfo, "INFO"},
		{"error", LevelError, "ERROR"},
		{"fatal", LevelFatal, "FATAL"},
		{"none", LevelNone, "NONE"},
	} {
		got, err := ParseLevel(tt.in)
		if err != nil || got != tt.want || got.String() != tt.name {
			t.Errorf("ParseLevel(%q) = %v, %v", tt.in, got, err)
		}
	}
	for _, bad := range []string{"", "DEBUG", "Info", "warn", "bogus"} {
		if _, err := ParseLevel(bad); err == nil {
			t.Errorf("ParseLevel(%q) accepted", bad)
		}
	}
	if s := Level(42).String(); s != "Level(42)" {
		t.Errorf("Level(42) = %q", s)
	}
}

func BenchmarkLog(b *testing.B) {
	l := NewLogger(discardWriter{}, LevelDebug)
	defer l.Close()
	f := &Fields{URL: "http://localhost:8080/echo", ID: "1795288099194007546", Remote: "127.0.0.1", Command: "/bin/cat", PID: 4242}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			l.Log(LevelAccess, "session", f, "CONNECT")
		}
	})
}

type discardWriter struct{}

func (discardWriter) Write(p []byte) (int, error) { return len(p), nil }

// Logging while another goroutine closes the logger is safe: every line is
// either written or counted as dropped.
func TestLogConcurrentWithClose(t *testing.T) {
	var w syncBuffer
	l := NewLogger(&w, LevelDebug)
	const goroutines, each = 4, 500
	var wg sync.WaitGroup
	for range goroutines {
		wg.Go(func() {
			for i := range each {
				l.Log(LevelInfo, "server", nil, "%d", i)
			}
		})
	}
	time.Sleep(time.Millisecond)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	written := uint64(strings.Count(w.String(), "\n"))
	if written+l.Dropped() != goroutines*each {
		t.Errorf("written %d + dropped %d != %d", written, l.Dropped(), goroutines*each)
	}
}

func TestUnusedLoggerStartsNothing(t *testing.T) {
	l := NewLogger(&syncBuffer{}, LevelNone)
	l.Log(LevelFatal, "server", nil, "filtered")
	l.mu.Lock()
	running := l.running
	l.mu.Unlock()
	if running {
		t.Error("writer goroutine started for a logger that wrote nothing")
	}
	if err := l.Close(); err != nil || l.Close() != nil {
		t.Errorf("Close = %v", err)
	}
}
