package main

// What /proc says about the daemon and its children: process trees,
// states, fds, memory and I/O counters, for the hygiene and scale checks.

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// parsePid returns the child pid named by a session log line.
func parsePid(t testing.TB, line string) int {
	t.Helper()
	m := pidRe.FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("no pid in log line %q", line)
	}
	pid, _ := strconv.Atoi(m[1])
	return pid
}

// procGone reports whether pid no longer runs: no /proc entry, or a zombie
// (nobody may reap an orphan in a container without an init).
func procGone(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+2 >= len(s) {
		return false
	}
	return s[i+2] == 'Z' || s[i+2] == 'X'
}

// waitGone polls /proc until pid is gone and returns the CLOCK_MONOTONIC
// time (ns) at which it was first seen gone; it fails the test after timeout.
func waitGone(t testing.TB, pid int, timeout time.Duration) int64 {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !procGone(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("process %d still running after %v", pid, timeout)
		}
		time.Sleep(5 * time.Millisecond) // polling /proc: there is no event to wait on
	}
	return monoNow()
}

// killIfAlive is a cleanup for a process the test expects the daemon to
// stop: if it survived, kill it so that nothing outlives the test.
func killIfAlive(t testing.TB, pid int, comm string) {
	t.Cleanup(func() {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
		if err == nil && strings.TrimSpace(string(b)) == comm && !procGone(pid) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	})
}

// monoNow is CLOCK_MONOTONIC in nanoseconds, the clock of Python's
// time.monotonic_ns(), so that the test and a child can compare times.
func monoNow() int64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		panic(err)
	}
	return ts.Nano()
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
	out, err := descendants(root)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// descendants is procDescendants returning the error, for code that has no
// test to fail.
func descendants(root int) ([]procStat, error) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
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
	return out, nil
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

func sampleRSS(t testing.TB, pid int, every time.Duration) *rssSampler {
	s := &rssSampler{pid: pid, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			if kb, err := readRSS(pid); err == nil {
				s.samples.Add(1)
				if int64(kb) > s.max.Load() {
					s.max.Store(int64(kb))
				}
			}
			select {
			case <-s.stop:
				return
			case <-tick.C:
			}
		}
	}()
	t.Cleanup(func() { s.finish() })
	return s
}

// finish stops sampling and returns the largest RSS seen, in KiB.
func (s *rssSampler) finish() int {
	select {
	case <-s.stop:
	default:
		close(s.stop)
	}
	<-s.done
	return int(s.max.Load())
}

var pidRe = regexp.MustCompile(`pid:'(\d+)'`)
