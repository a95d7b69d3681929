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
//
// The shared helpers live in four files, one of each kind:
//
//	harness_test.go  building and running the daemon, its log, scripts and
//	                 files for a test, skips, limits
//	clients_test.go  the Go and Node clients, raw requests and frames
//	procs_test.go    what /proc says: children, fds, RSS, zombies
//	browser_test.go  headless Chromium (playwright-core) for the pages
//
// A helper used by one scenario file stays in that file.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
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
	if os.Getenv(reaperEnv) != "" {
		os.Exit(runReaper(os.Args[1:]))
	}
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
// --port=N --address=127.0.0.1 followed by args, and returns once it
// listens on every address it was given. It is stopped (SIGTERM, then
// SIGKILL) when the test ends.
func startDaemon(t testing.TB, args ...string) *daemon {
	t.Helper()
	return startDaemonWith(t, daemonOptions{}, args...)
}

// startDaemonWith is startDaemon with opts. The port freePort found was
// free a moment before the daemon listens, and another process (a
// parallel test, another test run on the machine) may take it meanwhile:
// a daemon that then cannot listen ("address already in use") is started
// again on another port.
func startDaemonWith(t testing.TB, opts daemonOptions, args ...string) *daemon {
	t.Helper()
	for attempt := 1; ; attempt++ {
		d, started := launchDaemon(t, opts, args)
		if started {
			return d
		}
		inUse := strings.Contains(d.log.String(), "address already in use")
		if !inUse || opts.NoTCP || attempt == 3 {
			t.Fatalf("daemon exited (%v) before it listened:\n%s", d.waitErr, d.log)
		}
		t.Logf("port %d was taken before the daemon listened on it; starting it again on another", d.port)
	}
}

// launchDaemon starts the daemon once, and waits until it listens (true)
// or has exited (false).
func launchDaemon(t testing.TB, opts daemonOptions, args []string) (*daemon, bool) {
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

	// Await every listener the daemon was asked for: the first accepting
	// says nothing of the others.
	if opts.UnixSocket != "" && !d.awaitListening(t, "unix", opts.UnixSocket) {
		return d, false
	}
	if opts.NoTCP {
		return d, true
	}
	addrs := []string{d.addr}
	for _, a := range extraAddresses(args) {
		addrs = append(addrs, net.JoinHostPort(strings.Trim(a, "[]"), strconv.Itoa(d.port)))
	}
	for _, a := range addrs {
		if !d.awaitListening(t, "tcp", a) {
			return d, false
		}
	}
	// What accepts may be another process that took the port first, while
	// this daemon fails to listen on it. The daemon logs its listeners once
	// it has opened them all (wsplex; websocketd logs them first, before
	// listening, which the dials above await).
	if logsInfo(args) {
		if _, logged := d.findLine(t, 0, "Starting WebSocket server", waitTimeout); !logged {
			return d, false
		}
	}
	return d, true
}

// logsInfo reports whether a daemon run with args logs INFO lines
// (--loglevel=L or --loglevel L, up to COMMAND).
func logsInfo(args []string) bool {
	for i, a := range args {
		if !strings.HasPrefix(a, "-") {
			break
		}
		name, v, ok := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if name != "loglevel" {
			continue
		}
		if !ok && i+1 < len(args) {
			v = args[i+1]
		}
		return v == "debug" || v == "trace" || v == "access" || v == "info"
	}
	return true
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

// awaitListening retries a dial until it succeeds (true) or the daemon
// exits (false); it fails the test after waitTimeout. Each attempt is
// answered at once (accepted or refused); the pause between attempts grows
// from 2 ms to 50 ms.
func (d *daemon) awaitListening(t testing.TB, network, addr string) bool {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	pause := 2 * time.Millisecond
	for {
		c, err := net.DialTimeout(network, addr, time.Second)
		if err == nil {
			c.Close()
			return true
		}
		if time.Now().After(deadline) {
			t.Fatalf("daemon not accepting on %s %s after %v: %v\n%s", network, addr, waitTimeout, err, d.log)
		}
		retry := time.NewTimer(pause)
		select {
		case <-d.done:
			retry.Stop()
			return false
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
	line, ok := d.findLine(t, mark, substr, timeout)
	if !ok {
		t.Fatalf("daemon exited (%v) without logging %q:\n%s", d.waitErr, substr, d.log)
	}
	return line
}

// findLine waits for a line after mark containing substr and returns it
// (true), or reports that the daemon exited without logging one (false);
// it fails the test after timeout.
func (d *daemon) findLine(t testing.TB, mark int, substr string, timeout time.Duration) (string, bool) {
	t.Helper()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for exited := false; ; {
		lines, changed := d.log.snapshot()
		for _, ln := range lines[min(mark, len(lines)):] {
			if strings.Contains(ln.Text, substr) {
				return ln.Text, true
			}
		}
		mark = len(lines)
		if exited {
			return "", false
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

// lookPath finds a program on PATH or skips the test.
func lookPath(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		skipOrFail(t, "%s not found: %v", name, err)
	}
	return p
}

// raiseNoFile raises the test process's soft open-files limit to the hard
// limit, and skips the test if that is below need.
func raiseNoFile(t testing.TB, need uint64) {
	t.Helper()
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	if lim.Cur < lim.Max {
		lim.Cur = lim.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			t.Fatalf("raise RLIMIT_NOFILE to %d: %v", lim.Max, err)
		}
	}
	if lim.Cur < need {
		skipOrFail(t, "open-files limit %d, this test needs %d", lim.Cur, need)
	}
}

// progBin returns the path of a test program from testdata/progs/NAME.c,
// compiling all of them with gcc the first time.
func progBin(t testing.TB, name string) string {
	t.Helper()
	progsOnce.Do(func() {
		progsDir = filepath.Join(testTmpDir, "progs")
		if progsBuildErr = os.MkdirAll(progsDir, 0o755); progsBuildErr != nil {
			return
		}
		progsBuildErr = compileC(filepath.Join("testdata", "progs"), progsDir)
	})
	if progsBuildErr != nil {
		skipOrFail(t, "test programs not built: %v", progsBuildErr)
	}
	p := filepath.Join(progsDir, name)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("no test program %q: %v", name, err)
	}
	return p
}

// startDaemonNoFile is startDaemon with RLIMIT_NOFILE (soft and hard) set
// to nofile in the daemon: it runs as `sh -c 'ulimit -n N; exec daemon ...'`,
// so the pid is the daemon's (daemonOptions.NoFile).
func startDaemonNoFile(t testing.TB, nofile int, args ...string) *daemon {
	t.Helper()
	return startDaemonWith(t, daemonOptions{NoFile: nofile}, args...)
}

// waitLogFold is waitLog ignoring case.
func waitLogFold(t testing.TB, d *daemon, substr string, timeout time.Duration) string {
	t.Helper()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	want := strings.ToLower(substr)
	for exited := false; ; {
		lines, changed := d.log.snapshot()
		for _, ln := range lines {
			if strings.Contains(strings.ToLower(ln.Text), want) {
				return ln.Text
			}
		}
		if exited {
			t.Fatalf("daemon exited without logging %q", substr)
		}
		select {
		case <-changed:
		case <-d.exited():
			exited = true // every line is in now: look once more
		case <-timer.C:
			t.Fatalf("no log line containing %q (any case) within %v", substr, timeout)
		}
	}
}

// metricsScraper reads the daemon's /metrics.
type metricsScraper struct {
	url string
	hc  *http.Client
}

// startMetricsDaemon starts the daemon with --metrics on a loopback port
// the system picks (port 0: no other process can take it between choosing
// and listening) and reads it from the startup line, which the daemon
// writes once it listens there. nofile > 0 runs it with that open-files
// limit (startDaemonNoFile).
func startMetricsDaemon(t testing.TB, nofile int, args ...string) (*daemon, *metricsScraper) {
	t.Helper()
	args = append([]string{"--metrics=127.0.0.1:0"}, args...)
	var d *daemon
	if nofile > 0 {
		d = startDaemonNoFile(t, nofile, args...)
	} else {
		d = startDaemon(t, args...)
	}
	const prefix = "Serving metrics             : "
	line := d.waitLog(t, prefix, waitTimeout)
	url := line[strings.Index(line, prefix)+len(prefix):]
	if !strings.HasPrefix(url, "http://127.0.0.1:") || !strings.HasSuffix(url, "/metrics") {
		t.Fatalf("metrics startup line %q: want http://127.0.0.1:PORT/metrics", line)
	}
	m := &metricsScraper{
		url: url,
		// No keep-alive: every scrape costs the daemon the same (one
		// short-lived connection), so counts compare.
		hc: &http.Client{Timeout: waitTimeout, Transport: &http.Transport{DisableKeepAlives: true}},
	}
	return d, m
}

// get returns every sample by its full name, labels included
// (`wsplex_closes_total{code="1000"}`).
func (m *metricsScraper) get() (map[string]float64, error) {
	resp, err := m.hc.Get(m.url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", m.url, resp.Status)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			continue
		}
		out[line[:i]] = v
	}
	return out, sc.Err()
}

func (m *metricsScraper) scrape(t testing.TB) map[string]float64 {
	t.Helper()
	v, err := m.get()
	if err != nil {
		t.Fatalf("scrape: %v", err)
	}
	for _, k := range []string{"go_goroutines", "wsplex_open_connections", "wsplex_running_children"} {
		if _, ok := v[k]; !ok {
			t.Fatalf("scrape: no %s in %s", k, m.url)
		}
	}
	return v
}

// waitGauges polls until wsplex_open_connections and
// wsplex_running_children have the given values.
func (m *metricsScraper) waitGauges(t testing.TB, conns, children float64, timeout time.Duration) {
	t.Helper()
	var v map[string]float64
	deadline := time.Now().Add(timeout)
	for {
		v = m.scrape(t)
		if v["wsplex_open_connections"] == conns && v["wsplex_running_children"] == children {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v: wsplex_open_connections %v (want %v), wsplex_running_children %v (want %v)",
				timeout, v["wsplex_open_connections"], conns, v["wsplex_running_children"], children)
		}
		time.Sleep(20 * time.Millisecond) // polling the gauges
	}
}

// writeScript writes an executable script (body, with its #! line) into a
// temporary directory of the test and returns its path.
func writeScript(t testing.TB, name, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// writeFile creates a file (and its directories) with the given mode.
func writeFile(t testing.TB, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
}

func symlink(t testing.TB, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}
