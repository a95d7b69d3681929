package main

// The signing snippets of docs/handshake.md, run as printed: each must
// mint a URL the daemon serves.

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// docSnippets returns the fenced code blocks of docs/handshake.md that
// follow a "<!-- sign:LANG -->" marker, by LANG.
func docSnippets(t testing.TB) map[string]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, "docs", "handshake.md"))
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile("(?s)<!-- sign:(\\w+) -->\n```\\w*\n(.*?)```")
	out := map[string]string{}
	for _, m := range re.FindAllStringSubmatch(string(b), -1) {
		out[m[1]] = m[2]
	}
	return out
}

// TestSignedURLDocSnippets: the shell (openssl), Python and JavaScript
// signers of the documentation agree with the daemon.
func TestSignedURLDocSnippets(t *testing.T) {
	t.Parallel()
	skipUnlessWsplex(t, "--signed-urls")
	snippets := docSnippets(t)
	keys := keyFile(t, 0o600, keyA, keyB)
	d := startDaemon(t, "--signed-urls="+keys, "cat")
	for _, lang := range []struct{ name, prog, flag string }{
		{"sh", "sh", "-c"},
		{"python", "python3", "-c"},
		{"js", "node", "-e"},
	} {
		t.Run(lang.name, func(t *testing.T) {
			code, ok := snippets[lang.name]
			if !ok {
				t.Fatalf("docs/handshake.md has no sign:%s snippet", lang.name)
			}
			prog := lookPath(t, lang.prog)
			if lang.name == "sh" {
				lookPath(t, "openssl")
			}
			cmd := exec.Command(prog, lang.flag, code)
			cmd.Env = append(os.Environ(), "KEYFILE="+keys, "TARGET=/chat?room=1")
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("%s snippet: %v", lang.name, err)
			}
			target := strings.TrimSpace(string(out))
			if !strings.HasPrefix(target, "/chat?room=1&expires=") {
				t.Fatalf("%s snippet printed %q", lang.name, target)
			}
			r := upgradeAt(t, d, target, "")
			if r.status != 101 {
				t.Fatalf("%s snippet's %s: HTTP %d %q", lang.name, target, r.status, r.body)
			}
			r.client.sendText(t, "hi")
			r.client.expectText(t, "hi")
			if r := upgradeAt(t, d, strings.Replace(target, "room=1", "room=2", 1), ""); r.status != 403 {
				t.Errorf("%s: tampered target HTTP %d, want 403", lang.name, r.status)
			}
		})
	}
}
