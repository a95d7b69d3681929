package bench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// fakeDaemon serves the test echo server on the --port the suite gives a
// daemon, ignoring its other arguments (and the child), until SIGTERM: a
// stand-in for wsplex, wsplex-prev and websocketd in the suite's tests.
func fakeDaemon(args []string) {
	port := ""
	for _, a := range args {
		if v, ok := strings.CutPrefix(a, "--port="); ok {
			port = v
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:"+port)
	if err != nil {
		fmt.Fprintln(os.Stderr, "fake daemon:", err)
		os.Exit(1)
	}
	// Its command line goes to its log (the suite's raw/), for tests of
	// what the suite asks of a daemon.
	fmt.Println("fake daemon:", strings.Join(args, " "))
	startServerOn(&testing.T{}, ln, faults{})
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGTERM, syscall.SIGINT)
	<-ch
	os.Exit(0)
}

// fakeDaemonBin writes a script that runs this test binary as fakeDaemon
// (the variable is set for the daemon alone, not for the holders or children
// the suite starts from this process).
func fakeDaemonBin(t *testing.T, name string) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(fmt.Sprintf("#!/bin/sh\nWSBENCH_FAKE_DAEMON=1 exec %q \"$@\"\n", exe)), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func runSuiteForTest(t *testing.T, args ...string) (string, []*Result) {
	t.Helper()
	out, rs := runSuiteIn(t, args...)
	md, err := os.ReadFile(filepath.Join(out, "summary.md"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(out, "report.html")); err != nil {
		t.Error(err)
	}
	return string(md), rs
}

// runSuiteIn runs the suite with short phases, cat as the child, into a
// directory of its own, and returns that directory and the results.
func runSuiteIn(t *testing.T, args ...string) (string, []*Result) {
	t.Helper()
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	args = append([]string{"--out", out, "--children", "cat", "--duration", "300ms"}, args...)
	if code := suiteMain(context.Background(), args, &stdout, &stderr); code != ExitOK {
		t.Fatalf("suite exit %d\n%s\n%s", code, stdout.String(), stderr.String())
	}
	f, err := os.Open(filepath.Join(out, "results.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rs, err := ParseResults(f)
	if err != nil {
		t.Fatal(err)
	}
	return out, rs
}

// With --prev the suite runs every job against wsplex, wsplex-prev and
// websocketd in turn (A B C A B C), and the summary has a column per daemon
// and the ratios new/websocketd and new/prev.
func TestSuiteThreeDaemonsInterleaved(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the suite samples servers from /proc")
	}
	md, rs := runSuiteForTest(t, "--wsplex", fakeDaemonBin(t, "new"), "--prev", fakeDaemonBin(t, "old"),
		"--websocketd", fakeDaemonBin(t, "ref"), "--prev-desc", "HEAD~1 (test)", "--reps", "2", "--only", "latency,throughput")
	order := []string{"wsplex", "wsplex-prev", "websocketd"}
	// 2 repetitions x 2 jobs x 3 daemons, in this order.
	var want []string
	for rep := 1; rep <= 2; rep++ {
		for _, sc := range []string{"latency", "throughput"} {
			for _, d := range order {
				want = append(want, fmt.Sprintf("%s %s rep %d", sc, d, rep))
			}
		}
	}
	var got []string
	for _, r := range rs {
		got = append(got, fmt.Sprintf("%s %s rep %v", r.Scenario, r.Label, r.Params["rep"]))
		if !r.OK {
			t.Errorf("%s %s: not OK: %+v %v", r.Scenario, r.Label, r.Msgs, r.ErrorSamples)
		}
		if r.Server == nil || (r.Server.CPUSource != "cgroup" && r.Server.CPUSource != "proc") {
			t.Errorf("%s %s: no whole-server CPU: %+v", r.Scenario, r.Label, r.Server)
		} else if r.Server.CPUSource == "cgroup" && (r.Server.WholeCPU <= 0 || r.Extra["server_cpu_us_per_msg"] <= 0) {
			t.Errorf("%s %s: cgroup CPU %v s, %v us per message: want both positive", r.Scenario, r.Label, r.Server.WholeCPU, r.Extra["server_cpu_us_per_msg"])
		}
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("runs in this order:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, w := range []string{
		"# wsbench suite: wsplex vs wsplex-prev vs websocketd",
		"built from HEAD~1 (test)",
		"| figure | wsplex | wsplex-prev | websocketd | new/websocketd | new/prev |",
		"|---|---|---|---|---|---|\n",
		"Server CPU: ",
	} {
		if !strings.Contains(md, w) {
			t.Errorf("summary.md lacks %q:\n%s", w, md)
		}
	}
	// Every figure row has a cell per daemon and per ratio.
	rows := 0
	for _, ln := range strings.Split(md, "\n") {
		if strings.HasPrefix(ln, "| rate |") || strings.HasPrefix(ln, "| server cpu |") {
			rows++
			if n := strings.Count(ln, "|"); n != 7 {
				t.Errorf("row %q has %d cells, want 6", ln, n-1)
			}
		}
	}
	if rows != 4 {
		t.Errorf("%d rate and server cpu rows, want 4 (two jobs):\n%s", rows, md)
	}
}

// Without --prev the suite is the two-daemon comparison it always was.
func TestSuiteWithoutPrev(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the suite samples servers from /proc")
	}
	md, rs := runSuiteForTest(t, "--wsplex", fakeDaemonBin(t, "new"), "--websocketd", fakeDaemonBin(t, "ref"),
		"--reps", "1", "--only", "latency")
	var got []string
	for _, r := range rs {
		got = append(got, r.Label)
	}
	if strings.Join(got, " ") != "wsplex websocketd" {
		t.Errorf("runs %v, want wsplex websocketd", got)
	}
	if !strings.Contains(md, "| figure | wsplex | websocketd | new/websocketd |\n|---|---|---|---|\n") || strings.Contains(md, "prev") {
		t.Errorf("summary.md is not the two-daemon table:\n%s", md)
	}
}

// The cgroup count of server CPU includes children that exited during the
// run (which sampling /proc misses): a shell whose subshell burns CPU and
// exits is charged for it.
func TestCgroupCPUCountsExitedChildren(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("cgroups are Linux-only")
	}
	cmd := exec.Command("sh", "-c", `read x; (i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done); echo done; read y`)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	name := fmt.Sprintf("wsbench-test-%d", os.Getpid())
	mem := enterCgroup(cmd.Process.Pid, name)
	cpu := enterCPUCgroup(cmd.Process.Pid, mem, name)
	if cpu == "" {
		stdin.Close()
		cmd.Process.Kill()
		cmd.Wait()
		t.Skip("no cgroup of our own can be made here")
	}
	defer func() {
		stdin.Close()
		cmd.Process.Kill()
		cmd.Wait()
		os.Remove(cpu)
		if mem != "" && mem != cpu {
			os.Remove(mem)
		}
	}()
	s, err := StartSamplerCgroup(cmd.Process.Pid, cpu, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	stdin.Write([]byte("go\n"))
	if ln, err := bufio.NewReader(stdout).ReadString('\n'); err != nil || ln != "done\n" {
		t.Fatalf("shell said %q, %v", ln, err)
	}
	st := s.Stop()
	if st.CPUSource != "cgroup" || st.WholeCPU < 0.05 {
		t.Errorf("cgroup CPU %.3f s (%s) for a subshell that counted to 300,000 and exited; want at least 0.05 s from the cgroup", st.WholeCPU, st.CPUSource)
	}
	// Why the cgroup: /proc sampling (first and last sample here) never
	// saw the subshell, which the shell reaped.
	if proc := st.CPUSeconds + st.ChildrenCPU; proc >= st.WholeCPU/2 {
		t.Errorf("/proc saw %.3f s of the cgroup's %.3f s: the subshell was expected to be missed", proc, st.WholeCPU)
	}
}

func TestSuiteOnlyUnknownJob(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := suiteMain(context.Background(), []string{"--out", t.TempDir(), "--only", "latency,nosuchjob"}, &stdout, &stderr); code != ExitUsage {
		t.Fatalf("exit %d, want %d (usage)\n%s", code, ExitUsage, stderr.String())
	}
	if !strings.Contains(stderr.String(), `unknown job "nosuchjob"`) {
		t.Errorf("stderr %q does not name the unknown job", stderr.String())
	}
}
