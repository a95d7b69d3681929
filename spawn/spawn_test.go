package spawn

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// chanNotifier hands processes to the test goroutine, which plays the
// owner's part: the same contract an event loop has.
type chanNotifier chan *Process

func (n chanNotifier) Notify(p *Process) { n <- p }

// forceDirect makes newSpawner use the direct fork path; TestDirectPath
// sets it to run the common tests again on that path.
var forceDirect bool

func newSpawner(t *testing.T) *Spawner {
	t.Helper()
	s, err := NewWith(1, Options{Direct: forceDirect})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func lookPath(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s not found", name)
	}
	return p
}

// await takes events until cond holds or the deadline passes.
func await(t *testing.T, n chanNotifier, p *Process, what string, cond func(bits uint32) bool) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	if cond(p.TakeEvents()) {
		return
	}
	for {
		select {
		case <-n:
			if cond(p.TakeEvents()) {
				return
			}
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func reapAll(t *testing.T, n chanNotifier, p *Process) unix.WaitStatus {
	t.Helper()
	var st unix.WaitStatus
	await(t, n, p, "exit", func(uint32) bool {
		var ok bool
		st, ok = p.Reap()
		return ok
	})
	p.Release()
	return st
}

func TestEchoThroughCat(t *testing.T) {
	s := newSpawner(t)
	n := make(chanNotifier, 16)
	cat := lookPath(t, "cat")
	p, err := s.Start(Spec{Path: cat, Args: []string{"cat"}, Env: []string{}}, n)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.WriteStdin([]byte("hello\n"), []byte("world\n")); err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	buf := make([]byte, 4096)
	await(t, n, p, "echo", func(uint32) bool {
		for {
			k, err := p.ReadStdout(buf)
			got.Write(buf[:k])
			if err != nil {
				break
			}
		}
		return got.String() == "hello\nworld\n"
	})
	p.CloseStdin()
	var eof bool
	await(t, n, p, "EOF", func(uint32) bool {
		_, err := p.ReadStdout(buf)
		eof = eof || err == io.EOF
		return eof
	})
	if st := reapAll(t, n, p); st.ExitStatus() != 0 {
		t.Fatalf("cat exit status %d", st.ExitStatus())
	}
	if p.FDs() != 0 {
		t.Fatalf("%d fds left after Release", p.FDs())
	}
}

func TestEnvironmentIsExactlyTheSpec(t *testing.T) {
	s := newSpawner(t)
	n := make(chanNotifier, 16)
	env := lookPath(t, "env")
	p, err := s.Start(Spec{Path: env, Args: []string{"env"}, Env: []string{"A=1", "B=two words"}}, n)
	if err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	buf := make([]byte, 4096)
	await(t, n, p, "output", func(uint32) bool {
		for {
			k, err := p.ReadStdout(buf)
			got.Write(buf[:k])
			if err == io.EOF {
				return true
			}
			if err != nil {
				return false
			}
		}
	})
	reapAll(t, n, p)
	if got.String() != "A=1\nB=two words\n" {
		t.Fatalf("env = %q", got.String())
	}
}

func TestOwnProcessGroup(t *testing.T) {
	s := newSpawner(t)
	n := make(chanNotifier, 16)
	sh := lookPath(t, "sh")
	p, err := s.Start(Spec{Path: sh, Args: []string{"sh", "-c", "exec cat"}, Env: []string{}}, n)
	if err != nil {
		t.Fatal(err)
	}
	pgid, err := unix.Getpgid(p.Pid)
	if err != nil {
		t.Fatal(err)
	}
	if pgid != p.Pid {
		t.Fatalf("pgid %d, want %d (own group)", pgid, p.Pid)
	}
	p.CloseStdin()
	reapAll(t, n, p)
}

func TestStartFailureLeavesNothing(t *testing.T) {
	s := newSpawner(t)
	before := countFDs(t)
	_, err := s.Start(Spec{Path: "/nonexistent/prog", Args: []string{"prog"}}, make(chanNotifier, 1))
	if err == nil || !errors.Is(err, unix.ENOENT) {
		t.Fatalf("err = %v, want ENOENT", err)
	}
	expectFDs(t, before, "after a failed start")
}

// TestLadderSignalsTheGroup: a child that ignores end of input and SIGINT,
// with a grandchild in its group, is stopped by SIGTERM, and the
// grandchild goes with it.
func TestLadderSignalsTheGroup(t *testing.T) {
	s := newSpawner(t)
	n := make(chanNotifier, 16)
	sh := lookPath(t, "sh")
	script := `trap '' INT; sleep 60 & echo $!; while :; do sleep 0.05; done`
	p, err := s.Start(Spec{Path: sh, Args: []string{"sh", "-c", script}, Env: []string{"PATH=" + os.Getenv("PATH")}}, n)
	if err != nil {
		t.Fatal(err)
	}
	grandchild := readPid(t, n, p, "grandchild pid")
	l := Ladder{}
	var rungs []int
	start := time.Now()
	for {
		if _, ok := p.Reap(); ok {
			break
		}
		rungs = append(rungs, l.Rung())
		wait, done := l.Step(p)
		if done {
			break
		}
		// Wait out the rung unless the child exits first; other events
		// (output, EOF) are drained so the notifier can fire again.
		timer := time.NewTimer(wait)
	rung:
		for {
			select {
			case <-n:
				p.TakeEvents()
				if _, ok := p.Reap(); ok {
					timer.Stop()
					break rung
				}
			case <-timer.C:
				break rung
			}
		}
	}
	st := reapAll(t, n, p)
	if !st.Signaled() || st.Signal() != unix.SIGTERM {
		t.Fatalf("status %v, want killed by SIGTERM (rungs %v)", st, rungs)
	}
	if len(rungs) != 3 || rungs[2] != RungTerm {
		t.Fatalf("rungs %v, want stdin, int, term", rungs)
	}
	if el := time.Since(start); el < 350*time.Millisecond {
		t.Fatalf("ladder reached SIGTERM after %v, before 100+250 ms", el)
	}
	// The grandchild got SIGTERM too; it is not our child, so wait for it
	// to disappear rather than reap it.
	deadline := time.Now().Add(10 * time.Second)
	for unix.Kill(grandchild, 0) == nil {
		if isZombie(grandchild) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("grandchild %d outlived the ladder", grandchild)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func isZombie(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	return len(f) > 0 && f[0] == "Z"
}

// readPid reads the first line of p's stdout, a pid the child printed.
func readPid(t *testing.T, n chanNotifier, p *Process, what string) int {
	t.Helper()
	var out bytes.Buffer
	buf := make([]byte, 64)
	await(t, n, p, what, func(uint32) bool {
		k, _ := p.ReadStdout(buf)
		out.Write(buf[:k])
		return strings.Contains(out.String(), "\n")
	})
	pid, err := strconv.Atoi(strings.TrimSpace(out.String()))
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return pid
}

func countFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc")
	}
	return len(ents)
}

// expectFDs fails unless the test process holds want fds again within a few
// seconds. The wait is for the daemon side's orphan sweep, which runs at
// each SIGCHLD and holds a /proc file (and, while it looks at a candidate,
// a pidfd) open for a moment; a leak stays and is listed.
func expectFDs(t *testing.T, want int, what string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := countFDs(t)
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			ents, _ := os.ReadDir("/proc/self/fd")
			var open []string
			for _, e := range ents {
				l, _ := os.Readlink("/proc/self/fd/" + e.Name())
				open = append(open, e.Name()+"->"+l)
			}
			t.Fatalf("fds %d -> %d %s; open: %v", want, got, what, open)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
