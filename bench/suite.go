package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// The suite (wsbench suite, run by make bench) measures wsplex against the
// goroutine design, websocketd, on this machine in one run: every scenario
// against each daemon, interleaved A B A B so drift in the machine's state
// hits all alike, with the same child programs, each daemon started fresh
// for each run. With --prev (make bench BENCH_PREV=<rev>) a wsplex built
// from an earlier commit runs as a third daemon, A B C A B C, so a change is
// measured against what it replaced as well as against websocketd. It
// writes raw JSON, summary.md and report.html.
//
// Server CPU is the whole server's: each daemon runs in a cgroup of its own
// (cgroup v1 cpuacct and memory, or v2) that its helper processes and every
// child join, and the CPU charged to that cgroup over the run is the
// figure, children that exited during the run included. Where no cgroup can
// be made it falls back to /proc: the daemon's CPU plus its live
// descendants' (helpers and children), which misses children that exit
// between two samples (summary.md says which was used).

type suiteConfig struct {
	quick       bool
	out         string
	wsplex      string
	prev        string
	prevDesc    string
	websocketd  string
	only        string
	reps        int
	dur         time.Duration
	childrenSet string
	levels      string
	// The socket-backend and room jobs (suite_sockets.go).
	backendLevels string
	roomConns     int
	rampConns     int
	recipeConns   int
}

type serverSpec struct {
	name    string
	bin     string
	metrics bool // exposes Prometheus (go_goroutines) at --metrics
	standIn bool // this is websocketd standing in for a missing wsplex
}

func suiteMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var c suiteConfig
	fs := flag.NewFlagSet("wsbench suite", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.BoolVar(&c.quick, "quick", false, "about one minute: one repetition, short phases, cat only")
	fs.StringVar(&c.out, "out", "", "results directory (default bench/results/<timestamp>)")
	fs.StringVar(&c.wsplex, "wsplex", "bin/wsplex", "wsplex binary")
	fs.StringVar(&c.websocketd, "websocketd", "bin/websocketd", "websocketd binary")
	fs.StringVar(&c.prev, "prev", "", "a wsplex binary built from an earlier commit, run as a third daemon (wsplex-prev); make bench BENCH_PREV=<rev> builds it")
	fs.StringVar(&c.prevDesc, "prev-desc", "", "what --prev was built from (a revision), for the summary")
	fs.StringVar(&c.only, "only", "", "run only these jobs, comma separated (default all): "+strings.Join(suiteJobNames, ","))
	fs.IntVar(&c.reps, "reps", 3, "repetitions of each scenario per server")
	fs.DurationVar(&c.dur, "duration", 4*time.Second, "measured phase of timed scenarios")
	fs.StringVar(&c.childrenSet, "children", "cat,cecho", "child programs for the one-connection latency and 10x16 throughput scenarios (cat, cecho, python)")
	fs.StringVar(&c.levels, "levels", "0,1000,4000,max", "held connections at which idle cost and open rate are measured (a number or max: as many as the fd limit allows)")
	fs.StringVar(&c.backendLevels, "backend-levels", "0,1000,max", "held connections of the backend-capacity job (as --levels)")
	fs.IntVar(&c.roomConns, "room-conns", 15000, "clients of the room job (one room, 10 lines/s)")
	fs.IntVar(&c.rampConns, "ramp-conns", 10000, "clients of the room-ramp job (the rate rises until delivery p99 passes 100 ms)")
	fs.IntVar(&c.recipeConns, "recipe-conns", 1000, "clients of the room-recipe job (wsplex --broadcast against websocketd + nc + a chat relay)")
	if err := fs.Parse(args); err != nil {
		return ExitUsage
	}
	if c.quick {
		given := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
		if !given["reps"] {
			c.reps = 1
		}
		if !given["duration"] {
			c.dur = 2 * time.Second
		}
		if !given["children"] {
			c.childrenSet = "cat"
		}
		if !given["levels"] {
			c.levels = "0,1000"
		}
		if !given["backend-levels"] {
			c.backendLevels = "0,1000"
		}
		if !given["room-conns"] {
			c.roomConns = 2000
		}
		if !given["ramp-conns"] {
			c.rampConns = 2000
		}
		if !given["recipe-conns"] {
			c.recipeConns = 200
		}
	}
	for _, n := range strings.Split(c.only, ",") {
		if n = strings.TrimSpace(n); n != "" && !slices.Contains(suiteJobNames, n) {
			fmt.Fprintf(stderr, "wsbench suite: --only: unknown job %q (jobs: %s)\n", n, strings.Join(suiteJobNames, ","))
			return ExitUsage
		}
	}
	if c.out == "" {
		c.out = filepath.Join("bench", "results", time.Now().Format("20060102-150405"))
	}
	if err := runSuite(ctx, &c, stdout, stderr); err != nil {
		fmt.Fprintf(stderr, "wsbench suite: %v\n", err)
		return ExitFatal
	}
	return ExitOK
}

type suite struct {
	c        *suiteConfig
	log      io.Writer
	servers  []serverSpec
	children map[string][]string
	results  []*Result
	raw      *os.File
	notes    []string
	n        int
}

func runSuite(ctx context.Context, c *suiteConfig, stdout, stderr io.Writer) error {
	start := time.Now()
	if err := os.MkdirAll(filepath.Join(c.out, "raw"), 0o755); err != nil {
		return err
	}
	s := &suite{c: c, log: stderr, children: map[string][]string{}}
	raw, err := os.Create(filepath.Join(c.out, "results.jsonl"))
	if err != nil {
		return err
	}
	defer raw.Close()
	s.raw = raw
	if _, err := os.Stat(c.websocketd); err != nil {
		return fmt.Errorf("websocketd binary %s: %v (build it: cd bench/websocketd && go build -o ../../bin/websocketd github.com/joewalnes/websocketd)", c.websocketd, err)
	}
	s.prepareChildren()
	s.servers = []serverSpec{{name: "wsplex", bin: c.wsplex, metrics: true}}
	if c.prev != "" {
		s.servers = append(s.servers, serverSpec{name: "wsplex-prev", bin: c.prev, metrics: true})
	}
	s.servers = append(s.servers, serverSpec{name: "websocketd", bin: c.websocketd})
	if err := s.smoke(ctx, &s.servers[0]); err != nil {
		s.note("wsplex could not be used (%v): websocketd stands in for it, so the two sides are the same program and ratios only show noise", err)
		s.servers[0] = serverSpec{name: "wsplex", bin: c.websocketd, standIn: true}
	}
	if c.prev != "" {
		if err := s.smoke(ctx, &s.servers[1]); err != nil {
			s.note("wsplex-prev (%s) could not be used (%v): left out", c.prev, err)
			s.servers = append(s.servers[:1], s.servers[2:]...)
		}
	}
	only := map[string]bool{}
	for _, n := range strings.Split(c.only, ",") {
		if n = strings.TrimSpace(n); n != "" {
			only[n] = true
		}
	}
	want := func(name string) bool { return len(only) == 0 || only[name] }
	d := c.dur
	var jobs []job
	for _, ch := range strings.Split(c.childrenSet, ",") {
		if _, ok := s.children[ch]; !ok {
			continue
		}
		jobs = append(jobs,
			job{"latency", func() Scenario { return &LatencyScenario{Conns: 1, Rate: 1000, Size: 64, Drain: 3 * time.Second} }, ch, false, d, 0, nil, 0},
			job{"throughput", func() Scenario { return &ThroughputScenario{Conns: 10, Inflight: 16, Size: 64, Drain: 3 * time.Second} }, ch, false, d, 0, nil, 0})
	}
	storm, cycles := 1000, 20
	if c.quick {
		storm, cycles = 300, 5
	}
	jobs = append(jobs,
		job{"trickle", func() Scenario { return &LatencyScenario{Conns: 100, Rate: 2000, Size: 64, Drain: 3 * time.Second} }, "cat", false, d, 0, nil, 0},
		job{"throughput100", func() Scenario {
			return &ThroughputScenario{Conns: 100, Inflight: 16, Size: 64, Drain: 3 * time.Second}
		}, "cat", false, d, 0, nil, 0},
		job{"inflight32", func() Scenario { return &ThroughputScenario{Conns: 1, Inflight: 32, Size: 64, Drain: 3 * time.Second} }, "cat", false, d, 0, nil, 0},
		job{"storm", func() Scenario { return &StormScenario{Conns: storm, Concurrency: 100, Size: 32, Keep: true} }, "cat", false, 0, 0, nil, 0},
		job{"churn", func() Scenario { return &ChurnScenario{Concurrency: 1, Size: 32} }, "cat", false, d, 0, nil, 0},
		job{"binary", func() Scenario {
			return &BinaryScenario{Sizes: "16,1024,65536", Conns: 1, Inflight: 4, Drain: 3 * time.Second}
		}, "cat", true, d, 0, nil, 0},
		job{"slow", func() Scenario {
			return &SlowScenario{Conns: 1, Size: 16 << 10, Stall: time.Second, RcvBuf: 64 << 10}
		}, "cat", false, 2 * d, 0, nil, 0},
		job{"resume", func() Scenario {
			return &ResumeScenario{Cycles: cycles, Quiet: 100 * time.Millisecond, RcvBuf: 64 << 10}
		}, "resume-child", false, d, 0, nil, 0},
	)
	if _, ok := s.children["python"]; ok {
		// Connect-to-first-message with a slow-starting child: a burst of
		// preforkBurst connections, without and with --prefork (first_echo).
		burst := func() Scenario {
			return &StormScenario{Conns: preforkBurst, Concurrency: preforkBurst, Size: 32, Keep: true}
		}
		jobs = append(jobs, job{"prefork", burst, "python", false, 0, 0, nil, 0}, job{"prefork", burst, "python", false, 0, preforkBurst, nil, 0})
	}
	jobs = append(jobs, s.socketJobs()...)
	for rep := 1; rep <= c.reps; rep++ {
		for _, j := range jobs {
			if !want(j.name) {
				continue
			}
			if _, ok := s.children[j.child]; !ok && j.env == nil {
				continue
			}
			for i := range s.servers {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				s.runOne(ctx, &s.servers[i], j, rep)
			}
		}
	}
	for rep := 1; rep <= c.reps && want("capacity"); rep++ {
		for i := range s.servers {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			s.capacity(ctx, &s.servers[i], rep, capacityJob{name: "capacity", child: "cat", levels: s.c.levels})
		}
	}
	for rep := 1; rep <= c.reps && want("backend-capacity"); rep++ {
		for i := range s.servers {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			s.capacity(ctx, &s.servers[i], rep, capacityJob{name: "backend-capacity", child: "echo-backend", levels: s.c.backendLevels, env: s.backendEnv})
		}
	}
	return s.write(stdout, time.Since(start))
}

// noteOnce notes a message the first time only (a job a server does not
// run is said once, not once per repetition).
func (s *suite) noteOnce(f string, a ...any) {
	if msg := fmt.Sprintf(f, a...); !slices.Contains(s.notes, msg) {
		s.note("%s", msg)
	}
}

func (s *suite) note(f string, a ...any) {
	msg := fmt.Sprintf(f, a...)
	s.notes = append(s.notes, msg)
	fmt.Fprintln(s.log, "note: "+msg)
}

// prepareChildren writes and compiles the child programs: cat, a small C
// line echo (static if the toolchain allows), and a Python line echo.
func (s *suite) prepareChildren() {
	s.children["cat"] = []string{"cat"}
	if exe, err := os.Executable(); err == nil {
		s.children["resume-child"] = []string{exe, "resume-child"}
	} else {
		s.note("no resume child: %v", err)
	}
	dir, _ := filepath.Abs(s.c.out)
	src := filepath.Join(dir, "cecho.c")
	os.WriteFile(src, []byte(`#include <unistd.h>
/* Echo stdin to stdout, one read per write: a line-echo child with no
   buffering of its own, so it costs what a minimal child costs. */
int main(void) {
	static char buf[65536];
	for (;;) {
		ssize_t n = read(0, buf, sizeof buf), off = 0;
		if (n <= 0) return 0;
		while (off < n) {
			ssize_t w = write(1, buf + off, n - off);
			if (w <= 0) return 1;
			off += w;
		}
	}
}
`), 0o644)
	bin := filepath.Join(dir, "cecho")
	if out, err := exec.Command("gcc", "-static", "-O2", "-o", bin, src).CombinedOutput(); err == nil {
		s.children["cecho"] = []string{bin}
	} else if out2, err2 := exec.Command("gcc", "-O2", "-o", bin, src).CombinedOutput(); err2 == nil {
		s.children["cecho"] = []string{bin}
		s.note("cecho is dynamically linked (static link failed: %s)", strings.TrimSpace(string(out)))
	} else {
		s.note("no C echo child: gcc failed: %s", strings.TrimSpace(string(out2)))
	}
	py := filepath.Join(dir, "echo.py")
	// Under --prefork the connection's environment arrives first, as one JSON
	// line (README, --prefork): a preforked child reads it before echoing.
	os.WriteFile(py, []byte("import os, sys\nif os.environ.get('WSPLEX_PREFORK'):\n    sys.stdin.readline()\nfor line in sys.stdin:\n    sys.stdout.write(line)\n    sys.stdout.flush()\n"), 0o644)
	if p, err := exec.LookPath("python3"); err == nil {
		// Run the interpreter itself, not a version-manager shim (pyenv's
		// is a shell script that costs more than Python's own start-up).
		if out, err := exec.Command(p, "-c", "import sys; print(sys.executable)").Output(); err == nil && len(bytes.TrimSpace(out)) > 0 {
			p = string(bytes.TrimSpace(out))
		}
		s.children["python"] = []string{p, "-u", py}
	} else {
		s.note("no python3: the Python child is skipped")
	}
}

// job is one scenario of the suite, run against every server.
type job struct {
	name    string // for --only
	sc      func() Scenario
	child   string
	binary  bool
	dur     time.Duration
	prefork int // wsplex runs with --prefork=N (websocketd has no such thing)
	// env, when set, gives each server its command (or flags in place of
	// one) and helper processes, or says why a server does not run it.
	env func(spec *serverSpec) (*jobEnv, error)
	// loops is wsbench's event loops for the job (default 1).
	loops int
}

// daemon is one running server under test.
type daemon struct {
	spec    serverSpec
	cmd     *exec.Cmd
	port    int
	metrics int
	exited  chan struct{}
	cgroup  string // our own sub-cgroup holding the daemon, "" if none
	cpu     string // the cgroup whose CPU counter is the daemon's (v2: cgroup; v1: a cpuacct sub-cgroup), "" if none
	logf    *os.File
}

func freePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// waitPool waits (bounded) until the --prefork pool is full and its children
// have finished starting: at least prefork descendants of the daemon sleep
// reading a pipe (their stdin). Measuring before that would time the
// children's own start-up, which is what --prefork takes off the connection.
func waitPool(pid, prefork int) {
	if runtime.GOOS != "linux" {
		return
	}
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		waiting := 0
		for _, p := range descendants(pid) {
			if w, err := os.ReadFile(fmt.Sprintf("/proc/%d/wchan", p)); err == nil && strings.Contains(string(w), "pipe_read") {
				waiting++
			}
		}
		if waiting >= prefork {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// preforkBurst is the size of the connection burst of the --prefork
// comparison, and the number of children wsplex keeps waiting for it.
const preforkBurst = 8

// start starts a daemon on fresh ports. A port that was free when picked
// can be taken by another process before the daemon binds it: then the
// daemon is started again on new ports, a few times.
func (s *suite) start(spec *serverSpec, child []string, binary bool, extra ...string) (*daemon, error) {
	for attempt := 1; ; attempt++ {
		d, err := s.startOnce(spec, child, binary, extra...)
		if !errors.Is(err, errPortTaken) || attempt == 3 {
			return d, err
		}
		s.note("%s: a port was taken before the daemon bound it; starting it again", spec.name)
	}
}

// errPortTaken is a daemon that exited at start because a port it was
// given was in use.
var errPortTaken = errors.New("port taken")

func (s *suite) startOnce(spec *serverSpec, child []string, binary bool, extra ...string) (*daemon, error) {
	d := &daemon{spec: *spec, port: freePort(), exited: make(chan struct{})}
	// --maxforks=0 on both: websocketd v0.4.1 is unlimited by default,
	// wsplex (like websocketd's main branch) stops at 1024, and the
	// capacity phases measure up to the fd limit.
	args := []string{fmt.Sprintf("--port=%d", d.port), "--address=127.0.0.1", "--maxforks=0"}
	if binary {
		args = append(args, "--binary")
	}
	if spec.metrics {
		for d.metrics = freePort(); d.metrics == d.port; d.metrics = freePort() {
		}
		args = append(args, fmt.Sprintf("--metrics=127.0.0.1:%d", d.metrics))
	}
	args = append(args, extra...)
	args = append(args, child...)
	s.n++
	lf, err := os.Create(filepath.Join(s.c.out, "raw", fmt.Sprintf("%03d-%s.log", s.n, spec.name)))
	if err != nil {
		return nil, err
	}
	d.logf = lf
	d.cmd = exec.Command(spec.bin, args...)
	d.cmd.Stdout, d.cmd.Stderr = lf, lf
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := d.cmd.Start(); err != nil {
		lf.Close()
		return nil, err
	}
	go func() { d.cmd.Wait(); close(d.exited) }()
	d.cgroup = enterCgroup(d.cmd.Process.Pid, fmt.Sprintf("wsbench-%d-%d", os.Getpid(), s.n))
	d.cpu = enterCPUCgroup(d.cmd.Process.Pid, d.cgroup, fmt.Sprintf("wsbench-%d-%d", os.Getpid(), s.n))
	// Wait for the listener: connect attempts, bounded.
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", d.port), time.Second)
		if err == nil {
			c.Close()
			joinCgroup(d.cgroup, d.cmd.Process.Pid)
			if d.cpu != d.cgroup {
				joinCgroup(d.cpu, d.cmd.Process.Pid)
			}
			return d, nil
		}
		select {
		case <-d.exited:
			d.release() // its helpers, if it started any, and its cgroups
			if log, _ := os.ReadFile(lf.Name()); bytes.Contains(log, []byte("address already in use")) {
				return nil, fmt.Errorf("%s exited at start (see %s): %w", spec.bin, lf.Name(), errPortTaken)
			}
			return nil, fmt.Errorf("%s exited at start (see %s)", spec.bin, lf.Name())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			d.stop()
			return nil, fmt.Errorf("%s does not listen on port %d after 10s", spec.bin, d.port)
		}
	}
}

func (d *daemon) url() string { return fmt.Sprintf("ws://127.0.0.1:%d/", d.port) }

// stop ends the daemon and its children (its own process group).
func (d *daemon) stop() {
	pid := d.cmd.Process.Pid
	syscall.Kill(pid, syscall.SIGTERM)
	select {
	case <-d.exited:
	case <-time.After(3 * time.Second):
	}
	d.release()
}

// release kills what is left of the daemon's process group once the daemon
// has ended or had its time to, waits for it, and removes its cgroups.
func (d *daemon) release() {
	syscall.Kill(-d.cmd.Process.Pid, syscall.SIGKILL)
	<-d.exited
	d.logf.Close()
	for _, dir := range []string{d.cgroup, d.cpu} {
		if dir == "" {
			continue
		}
		// The group empties once the killed children are reaped.
		for i := 0; i < 50; i++ {
			if err := os.Remove(dir); err == nil || os.IsNotExist(err) {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// smoke checks that a server binary starts and echoes.
func (s *suite) smoke(ctx context.Context, spec *serverSpec) error {
	if _, err := os.Stat(spec.bin); err != nil {
		return err
	}
	d, err := s.start(spec, []string{"cat"}, false)
	if err != nil {
		return err
	}
	defer d.stop()
	tg, _ := ParseTarget(d.url(), false)
	res, err := (&LatencyScenario{Conns: 1, Rate: 100, Size: 32, Drain: 2 * time.Second}).Run(ctx, &Options{Target: tg, Duration: 200 * time.Millisecond})
	if err != nil {
		return err
	}
	if !res.OK || res.Msgs.Received == 0 {
		return fmt.Errorf("echo check failed: %+v", res.Msgs)
	}
	if spec.metrics && goroutines(d) < 0 {
		s.note("%s --metrics gave no go_goroutines", spec.bin)
	}
	return nil
}

func (s *suite) record(r *Result) {
	s.results = append(s.results, r)
	r.WriteJSON(s.raw)
	if f, err := os.Create(filepath.Join(s.c.out, "raw", fmt.Sprintf("%03d-%s-%s.json", s.n, r.Scenario, r.Label))); err == nil {
		r.WriteJSON(f)
		f.Close()
	}
}

func (s *suite) runOne(ctx context.Context, spec *serverSpec, j job, rep int) {
	sc, child := j.sc(), j.child
	var extra []string
	if j.prefork > 0 && spec.metrics && !spec.standIn {
		extra = append(extra, fmt.Sprintf("--prefork=%d", j.prefork))
	}
	cmd, path := s.children[child], ""
	env := &jobEnv{}
	if j.env != nil {
		var err error
		if env, err = j.env(spec); err != nil {
			s.note("%s %s: %v", j.name, spec.name, err)
			return
		}
		defer env.stop()
		if env.skip != "" {
			s.noteOnce("%s: %s", j.name, env.skip)
			return
		}
		cmd, path = env.child, env.path
		extra = append(extra, env.extra...)
	}
	d, err := s.start(spec, cmd, j.binary, extra...)
	if err != nil {
		s.note("%s %s: %v%s", j.name, spec.name, err, logHint(err))
		return
	}
	defer func() { env.stop(); d.stop() }()
	if err := env.started(d); err != nil {
		s.note("%s %s: %v", j.name, spec.name, err)
		return
	}
	if j.prefork > 0 && len(extra) > 0 {
		waitPool(d.cmd.Process.Pid, j.prefork)
	}
	tg, _ := ParseTarget(d.url()+strings.TrimPrefix(path, "/"), false)
	o := &Options{Target: tg, Duration: j.dur, HandshakeTimeout: 10 * time.Second, ServerPID: d.cmd.Process.Pid,
		ServerCgroup: d.cpu, SampleInterval: 500 * time.Millisecond, Label: spec.name, Loops: j.loops, Probe: s.prober(d)}
	t0 := time.Now()
	res, err := sc.Run(ctx, o)
	if res == nil {
		s.note("%s %s (%s): %v", sc.Name(), spec.name, child, err)
		return
	}
	if err != nil {
		res.Notes = append(res.Notes, "fatal: "+err.Error())
	}
	res.Params["child"] = child
	res.Params["rep"] = rep
	cpuPerUnit(res)
	res.Notes = append(res.Notes, env.notes...)
	if j.env != nil {
		// The socket and room jobs reuse scenarios (throughput, room):
		// the job's name keeps their rows apart in the summary.
		res.Params["job"] = j.name
	}
	if j.prefork > 0 {
		res.Params["prefork"] = j.prefork
		if len(extra) == 0 {
			res.Notes = append(res.Notes, "no --prefork: websocketd has none")
		}
	}
	if spec.standIn {
		res.Notes = append(res.Notes, "websocketd standing in for wsplex")
	}
	s.record(res)
	name := res.Scenario
	if j.env != nil {
		name = j.name
	}
	fmt.Fprintf(s.log, "%-10s %-7s %-10s rep %d: %9.1f %-10s %s (%.1fs)\n", name, child, spec.name, rep, res.Rate, res.RateUnit, headline(res), time.Since(t0).Seconds())
}

func headline(r *Result) string {
	for _, f := range r.LatencyOrder {
		if l := r.Latency[f]; l != nil && l.Count > 0 {
			v := fmt.Sprintf("%s p50 %.3fms p99 %.3fms", f, l.P50, l.P99)
			if !r.OK {
				v += " PROBLEMS"
			}
			return v
		}
	}
	if !r.OK {
		return "PROBLEMS"
	}
	return ""
}

// goroutines scrapes go_goroutines from the daemon's Prometheus endpoint,
// -1 when there is none.
func goroutines(d *daemon) float64 {
	if d.metrics == 0 {
		return -1
	}
	cl := http.Client{Timeout: 2 * time.Second}
	resp, err := cl.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", d.metrics))
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) == 2 && f[0] == "go_goroutines" {
			v, _ := strconv.ParseFloat(f[1], 64)
			return v
		}
	}
	return -1
}

// capacity measures the cost of idle connections and the open rate while
// many are held: connections are opened in steps to each level (by holder
// processes), the daemon is measured (RSS, fds, threads, goroutines,
// children's PSS, cgroup memory), then storms of 200 more from this process
// measure the open rate at that level.
func (s *suite) capacity(ctx context.Context, spec *serverSpec, rep int, cj capacityJob) {
	cmd, env := s.children[cj.child], &jobEnv{}
	var extra []string
	if cj.env != nil {
		var err error
		if env, err = cj.env(spec); err != nil {
			s.note("%s %s: %v", cj.name, spec.name, err)
			return
		}
		defer env.stop()
		if env.skip != "" {
			s.noteOnce("%s: %s", cj.name, env.skip)
			return
		}
		cmd, extra = env.child, env.extra
	}
	d, err := s.start(spec, cmd, false, extra...)
	if err != nil {
		s.note("%s %s: %v%s", cj.name, spec.name, err, logHint(err))
		return
	}
	defer func() { env.stop(); d.stop() }()
	if err := env.started(d); err != nil {
		s.note("%s %s: %v", cj.name, spec.name, err)
		return
	}
	pid := d.cmd.Process.Pid
	tg, _ := ParseTarget(d.url(), false)
	o := &Options{Target: tg, Duration: 0, HandshakeTimeout: 20 * time.Second, Label: spec.name, Loops: 1}
	r, err := NewRun(cj.name, o, map[string]any{"child": cj.child, "levels": cj.levels})
	if err != nil {
		s.note("%s: %v", cj.name, err)
		return
	}
	for _, n := range env.notes {
		r.Note("%s", n)
	}
	const stormN = 200
	const openProbes = 7
	// The held connections are opened from holder processes (holder.go),
	// the probes from this one.
	var holders []*holder
	defer func() {
		for _, h := range holders {
			h.stop()
		}
	}()
	held := 0
	var p0 ProcSample
	var baseCg int64
	fdsPerConn := 0.0
	for _, lv := range strings.Split(cj.levels, ",") {
		target := 0
		if lv == "max" {
			if fdsPerConn <= 0 {
				continue
			}
			// Both processes have RLIMIT_NOFILE; keep room for the storm and
			// the daemon's own descriptors.
			lim := float64(RaiseFileLimit())
			target = int(math.Min((lim-float64(p0.FDs)-float64(stormN)*fdsPerConn-100)/fdsPerConn, lim-float64(stormN)-200))
			if target <= held {
				continue
			}
		} else {
			target, _ = strconv.Atoi(lv)
		}
		if target > held {
			t0 := time.Now()
			h, k, err := startHolder(ctx, d.url(), target-held)
			if err != nil {
				s.note("%s %s: %v", cj.name, spec.name, err)
				break
			}
			holders = append(holders, h)
			held += k
			r.SetExtra(fmt.Sprintf("ramp_conn_per_s_to_%s", lv), float64(k)/time.Since(t0).Seconds())
			if held < target {
				s.note("%s %s: only %d of %d connections opened", cj.name, spec.name, held, target)
			}
		}
		// Let the daemon settle (children start, lazy allocations land).
		time.Sleep(time.Second)
		p, err := ReadProc(pid, true)
		if err != nil {
			s.note("%s %s: %v", cj.name, spec.name, err)
			break
		}
		cg := cgroupMemory(d, pid)
		// Figures are named by the level asked for, so the servers' rows
		// line up even when one of them could not open them all (the fd
		// limit); conns_held_at_<level> says how many were held.
		tag := lv
		if lv == "max" {
			r.SetExtra("max_conns", float64(held))
		}
		r.SetExtra("conns_held_at_"+tag, float64(held))
		r.SetExtra("server_rss_mib_at_"+tag, mib(p.RSS))
		r.SetExtra("server_fds_at_"+tag, float64(p.FDs))
		r.SetExtra("server_threads_at_"+tag, float64(p.Threads))
		r.SetExtra("server_children_pss_mib_at_"+tag, mib(p.ChildrenPSS))
		if g := goroutines(d); g >= 0 {
			r.SetExtra("server_goroutines_at_"+tag, g)
		}
		if cg > 0 {
			r.SetExtra("server_cgroup_mib_at_"+tag, mib(cg))
		}
		if held == 0 {
			p0, baseCg = p, cg
		} else {
			n := float64(held)
			r.SetExtra("server_rss_kib_per_conn_at_"+tag, float64(p.RSS-p0.RSS)/1024/n)
			r.SetExtra("server_fds_per_conn_at_"+tag, float64(p.FDs-p0.FDs)/n)
			r.SetExtra("server_children_pss_kib_per_conn_at_"+tag, float64(p.ChildrenPSS-p0.ChildrenPSS)/1024/n)
			if cg > 0 && baseCg > 0 {
				r.SetExtra("server_cgroup_kib_per_conn_at_"+tag, float64(cg-baseCg)/1024/n)
			}
			fdsPerConn = float64(p.FDs-p0.FDs) / n
		}
		// Open rate with this many held: the median of openProbes storms,
		// since one storm of stormN lasts a fraction of a second and a
		// single one swings by tens of percent on a shared machine.
		var rates, p99s []float64
		for i := 0; i < openProbes && ctx.Err() == nil; i++ {
			so := *o
			st, err := (&StormScenario{Conns: stormN, Concurrency: 50, Size: 32, Keep: false}).Run(ctx, &so)
			if err == nil && st != nil {
				rates = append(rates, st.Rate)
				if l := st.Latency["handshake"]; l != nil {
					p99s = append(p99s, l.P99)
				}
			}
		}
		if len(rates) > 0 {
			med, lo, hi := median(rates)
			r.SetExtra("open_conn_per_s_at_"+tag, med)
			r.SetExtra("open_conn_per_s_min_at_"+tag, lo)
			r.SetExtra("open_conn_per_s_max_at_"+tag, hi)
		}
		if len(p99s) > 0 {
			med, _, _ := median(p99s)
			r.SetExtra("open_handshake_p99_ms_at_"+tag, med)
		}
		fmt.Fprintf(s.log, "%-10s %-10s %6d held: rss %.1f MiB, fds %d, threads %d, children pss %.1f MiB, open rate %.0f/s\n",
			cj.name, spec.name, held, mib(p.RSS), p.FDs, p.Threads, mib(p.ChildrenPSS), r.extra["open_conn_per_s_at_"+tag])
	}
	if !spec.metrics {
		r.Note("goroutines n/a: websocketd has no metrics endpoint; see its thread count")
	}
	if spec.standIn {
		r.Note("websocketd standing in for wsplex")
	}
	if d.cgroup == "" {
		r.Note("cgroup memory is that of the cgroup the daemon shares with the bench (a sub-cgroup could not be made), so it includes wsbench's own growth")
	}
	res := r.Finish()
	res.Params["rep"] = rep
	res.Msgs = MsgCounts{}
	res.finishOK()
	s.record(res)
}

// cgroupMemory reads the memory charged to the daemon's cgroup (v2
// memory.current or v1 memory.usage_in_bytes).
func cgroupMemory(d *daemon, pid int) int64 {
	dir := d.cgroup
	if dir == "" {
		dir = cgroupDir(pid)
	}
	if dir == "" {
		return 0
	}
	for _, f := range []string{"memory.current", "memory.usage_in_bytes"} {
		if b, err := os.ReadFile(filepath.Join(dir, f)); err == nil {
			v, _ := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
			return v
		}
	}
	return 0
}

// cgroupDir finds the memory cgroup directory of pid (v2 or v1).
func cgroupDir(pid int) string { return cgroupDirFor(pid, "memory") }

// cgroupDirFor finds pid's cgroup directory: the v2 one, or that of the v1
// hierarchy carrying controller.
func cgroupDirFor(pid int, controller string) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		return ""
	}
	for _, ln := range strings.Split(string(b), "\n") {
		f := strings.SplitN(ln, ":", 3)
		if len(f) != 3 {
			continue
		}
		if f[1] == "" && f[0] == "0" {
			if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
				return filepath.Join("/sys/fs/cgroup", f[2])
			}
		}
		for _, c := range strings.Split(f[1], ",") {
			if c == controller {
				return filepath.Join("/sys/fs/cgroup", controller, f[2])
			}
		}
	}
	return ""
}

// enterCgroup moves pid into a new child of our own memory cgroup, so that
// its memory (and its children's, which inherit the group) is counted apart
// from the bench's. It returns "" when that is not possible here.
func enterCgroup(pid int, name string) string {
	parent := cgroupDir(os.Getpid())
	if parent == "" {
		return ""
	}
	dir := filepath.Join(parent, name)
	if err := os.Mkdir(dir, 0o755); err != nil {
		return ""
	}
	if err := os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(strconv.Itoa(pid)), 0o644); err != nil {
		os.Remove(dir)
		return ""
	}
	return dir
}

// enterCPUCgroup gives pid a cgroup whose CPU counter is its own: under
// cgroup v2 the one enterCgroup made (every v2 cgroup has cpu.stat), under
// v1 a new child of our cpuacct cgroup. "" when neither is possible.
func enterCPUCgroup(pid int, memDir, name string) string {
	if memDir != "" && cgroupCPU(memDir) >= 0 {
		return memDir
	}
	parent := cgroupDirFor(os.Getpid(), "cpuacct")
	if parent == "" || parent == memDir {
		return ""
	}
	dir := filepath.Join(parent, name)
	if err := os.Mkdir(dir, 0o755); err != nil {
		return ""
	}
	if err := os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(strconv.Itoa(pid)), 0o644); err != nil || cgroupCPU(dir) < 0 {
		os.Remove(dir)
		return ""
	}
	return dir
}

// cpuPerUnit adds the server's CPU per unit of the run's rate (message,
// cycle, connection, record): the cost of one unit of work, comparable
// between servers that did different amounts of it in the same time.
func cpuPerUnit(r *Result) {
	if r.Server == nil || r.Server.WholeCPU <= 0 {
		return
	}
	if r.Extra == nil {
		r.Extra = map[string]float64{}
	}
	var n float64
	var unit string
	switch r.RateUnit {
	case "msg/s":
		n, unit = float64(r.Msgs.Received), "msg"
	case "records/s":
		n, unit = float64(r.Msgs.Received), "record"
	case "cycles/s":
		n, unit = float64(r.Msgs.Received), "cycle" // one echo per cycle
	case "conn/s":
		n, unit = float64(r.Conns.Opened), "conn"
	case "deliveries/s":
		return // the room scenario reports CPU per delivery for its measured phases
	}
	if n > 0 {
		r.Extra["server_cpu_us_per_"+unit] = r.Server.WholeCPU / n * 1e6
	}
}

// suiteJobNames are the jobs --only selects from.
var suiteJobNames = []string{"latency", "throughput", "trickle", "throughput100", "inflight32", "storm", "churn", "binary", "slow", "resume", "prefork", "capacity",
	"backend", "backend-capacity", "room", "room-ramp", "room-recipe"}

// ---- summary ----

type figure struct {
	name  string
	unit  string
	lower bool // lower is better
	get   func(*Result) (float64, bool)
}

func resultFigures(r *Result) []figure {
	var fs []figure
	if r.Rate > 0 || r.RateUnit != "" {
		fs = append(fs, figure{"rate", r.RateUnit, false, func(r *Result) (float64, bool) { return r.Rate, r.RateUnit != "" }})
	}
	for _, n := range r.LatencyOrder {
		for _, q := range []struct {
			n string
			f func(*Latency) float64
		}{{"p50", func(l *Latency) float64 { return l.P50 }}, {"p99", func(l *Latency) float64 { return l.P99 }},
			{"p99.9", func(l *Latency) float64 { return l.P999 }}, {"max", func(l *Latency) float64 { return l.Max }}} {
			fs = append(fs, figure{n + " " + q.n, "ms", true, func(r *Result) (float64, bool) {
				l := r.Latency[n]
				if l == nil || l.Count == 0 {
					return 0, false
				}
				return q.f(l), true
			}})
		}
	}
	keys := make([]string, 0, len(r.Extra))
	for k := range r.Extra {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fs = append(fs, figure{k, "", !strings.Contains(k, "per_s"), func(r *Result) (float64, bool) { v, ok := r.Extra[k]; return v, ok }})
	}
	fs = append(fs,
		figure{"server cpu", "s", true, func(r *Result) (float64, bool) {
			if r.Server == nil {
				return 0, false
			}
			return r.Server.WholeCPU, true
		}},
		figure{"server rss peak", "MiB", true, func(r *Result) (float64, bool) {
			if r.Server == nil {
				return 0, false
			}
			return mib(r.Server.RSSPeak), true
		}},
		figure{"server threads peak", "", true, func(r *Result) (float64, bool) {
			if r.Server == nil {
				return 0, false
			}
			return float64(r.Server.ThreadsPeak), true
		}})
	return fs
}

func median(v []float64) (med, lo, hi float64) {
	sort.Float64s(v)
	n := len(v)
	if n%2 == 1 {
		med = v[n/2]
	} else {
		med = (v[n/2-1] + v[n/2]) / 2
	}
	return med, v[0], v[n-1]
}

func (s *suite) write(stdout io.Writer, took time.Duration) error {
	var md strings.Builder
	names := s.serverNames()
	cols := summaryColumns(names)
	fmt.Fprintf(&md, "# wsbench suite: %s\n\n%s, %d repetition(s) interleaved (%s), phases of %v, took %s.\n",
		strings.Join(names, " vs "), time.Now().Format(time.RFC3339), s.c.reps, strings.Join(names, " "), s.c.dur, took.Round(time.Second))
	fmt.Fprintf(&md, "Each figure: median [min-max] over repetitions; ")
	for i, c := range cols {
		if i > 0 {
			fmt.Fprintf(&md, ", ")
		}
		fmt.Fprintf(&md, "%s = %s/%s", c.title, c.num, c.den)
	}
	fmt.Fprintf(&md, " of the medians (for latencies, memory and CPU lower is better; for rates higher is better).\n")
	if s.c.prev != "" {
		fmt.Fprintf(&md, "wsplex-prev is %s", s.c.prev)
		if s.c.prevDesc != "" {
			fmt.Fprintf(&md, ", built from %s", s.c.prevDesc)
		}
		fmt.Fprintf(&md, ".\n")
	}
	fmt.Fprintf(&md, "Server CPU: %s.\n\n", cpuSources(s.results))
	for _, n := range s.notes {
		fmt.Fprintf(&md, "- note: %s\n", n)
	}
	// Group by scenario + child + params that define the case.
	type key struct{ sc, child, desc string }
	var order []key
	groups := map[key][]*Result{}
	for _, r := range s.results {
		desc := paramDesc(r)
		k := key{r.Scenario, fmt.Sprint(r.Params["child"]), desc}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], r)
	}
	for _, k := range order {
		g := groups[k]
		fmt.Fprintf(&md, "\n## %s (child %s) %s\n\n| figure | %s |", k.sc, k.child, k.desc, strings.Join(names, " | "))
		for _, c := range cols {
			fmt.Fprintf(&md, " %s |", c.title)
		}
		fmt.Fprintf(&md, "\n|---|%s\n", strings.Repeat("---|", len(names)+len(cols)))
		figs := resultFigures(g[0])
		seen := map[string]bool{}
		for _, r := range g[1:] {
			figs = append(figs, resultFigures(r)...)
		}
		for _, f := range figs {
			if seen[f.name] {
				continue
			}
			seen[f.name] = true
			cell := make([]string, len(names))
			med := map[string]float64{}
			for i, name := range names {
				var vs []float64
				for _, r := range g {
					if r.Label != name {
						continue
					}
					if v, ok := f.get(r); ok {
						vs = append(vs, v)
					}
				}
				if len(vs) == 0 {
					cell[i] = "n/a"
					med[name] = math.NaN()
					continue
				}
				m, lo, hi := median(vs)
				med[name] = m
				cell[i] = fmtNum3(m)
				if len(vs) > 1 {
					cell[i] += fmt.Sprintf(" [%s-%s]", fmtNum3(lo), fmtNum3(hi))
				}
				if f.unit != "" {
					cell[i] += " " + f.unit
				}
			}
			some := false
			for _, c := range cell {
				some = some || c != "n/a"
			}
			if !some {
				continue
			}
			fmt.Fprintf(&md, "| %s | %s |", f.name, strings.Join(cell, " | "))
			for _, c := range cols {
				fmt.Fprintf(&md, " %s |", ratioCell(med, c))
			}
			fmt.Fprintf(&md, "\n")
		}
		var probs []string
		for _, r := range g {
			if !r.OK {
				probs = append(probs, fmt.Sprintf("%s rep %v: lost %d reordered %d corrupt %d failed %d dropped %d %s",
					r.Label, r.Params["rep"], r.Msgs.Lost, r.Msgs.Reordered, r.Msgs.Corrupt, r.Conns.Failed, r.Conns.Dropped, strings.Join(r.ErrorSamples, "; ")))
			}
			for _, n := range r.Notes {
				probs = append(probs, r.Label+": "+n)
			}
		}
		if len(probs) > 0 {
			sort.Strings(probs)
			probs = dedup(probs)
			fmt.Fprintf(&md, "\n")
			for _, p := range probs {
				fmt.Fprintf(&md, "- %s\n", p)
			}
		}
	}
	if err := os.WriteFile(filepath.Join(s.c.out, "summary.md"), []byte(md.String()), 0o644); err != nil {
		return err
	}
	intro := "<p>Raw results: results.jsonl; summary: summary.md.</p>"
	if err := os.WriteFile(filepath.Join(s.c.out, "report.html"), RenderHTML("wsbench suite: "+strings.Join(names, " vs "), s.results, intro), 0o644); err != nil {
		return err
	}
	fmt.Fprint(stdout, md.String())
	fmt.Fprintf(stdout, "\nwritten to %s (summary.md, report.html, results.jsonl, raw/)\n", s.c.out)
	if len(s.results) == 0 {
		return errors.New("no results")
	}
	return nil
}

// serverNames are the labels of the suite's servers, in run order.
func (s *suite) serverNames() []string {
	var out []string
	for _, sp := range s.servers {
		out = append(out, sp.name)
	}
	return out
}

// ratioColumn is one ratio column of the summary: num/den of the medians.
type ratioColumn struct{ title, num, den string }

// summaryColumns: wsplex against websocketd always, and against the previous
// wsplex when there is one (the change itself).
func summaryColumns(names []string) []ratioColumn {
	has := map[string]bool{}
	for _, n := range names {
		has[n] = true
	}
	var out []ratioColumn
	if has["wsplex"] && has["websocketd"] {
		out = append(out, ratioColumn{"new/websocketd", "wsplex", "websocketd"})
	}
	if has["wsplex"] && has["wsplex-prev"] {
		out = append(out, ratioColumn{"new/prev", "wsplex", "wsplex-prev"})
	}
	return out
}

func ratioCell(med map[string]float64, c ratioColumn) string {
	a, aok := med[c.num]
	b, bok := med[c.den]
	if !aok || !bok || math.IsNaN(a) || math.IsNaN(b) || b == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.2f", a/b)
}

// cpuSources says how the results' server CPU was counted.
func cpuSources(rs []*Result) string {
	n := map[string]int{}
	for _, r := range rs {
		if r.Server != nil {
			n[r.Server.CPUSource]++
		}
	}
	var parts []string
	if n["cgroup"] > 0 {
		parts = append(parts, fmt.Sprintf("%d run(s) from the daemon's own cgroup (daemon, helper processes and every child, exited ones included)", n["cgroup"]))
	}
	if n["proc"] > 0 {
		parts = append(parts, fmt.Sprintf("%d run(s) from /proc (daemon plus its live descendants; children that exit between samples are missed)", n["proc"]))
	}
	if len(parts) == 0 {
		return "not sampled"
	}
	return strings.Join(parts, "; ")
}

func dedup(s []string) []string {
	var out []string
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}

func paramDesc(r *Result) string {
	var ks []string
	for k := range r.Params {
		if k != "child" && k != "rep" {
			ks = append(ks, k)
		}
	}
	sort.Strings(ks)
	var out []string
	for _, k := range ks {
		out = append(out, fmt.Sprintf("%s=%v", k, r.Params[k]))
	}
	return strings.Join(out, " ")
}

func fmtNum3(v float64) string {
	a := math.Abs(v)
	switch {
	case v == math.Trunc(v) && a < 1e12:
		return fmt.Sprintf("%.0f", v)
	case a >= 100:
		return fmt.Sprintf("%.0f", v)
	case a >= 10:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.3g", v)
}
