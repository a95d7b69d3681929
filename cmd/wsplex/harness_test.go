package main

// Shared helpers for the integration tests that run the real daemon binary.
//
//	d := startDaemon(t, exampleScript("bash/greeter.sh"))
//
//	c := dialWS(t, d.url("/"))          // Go client (gobwas/ws on a net.Conn)
//	c.sendText(t, "world")
//	c.expectText(t, "Hello, world!")
//	c.sendClose(t, ws.StatusNormalClosure, "")
//	code, reason := c.readClose(t, waitTimeout)
//
//	n := nodeClient(t, d.url("/"))     // node + ws, testdata/node/client.mjs
//	n.expectOpen(t)
//	n.send(t, "world")
//	n.expectMessage(t, "Hello, world!")
//	n.close(t, 1000, "")
//	cl := n.waitClose(t)                // cl.Code, cl.Reason
//
//	d.waitLog(t, "DISCONNECT", waitTimeout)
//
// Every wait is bounded and every wait is for an event (a line, a frame, a
// process exit); nothing sleeps to synchronise. The daemon under test is the
// wsplex binary built from this package, or the binary named by
// WSPLEX_TEST_BIN (relative to the repository root):
// `WSPLEX_TEST_BIN=bin/websocketd go test ./cmd/wsplex -run X` runs a test
// against the reference daemon. Tests of the deliberate differences call
// skipUnlessWsplex.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gobwas/ws"
)

// waitTimeout bounds every wait of the helpers that take no explicit timeout.
// Waiting this long for something means the test has failed.
var waitTimeout = 10 * time.Second

var (
	// repoRoot is the module root; the tests run in cmd/wsplex.
	repoRoot = mustAbs(filepath.Join("..", ".."))
	// nodeDir holds client.mjs and its node_modules.
	nodeDir = filepath.Join(repoRoot, "cmd", "wsplex", "testdata", "node")
	// testTmpDir is created by TestMain and removed after the tests.
	testTmpDir string

	daemonOnce     sync.Once
	daemonBin      string // the daemon under test, set by requireDaemon
	daemonBuildErr error

	examplesOnce     sync.Once
	examplesBinDir   string // the compiled C examples, set by exampleBin
	examplesBuildErr error
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "wsplex-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	testTmpDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func mustAbs(p string) string {
	abs, err := filepath.Abs(p)
	if err != nil {
		panic(err)
	}
	return abs
}

// skipOrFail skips the test, or fails it under CI (CI set in the environment),
// where a missing prerequisite is a broken machine rather than a choice.
func skipOrFail(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf(format+" (CI is set, so this fails instead of skipping)", args...)
	}
	t.Skipf(format, args...)
}

// raceEnabled reports whether the test binary runs under the race detector;
// the daemon is then built with -race too.
func raceEnabled() bool {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range info.Settings {
		if s.Key == "-race" && s.Value == "true" {
			return true
		}
	}
	return false
}

// requireDaemon returns the path of the daemon under test, building wsplex the
// first time it is called (once per test binary).
func requireDaemon(t testing.TB) string {
	t.Helper()
	daemonOnce.Do(func() {
		if bin := os.Getenv("WSPLEX_TEST_BIN"); bin != "" {
			daemonBin = bin
			if !filepath.IsAbs(bin) {
				daemonBin = filepath.Join(repoRoot, bin)
			}
			_, daemonBuildErr = os.Stat(daemonBin)
			return
		}
		daemonBin = filepath.Join(testTmpDir, "wsplex")
		args := []string{"build", "-o", daemonBin}
		if raceEnabled() {
			args = append(args, "-race")
		}
		out, err := exec.Command("go", append(args, ".")...).CombinedOutput()
		if err != nil {
			daemonBuildErr = fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	})
	if daemonBuildErr != nil {
		skipOrFail(t, "daemon binary not available: %v", daemonBuildErr)
	}
	return daemonBin
}

// testingWsplex reports whether the daemon under test is wsplex, and not the
// reference daemon named by WSPLEX_TEST_BIN.
func testingWsplex() bool {
	bin := os.Getenv("WSPLEX_TEST_BIN")
	return bin == "" || strings.Contains(filepath.Base(bin), "wsplex")
}

// skipUnlessWsplex skips a test of wsplex-only behaviour (see "Where wsplex
// does better") when the daemon under test is the reference.
func skipUnlessWsplex(t testing.TB, why string) {
	t.Helper()
	if !testingWsplex() {
		t.Skipf("%s: not expected of %s", why, filepath.Base(os.Getenv("WSPLEX_TEST_BIN")))
	}
}

// exampleScript returns the absolute path of a script under examples/, e.g.
// exampleScript("bash/greeter.sh").
func exampleScript(rel string) string {
	return filepath.Join(repoRoot, "examples", filepath.FromSlash(rel))
}

// exampleBin returns the path of a compiled C example ("count", "greeter"),
// compiling all of them with gcc the first time.
func exampleBin(t testing.TB, name string) string {
	t.Helper()
	examplesOnce.Do(func() {
		examplesBinDir = filepath.Join(testTmpDir, "examples")
		if err := os.MkdirAll(examplesBinDir, 0o755); err != nil {
			examplesBuildErr = err
			return
		}
		examplesBuildErr = compileC(filepath.Join(repoRoot, "examples", "c"), examplesBinDir)
	})
	if examplesBuildErr != nil {
		skipOrFail(t, "C examples not built: %v", examplesBuildErr)
	}
	p := filepath.Join(examplesBinDir, name)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("no C example %q: %v", name, err)
	}
	return p
}

// freePort returns a loopback TCP port that was free a moment ago.
// With extra addresses (e.g. "[::1]"), the port was free on those too.
func freePort(t testing.TB, also ...string) int {
	t.Helper()
	for range 100 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		free := true
		for _, a := range also {
			o, err := net.Listen("tcp", net.JoinHostPort(strings.Trim(a, "[]"), strconv.Itoa(port)))
			if err != nil {
				free = false
				break
			}
			o.Close()
		}
		l.Close()
		if free {
			return port
		}
	}
	t.Fatalf("no port free on 127.0.0.1 and %v", also)
	return 0
}

// ---------------------------------------------------------------------------
// Output capture

// logLine is one line the daemon wrote, on "stdout" or "stderr".
type logLine struct {
	Stream string
	Text   string
}

// lineLog collects the lines of a process's stdout and stderr and wakes the
// waiters on each new line.
type lineLog struct {
	mu      sync.Mutex
	lines   []logLine
	changed chan struct{} // closed and replaced whenever a line is added
}

func newLineLog() *lineLog { return &lineLog{changed: make(chan struct{})} }

func (l *lineLog) add(stream, text string) {
	l.mu.Lock()
	l.lines = append(l.lines, logLine{stream, strings.TrimSuffix(text, "\r")})
	close(l.changed)
	l.changed = make(chan struct{})
	l.mu.Unlock()
}

// snapshot returns the lines so far and a channel closed at the next line.
func (l *lineLog) snapshot() ([]logLine, <-chan struct{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lines[:len(l.lines):len(l.lines)], l.changed
}

func (l *lineLog) String() string {
	lines, _ := l.snapshot()
	var b strings.Builder
	for _, ln := range lines {
		fmt.Fprintf(&b, "%s: %s\n", ln.Stream, ln.Text)
	}
	return b.String()
}

// writer returns an io.Writer that splits what it is given into lines of stream.
func (l *lineLog) writer(stream string) *lineWriter {
	return &lineWriter{log: l, stream: stream}
}

type lineWriter struct {
	log     *lineLog
	stream  string
	partial []byte
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.partial = append(w.partial, p...)
	for {
		i := bytes.IndexByte(w.partial, '\n')
		if i < 0 {
			return len(p), nil
		}
		w.log.add(w.stream, string(w.partial[:i]))
		w.partial = w.partial[i+1:]
	}
}

// flush delivers a last line that had no newline; call it after the process
// has been reaped.
func (w *lineWriter) flush() {
	if len(w.partial) > 0 {
		w.log.add(w.stream, string(w.partial))
		w.partial = nil
	}
}

// ---------------------------------------------------------------------------
// The daemon

// daemon is a running daemon under test, stopped at the end of the test.
type daemon struct {
	cmd  *exec.Cmd
	log  *lineLog
	port int    // 0 with NoTCP
	addr string // "127.0.0.1:port"

	done    chan struct{} // closed once the process is reaped
	waitErr error         // cmd.Wait's result, valid after done

	stopOnce sync.Once
	exitCode int
}

// daemonOptions are the rarely needed knobs of startDaemonWith.
type daemonOptions struct {
	// Dir is the daemon's working directory (default: the test's, cmd/wsplex).
	Dir string
	// Env is added to the test's environment for the daemon.
	Env []string
	// NoTCP leaves out --port and --address (e.g. a --unixsocket-only daemon).
	NoTCP bool
	// UnixSocket, if set, is polled until it accepts before returning.
	UnixSocket string
	// NoFile, if set, runs the daemon under `ulimit -n NoFile`.
	NoFile int
}

// startDaemon starts the daemon on a free loopback port with
// --port=N --address=127.0.0.1 followed by args, and returns once the port
// accepts connections. It is stopped (SIGTERM, then SIGKILL) when the test ends.
func startDaemon(t testing.TB, args ...string) *daemon {
	t.Helper()
	return startDaemonWith(t, daemonOptions{}, args...)
}

func startDaemonWith(t testing.TB, opts daemonOptions, args ...string) *daemon {
	t.Helper()
	bin := requireDaemon(t)
	d := &daemon{log: newLineLog(), done: make(chan struct{})}
	var argv []string
	if !opts.NoTCP {
		d.port = freePort(t, extraAddresses(args)...)
		d.addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(d.port))
		argv = append(argv, "--port="+strconv.Itoa(d.port), "--address=127.0.0.1")
	}
	argv = append(argv, args...)

	d.cmd = exec.Command(bin, argv...)
	if opts.NoFile > 0 {
		script := fmt.Sprintf(`ulimit -n %d && exec "$0" "$@"`, opts.NoFile)
		d.cmd = exec.Command("sh", append([]string{"-c", script, bin}, argv...)...)
	}
	d.cmd.Dir = opts.Dir
	d.cmd.Env = append(os.Environ(), opts.Env...)
	stdout, stderr := d.log.writer("stdout"), d.log.writer("stderr")
	d.cmd.Stdout, d.cmd.Stderr = stdout, stderr
	// A grandchild that keeps the daemon's stdout open must not hang Wait.
	d.cmd.WaitDelay = 2 * time.Second
	if err := d.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	go func() {
		d.waitErr = d.cmd.Wait()
		stdout.flush()
		stderr.flush()
		close(d.done)
	}()
	t.Cleanup(func() {
		d.stop(t)
		if t.Failed() {
			t.Logf("daemon %s %s output:\n%s", filepath.Base(bin), strings.Join(argv, " "), d.log)
		}
	})

	// Await every listener the daemon was asked for: it listens on them one
	// after another, so the first accepting says nothing of the others.
	if opts.UnixSocket != "" {
		d.awaitListening(t, "unix", opts.UnixSocket)
	}
	if !opts.NoTCP {
		d.awaitListening(t, "tcp", d.addr)
		for _, a := range extraAddresses(args) {
			d.awaitListening(t, "tcp", net.JoinHostPort(strings.Trim(a, "[]"), strconv.Itoa(d.port)))
		}
	}
	return d
}

// extraAddresses returns the values of the --address flags in args (the
// harness's own --address=127.0.0.1 is not among them), up to COMMAND.
func extraAddresses(args []string) []string {
	var out []string
	for _, a := range args {
		if !strings.HasPrefix(a, "-") {
			break
		}
		name, val, ok := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if ok && name == "address" {
			out = append(out, val)
		}
	}
	return out
}

// awaitListening retries a dial until it succeeds, the daemon exits, or
// waitTimeout passes. Each attempt is answered at once (accepted or refused);
// the pause between attempts grows from 2 ms to 50 ms.
func (d *daemon) awaitListening(t testing.TB, network, addr string) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	pause := 2 * time.Millisecond
	for {
		c, err := net.DialTimeout(network, addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("daemon not accepting on %s %s after %v: %v\n%s", network, addr, waitTimeout, err, d.log)
		}
		retry := time.NewTimer(pause)
		select {
		case <-d.done:
			retry.Stop()
			t.Fatalf("daemon exited before listening on %s (%v):\n%s", addr, d.waitErr, d.log)
		case <-retry.C:
		}
		pause = min(2*pause, 50*time.Millisecond)
	}
}

// url returns the ws:// URL of path on the daemon, e.g. d.url("/?x=1").
func (d *daemon) url(path string) string { return "ws://" + d.addr + path }

// httpURL returns the http:// URL of path on the daemon.
func (d *daemon) httpURL(path string) string { return "http://" + d.addr + path }

// pid returns the daemon's process id.
func (d *daemon) pid() int { return d.cmd.Process.Pid }

// logMark returns the number of lines logged so far, for waitLogSince.
func (d *daemon) logMark() int {
	lines, _ := d.log.snapshot()
	return len(lines)
}

// logLines returns the lines logged so far (stdout and stderr, in arrival order).
func (d *daemon) logLines() []logLine {
	lines, _ := d.log.snapshot()
	return lines
}

// waitLog waits for a line (stdout or stderr, from the start) containing
// substr and returns it.
func (d *daemon) waitLog(t testing.TB, substr string, timeout time.Duration) string {
	t.Helper()
	return d.waitLogSince(t, 0, substr, timeout)
}

// waitLogSince is waitLog for the lines after mark (from logMark).
func (d *daemon) waitLogSince(t testing.TB, mark int, substr string, timeout time.Duration) string {
	t.Helper()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for exited := false; ; {
		lines, changed := d.log.snapshot()
		for _, ln := range lines[min(mark, len(lines)):] {
			if strings.Contains(ln.Text, substr) {
				return ln.Text
			}
		}
		mark = len(lines)
		if exited {
			t.Fatalf("daemon exited (%v) without logging %q:\n%s", d.waitErr, substr, d.log)
		}
		select {
		case <-changed:
		case <-d.done:
			exited = true // every line is in now: look once more
		case <-timer.C:
			t.Fatalf("no log line containing %q within %v:\n%s", substr, timeout, d.log)
		}
	}
}

// stop sends SIGTERM and waits for the daemon to exit; stopWith sends sig.
// Both return the exit code (-1 if a signal killed it) and are idempotent;
// the test's cleanup calls stop.
func (d *daemon) stop(t testing.TB) int {
	t.Helper()
	return d.stopWith(t, syscall.SIGTERM)
}

func (d *daemon) stopWith(t testing.TB, sig os.Signal) int {
	t.Helper()
	d.stopOnce.Do(func() {
		_ = d.cmd.Process.Signal(sig)
		timer := time.NewTimer(waitTimeout)
		defer timer.Stop()
		select {
		case <-d.done:
		case <-timer.C:
			t.Errorf("daemon still running %v after %v; killing it", waitTimeout, sig)
			_ = d.cmd.Process.Kill()
			<-d.done
		}
		d.exitCode = -1
		if d.cmd.ProcessState != nil {
			d.exitCode = d.cmd.ProcessState.ExitCode()
		}
		if strings.Contains(d.log.String(), "WARNING: DATA RACE") {
			t.Errorf("the daemon reported a data race")
		}
	})
	return d.exitCode
}

// exited is closed once the daemon process has exited and been reaped.
func (d *daemon) exited() <-chan struct{} { return d.done }

// runResult is what runDaemon saw of a daemon run that ended by itself.
type runResult struct {
	Stdout, Stderr string
	ExitCode       int
}

// runDaemon runs the daemon with args exactly as given (no --port added) and
// waits for it to exit by itself: flag validation, --help, --version, a port
// in use. It fails the test if the daemon is still running after waitTimeout.
func runDaemon(t testing.TB, args ...string) runResult {
	t.Helper()
	bin := requireDaemon(t)
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = 2 * time.Second
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("%s %s: still running after %v\nstdout:\n%s\nstderr:\n%s", filepath.Base(bin), strings.Join(args, " "), waitTimeout, &stdout, &stderr)
	}
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		t.Fatalf("%s %s: %v", filepath.Base(bin), strings.Join(args, " "), err)
	}
	return runResult{Stdout: stdout.String(), Stderr: stderr.String(), ExitCode: cmd.ProcessState.ExitCode()}
}

// ---------------------------------------------------------------------------
// The node client (testdata/node/client.mjs, the ws npm package)

// nodeConn is a running client.mjs: commands go to its stdin, events come
// back one JSON line each.
type nodeConn struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	events chan nodeEvent // closed when client.mjs's stdout ends
	stderr bytes.Buffer   // read only after done
	done   chan struct{}  // closed once the process is reaped
}

// nodeEvent is one event line of client.mjs; exactly one field is set.
type nodeEvent struct {
	Open               bool              `json:"open"`
	Protocol           string            `json:"protocol"`
	Message            *string           `json:"message"` // text, or base64 when Binary
	Binary             bool              `json:"binary"`
	Ping               *string           `json:"ping"`
	Pong               *string           `json:"pong"`
	Close              *nodeClose        `json:"close"`
	Error              string            `json:"error"`
	UnexpectedResponse *nodeHTTPResponse `json:"unexpectedResponse"`
	Line               string            `json:"-"` // the JSON as printed
}

type nodeClose struct {
	Code   int    `json:"code"`
	Reason string `json:"reason"`
}

// nodeHTTPResponse is a refused handshake (no 101).
type nodeHTTPResponse struct {
	Status  int            `json:"status"`
	Headers map[string]any `json:"headers"` // lower-case names; set-cookie is a list
	Body    string         `json:"body"`
}

// data returns the message payload, decoding binary messages.
func (e nodeEvent) data() []byte {
	if e.Message == nil {
		return nil
	}
	if e.Binary {
		b, _ := base64.StdEncoding.DecodeString(*e.Message)
		return b
	}
	return []byte(*e.Message)
}

// nodeClient starts client.mjs against url. Options are client.mjs flags:
// "--protocol=a,b", "--origin=http://x", "--header=Name: value". The test is
// skipped if node or the installed ws package is missing (failed under CI).
func nodeClient(t testing.TB, url string, options ...string) *nodeConn {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		skipOrFail(t, "node not found: %v", err)
	}
	if _, err := os.Stat(filepath.Join(nodeDir, "node_modules", "ws", "package.json")); err != nil {
		skipOrFail(t, "ws npm package not installed (run `make node-deps`): %v", err)
	}
	n := &nodeConn{events: make(chan nodeEvent, 64), done: make(chan struct{})}
	n.cmd = exec.Command(node, append(append([]string{filepath.Join(nodeDir, "client.mjs")}, options...), url)...)
	n.cmd.Stderr = &n.stderr
	n.cmd.WaitDelay = 2 * time.Second
	if n.stdin, err = n.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := n.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := n.cmd.Start(); err != nil {
		t.Fatalf("start node client: %v", err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 64<<20)
		for sc.Scan() {
			ev := nodeEvent{Line: sc.Text()}
			if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
				ev = nodeEvent{Error: fmt.Sprintf("unparsable event %q: %v", sc.Text(), err), Line: sc.Text()}
			}
			n.events <- ev
		}
		close(n.events)
		_ = n.cmd.Wait()
		close(n.done)
	}()
	t.Cleanup(func() {
		n.stdin.Close() // client.mjs closes the connection (1000) and exits
		timer := time.NewTimer(waitTimeout)
		defer timer.Stop()
		for {
			select {
			case _, ok := <-n.events:
				if ok {
					continue
				}
				<-n.done
				return
			case <-timer.C:
				t.Errorf("node client did not exit within %v; killing it", waitTimeout)
				_ = n.cmd.Process.Kill()
				<-n.done
				return
			}
		}
	})
	return n
}

func (n *nodeConn) command(t testing.TB, cmd any) {
	t.Helper()
	line, err := json.Marshal(cmd)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.stdin.Write(append(line, '\n')); err != nil {
		t.Fatalf("node client command %s: %v", line, err)
	}
}

// send sends a text message.
func (n *nodeConn) send(t testing.TB, text string) {
	t.Helper()
	n.command(t, map[string]string{"send": text})
}

// sendBinary sends a binary message.
func (n *nodeConn) sendBinary(t testing.TB, data []byte) {
	t.Helper()
	n.command(t, map[string]string{"sendBinary": base64.StdEncoding.EncodeToString(data)})
}

// ping sends a ping; a pong event follows.
func (n *nodeConn) ping(t testing.TB, payload string) {
	t.Helper()
	n.command(t, map[string]string{"ping": payload})
}

// close starts the closing handshake with code and reason (code 0: no code).
func (n *nodeConn) close(t testing.TB, code int, reason string) {
	t.Helper()
	if code == 0 {
		n.command(t, map[string][]any{"close": {}})
		return
	}
	n.command(t, map[string][]any{"close": {code, reason}})
}

// terminate drops the TCP connection without a close frame.
func (n *nodeConn) terminate(t testing.TB) {
	t.Helper()
	n.command(t, map[string]bool{"terminate": true})
}

// next returns the next event, failing the test after timeout or if the
// client exited without one.
func (n *nodeConn) next(t testing.TB, timeout time.Duration) nodeEvent {
	t.Helper()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case ev, ok := <-n.events:
		if !ok {
			<-n.done
			t.Fatalf("node client exited without another event (%v); stderr:\n%s", n.cmd.ProcessState, &n.stderr)
		}
		return ev
	case <-timer.C:
		t.Fatalf("no event from the node client within %v", timeout)
	}
	panic("unreachable")
}

// expectOpen waits for the next event, which must be the open event, and
// returns the negotiated subprotocol.
func (n *nodeConn) expectOpen(t testing.TB) string {
	t.Helper()
	ev := n.next(t, waitTimeout)
	if !ev.Open {
		t.Fatalf("node client: want open, got %s", ev.Line)
	}
	return ev.Protocol
}

// expectMessage waits for the next event, which must be the text message want.
func (n *nodeConn) expectMessage(t testing.TB, want string) {
	t.Helper()
	ev := n.next(t, waitTimeout)
	if ev.Message == nil || ev.Binary || *ev.Message != want {
		t.Fatalf("node client: want text message %q, got %s", want, ev.Line)
	}
}

// waitClose skips events until the close event (always the last) and returns it.
func (n *nodeConn) waitClose(t testing.TB) nodeClose {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		ev := n.next(t, time.Until(deadline))
		if ev.Close != nil {
			return *ev.Close
		}
		if ev.UnexpectedResponse != nil {
			t.Fatalf("node client: handshake refused, no close event: %s", ev.Line)
		}
		t.Logf("node client (waiting for close): %s", ev.Line)
	}
}

// ---------------------------------------------------------------------------
// The Go client (gobwas/ws frames on a plain net.Conn)

// wsClient is a client-side WebSocket connection that sends and reads single
// frames, so a test can also send what a well-behaved client never would.
type wsClient struct {
	conn      net.Conn
	br        *bufio.Reader
	protocol  string // negotiated subprotocol
	closeSent bool
}

// wsDialOptions are the rarely needed knobs of dialWSWith.
type wsDialOptions struct {
	Header     http.Header // extra request headers (e.g. Origin)
	Protocols  []string    // offered subprotocols
	UnixSocket string      // connect to this Unix socket instead of the URL's host
}

// handshakeError is a handshake the server answered with something else than
// 101. errors.As(err, new(ws.StatusError)) also works.
type handshakeError struct {
	Status int
	Header http.Header
	Body   string
}

func (e *handshakeError) Error() string {
	return fmt.Sprintf("handshake refused: HTTP %d: %q", e.Status, e.Body)
}
func (e *handshakeError) Unwrap() error { return ws.StatusError(e.Status) }

// dialWS connects and upgrades to url, failing the test on any error.
func dialWS(t testing.TB, url string) *wsClient {
	t.Helper()
	c, err := dialWSWith(t, url, wsDialOptions{})
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	return c
}

// dialWSWith connects and upgrades to url and returns the error instead of
// failing; a refused handshake is a *handshakeError. The connection is closed
// when the test ends.
func dialWSWith(t testing.TB, url string, opts wsDialOptions) (*wsClient, error) {
	t.Helper()
	var refused *handshakeError
	d := ws.Dialer{
		Timeout:   waitTimeout,
		Protocols: opts.Protocols,
		OnStatusError: func(status int, _ []byte, resp io.Reader) {
			refused = &handshakeError{Status: status}
			r, err := http.ReadResponse(bufio.NewReader(resp), nil)
			if err != nil {
				return
			}
			defer r.Body.Close()
			body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
			refused.Header, refused.Body = r.Header, string(body)
		},
	}
	if opts.Header != nil {
		d.Header = ws.HandshakeHeaderHTTP(opts.Header)
	}
	if opts.UnixSocket != "" {
		d.NetDial = func(ctx context.Context, _, _ string) (net.Conn, error) {
			var nd net.Dialer
			return nd.DialContext(ctx, "unix", opts.UnixSocket)
		}
	}
	conn, br, hs, err := d.Dial(context.Background(), url)
	if err != nil {
		if conn != nil {
			conn.Close()
		}
		if refused != nil {
			return nil, refused
		}
		return nil, err
	}
	if br == nil {
		br = bufio.NewReader(conn)
	}
	c := &wsClient{conn: conn, br: br, protocol: hs.Protocol}
	t.Cleanup(func() { c.conn.Close() })
	return c, nil
}

// sendFrame masks a copy of f (clients must mask) and writes it.
func (c *wsClient) sendFrame(t testing.TB, f ws.Frame) {
	t.Helper()
	c.sendRaw(t, ws.MustCompileFrame(ws.MaskFrame(f)))
}

// sendRaw writes bytes as they are: for malformed frames.
func (c *wsClient) sendRaw(t testing.TB, b []byte) {
	t.Helper()
	_ = c.conn.SetWriteDeadline(time.Now().Add(waitTimeout))
	if _, err := c.conn.Write(b); err != nil {
		t.Fatalf("write to %s: %v", c.conn.RemoteAddr(), err)
	}
}

// sendText sends one unfragmented text message.
func (c *wsClient) sendText(t testing.TB, s string) {
	t.Helper()
	c.sendFrame(t, ws.NewTextFrame([]byte(s)))
}

// sendBinary sends one unfragmented binary message.
func (c *wsClient) sendBinary(t testing.TB, b []byte) {
	t.Helper()
	c.sendFrame(t, ws.NewBinaryFrame(b))
}

// sendClose sends a close frame with code and reason (code 0: an empty body).
func (c *wsClient) sendClose(t testing.TB, code ws.StatusCode, reason string) {
	t.Helper()
	var body []byte
	if code != 0 {
		body = ws.NewCloseFrameBody(code, reason)
	}
	c.sendFrame(t, ws.NewCloseFrame(body))
	c.closeSent = true
}

// maxTestFrame bounds the payload readFrame accepts.
const maxTestFrame = 64 << 20

// readFrame reads the next frame, unmasked, waiting at most timeout.
func (c *wsClient) readFrame(timeout time.Duration) (ws.Frame, error) {
	_ = c.conn.SetReadDeadline(time.Now().Add(timeout))
	h, err := ws.ReadHeader(c.br)
	if err != nil {
		return ws.Frame{}, err
	}
	if h.Length > maxTestFrame {
		return ws.Frame{}, fmt.Errorf("frame of %d bytes is over the test limit", h.Length)
	}
	f := ws.Frame{Header: h, Payload: make([]byte, h.Length)}
	if _, err := io.ReadFull(c.br, f.Payload); err != nil {
		return ws.Frame{}, err
	}
	if h.Masked {
		ws.Cipher(f.Payload, h.Mask, 0)
		f.Header.Masked = false
	}
	return f, nil
}

// wsMessage is a whole message, or the end of the connection: Op is
// ws.OpClose with Code and Reason from the close frame, 1005
// (ws.StatusNoStatusRcvd) for an empty one, 1006 (ws.StatusAbnormalClosure)
// when the connection ended without one.
type wsMessage struct {
	Op     ws.OpCode // ws.OpText, ws.OpBinary or ws.OpClose
	Data   []byte
	Code   ws.StatusCode
	Reason string
}

// readMessage reads the next message, joining fragments, answering pings and
// skipping pongs; see wsMessage for the end of the connection. It fails the
// test if nothing arrives within timeout.
func (c *wsClient) readMessage(t testing.TB, timeout time.Duration) wsMessage {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var msg wsMessage
	for {
		f, err := c.readFrame(time.Until(deadline))
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatalf("no message within %v", timeout)
			}
			return wsMessage{Op: ws.OpClose, Code: ws.StatusAbnormalClosure, Reason: err.Error()}
		}
		switch op := f.Header.OpCode; {
		case op == ws.OpPing:
			if !c.closeSent {
				c.sendFrame(t, ws.NewPongFrame(f.Payload))
			}
		case op == ws.OpPong:
		case op == ws.OpClose:
			code, reason := ws.ParseCloseFrameData(f.Payload)
			if code.Empty() {
				code = ws.StatusNoStatusRcvd
			}
			return wsMessage{Op: ws.OpClose, Code: code, Reason: reason}
		case (op == ws.OpText || op == ws.OpBinary) && msg.Op == 0, op == ws.OpContinuation && msg.Op != 0:
			if msg.Op == 0 {
				msg.Op = op
			}
			msg.Data = append(msg.Data, f.Payload...)
			if f.Header.Fin {
				return msg
			}
		default:
			t.Fatalf("unexpected frame: opcode %#x fin=%v in message %#x", op, f.Header.Fin, msg.Op)
		}
	}
}

// expectText reads the next message, which must be the text want.
func (c *wsClient) expectText(t testing.TB, want string) {
	t.Helper()
	m := c.readMessage(t, waitTimeout)
	if m.Op != ws.OpText || string(m.Data) != want {
		t.Fatalf("want text %q, got %s", want, m)
	}
}

// readClose skips messages until the connection ends and returns the close
// code and reason (see wsMessage). A close frame from the server is answered
// with the same code unless the client sent one first.
func (c *wsClient) readClose(t testing.TB, timeout time.Duration) (ws.StatusCode, string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		m := c.readMessage(t, time.Until(deadline))
		if m.Op != ws.OpClose {
			t.Logf("skipped before close: %s", m)
			continue
		}
		if m.Code != ws.StatusAbnormalClosure && !c.closeSent {
			code := m.Code
			if code == ws.StatusNoStatusRcvd {
				code = 0
			}
			var body []byte
			if code != 0 {
				body = ws.NewCloseFrameBody(code, "")
			}
			_ = c.conn.SetWriteDeadline(time.Now().Add(waitTimeout))
			_ = ws.WriteFrame(c.conn, ws.MaskFrame(ws.NewCloseFrame(body)))
			c.closeSent = true
		}
		return m.Code, m.Reason
	}
}

// waitEOF waits until the server closes the TCP connection, discarding what
// still arrives.
func (c *wsClient) waitEOF(t testing.TB, timeout time.Duration) {
	t.Helper()
	_ = c.conn.SetReadDeadline(time.Now().Add(timeout))
	if _, err := io.Copy(io.Discard, c.br); err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("server kept the connection open for %v", timeout)
		}
	}
}

// close drops the connection without a close frame.
func (c *wsClient) close() { c.conn.Close() }

func (m wsMessage) String() string {
	switch m.Op {
	case ws.OpClose:
		return fmt.Sprintf("close %d %q", m.Code, m.Reason)
	case ws.OpText:
		return fmt.Sprintf("text %q", m.Data)
	default:
		return fmt.Sprintf("op %#x %q", m.Op, m.Data)
	}
}

// ---------------------------------------------------------------------------

// TestHarnessSmoke runs the greeter behind the daemon with both clients.
func TestHarnessSmoke(t *testing.T) {
	d := startDaemon(t, exampleScript("bash/greeter.sh"))

	c := dialWS(t, d.url("/"))
	c.sendText(t, "world")
	c.expectText(t, "Hello, world!")
	c.sendText(t, "a\nb")
	c.expectText(t, "Hello, a!")
	c.expectText(t, "Hello, b!")
	c.sendClose(t, ws.StatusNormalClosure, "")
	if code, _ := c.readClose(t, waitTimeout); code != ws.StatusNormalClosure {
		t.Errorf("Go client: close code %d, want 1000", code)
	}
	c.waitEOF(t, waitTimeout)
	d.waitLog(t, "DISCONNECT", waitTimeout)

	n := nodeClient(t, d.url("/"))
	n.expectOpen(t)
	n.ping(t, "p")
	if ev := n.next(t, waitTimeout); ev.Pong == nil || *ev.Pong != "p" {
		t.Fatalf("node client: want pong \"p\", got %s", ev.Line)
	}
	n.send(t, "node")
	n.expectMessage(t, "Hello, node!")
	n.close(t, 4000, "done")
	if cl := n.waitClose(t); cl.Code != 4000 {
		t.Errorf("node client: close code %d, want 4000 (echoed)", cl.Code)
	}
}

// TestHarnessChildExit reads a counter to its end. wsplex then closes with
// 1000; websocketd drops the TCP connection (1006).
func TestHarnessChildExit(t *testing.T) {
	d := startDaemon(t, exampleBin(t, "count"), "3")

	c := dialWS(t, d.url("/"))
	for _, want := range []string{"1", "2", "3"} {
		c.expectText(t, want)
	}
	code, reason := c.readClose(t, waitTimeout)

	n := nodeClient(t, d.url("/"))
	n.expectOpen(t)
	for _, want := range []string{"1", "2", "3"} {
		n.expectMessage(t, want)
	}
	cl := n.waitClose(t)

	t.Run("close code", func(t *testing.T) {
		skipUnlessWsplex(t, "a close frame when the child exits (websocketd #404)")
		if code != ws.StatusNormalClosure {
			t.Errorf("Go client: close %d %q, want 1000", code, reason)
		}
		if cl.Code != 1000 {
			t.Errorf("node client: close %+v, want 1000", cl)
		}
	})
}

// TestHarnessBinary sends binary messages through --binary.
func TestHarnessBinary(t *testing.T) {
	d := startDaemon(t, "--binary", exampleBin(t, "greeter"))

	c := dialWS(t, d.url("/"))
	c.sendBinary(t, []byte("go\n"))
	if m := c.readMessage(t, waitTimeout); m.Op != ws.OpBinary || string(m.Data) != "Hello, go!\n" {
		t.Errorf("Go client: got %s, want binary \"Hello, go!\\n\"", m)
	}

	n := nodeClient(t, d.url("/"))
	n.expectOpen(t)
	n.sendBinary(t, []byte("node\n"))
	if ev := n.next(t, waitTimeout); !ev.Binary || string(ev.data()) != "Hello, node!\n" {
		t.Errorf("node client: got %s, want binary \"Hello, node!\\n\"", ev.Line)
	}
}

// TestHarnessRefused checks that both clients report a refused handshake.
func TestHarnessRefused(t *testing.T) {
	d := startDaemon(t, "--origin=example.com", exampleScript("bash/greeter.sh"))

	_, err := dialWSWith(t, d.url("/"), wsDialOptions{Header: http.Header{"Origin": {"http://evil.test"}}})
	var refused *handshakeError
	var status ws.StatusError
	if !errors.As(err, &refused) || refused.Status != http.StatusForbidden || !errors.As(err, &status) {
		t.Errorf("Go client: got %v, want a 403 handshakeError", err)
	}
	c, err := dialWSWith(t, d.url("/"), wsDialOptions{Header: http.Header{"Origin": {"https://example.com"}}})
	if err != nil {
		t.Fatalf("Go client with an allowed origin: %v", err)
	}
	c.close()

	n := nodeClient(t, d.url("/"), "--origin=http://evil.test")
	if ev := n.next(t, waitTimeout); ev.UnexpectedResponse == nil || ev.UnexpectedResponse.Status != http.StatusForbidden {
		t.Errorf("node client: got %s, want unexpectedResponse 403", ev.Line)
	}

	resp, err := http.Get(d.httpURL("/nothing"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("plain GET: status %d, want 404", resp.StatusCode)
	}
}

// TestHarnessDaemonLifecycle follows the log through a connection and stops
// the daemon with SIGINT; runDaemon sees a daemon that refuses to start.
func TestHarnessDaemonLifecycle(t *testing.T) {
	d := startDaemon(t, exampleScript("bash/greeter.sh"))
	mark := d.logMark()
	c := dialWS(t, d.url("/"))
	d.waitLogSince(t, mark, "CONNECT", waitTimeout)
	c.close()
	d.waitLogSince(t, mark, "DISCONNECT", waitTimeout)

	mark = d.logMark()
	n := nodeClient(t, d.url("/"))
	n.expectOpen(t)
	n.terminate(t)
	if cl := n.waitClose(t); cl.Code != 1006 {
		t.Errorf("node client after terminate: close %+v, want 1006", cl)
	}
	d.waitLogSince(t, mark, "DISCONNECT", waitTimeout)

	code := d.stopWith(t, syscall.SIGINT)
	<-d.exited()
	t.Logf("daemon pid %d exited with %d after %d log lines", d.pid(), code, len(d.logLines()))
	if testingWsplex() && code != 0 {
		t.Errorf("wsplex exit code after SIGINT: %d, want 0", code)
	}

	if r := runDaemon(t); r.ExitCode != 1 || r.Stdout+r.Stderr == "" {
		t.Errorf("no arguments: exit %d, stdout %q, stderr %q; want exit 1 and a message", r.ExitCode, r.Stdout, r.Stderr)
	}
}

// compileC builds every srcDir/*.c into outDir (gcc, C11), named without
// the extension.
func compileC(srcDir, outDir string) error {
	srcs, _ := filepath.Glob(filepath.Join(srcDir, "*.c"))
	for _, src := range srcs {
		out := filepath.Join(outDir, strings.TrimSuffix(filepath.Base(src), ".c"))
		if msg, err := exec.Command("gcc", "-O2", "-std=c11", "-o", out, src).CombinedOutput(); err != nil {
			return fmt.Errorf("gcc %s: %v\n%s", src, err, msg)
		}
	}
	return nil
}
