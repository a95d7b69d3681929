package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

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
	c := rawHostRequest(t, d.addr, "/", evil)
	// net/http refuses such a Host with 400; if it ever let it through, the
	// page would have to escape it.
	if strings.Contains(c, "<img src=y") || !strings.HasPrefix(c, "HTTP/1.1 400") && !strings.Contains(c, "&lt;img src=y") {
		t.Errorf("Host header not escaped in the page:\n%s", c)
	}

	// An upgrade is still a WebSocket.
	w := dialWS(t, d.url("/any"))
	w.sendText(t, "echo")
	w.expectText(t, "echo")
	w.sendClose(t, ws.StatusNormalClosure, "")
	w.readClose(t, waitTimeout)
}

// rawHostRequest is a GET with a Host header of our choosing; it returns
// the whole response.
func rawHostRequest(t *testing.T, addr, target, host string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, waitTimeout)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(waitTimeout))
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: %s\r\n\r\n", target, host)
	var b bytes.Buffer
	_, _ = b.ReadFrom(c)
	return b.String()
}

// ---------------------------------------------------------------------------
// In a real browser: headless Chromium driven by playwright-core
// (testdata/browser/drive.mjs).

var browserDir = filepath.Join(repoRoot, "cmd", "wsplex", "testdata", "browser")

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
	argv := append([]string{filepath.Join(browserDir, script)}, args[:len(args)-1]...)
	cmd := exec.Command(node, append(argv, shot)...)
	cmd.Env = append(os.Environ(), "CHROMIUM="+chromium)
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
		_ = cmd.Process.Kill()
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
