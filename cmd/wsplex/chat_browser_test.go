package main

// The talk's chat on a socket backend (examples/chat): two pages in
// headless Chromium talk through `wsplex --staticdir=examples/chat
// --backend=tcp://...` to the example's Python chat server, with no
// process per WebSocket. The screenshot is kept as artifacts/backend-chat.png.

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestBackendChatBrowser: each page sees the other's line and the
// connected/disconnected announcements; wsplex starts no process for
// them.
func TestBackendChatBrowser(t *testing.T) {
	skipUnlessWsplex(t, "--backend")
	port := startExampleChat(t)
	d := startDaemon(t, "--staticdir="+exampleScript("chat"), "--backend=tcp://127.0.0.1:"+strconv.Itoa(port))
	var res struct {
		OK            bool     `json:"ok"`
		Error         string   `json:"error"`
		A             []string `json:"a"`
		B             []string `json:"b"`
		ConsoleErrors []string `json:"consoleErrors"`
	}
	shot, stderr := runBrowserScript(t, 60*time.Second, &res, "chat.mjs", d.httpURL("/chat.html"), "backend-chat")
	if !res.OK {
		t.Fatalf("in the browser: %s\nstderr:\n%s", res.Error, stderr)
	}
	t.Logf("screenshot: %s", shot)
	if len(res.ConsoleErrors) > 0 {
		t.Errorf("console errors: %q", res.ConsoleErrors)
	}
	a, b := strings.Join(res.A, "\n"), strings.Join(res.B, "\n")
	for _, want := range []string{"client1 connected", "client2 connected", "you: hello from A", "client2: hi from B", "client2 disconnected"} {
		if !strings.Contains(a, want) {
			t.Errorf("first page lacks %q:\n%s", want, a)
		}
	}
	for _, want := range []string{"client2 connected", "client1: hello from A", "you: hi from B"} {
		if !strings.Contains(b, want) {
			t.Errorf("second page lacks %q:\n%s", want, b)
		}
	}
	if progs := programProcs(t, d); len(progs) != 0 {
		t.Errorf("wsplex runs %d programs for a socket backend: %+v", len(progs), progs)
	}
}

// startExampleChat runs examples/chat/chat_server.py on a free loopback
// port until the test ends.
func startExampleChat(t *testing.T) int { return startPythonChat(t, "chat/chat_server.py") }
