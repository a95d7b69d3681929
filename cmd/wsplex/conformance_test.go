package main

// Section 3 of issue 10: where wsplex differed from websocketd without
// meaning to. Interior dot segments of --dir, --cgidir and --staticdir
// paths are resolved before the path is confined; --passstderr still logs
// the child's stderr lines; a static miss is logged as NOT FOUND.

import (
	"os"
	"strings"
	"testing"

	"github.com/gobwas/ws"
)

// TestDirDotSegments: "/sub/../top.sh" runs top.sh, as websocketd does,
// while a ".." that climbs out of --dir is still a 404.
func TestDirDotSegments(t *testing.T) {
	_, dir, _ := dirTree(t)
	d := startDaemon(t, "--dir="+dir)
	for _, tt := range []struct{ path, scriptName, pathInfo string }{
		{"/sub/../top.sh", "/top.sh", ""},
		{"/./top.sh/x", "/top.sh", "/x"},
		{"/sub/./env.sh/a/../b", "/sub/env.sh", "/b"},
		{"/empty/../sub/%2e%2e/sub/env.sh", "/sub/env.sh", ""},
	} {
		c := dialWS(t, d.url(tt.path))
		c.expectText(t, "SCRIPT_NAME="+tt.scriptName)
		c.expectText(t, "PATH_INFO="+tt.pathInfo)
		c.readClose(t, waitTimeout)
	}
	for _, target := range []string{"/sub/../../dir/top.sh", "/../dir/top.sh", "/sub/..", "/top.sh/../../top.sh"} {
		if r := rawRequest(t, d.addr, "GET", target, "", upgradeHeaders...); r.Status != 404 {
			t.Errorf("upgrade %s: %d %q, want 404", target, r.Status, r.Body)
		}
	}
}

// TestCGIDotSegments: the same for --cgidir.
func TestCGIDotSegments(t *testing.T) {
	_, cgi, marker := cgiTree(t)
	d := startDaemon(t, "--cgidir="+cgi, "cat")
	if r := rawRequest(t, d.addr, "POST", "/sub/../echo.sh?q=1", "body\n"); r.Status != 201 || !strings.HasSuffix(r.Body, "body\n") {
		t.Errorf("POST /sub/../echo.sh: %d %q, want echo.sh's 201", r.Status, r.Body)
	}
	if r := rawRequest(t, d.addr, "GET", "/./sub/./moved.sh", ""); r.Status != 302 {
		t.Errorf("GET /./sub/./moved.sh: %d %q, want moved.sh's 302", r.Status, r.Body)
	}
	for _, target := range []string{"/sub/../../cgi/echo.sh", "/../outside.txt", "/sub/../../outside.txt"} {
		if r := rawRequest(t, d.addr, "GET", target, ""); r.Status != 404 {
			t.Errorf("GET %s: %d %q, want 404", target, r.Status, r.Body)
		}
	}
	if _, err := os.Stat(marker); err == nil {
		t.Fatalf("a script outside --cgidir ran")
	}
}

// TestStaticDotSegments: static files resolve dot segments too (they
// always did, through http.FileServer); nothing outside is served.
func TestStaticDotSegments(t *testing.T) {
	_, static := staticTree(t)
	d := startDaemon(t, "--staticdir="+static)
	for _, target := range []string{"/sub/../a.txt", "/./sub/./../a.txt"} {
		if r := rawRequest(t, d.addr, "GET", target, ""); r.Status != 200 || r.Body != "0123456789" {
			t.Errorf("GET %s: %d %q, want a.txt", target, r.Status, r.Body)
		}
	}
	if r := rawRequest(t, d.addr, "GET", "/sub/../../outside.txt", ""); r.Status == 200 || strings.Contains(r.Body, "MARKER-OUTSIDE") {
		t.Errorf("GET /sub/../../outside.txt: %d %q: served from outside", r.Status, r.Body)
	}
}

// TestStaticNotFoundLogged: a static request that finds nothing is logged
// as NOT FOUND, as websocketd logs it; one that finds a file as STATIC.
func TestStaticNotFoundLogged(t *testing.T) {
	_, static := staticTree(t)
	d := startDaemon(t, "--staticdir="+static, "cat")

	mark := d.logMark()
	if r := rawRequest(t, d.addr, "GET", "/missing.txt", ""); r.Status != 404 {
		t.Fatalf("GET /missing.txt: %d, want 404", r.Status)
	}
	line := d.waitLogSince(t, mark, "/missing.txt", waitTimeout)
	if !strings.HasSuffix(line, "| NOT FOUND") {
		t.Errorf("static miss logged as %q, want a NOT FOUND line", line)
	}

	mark = d.logMark()
	if r := rawRequest(t, d.addr, "GET", "/a.txt", ""); r.Status != 200 {
		t.Fatalf("GET /a.txt: %d, want 200", r.Status)
	}
	line = d.waitLogSince(t, mark, "/a.txt", waitTimeout)
	if !strings.HasSuffix(line, "| STATIC") {
		t.Errorf("static hit logged as %q, want a STATIC line", line)
	}
}

// TestStderrLoggedWithPassStderr: with --passstderr the client gets the
// child's stderr lines as JSON and the daemon still logs each of them, the
// same line as without the flag (the unterminated last one too).
func TestStderrLoggedWithPassStderr(t *testing.T) {
	script := writeScript(t, "err.sh", "#!/bin/sh\necho 'first complaint' >&2\necho out\nprintf 'last words' >&2\n")
	logged := map[bool][]string{}
	for _, pass := range []bool{false, true} {
		args := []string{script}
		if pass {
			args = append([]string{"--passstderr"}, args...)
		}
		d := startDaemon(t, args...)
		c := dialWS(t, d.url("/"))
		msgs, code, _ := readUntilClose(t, c, waitTimeout)
		texts := strings.Join(texts(t, msgs), "\n")
		if pass && !strings.Contains(texts, `{"stream":"stderr","data":"first complaint"}`) {
			t.Errorf("--passstderr: client got %q, want the stderr line as JSON", texts)
		}
		if !pass && strings.Contains(texts, "complaint") {
			t.Errorf("without --passstderr the client got stderr: %q", texts)
		}
		if code != ws.StatusNormalClosure {
			t.Errorf("passstderr=%v: close %d, want 1000", pass, code)
		}
		for _, want := range []string{"first complaint", "last words"} {
			// date | level | category | keys | message: all but the date
			// and the keys (url, id and pid differ between the daemons).
			f := strings.Split(d.waitLog(t, want, waitTimeout), " | ")
			if len(f) != 5 || !strings.Contains(f[3], "pid:'") {
				t.Fatalf("stderr log line %q: want date | level | category | keys with pid | message", f)
			}
			logged[pass] = append(logged[pass], strings.Join([]string{f[1], f[2], f[4]}, " | "))
		}
		d.stop(t)
	}
	if strings.Join(logged[true], "\n") != strings.Join(logged[false], "\n") {
		t.Errorf("stderr log lines differ:\nwithout --passstderr:\n%s\nwith:\n%s", strings.Join(logged[false], "\n"), strings.Join(logged[true], "\n"))
	}
	for _, l := range logged[true] {
		if !strings.HasPrefix(strings.TrimSpace(l), "ERROR") || !strings.Contains(l, "stderr") {
			t.Errorf("--passstderr stderr log line %q, want ERROR | stderr", l)
		}
	}
}
