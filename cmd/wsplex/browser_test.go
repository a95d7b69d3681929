package main

// Headless Chromium driven by playwright-core (testdata/browser): the page
// tests run a script there and read back its JSON answer and a screenshot.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// browserResult is what drive.mjs prints.
type browserResult struct {
	OK         bool     `json:"ok"`
	Error      string   `json:"error"`
	DefaultURL string   `json:"defaultURL"`
	History    string   `json:"history"`
	Requests   []string `json:"requests"`
	Log        []struct {
		Kind string `json:"kind"`
		Text string `json:"text"`
	} `json:"log"`
	Points int    `json:"points"`
	CPU    string `json:"cpu"`
}

// runBrowser runs drive.mjs in mode against url and keeps the screenshot in
// artifacts/NAME.png. It skips (fails under CI) without chromium, node or
// the installed playwright-core.
func runBrowser(t *testing.T, mode, url, name string) browserResult {
	t.Helper()
	var res browserResult
	shot, stderr := runBrowserScript(t, 60*time.Second, &res, "drive.mjs", mode, url, name)
	if !res.OK {
		t.Fatalf("in the browser: %s\nstderr:\n%s", res.Error, stderr)
	}
	t.Logf("screenshot: %s", shot)
	return res
}

// runBrowserScript runs a script of browserDir with node: args, then the
// screenshot's path (artifacts/NAME.png, NAME being args' last element).
// Its stdout, one JSON object, goes into res; it returns the screenshot's
// path and the script's stderr. The test fails if the script fails, says
// no JSON, or is still running after limit.
func runBrowserScript(t *testing.T, limit time.Duration, res any, script string, args ...string) (shot, stderr string) {
	t.Helper()
	node, chromium, artifacts := browserTools(t)
	name := args[len(args)-1]
	shot = filepath.Join(artifacts, name+".png")
	argv := append([]string{node, filepath.Join(browserDir, script)}, args[:len(args)-1]...)
	// The script runs under this test binary as a reaper (runReaper): what
	// Chromium leaves behind when it exits is reaped there, not left as
	// zombies for a PID 1 that does not reap.
	cmd := exec.Command(os.Args[0], append(argv, shot)...)
	cmd.Env = append(os.Environ(), "CHROMIUM="+chromium, reaperEnv+"=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(limit):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
		t.Fatalf("%s %v still running after %v; stderr:\n%s", script, args, limit, &errb)
	}
	if err == nil {
		err = json.Unmarshal(bytes.TrimSpace(out.Bytes()), res)
	}
	if err != nil {
		t.Fatalf("%s %v: %v\nstdout:\n%s\nstderr:\n%s", script, args, err, &out, &errb)
	}
	return shot, errb.String()
}

// browserTools finds what the browser tests drive: node, Debian's chromium
// and the installed playwright-core; it skips (fails under CI) without them
// and returns the artifacts directory for screenshots.
func browserTools(t *testing.T) (node, chromium, artifacts string) {
	t.Helper()
	chromium = "/usr/bin/chromium"
	if _, err := os.Stat(chromium); err != nil {
		skipOrFail(t, "chromium not installed (apt-get install chromium): %v", err)
	}
	var err error
	if node, err = exec.LookPath("node"); err != nil {
		skipOrFail(t, "node not found: %v", err)
	}
	if _, err := os.Stat(filepath.Join(browserDir, "node_modules", "playwright-core", "package.json")); err != nil {
		skipOrFail(t, "playwright-core not installed (make node-deps): %v", err)
	}
	artifacts = filepath.Join(repoRoot, "artifacts")
	if err := os.MkdirAll(artifacts, 0o755); err != nil {
		t.Fatal(err)
	}
	return node, chromium, artifacts
}

// reaperEnv, set in its environment, makes the test binary run its
// arguments as a command under runReaper instead of running tests.
const reaperEnv = "WSPLEX_TEST_REAPER"

// runReaper runs argv as a child subreaper: it waits for the command, then
// for every process orphaned below it (Chromium's crash handler and zygote
// outlive the browser by a moment), killing those still there after
// reaperGrace, and returns the command's exit code.
func runReaper(argv []string) int {
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		fmt.Fprintln(os.Stderr, "reaper:", err)
		return 1
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	code := 0
	if err := cmd.Run(); err != nil {
		code = 1
		if ee, ok := err.(*exec.ExitError); ok && ee.ExitCode() > 0 {
			code = ee.ExitCode()
		}
		fmt.Fprintln(os.Stderr, "reaper:", err)
	}
	deadline := time.Now().Add(reaperGrace)
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
		switch {
		case err == unix.ECHILD:
			return code
		case err != nil && err != unix.EINTR:
			fmt.Fprintln(os.Stderr, "reaper: wait4:", err)
			return 1
		case pid > 0:
			continue
		}
		if time.Now().After(deadline) {
			below, _ := descendants(os.Getpid())
			for _, st := range below {
				_ = unix.Kill(st.Pid, unix.SIGKILL)
			}
		}
		time.Sleep(10 * time.Millisecond) // polling: an orphan's exit sends no event we can wait on here
	}
}

// reaperGrace is how long runReaper lets orphans end by themselves.
const reaperGrace = 5 * time.Second
