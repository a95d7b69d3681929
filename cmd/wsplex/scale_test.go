package main

// Scale tests against the real daemon: goroutines stay flat as connections
// grow, and the daemon refuses cleanly at its open-files limit. The helpers
// at the end (metrics scraping, /proc probes, test programs in C) are shared
// with hygiene_test.go and flow_test.go.

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gobwas/ws"
)

// TestScaleGoroutinesFlat opens 1,000 connections, each with a live cat,
// and checks that the daemon's goroutine count does not grow with them,
// that each connection costs at most 5 fds (socket, 3 pipes, pidfd), and
// that every child is gone once the clients are.
func TestScaleGoroutinesFlat(t *testing.T) {
	skipUnlessWsplex(t, "a reactor without a goroutine per connection")
	if testing.Short() {
		t.Skip("1,000 connections and children")
	}
	const n = 1000
	raiseNoFile(t, 2*n+200)
	d, m := startMetricsDaemon(t, 0, lookPath(t, "cat"))
	pid := d.pid()

	// Baseline: one connection through, so that pools and lazily started
	// runtime goroutines exist in both measurements.
	c := dialWS(t, d.url("/"))
	c.sendText(t, "warm")
	c.expectText(t, "warm")
	c.close()
	m.waitGauges(t, 0, 0, waitTimeout)
	waitNoPrograms(t, d, waitTimeout)
	base := m.scrape(t)
	g0 := base["go_goroutines"]
	fd0, rss0 := procFDCount(t, pid), procRSS(t, pid)
	hfd0 := helperFDs(t, d)

	start := time.Now()
	clients := openEchoing(t, d, n, echoOnce)
	t.Logf("%d connections opened and echoed in %v", n, time.Since(start).Round(time.Millisecond))

	full := m.scrape(t)
	if got := full["wsplex_open_connections"]; got != n {
		t.Errorf("wsplex_open_connections = %v, want %d", got, n)
	}
	if got := full["wsplex_running_children"]; got != n {
		t.Errorf("wsplex_running_children = %v, want %d", got, n)
	}
	if programs := programProcs(t, d); len(programs) != n {
		t.Errorf("%d programs run below the daemon, want %d", len(programs), n)
	}
	g1 := full["go_goroutines"]
	fd1, rss1 := procFDCount(t, pid), procRSS(t, pid)
	perFD := float64(fd1-fd0) / n
	t.Logf("goroutines: %v at 0 connections, %v at %d", g0, g1, n)
	t.Logf("fds: %d at 0, %d at %d: %.3f per connection", fd0, fd1, n, perFD)
	t.Logf("fds of the daemon's helper processes (spawner): %d at 0, %d at %d", hfd0, helperFDs(t, d), n)
	t.Logf("RSS: %d KiB at 0, %d KiB at %d: %.1f KiB per idle connection", rss0, rss1, n, float64(rss1-rss0)/n)
	if g1-g0 > 20 {
		t.Errorf("go_goroutines grew from %v to %v with %d connections: not flat", g0, g1, n)
	}
	// A scrape's socket may still be open in the daemon: allow a few fds
	// beyond 5 per connection, not one more per connection.
	if fd1-fd0 > 5*n+4 || fd1-fd0 < n {
		t.Errorf("fds grew by %d for %d connections (%.3f each), want <= 5 each", fd1-fd0, n, perFD)
	}
	if rss1-rss0 > 256*n { // KiB: a generous sanity bound, 256 KiB per connection, race detector included
		t.Errorf("RSS grew by %d KiB for %d idle connections", rss1-rss0, n)
	}

	echoAgainAndClose(t, d, m, clients, echoOnce, pid, fd0)
}

// echoAgainAndClose is the end of the scale tests: one more echo on the
// first, middle and last connection once all are open, then every client
// closed, and the daemon back to no connections, no children, and at most
// fd0 fds.
func echoAgainAndClose(t *testing.T, d *daemon, m *metricsScraper, clients []*wsClient, echo func(*wsClient, string) error, pid, fd0 int) {
	t.Helper()
	n := len(clients)
	for _, i := range []int{0, n / 2, n - 1} {
		if err := echo(clients[i], "again"); err != nil {
			t.Errorf("connection %d after all were open: %v", i, err)
		}
	}
	for _, cl := range clients {
		cl.close()
	}
	m.waitGauges(t, 0, 0, 30*time.Second)
	waitNoPrograms(t, d, 30*time.Second)
	waitFDsAtMost(t, pid, fd0, 30*time.Second)
}

// TestScaleFDLimit runs the daemon with 200 open files: upgrades beyond what
// fits are refused with a 503 that says why, the connections it holds keep
// working, and once some close, new ones are accepted again.
func TestScaleFDLimit(t *testing.T) {
	skipUnlessWsplex(t, "a clean refusal at the open-files limit")
	d := startDaemonNoFile(t, 200, lookPath(t, "cat"))

	var open []*wsClient
	var refused *handshakeError
	for i := 0; i < 100 && refused == nil; i++ {
		c, err := dialWSWith(t, d.url("/"), wsDialOptions{})
		if err != nil {
			if !errors.As(err, &refused) {
				t.Fatalf("connection %d: %v (want success or a refused handshake)", i, err)
			}
			break
		}
		if err := echoOnce(c, fmt.Sprintf("conn %d", i)); err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		open = append(open, c)
	}
	if refused == nil {
		t.Fatalf("100 connections accepted with 200 open files (5 fds each): no refusal")
	}
	t.Logf("%d connections held with 200 open files; then %v", len(open), refused)
	if refused.Status != http.StatusServiceUnavailable || !strings.Contains(refused.Body, "open files") {
		t.Errorf("refusal: HTTP %d %q, want 503 with a body mentioning open files", refused.Status, refused.Body)
	}
	if len(open) < 10 {
		t.Errorf("only %d connections before the refusal: the limit is reached far too early", len(open))
	}
	waitLogFold(t, d, "open-files limit", waitTimeout)
	// Still refused: it is the limit, not a fluke.
	for i := 0; i < 3; i++ {
		if _, err := dialWSWith(t, d.url("/"), wsDialOptions{}); err == nil {
			t.Fatalf("attempt %d after the refusal was accepted", i)
		}
	}
	// Everything held keeps working.
	for i, c := range open {
		if err := echoOnce(c, "still here"); err != nil {
			t.Fatalf("held connection %d after the refusals: %v", i, err)
		}
	}

	// Close three; new connections are accepted again once their fds are
	// released (the child reaped).
	for _, c := range open[:3] {
		c.sendClose(t, ws.StatusNormalClosure, "")
		if code, _ := c.readClose(t, waitTimeout); code != ws.StatusNormalClosure {
			t.Errorf("close: %d, want 1000", code)
		}
		c.waitEOF(t, waitTimeout)
	}
	open = open[3:]
	var c *wsClient
	deadline := time.Now().Add(waitTimeout)
	for {
		var err error
		if c, err = dialWSWith(t, d.url("/"), wsDialOptions{}); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("still refused %v after closing 3 connections: %v", waitTimeout, err)
		}
		time.Sleep(20 * time.Millisecond) // polling for the fds to be released
	}
	if err := echoOnce(c, "back"); err != nil {
		t.Fatalf("connection after the limit eased: %v", err)
	}
	if err := echoOnce(open[0], "and the old one"); err != nil {
		t.Fatalf("held connection at the end: %v", err)
	}
}

// ---------------------------------------------------------------------------
// Helpers shared by scale_test.go, hygiene_test.go and flow_test.go.

// echoOnce sends text and expects it back; unlike sendText/expectText it
// returns an error, so it can be called from other goroutines than the test's.
func echoOnce(c *wsClient, text string) error {
	_ = c.conn.SetWriteDeadline(time.Now().Add(waitTimeout))
	if err := ws.WriteFrame(c.conn, ws.MaskFrame(ws.NewTextFrame([]byte(text)))); err != nil {
		return fmt.Errorf("send: %w", err)
	}
	m, err := recvMessage(c, waitTimeout)
	if err != nil {
		return err
	}
	if m.Op != ws.OpText || string(m.Data) != text {
		return fmt.Errorf("want text %q back, got %s", text, m)
	}
	return nil
}

// recvMessage is readMessage returning an error instead of failing the test:
// the next text or binary message, or the close (Op ws.OpClose, 1006 when
// the connection ended without a close frame). Pings are not answered.
func recvMessage(c *wsClient, timeout time.Duration) (wsMessage, error) {
	deadline := time.Now().Add(timeout)
	var msg wsMessage
	for {
		f, err := c.readFrame(time.Until(deadline))
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return msg, fmt.Errorf("no message within %v", timeout)
			}
			return wsMessage{Op: ws.OpClose, Code: ws.StatusAbnormalClosure, Reason: err.Error()}, nil
		}
		switch op := f.Header.OpCode; {
		case op == ws.OpPing || op == ws.OpPong:
		case op == ws.OpClose:
			code, reason := ws.ParseCloseFrameData(f.Payload)
			if code.Empty() {
				code = ws.StatusNoStatusRcvd
			}
			return wsMessage{Op: ws.OpClose, Code: code, Reason: reason}, nil
		case (op == ws.OpText || op == ws.OpBinary) && msg.Op == 0, op == ws.OpContinuation && msg.Op != 0:
			if msg.Op == 0 {
				msg.Op = op
			}
			msg.Data = append(msg.Data, f.Payload...)
			if f.Header.Fin {
				return msg, nil
			}
		default:
			return msg, fmt.Errorf("unexpected frame: opcode %#x fin=%v in message %#x", op, f.Header.Fin, msg.Op)
		}
	}
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

var (
	progsOnce     sync.Once
	progsDir      string
	progsBuildErr error
)

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
// so the pid is the daemon's. The harness has no hook for this, hence the
// copy of its start-up plumbing.
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

// startMetricsDaemon starts the daemon with --metrics on a free loopback
// port and waits until the endpoint answers. nofile > 0 runs it with that
// open-files limit (startDaemonNoFile).
func startMetricsDaemon(t testing.TB, nofile int, args ...string) (*daemon, *metricsScraper) {
	t.Helper()
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(freePort(t)))
	args = append([]string{"--metrics=" + addr}, args...)
	var d *daemon
	if nofile > 0 {
		d = startDaemonNoFile(t, nofile, args...)
	} else {
		d = startDaemon(t, args...)
	}
	m := &metricsScraper{
		url: "http://" + addr + "/metrics",
		// No keep-alive: every scrape costs the daemon the same (one
		// short-lived connection), so counts compare.
		hc: &http.Client{Timeout: waitTimeout, Transport: &http.Transport{DisableKeepAlives: true}},
	}
	deadline := time.Now().Add(waitTimeout)
	for {
		_, err := m.get()
		if err == nil {
			return d, m
		}
		if time.Now().After(deadline) {
			t.Fatalf("metrics endpoint %s: %v", m.url, err)
		}
		time.Sleep(20 * time.Millisecond) // polling for the listener
	}
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

// procStat is what /proc/PID/stat says about a process.
type procStat struct {
	Pid, PPid int
	State     byte // R, S, D, Z, ...
	Comm      string
}

func readProcStat(pid int) (procStat, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procStat{}, err
	}
	s := string(b)
	open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || end < open || end+4 > len(s) {
		return procStat{}, fmt.Errorf("/proc/%d/stat: cannot parse %q", pid, s)
	}
	f := strings.Fields(s[end+2:])
	if len(f) < 2 {
		return procStat{}, fmt.Errorf("/proc/%d/stat: cannot parse %q", pid, s)
	}
	ppid, err := strconv.Atoi(f[1])
	if err != nil {
		return procStat{}, err
	}
	return procStat{Pid: pid, PPid: ppid, State: f[0][0], Comm: s[open+1 : end]}, nil
}

// procChildren lists the processes whose parent is ppid, zombies included.
// wsplex's spawner process is looked through (spawnerChild, spawner_test.go).
func procChildren(t testing.TB, ppid int) []procStat {
	t.Helper()
	var out []procStat
	for _, st := range procDescendants(t, ppid) {
		if spawnerChild(st, ppid) {
			out = append(out, st)
		}
	}
	return out
}

// procDescendants lists every process below root (children, their
// children, ...), zombies included.
func procDescendants(t testing.TB, root int) []procStat {
	t.Helper()
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	byParent := map[int][]procStat{}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		st, err := readProcStat(pid)
		if err != nil {
			continue // gone meanwhile
		}
		byParent[st.PPid] = append(byParent[st.PPid], st)
	}
	var out []procStat
	queue := []int{root}
	for len(queue) > 0 {
		for _, st := range byParent[queue[0]] {
			out = append(out, st)
			queue = append(queue, st.Pid)
		}
		queue = queue[1:]
	}
	return out
}

// daemonProcs splits the processes below the daemon into its helpers
// (copies of the daemon binary itself, like the spawner process that forks
// the children) and the programs it runs for connections, zombies
// included (a zombie is never a helper: it is a child not yet reaped).
func daemonProcs(t testing.TB, d *daemon) (helpers, programs []procStat) {
	t.Helper()
	return procsBelow(t, d.pid())
}

// procsBelow is daemonProcs for the daemon with process id pid.
func procsBelow(t testing.TB, pid int) (helpers, programs []procStat) {
	t.Helper()
	self, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	if err != nil {
		t.Fatalf("daemon exe: %v", err)
	}
	for _, st := range procDescendants(t, pid) {
		if st.State != 'Z' {
			if exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", st.Pid)); err == nil && exe == self {
				helpers = append(helpers, st)
				continue
			}
		}
		programs = append(programs, st)
	}
	return helpers, programs
}

// programProcs is the programs of daemonProcs.
func programProcs(t testing.TB, d *daemon) []procStat {
	t.Helper()
	_, programs := daemonProcs(t, d)
	return programs
}

// waitNoPrograms polls until no program runs below the daemon and nothing
// below it is a zombie: every child gone and reaped.
func waitNoPrograms(t testing.TB, d *daemon, timeout time.Duration) {
	t.Helper()
	waitNoChildren(t, d.pid(), timeout)
}

// waitNoChildren is waitNoPrograms for the daemon with process id pid: its
// helper processes (the spawner) may stay, nothing else.
func waitNoChildren(t testing.TB, pid int, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		helpers, programs := procsBelow(t, pid)
		var zombies []procStat
		for _, st := range append(helpers, programs...) {
			if st.State == 'Z' {
				zombies = append(zombies, st)
			}
		}
		if len(programs) == 0 && len(zombies) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v the daemon still has %d programs below it and %d zombies; e.g. %+v", timeout, len(programs), len(zombies), append(zombies, programs...)[0])
		}
		time.Sleep(20 * time.Millisecond) // polling /proc
	}
}

// waitProgram polls until exactly one program runs below the daemon and
// returns it.
func waitProgram(t testing.TB, d *daemon, timeout time.Duration) procStat {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		programs := programProcs(t, d)
		if len(programs) == 1 && programs[0].State != 'Z' {
			return programs[0]
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v the daemon runs %d programs, want 1: %+v", timeout, len(programs), programs)
		}
		time.Sleep(10 * time.Millisecond) // polling /proc
	}
}

// helperFDs counts the fds of the daemon's helper processes (0 if it has
// none).
func helperFDs(t testing.TB, d *daemon) int {
	t.Helper()
	helpers, _ := daemonProcs(t, d)
	n := 0
	for _, h := range helpers {
		if ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", h.Pid)); err == nil {
			n += len(ents)
		}
	}
	return n
}

// procFDCount counts the open fds of pid.
func procFDCount(t testing.TB, pid int) int {
	t.Helper()
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// waitFDsAtMost polls until pid has at most n open fds.
func waitFDsAtMost(t testing.TB, pid, n int, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		got := procFDCount(t, pid)
		if got <= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v the daemon has %d open fds, want at most %d (baseline): %s", timeout, got, n, fdSummary(pid))
		}
		time.Sleep(20 * time.Millisecond) // polling /proc
	}
}

// fdSummary counts pid's fds by kind (socket, pipe, anon_inode:[pidfd], ...).
func fdSummary(pid int) string {
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	ents, _ := os.ReadDir(dir)
	kinds := map[string]int{}
	for _, e := range ents {
		l, err := os.Readlink(filepath.Join(dir, e.Name()))
		if err != nil {
			continue
		}
		if i := strings.IndexByte(l, ':'); i > 0 && !strings.HasPrefix(l, "/") && !strings.HasPrefix(l, "anon_inode") {
			l = l[:i]
		}
		kinds[l]++
	}
	return fmt.Sprint(kinds)
}

// procRSS returns VmRSS of pid in KiB.
func procRSS(t testing.TB, pid int) int {
	t.Helper()
	kb, err := readRSS(pid)
	if err != nil {
		t.Fatal(err)
	}
	return kb
}

func readRSS(pid int) (int, error) {
	return procStatusField(pid, "VmRSS")
}

// procStatusField returns a "Name:  N kB" field of /proc/PID/status.
func procStatusField(pid int, name string) (int, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, name+":"); ok {
			f := strings.Fields(v)
			if len(f) == 0 {
				break
			}
			return strconv.Atoi(f[0])
		}
	}
	return 0, fmt.Errorf("/proc/%d/status: no %s", pid, name)
}

// procWChar returns how many bytes pid has written with write(2) and
// friends (wchar in /proc/PID/io).
func procWChar(pid int) (int64, error) {
	return procIOField(pid, "wchar")
}

func procIOField(pid int, name string) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/io", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, name+":"); ok {
			return strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		}
	}
	return 0, fmt.Errorf("/proc/%d/io: no %s", pid, name)
}

// procWChan returns where pid sleeps in the kernel ("pipe_write", ...), or
// "" if the kernel does not say.
func procWChan(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/wchan", pid))
	if err != nil || string(b) == "0" {
		return ""
	}
	return string(b)
}

// openEchoing opens n connections to d, eight at a time, and checks each
// with one echo; it fails the test if any connection fails.
func openEchoing(t *testing.T, d *daemon, n int, echo func(*wsClient, string) error) []*wsClient {
	t.Helper()
	clients := make([]*wsClient, n)
	errs := make(chan error, n)
	var wg sync.WaitGroup
	next := make(chan int)
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				cl, err := dialWSWith(t, d.url("/"), wsDialOptions{})
				if err == nil {
					clients[i] = cl
					err = echo(cl, fmt.Sprintf("conn %d", i))
				}
				if err != nil {
					errs <- fmt.Errorf("connection %d: %w", i, err)
				}
			}
		}()
	}
	for i := 0; i < n; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
	close(errs)
	failed := 0
	for err := range errs {
		if failed++; failed <= 5 {
			t.Error(err)
		}
	}
	if failed > 0 {
		t.Fatalf("%d of %d connections failed", failed, n)
	}
	return clients
}
