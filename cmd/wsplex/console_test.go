package main

import (
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/gobwas/ws"
)

func TestDevConsolePage(t *testing.T) {
	d := startDaemon(t, "--devconsole", "--header-http=X-Http: 1", "cat")

	r := rawRequest(t, d.addr, "GET", "/any/path?x=1", "")
	if r.Status != 200 || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") || r.Header.Get("X-Http") != "1" {
		t.Fatalf("GET: %d %v", r.Status, r.Header)
	}
	if want := `value="ws://` + d.addr + `/any/path?x=1"`; !strings.Contains(r.Body, want) {
		t.Errorf("page does not preset the URL: want %s", want)
	}
	d.waitLog(t, "| DEVCONSOLE", waitTimeout)
	// Self-contained: nothing loaded from elsewhere.
	if m := regexp.MustCompile(`(?i)<(script|link|img|iframe)[^>]*(src|href)=`).FindString(r.Body); m != "" {
		t.Errorf("page loads an external resource: %s", m)
	}

	// The URL is echoed HTML-escaped, from the target and from Host.
	r = rawRequest(t, d.addr, "GET", `/"><script>alert(1)</script>`, "")
	if strings.Contains(r.Body, "<script>alert(1)") || !strings.Contains(r.Body, "&lt;script&gt;alert(1)") {
		t.Errorf("target not escaped in the page")
	}
	evil := `x"><img src=y onerror=alert(2)>`
	r = rawRequest(t, d.addr, "GET", "/", "", "Host: "+evil)
	// net/http refuses such a Host with 400; if it ever let it through, the
	// page would have to escape it.
	if strings.Contains(r.Body, "<img src=y") || r.Status != http.StatusBadRequest && !strings.Contains(r.Body, "&lt;img src=y") {
		t.Errorf("Host header not escaped in the page: %d\n%s", r.Status, r.Body)
	}

	// An upgrade is still a WebSocket.
	w := dialWS(t, d.url("/any"))
	w.sendText(t, "echo")
	w.expectText(t, "echo")
	w.sendClose(t, ws.StatusNormalClosure, "")
	w.readClose(t, waitTimeout)
}

// ---------------------------------------------------------------------------
// In a real browser: headless Chromium driven by playwright-core
// (testdata/browser/drive.mjs).

var browserDir = filepath.Join(repoRoot, "cmd", "wsplex", "testdata", "browser")

// TestDevConsoleInBrowser loads the console, connects to an echo program,
// sends lines, sees them echoed, recalls one from the history and closes.
func TestDevConsoleInBrowser(t *testing.T) {
	d := startDaemon(t, "--devconsole", "cat")
	res := runBrowser(t, "console", d.httpURL("/echo?x=1"), "devconsole")
	if want := d.url("/echo?x=1"); res.DefaultURL != want {
		t.Errorf("default URL %q, want %q", res.DefaultURL, want)
	}
	if res.History != "hello from chromium" {
		t.Errorf("two ArrowUps give %q, want the first line sent", res.History)
	}
	var kinds []string
	for _, l := range res.Log {
		kinds = append(kinds, l.Kind)
	}
	got := strings.Join(kinds, " ")
	if want := "info open sent message sent message close"; got != want {
		t.Errorf("console log kinds %q, want %q (%+v)", got, want, res.Log)
	}
	if last := res.Log[len(res.Log)-1].Text; !strings.Contains(last, "code=1000") {
		t.Errorf("close line %q, want code=1000", last)
	}
	for _, u := range res.Requests {
		if !strings.HasPrefix(u, d.httpURL("/")) && !strings.HasPrefix(u, d.url("/")) {
			t.Errorf("the console requested %s", u)
		}
	}
	d.waitLog(t, "DISCONNECT", waitTimeout)
}

// TestDashboardInBrowser runs examples/dashboard as its README says and
// waits for the chart to receive points.
func TestDashboardInBrowser(t *testing.T) {
	if _, err := os.Stat("/proc/stat"); err != nil {
		t.Skip("the dashboard example reads /proc (Linux)")
	}
	d := startDaemon(t, "--staticdir="+exampleScript("dashboard/static"), exampleScript("dashboard/stats.sh"), "0.2")
	res := runBrowser(t, "dashboard", d.httpURL("/"), "dashboard")
	if res.Points < 10 || res.CPU == "" {
		t.Errorf("chart: %d points, CPU %q", res.Points, res.CPU)
	}
	d.waitLog(t, "| STATIC", waitTimeout)
	d.waitLog(t, "CONNECT", waitTimeout)
}
