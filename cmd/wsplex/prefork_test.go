package main

// --prefork end to end, against a Python child: the environment arrives as
// the first line of input, and a connection is answered without waiting
// for the interpreter to start. The test logs connect-to-first-message
// latency with and without --prefork.

import (
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
)

const preforkPy = `#!/usr/bin/env python3
import json, os, sys
if os.environ.get("WSPLEX_PREFORK") == "1":
    os.environ.update(json.loads(sys.stdin.readline()))
print("hello %s %s" % (os.environ.get("REMOTE_ADDR"), os.environ.get("QUERY_STRING")), flush=True)
for line in sys.stdin:
    print(line.rstrip("\n"), flush=True)
`

func TestPreforkPython(t *testing.T) {
	skipUnlessWsplex(t, "--prefork is wsplex's")
	if runtime.GOOS != "linux" {
		t.Skip("counts waiting children through /proc")
	}
	if _, err := exec.LookPath("python3"); err != nil {
		skipOrFail(t, "python3 not found")
	}
	script := writeScript(t, "hello.py", preforkPy)
	const rounds = 15
	var lat [2][]time.Duration
	for i, args := range [][]string{{script}, {"--prefork=2", script}} {
		d := startDaemon(t, args...)
		waiting := 0
		if i == 1 {
			waiting = 2
		}
		for r := 0; r < rounds; r++ {
			awaitChildren(t, d.pid(), waiting) // the pool refilled and its children wait for input
			t0 := time.Now()
			c := dialWS(t, d.url("/?q=1"))
			c.expectText(t, "hello 127.0.0.1 q=1")
			lat[i] = append(lat[i], time.Since(t0))
			c.sendText(t, "echo")
			c.expectText(t, "echo")
			c.sendClose(t, ws.StatusNormalClosure, "")
			if code, _ := c.readClose(t, waitTimeout); code != ws.StatusNormalClosure {
				t.Fatalf("close code %d, want 1000", code)
			}
		}
		if code := d.stop(t); code != 0 {
			t.Fatalf("daemon exit code %d", code)
		}
	}
	cold, warm := median(lat[0]), median(lat[1])
	t.Logf("connect to first message, python3 child, median of %d: without --prefork %v, with --prefork=2 %v", rounds, cold, warm)
	if warm >= cold {
		t.Errorf("--prefork did not help: %v with, %v without", warm, cold)
	}
}

// awaitChildren waits until the daemon's children (through the spawner)
// that are waiting for input number exactly n.
func awaitChildren(t *testing.T, daemon, n int) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		alive := 0
		var comms []string
		for _, k := range procChildren(t, daemon) {
			if k.State != 'Z' && readingStdin(k.Pid) {
				alive++
				comms = append(comms, k.Comm)
			}
		}
		if alive == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("daemon has %d live children (%s), want %d", alive, strings.Join(comms, ","), n)
		}
		time.Sleep(2 * time.Millisecond) // polling /proc
	}
}

// readingStdin reports whether pid is blocked in read(0, ...): started
// and waiting for its first line.
func readingStdin(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/syscall")
	return err == nil && strings.HasPrefix(string(b), "0 0x0 ")
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}
