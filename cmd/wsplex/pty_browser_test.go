package main

import (
	"strings"
	"testing"
	"time"
)

// TestPTYTerminalPage: --pty --devconsole serves a terminal page; in
// headless Chromium, typing `echo hi` + Enter shows "hi", a window resize
// reaches the program (stty size), and `exit 7` shows the close status
// 4007. The screenshot is kept as artifacts/pty-terminal.png.
func TestPTYTerminalPage(t *testing.T) {
	skipUnlessWsplex(t, "--pty")
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
	var res termResult
	runBrowserScript(t, 90*time.Second, &res, "term.mjs", url, name)
	return res
}
