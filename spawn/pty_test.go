//go:build linux

package spawn

import (
	"bytes"
	"errors"
	"io"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// readPTY reads p's terminal output until cond holds on all of it so far,
// or until end of file.
func readPTY(t *testing.T, n chanNotifier, p *Process, what string, cond func(string) bool) (string, bool) {
	t.Helper()
	var got bytes.Buffer
	eof := false
	buf := make([]byte, 4096)
	await(t, n, p, what, func(uint32) bool {
		for {
			k, err := p.ReadStdout(buf)
			got.Write(buf[:k])
			if cond(got.String()) {
				return true
			}
			if errors.Is(err, io.EOF) {
				eof = true
				return true
			}
			if err != nil {
				return false
			}
		}
	})
	return got.String(), eof
}

// TestPTYSessionAndSize: the child is a session leader on a terminal of
// the requested size, a resize is seen, and the end of its output is a
// clean end of file (the master's EIO), with nothing lost before it.
func TestPTYSessionAndSize(t *testing.T) {
	sh := lookPath(t, "sh")
	s := newSpawner(t)
	n := make(chanNotifier, 16)
	before := countFDs(t)
	p, err := s.StartPTY(Spec{Path: sh, Args: []string{"sh", "-c", `tty; stty size; ps -o sid= -p $$; read x; stty size; echo done`}, Env: []string{"PATH=/usr/bin:/bin"}}, Winsize{Cols: 100, Rows: 30}, n)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := readPTY(t, n, p, "tty and size", func(s string) bool { return strings.Count(s, "\n") >= 3 })
	lines := strings.Fields(out)
	if len(lines) < 4 || !strings.HasPrefix(lines[0], "/dev/pts/") || lines[1] != "30" || lines[2] != "100" {
		t.Fatalf("output %q: want a /dev/pts path and \"30 100\"", out)
	}
	if lines[3] != strconv.Itoa(p.Pid) {
		t.Errorf("session id %s, want the child's pid %d", lines[3], p.Pid)
	}
	if err := p.Resize(Winsize{Cols: 132, Rows: 43}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.WriteStdin([]byte("\n")); err != nil {
		t.Fatal(err)
	}
	out, eof := readPTY(t, n, p, "end of output", func(string) bool { return false })
	if !eof || !strings.Contains(out, "43 132") || !strings.Contains(out, "done") {
		t.Fatalf("after resize: %q (eof %v), want \"43 132\" then done and end of file", out, eof)
	}
	if st := reapAll(t, n, p); st.ExitStatus() != 0 {
		t.Errorf("exit status %v", st)
	}
	expectFDs(t, before, "after the session")
}

// TestPTYHangup: SIGHUP reaches the session; the exit is reaped.
func TestPTYHangup(t *testing.T) {
	sleep := lookPath(t, "sleep")
	s := newSpawner(t)
	n := make(chanNotifier, 16)
	p, err := s.StartPTY(Spec{Path: sleep, Args: []string{"sleep", "60"}}, Winsize{Cols: 80, Rows: 24}, n)
	if err != nil {
		t.Fatal(err)
	}
	p.Hangup()
	st := reapAll(t, n, p)
	if !st.Signaled() || st.Signal() != unix.SIGHUP {
		t.Fatalf("status %v, want killed by SIGHUP", st)
	}
}
