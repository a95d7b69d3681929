package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// upgradeHeaders make rawRequest a valid WebSocket handshake.
var upgradeHeaders = []string{
	"Upgrade: websocket",
	"Connection: Upgrade",
	"Sec-WebSocket-Version: 13",
	"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
}

// traversalTargets are ways to spell "the file outside, one level above the
// served directory" in a request target; name is the file's name there.
func traversalTargets(name string) []string {
	return []string{
		"/../" + name,
		"/sub/../../" + name,
		"/%2e%2e/" + name,
		"/%2E%2E/" + name,
		"/sub/%2e%2e/%2e%2e/" + name,
		"/..%2F" + name,
		"/..%2f" + name,
		"/sub%2F..%2F..%2F" + name,
		"/..\\" + name,
		"/..%5C" + name,
		"/sub\\..\\..\\" + name,
		"/link-out",
		"/dir-out/" + name,
	}
}

// staticTree lays out root/static (served) and root/outside.txt (must never
// be served), with symlinks from inside to outside.
func staticTree(t *testing.T) (root, static string) {
	root = t.TempDir()
	static = filepath.Join(root, "static")
	writeFile(t, filepath.Join(static, "index.html"), "<h1>home</h1>\n", 0o644)
	writeFile(t, filepath.Join(static, "a.txt"), "0123456789", 0o644)
	writeFile(t, filepath.Join(static, "style.css"), "body{}", 0o644)
	writeFile(t, filepath.Join(static, "sub", "b.txt"), "bee", 0o644)
	writeFile(t, filepath.Join(static, "withidx", "index.html"), "inner index", 0o644)
	writeFile(t, filepath.Join(static, ".secret"), "dot secret", 0o644)
	writeFile(t, filepath.Join(static, ".git", "config"), "git secret", 0o644)
	writeFile(t, filepath.Join(root, "outside.txt"), "MARKER-OUTSIDE", 0o644)
	symlink(t, filepath.Join(root, "outside.txt"), filepath.Join(static, "link-out"))
	symlink(t, root, filepath.Join(static, "dir-out"))
	symlink(t, "a.txt", filepath.Join(static, "link-in"))
	return root, static
}

func TestStaticFiles(t *testing.T) {
	_, static := staticTree(t)
	d := startDaemon(t, "--staticdir="+static, "--header=X-All: 1", "--header-http=X-Http: 2", "--header-ws=X-Ws: 3", "cat")

	r := rawRequest(t, d.addr, "GET", "/", "")
	if r.Status != 200 || r.Body != "<h1>home</h1>\n" || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") {
		t.Errorf("GET /: %d %q %q", r.Status, r.Header.Get("Content-Type"), r.Body)
	}
	if r.Header.Get("X-All") != "1" || r.Header.Get("X-Http") != "2" || r.Header.Get("X-Ws") != "" {
		t.Errorf("GET /: headers %v, want X-All and X-Http only", r.Header)
	}
	d.waitLog(t, "| STATIC", waitTimeout)

	r = rawRequest(t, d.addr, "GET", "/a.txt", "")
	lm := r.Header.Get("Last-Modified")
	if r.Status != 200 || r.Body != "0123456789" || lm == "" || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/plain") {
		t.Errorf("GET /a.txt: %d %v %q", r.Status, r.Header, r.Body)
	}
	if r := rawRequest(t, d.addr, "GET", "/style.css", ""); !strings.HasPrefix(r.Header.Get("Content-Type"), "text/css") {
		t.Errorf("GET /style.css: Content-Type %q", r.Header.Get("Content-Type"))
	}
	if r := rawRequest(t, d.addr, "GET", "/a.txt", "", "Range: bytes=2-4"); r.Status != 206 || r.Body != "234" {
		t.Errorf("Range: %d %q, want 206 \"234\"", r.Status, r.Body)
	}
	if r := rawRequest(t, d.addr, "GET", "/a.txt", "", "If-Modified-Since: "+lm); r.Status != 304 {
		t.Errorf("If-Modified-Since: %d, want 304", r.Status)
	}
	if r := rawRequest(t, d.addr, "HEAD", "/a.txt", ""); r.Status != 200 || r.Header.Get("Content-Length") != "10" {
		t.Errorf("HEAD: %d %v", r.Status, r.Header)
	}
	if r := rawRequest(t, d.addr, "GET", "/withidx/", ""); r.Status != 200 || r.Body != "inner index" {
		t.Errorf("GET /withidx/: %d %q", r.Status, r.Body)
	}
	if r := rawRequest(t, d.addr, "GET", "/link-in", ""); r.Status != 200 || r.Body != "0123456789" {
		t.Errorf("symlink inside the dir: %d %q", r.Status, r.Body)
	}
	for _, target := range []string{"/sub/", "/sub", "/.secret", "/.git/config", "/.git/", "/missing"} {
		if r := rawRequest(t, d.addr, "GET", target, ""); r.Status != 404 || r.Body != "404 page not found\n" {
			t.Errorf("GET %s: %d %q, want 404 (no listings, no dotfiles)", target, r.Status, r.Body)
		}
	}
	for _, target := range traversalTargets("outside.txt") {
		r := rawRequest(t, d.addr, "GET", target, "")
		if r.Status == 200 || strings.Contains(r.Body, "MARKER-OUTSIDE") {
			t.Errorf("GET %s: %d %q: served from outside --staticdir", target, r.Status, r.Body)
		}
	}

	// The WebSocket still works next to the static files.
	c := dialWS(t, d.url("/"))
	c.sendText(t, "hi")
	c.expectText(t, "hi")
}

// TestStaticOptIn: --staticlist and --staticdotfiles give back what
// websocketd does by default, and still nothing outside.
func TestStaticOptIn(t *testing.T) {
	_, static := staticTree(t)
	d := startDaemon(t, "--staticdir="+static, "--staticlist", "--staticdotfiles")
	if r := rawRequest(t, d.addr, "GET", "/sub/", ""); r.Status != 200 || !strings.Contains(r.Body, `href="b.txt"`) {
		t.Errorf("listing: %d %q", r.Status, r.Body)
	}
	if r := rawRequest(t, d.addr, "GET", "/.secret", ""); r.Status != 200 || r.Body != "dot secret" {
		t.Errorf("dotfile: %d %q", r.Status, r.Body)
	}
	for _, target := range traversalTargets("outside.txt") {
		r := rawRequest(t, d.addr, "GET", target, "")
		if r.Status == 200 || strings.Contains(r.Body, "MARKER-OUTSIDE") {
			t.Errorf("GET %s: %d %q: served from outside --staticdir", target, r.Status, r.Body)
		}
	}
	// Only --staticdir and no COMMAND: an upgrade request is plain HTTP.
	if r := rawRequest(t, d.addr, "GET", "/a.txt", "", upgradeHeaders...); r.Status != 200 || r.Body != "0123456789" {
		t.Errorf("upgrade request without COMMAND: %d %q, want the file", r.Status, r.Body)
	}
}

// TestPlainHTTPNotFound: without static, CGI or console, plain HTTP is
// websocketd's 404, with the --header-http headers.
func TestPlainHTTPNotFound(t *testing.T) {
	d := startDaemon(t, "--header-http=X-Http: yes", "cat")
	r := rawRequest(t, d.addr, "GET", "/x", "")
	if r.Status != 404 || r.Body != "404 page not found\n" || r.Header.Get("X-Http") != "yes" {
		t.Errorf("GET /x: %d %v %q", r.Status, r.Header, r.Body)
	}
	r = rawRequest(t, d.addr, "GET", "/x", "", upgradeHeaders...)
	if r.Status != 101 || r.Header.Get("X-Http") != "" {
		t.Errorf("upgrade: %d %v, want 101 without X-Http", r.Status, r.Header)
	}
	d.waitLog(t, "NOT FOUND", waitTimeout)
}
