package spawn

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// TestStartErrorReasons: a start that execve refuses names the cause, on
// the spawner-process path and on the direct one, with pipes and on a
// terminal.
func TestStartErrorReasons(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cases := []struct{ path, want string }{
		{write("noexec.sh", "#!/bin/sh\n", 0o644), "noexec.sh is not executable"},
		{write("nointerp.py", "#!/nonexistent/python -u\n", 0o755), "interpreter /nonexistent/python (from the #! line of nointerp.py) not found"},
		{write("dos.sh", "#!/bin/sh\r\n", 0o755), `interpreter /bin/sh\r (from the #! line of dos.sh) not found (DOS line endings)`},
		{write("empty.sh", "#!  \n", 0o755), "the #! line of empty.sh names no interpreter"},
		{write("badinterp.sh", "#!"+write("interp", "", 0o644)+"\n", 0o755), "interpreter " + filepath.Join(dir, "interp") + " (from the #! line of badinterp.sh) is not executable"},
		{filepath.Join(dir, "missing"), "missing not found"},
		{dir, filepath.Base(dir) + " is a directory"},
	}
	for _, direct := range []bool{false, true} {
		s, err := NewWith(1, Options{Direct: direct})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.Close)
		for _, tc := range cases {
			check := func(how string, err error) {
				t.Helper()
				var se *StartError
				if !errors.As(err, &se) || se.Reason != tc.want {
					t.Errorf("direct=%v %s %s: got %v, want a StartError %q", direct, how, tc.path, err, tc.want)
				}
			}
			_, err := s.Start(Spec{Path: tc.path, Args: []string{tc.path}}, chanNotifier(make(chan *Process, 8)))
			check("pipes", err)
			_, err = s.StartPTY(Spec{Path: tc.path, Args: []string{tc.path}}, Winsize{Cols: 80, Rows: 24}, chanNotifier(make(chan *Process, 8)))
			check("pty", err)
		}
	}
}
