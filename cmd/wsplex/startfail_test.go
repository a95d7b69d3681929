package main

// A program that cannot start: the connection closes cleanly (1011, and the
// close handshake completes at once), and the log and the close reason say
// why in words. And how a child ended is on the DISCONNECT access line.

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
)

// expectStartFailure connects to url, whose program cannot start, and
// checks the whole ending: close 1011 with a reason containing want, our
// answering close frame read by the daemon, and then a clean TCP close (EOF,
// not a reset, which is what a socket closed on unread bytes gives).
func expectStartFailure(t *testing.T, d *daemon, path, want string) {
	t.Helper()
	mark := d.logMark()
	c := dialWS(t, d.url(path))
	code, reason := c.readClose(t, waitTimeout) // answers with its own close frame
	if code != ws.StatusInternalServerError || !strings.Contains(reason, want) {
		t.Errorf("%s: close %d %q, want 1011 naming %q", path, code, reason, want)
	}
	_ = c.conn.SetReadDeadline(time.Now().Add(waitTimeout))
	var buf [64]byte
	n, err := c.br.Read(buf[:])
	if n != 0 || !errors.Is(err, io.EOF) {
		t.Errorf("%s: after the close handshake read %d bytes, %v; want EOF (a clean close)", path, n, err)
	}
	line := d.waitLogSince(t, mark, "Could not launch process", waitTimeout)
	if !strings.Contains(line, want) {
		t.Errorf("log line %q does not name the cause %q", line, want)
	}
	if line := d.waitLogSince(t, mark, "DISCONNECT", waitTimeout); !strings.Contains(line, "status:'not started'") {
		t.Errorf("DISCONNECT line %q lacks status:'not started'", line)
	}
}

// TestStartFailureDir: in --dir mode a script that is not executable, or
// whose #! interpreter does not exist, gets a clean 1011 that says why.
func TestStartFailureDir(t *testing.T) {
	skipUnlessWsplex(t, "the close frame and reasons of a failed start")
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "noexec.sh"), "#!/bin/sh\necho hi\n", 0o644)
	writeFile(t, filepath.Join(dir, "nointerp.py"), "#!/nonexistent/python\nprint('hi')\n", 0o755)
	writeFile(t, filepath.Join(dir, "dos.sh"), "#!/bin/sh\r\necho hi\r\n", 0o755)
	d := startDaemon(t, "--dir="+dir)
	expectStartFailure(t, d, "/noexec.sh", "noexec.sh is not executable")
	expectStartFailure(t, d, "/nointerp.py", "interpreter /nonexistent/python (from the #! line of nointerp.py) not found")
	expectStartFailure(t, d, "/dos.sh", "DOS line endings")
}

// TestStartFailureCommand: a single COMMAND that stops being runnable after
// the daemon started fails per connection the same way.
func TestStartFailureCommand(t *testing.T) {
	skipUnlessWsplex(t, "the close frame and reasons of a failed start")
	script := writeScript(t, "x.sh", "#!/bin/sh\necho hi\n")
	d := startDaemon(t, script)
	if err := os.Chmod(script, 0o644); err != nil {
		t.Fatal(err)
	}
	expectStartFailure(t, d, "/", "x.sh is not executable")
}

// TestStartFailureAtStartup: a COMMAND whose interpreter is missing is
// refused at startup with exit 1 (websocketd's code for a COMMAND it cannot
// use), naming the interpreter.
func TestStartFailureAtStartup(t *testing.T) {
	skipUnlessWsplex(t, "websocketd starts and fails every connection")
	script := writeScript(t, "x.py", "#!/nonexistent/python\nprint('hi')\n")
	r := runDaemon(t, "--port="+strconv.Itoa(freePort(t)), script)
	want := "interpreter /nonexistent/python (from the #! line of x.py) not found"
	if r.ExitCode != 1 || !strings.Contains(r.Stderr, want) {
		t.Errorf("exit %d, stderr %q; want exit 1 and %q", r.ExitCode, r.Stderr, want)
	}
	noexec := filepath.Join(t.TempDir(), "y.sh")
	writeFile(t, noexec, "#!/bin/sh\n", 0o644)
	r = runDaemon(t, "--port="+strconv.Itoa(freePort(t)), noexec)
	if want := "in OS path: y.sh is not executable"; r.ExitCode != 1 || !strings.Contains(r.Stderr, want) {
		t.Errorf("exit %d, stderr %q; want exit 1 and %q", r.ExitCode, r.Stderr, want)
	}
}

// TestDisconnectStatus: the DISCONNECT access line, at the default log
// level, says how the child ended.
func TestDisconnectStatus(t *testing.T) {
	t.Parallel()
	skipUnlessWsplex(t, "the status field is wsplex's")
	sh := lookPath(t, "sh")
	for _, tc := range []struct {
		name, script, want string
		clientCloses       bool
	}{
		{"exit 3", "echo hi; exit 3", "status:'exit status 3'", false},
		{"signal", "echo hi; kill -9 $$", "status:'killed by signal 9 (SIGKILL)'", false},
		{"client closes", "echo hi; cat", "status:'exit status 0'", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := startDaemon(t, sh, "-c", tc.script)
			mark := d.logMark()
			c := dialWS(t, d.url("/"))
			c.expectText(t, "hi")
			if tc.clientCloses {
				c.sendClose(t, ws.StatusNormalClosure, "")
			}
			c.readClose(t, waitTimeout)
			if line := d.waitLogSince(t, mark, "DISCONNECT", waitTimeout); !strings.Contains(line, tc.want) {
				t.Errorf("DISCONNECT line %q lacks %s", line, tc.want)
			}
		})
	}
}
