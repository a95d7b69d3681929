package main

// The talk's chat as a room, in headless Chromium: one process for every
// page (examples/rooms/chat.py behind --broadcast --envelope=json), the
// talk's own chat page (examples/talk/ex3). The screenshot goes to
// artifacts/ as the other browser tests' do.

import (
	"os"
	"strings"
	"testing"
	"time"
)

type roomBrowserResult struct {
	OK            bool       `json:"ok"`
	Error         string     `json:"error"`
	Lines         [][]string `json:"lines"`
	ConsoleErrors []string   `json:"consoleErrors"`
}

// TestRoomBrowserChat: three pages in one room; each sees the others'
// messages with their names, and a departure is announced; one child
// served them all.
func TestRoomBrowserChat(t *testing.T) {
	skipUnlessWsplex(t, "--broadcast")
	lookPath(t, "python3")
	d := startDaemon(t, "--broadcast", "--envelope=json", "--staticdir="+exampleScript("talk/ex3"), exampleScript("rooms/chat.py"))
	var res roomBrowserResult
	shot, stderr := runBrowserScript(t, 90*time.Second, &res, "room.mjs", d.httpURL("/"), "room-chat")
	if !res.OK {
		t.Fatalf("in the browser: %s\nstderr:\n%s", res.Error, stderr)
	}
	if len(res.ConsoleErrors) > 0 {
		t.Errorf("console errors: %q", res.ConsoleErrors)
	}
	t.Logf("screenshot: %s", shot)
	if len(res.Lines) != 2 {
		t.Fatalf("lines of %d pages, want 2", len(res.Lines))
	}
	// The first page saw the whole story, in order.
	want := []string{"welcome, client1 (1 here)", "client1 connected", "client2 connected", "client3 connected",
		"client1: I like apples", "client2: I like bananas", "client3: I like cherries", "client3 disconnected"}
	if got := strings.Join(res.Lines[0], "\n"); got != strings.Join(want, "\n") {
		t.Errorf("first page:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
	if started := roomStarts(d); started != 1 {
		t.Errorf("%d processes started for three pages, want 1", started)
	}
}

// roomStarts counts the room children d has started.
func roomStarts(d *daemon) int {
	n := 0
	for _, l := range d.logLines() {
		if strings.Contains(l.Text, ": process started") {
			n++
		}
	}
	return n
}

// TestRoomDashboardInBrowser: examples/dashboard with --broadcast, as
// examples/rooms says: a Go client and a Chromium page are fed by the
// same stats.sh, the page's chart gets its points.
func TestRoomDashboardInBrowser(t *testing.T) {
	if _, err := os.Stat("/proc/stat"); err != nil {
		t.Skip("the dashboard example reads /proc (Linux)")
	}
	skipUnlessWsplex(t, "--broadcast")
	d := startDaemon(t, "--broadcast", "--staticdir="+exampleScript("dashboard/static"), exampleScript("dashboard/stats.sh"), "0.2")
	c := dialWS(t, d.url("/stats")) // the page's path
	if f := strings.Fields(string(c.readMessage(t, waitTimeout).Data)); len(f) != 3 {
		t.Fatalf("stats line %q, want three numbers", f)
	}
	res := runBrowser(t, "dashboard", d.httpURL("/"), "room-dashboard")
	if res.Points < 10 || res.CPU == "" {
		t.Errorf("chart: %d points, CPU %q", res.Points, res.CPU)
	}
	c.readMessage(t, waitTimeout) // the Go client was fed all along
	if n := roomStarts(d); n != 1 {
		t.Errorf("%d stats.sh started for two clients, want 1", n)
	}
}
