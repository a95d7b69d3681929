package main

// --signed-urls and `wsplex sign` (issue 12, part 2).

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// keyFile writes the keys, one a line, into a file of the given mode.
func keyFile(t testing.TB, mode os.FileMode, keys ...string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "keys")
	must(t, os.WriteFile(p, []byte(strings.Join(keys, "\n")+"\n"), mode))
	must(t, os.Chmod(p, mode))
	return p
}

// sign runs `wsplex sign` and returns the signed target it prints.
func sign(t testing.TB, keys, ttl, target string) string {
	t.Helper()
	r := runDaemon(t, "sign", "--signed-urls="+keys, "--ttl="+ttl, target)
	if r.ExitCode != 0 || r.Stderr != "" {
		t.Fatalf("wsplex sign %s: exit %d, stderr %q", target, r.ExitCode, r.Stderr)
	}
	return strings.TrimSpace(r.Stdout)
}

const (
	keyA = "key-A-0123456789abcdef0123456789abcdef"
	keyB = "key-B-0123456789abcdef0123456789abcdef"
	keyC = "key-C-0123456789abcdef0123456789abcdef"
)

// TestSignedURLs: a signed, unexpired target is served; a tampered path,
// query or expiry, a missing or foreign signature is a 403, an expired one
// a 410; refusals come before the origin check and --maxforks, start no
// child, and their log line says why without the signature.
func TestSignedURLs(t *testing.T) {
	t.Parallel()
	skipUnlessWsplex(t, "--signed-urls")
	keys := keyFile(t, 0o600, keyA)
	other := keyFile(t, 0o600, keyB)
	fc := newForkCounter(t)
	prog := fc.script(t, t.TempDir(), "prog", `echo "q=$QUERY_STRING"; exec cat`)
	d := startDaemon(t, "--signed-urls="+keys, "--maxforks=1", "--origin=allowed.test", prog)
	origin := "Origin: http://allowed.test\r\n"

	good := sign(t, keys, "5m", "/chat?room=1")
	if !strings.HasPrefix(good, "/chat?room=1&expires=") || !strings.Contains(good, "&sig=") {
		t.Fatalf("wsplex sign printed %q", good)
	}
	exp, _ := strconv.ParseInt(good[strings.Index(good, "expires=")+8:strings.Index(good, "&sig=")], 10, 64)
	if d := time.Until(time.Unix(exp, 0)); d < 4*time.Minute || d > 6*time.Minute {
		t.Errorf("--ttl=5m gave expires %d, %v from now", exp, d)
	}
	// A valid signature still meets the origin check.
	if r := upgradeAt(t, d, good, "Origin: http://evil.test\r\n"); r.status != 403 {
		t.Errorf("signed, bad origin: HTTP %d, want 403", r.status)
	}
	// The one child --maxforks allows, held while the refusals below
	// would otherwise be 429s.
	r := upgradeAt(t, d, good, origin)
	if r.status != 101 {
		t.Fatalf("signed %s: HTTP %d %q, want 101", good, r.status, r.body)
	}
	r.client.expectText(t, "q="+good[strings.Index(good, "?")+1:])

	sig := good[strings.Index(good, "&sig=")+5:]
	expired := sign(t, keys, "-1m", "/chat?room=1")
	for _, tc := range []struct {
		name, target, extra string
		status              int
		why                 string
	}{
		{"tampered path", strings.Replace(good, "/chat", "/chat2", 1), origin, 403, "signature does not match"},
		{"tampered query", strings.Replace(good, "room=1", "room=2", 1), origin, 403, "signature does not match"},
		{"tampered expiry", strings.Replace(good, "expires=", "expires=9", 1), origin, 403, "signature does not match"},
		{"added parameter", good + "&x=1", origin, 403, "no sig parameter"},
		{"unsigned", "/chat?room=1", origin, 403, "no sig parameter"},
		{"other key", sign(t, other, "5m", "/chat?room=1"), origin, 403, "signature does not match"},
		{"expired", expired, origin, 410, "signature expired"},
		{"unsigned, bad origin", "/chat", "Origin: http://evil.test\r\n", 403, "no sig parameter"},
	} {
		mark := d.logMark()
		r := upgradeAt(t, d, tc.target, tc.extra)
		if r.status != tc.status {
			t.Errorf("%s: HTTP %d %q, want %d", tc.name, r.status, r.body, tc.status)
			continue
		}
		line := d.waitLogSince(t, mark, "Signed URL refused", waitTimeout)
		if !strings.Contains(line, tc.why) {
			t.Errorf("%s: log line %q does not say %q", tc.name, line, tc.why)
		}
		if strings.Contains(line, sig[:10]) || strings.Contains(line, keyA[:10]) {
			t.Errorf("%s: log line %q shows the signature or the key", tc.name, line)
		}
	}
	// A valid signature still meets --maxforks.
	if r := upgradeAt(t, d, good, origin); r.status != 429 {
		t.Errorf("signed, over --maxforks: HTTP %d, want 429", r.status)
	}
	if n := fc.count(t); n != 1 {
		t.Errorf("%d children started, want 1", n)
	}
}

// TestSignedURLsRotation: every key of the file verifies, and SIGHUP
// re-reads the file: a removed key stops verifying, an added one starts.
// A file that no longer holds a valid key leaves the old keys in force.
func TestSignedURLsRotation(t *testing.T) {
	t.Parallel()
	skipUnlessWsplex(t, "--signed-urls")
	keys := keyFile(t, 0o600, keyA, "", keyB)
	onlyA, onlyB, onlyC := keyFile(t, 0o600, keyA), keyFile(t, 0o600, keyB), keyFile(t, 0o600, keyC)
	d := startDaemon(t, "--signed-urls="+keys, "cat")
	byA, byB, byC := sign(t, onlyA, "5m", "/"), sign(t, onlyB, "5m", "/"), sign(t, onlyC, "5m", "/")
	status := func(target string) int { return upgradeAt(t, d, target, "").status }
	if a, b, c := status(byA), status(byB), status(byC); a != 101 || b != 101 || c != 403 {
		t.Fatalf("keys A and B: A %d, B %d, C %d; want 101 101 403", a, b, c)
	}

	must(t, os.WriteFile(keys, []byte(keyB+"\n"+keyC+"\n"), 0o600))
	mark := d.logMark()
	must(t, syscall.Kill(d.pid(), syscall.SIGHUP))
	d.waitLogSince(t, mark, "Signing keys reloaded: 2 in force", waitTimeout)
	if a, b, c := status(byA), status(byB), status(byC); a != 403 || b != 101 || c != 101 {
		t.Fatalf("keys B and C: A %d, B %d, C %d; want 403 101 101", a, b, c)
	}

	must(t, os.WriteFile(keys, []byte("short\n"), 0o600))
	mark = d.logMark()
	must(t, syscall.Kill(d.pid(), syscall.SIGHUP))
	d.waitLogSince(t, mark, "Signing keys not reloaded", waitTimeout)
	if c := status(byC); c != 101 {
		t.Fatalf("after a bad reload: C %d, want 101 (old keys in force)", c)
	}
}

// TestSignedURLsKeyFile: a key file readable by others is a startup
// warning; a short key or no key refuses to start; plain HTTP is not
// covered by the flag.
func TestSignedURLsKeyFile(t *testing.T) {
	t.Parallel()
	skipUnlessWsplex(t, "--signed-urls")
	static := t.TempDir()
	must(t, os.WriteFile(filepath.Join(static, "index.html"), []byte("hello"), 0o644))
	d := startDaemon(t, "--signed-urls="+keyFile(t, 0o644, keyA), "--staticdir="+static, "cat")
	d.waitLog(t, "is readable by group or others", waitTimeout)
	if got := httpGet(t, d.httpURL("/")); got != "hello" {
		t.Errorf("plain HTTP under --signed-urls: %q, want the static file", got)
	}
	for _, tc := range []struct{ content, msg string }{
		{"short-key\n", "want at least 32"},
		{"\n\n", "no key"},
	} {
		p := filepath.Join(t.TempDir(), "k")
		must(t, os.WriteFile(p, []byte(tc.content), 0o600))
		r := runDaemon(t, "--port=1", "--signed-urls="+p, "cat")
		if r.ExitCode != exitInvalid || !strings.Contains(r.Stderr, tc.msg) {
			t.Errorf("key file %q: exit %d, stderr %q", tc.content, r.ExitCode, r.Stderr)
		}
	}
	if r := runDaemon(t, "sign", "/x"); r.ExitCode != exitUsage || !strings.Contains(r.Stderr, "Usage: wsplex sign") {
		t.Errorf("sign without key file: exit %d, stderr %q", r.ExitCode, r.Stderr)
	}
}
