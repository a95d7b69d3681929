package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wsplex/wsplex/engine"
)

// TestPTYTerminalPage: --pty --devconsole serves a terminal page; in
// headless Chromium, typing `echo hi` + Enter shows "hi", a window resize
// reaches the program (stty size), and `exit 7` shows the close status
// 4007. The screenshot is kept as artifacts/pty-terminal.png.
func TestPTYTerminalPage(t *testing.T) {
	skipUnlessWsplex(t, "--pty")
	if !engine.TermAssetsPresent() {
		skipOrFail(t, "xterm.js not fetched (make term-assets)")
	}
	d := startDaemon(t, "--pty", "--devconsole", lookPath(t, "bash"), "--norc", "--noprofile", "-i")
	r := runTermBrowser(t, d.httpURL("/shell"), "pty-terminal")
	if !r.OK {
		t.Fatalf("browser: %s\nrows: %q", r.Error, r.Rows)
	}
	t.Logf("xterm.js %v; size after resize %s; status %q", r.Xterm, r.Size, r.Status)
	if !r.Xterm {
		t.Errorf("the page has no xterm.js")
	}
	if !strings.Contains(r.Status, "4007") || !strings.Contains(r.Status, "exit status 7") {
		t.Errorf("status %q, want the close 4007 (exit status 7)", r.Status)
	}
	for _, u := range r.Requests {
		if !strings.HasPrefix(u, "http://"+d.addr+"/") && !strings.HasPrefix(u, "ws://"+d.addr+"/") {
			t.Errorf("the page loaded %s: want nothing but itself", u)
		}
	}
}

// termResult is what testdata/browser/term.mjs prints.
type termResult struct {
	OK       bool     `json:"ok"`
	Error    string   `json:"error"`
	Xterm    bool     `json:"xterm"`
	Size     string   `json:"size"`
	Status   string   `json:"status"`
	Rows     []string `json:"rows"`
	Requests []string `json:"requests"`
}

// runTermBrowser runs term.mjs against url and keeps the screenshot in
// artifacts/NAME.png; it skips (fails under CI) as runBrowser does.
func runTermBrowser(t *testing.T, url, name string) termResult {
	t.Helper()
	node, chromium, artifacts := browserTools(t)
	cmd := exec.Command(node, filepath.Join(browserDir, "term.mjs"), url, filepath.Join(artifacts, name+".png"))
	cmd.Env = append(os.Environ(), "CHROMIUM="+chromium)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(90 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("term.mjs still running after 90 s; stderr:\n%s", &stderr)
	}
	var res termResult
	if err != nil || json.Unmarshal(bytes.TrimSpace(stdout.Bytes()), &res) != nil {
		t.Fatalf("term.mjs: %v\nstdout:\n%s\nstderr:\n%s", err, &stdout, &stderr)
	}
	return res
}
