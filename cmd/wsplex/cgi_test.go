package main

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gobwas/ws"
)

// cgiTree lays out root/cgi (served with --cgidir) and, outside it, a
// script that leaves a marker file when it runs.
func cgiTree(t *testing.T) (root, cgi, marker string) {
	root = t.TempDir()
	cgi = filepath.Join(root, "cgi")
	marker = filepath.Join(root, "RAN")
	writeFile(t, filepath.Join(cgi, "echo.sh"), "#!/bin/sh\n"+
		"printf 'Status: 201 Created\\r\\nContent-Type: text/plain\\r\\nX-Method: %s\\r\\n\\r\\n' \"$REQUEST_METHOD\"\n"+
		"echo \"query=$QUERY_STRING software=$SERVER_SOFTWARE\"\n"+
		"cat\n", 0o755)
	writeFile(t, filepath.Join(cgi, "sub", "moved.sh"), "#!/bin/sh\n"+
		"printf 'Status: 302 Found\\r\\nLocation: http://example.test/there\\r\\n\\r\\n'\n", 0o755)
	writeFile(t, filepath.Join(cgi, "wait.sh"), "#!/bin/sh\n"+
		"printf 'Content-Type: text/plain\\r\\n\\r\\n'\n"+
		"cat '"+filepath.Join(root, "gate")+"'\n", 0o755)
	writeFile(t, filepath.Join(root, "outside.txt"), "#!/bin/sh\ntouch '"+marker+"'\nprintf 'Content-Type: text/plain\\r\\n\\r\\nMARKER-OUTSIDE\\n'\n", 0o755)
	symlink(t, filepath.Join(root, "outside.txt"), filepath.Join(cgi, "link-out"))
	symlink(t, root, filepath.Join(cgi, "dir-out"))
	return root, cgi, marker
}

func TestCGI(t *testing.T) {
	_, cgi, marker := cgiTree(t)
	d := startDaemon(t, "--cgidir="+cgi, "--header-http=X-Http: 1", "cat")

	r := rawRequest(t, d.addr, "POST", "/echo.sh?a=1&b=2", "the body\nline two\n")
	if r.Status != 201 || r.Header.Get("X-Method") != "POST" || r.Header.Get("X-Http") != "1" {
		t.Errorf("POST /echo.sh: %d %v", r.Status, r.Header)
	}
	if want := "query=a=1&b=2 software=wsplex/"; !strings.HasPrefix(r.Body, want) && testingWsplex() {
		t.Errorf("POST /echo.sh: body %q, want it to start with %q", r.Body, want)
	}
	if !strings.HasSuffix(r.Body, "the body\nline two\n") {
		t.Errorf("POST /echo.sh: body %q, want the request body echoed from stdin", r.Body)
	}
	d.waitLog(t, "cgiscript:'"+filepath.Join(cgi, "echo.sh")+"' | CGI", waitTimeout)

	r = rawRequest(t, d.addr, "GET", "/sub/moved.sh", "")
	if r.Status != 302 || r.Header.Get("Location") != "http://example.test/there" {
		t.Errorf("GET /sub/moved.sh: %d %v, want 302 to http://example.test/there", r.Status, r.Header)
	}
	for _, target := range []string{"/sub", "/sub/", "/nope.sh", "/echo.sh/extra"} {
		if r := rawRequest(t, d.addr, "GET", target, ""); r.Status != 404 {
			t.Errorf("GET %s: %d %q, want 404", target, r.Status, r.Body)
		}
	}
	for _, target := range traversalTargets("outside.txt") {
		for _, method := range []string{"GET", "POST"} {
			r := rawRequest(t, d.addr, method, target, "x")
			if r.Status == 200 || strings.Contains(r.Body, "MARKER-OUTSIDE") {
				t.Errorf("%s %s: %d %q: ran a script outside --cgidir", method, target, r.Status, r.Body)
			}
		}
	}
	if _, err := os.Stat(marker); err == nil {
		t.Fatalf("a script outside --cgidir ran")
	}
}

// TestCGIMaxForks: CGI scripts and WebSocket children share --maxforks.
func TestCGIMaxForks(t *testing.T) {
	root, cgi, _ := cgiTree(t)
	gate := filepath.Join(root, "gate")
	if err := syscall.Mkfifo(gate, 0o600); err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, "--cgidir="+cgi, "--maxforks=1", "cat")

	// wait.sh holds the only slot until the test writes to the gate.
	type result struct {
		status int
		body   string
		err    error
	}
	done := make(chan result, 1)
	go func() {
		resp, err := http.Get(d.httpURL("/wait.sh"))
		if err != nil {
			done <- result{err: err}
			return
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		done <- result{resp.StatusCode, string(body), err}
	}()
	d.waitLog(t, "wait.sh' | CGI", waitTimeout)

	if r := rawRequest(t, d.addr, "GET", "/echo.sh", ""); r.Status != 429 || r.Body != "429 Too Many Requests\n" {
		t.Errorf("second CGI: %d %q, want 429", r.Status, r.Body)
	}
	if r := rawRequest(t, d.addr, "GET", "/", "", upgradeHeaders...); r.Status != 429 {
		t.Errorf("upgrade while a CGI runs: %d %q, want 429", r.Status, r.Body)
	}
	d.waitLog(t, "Fork not allowed since maxforks amount has been reached", waitTimeout)

	if err := os.WriteFile(gate, []byte("released\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-done:
		if r.err != nil || r.status != 200 || r.body != "released\n" {
			t.Fatalf("wait.sh: %d %q %v", r.status, r.body, r.err)
		}
	case <-time.After(waitTimeout):
		t.Fatalf("wait.sh did not answer within %v", waitTimeout)
	}
	// The whole response was read, so the script has finished and its slot
	// is free (it is released before the response ends).
	c := dialWS(t, d.url("/"))
	c.sendText(t, "slot free")
	c.expectText(t, "slot free")
	c.sendClose(t, ws.StatusNormalClosure, "")
	c.readClose(t, waitTimeout)
}
