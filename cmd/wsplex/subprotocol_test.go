package main

// Subprotocol negotiation: the default (answer the first offer),
// --subprotocol and --protodir (issue 12).

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSubprotocolDefault: without flags the client's first offer is
// answered and the child sees it in WEBSOCKET_PROTOCOL; a client that
// offers none gets none, and an empty WEBSOCKET_PROTOCOL.
func TestSubprotocolDefault(t *testing.T) {
	t.Parallel()
	skipUnlessWsplex(t, "subprotocols are answered")
	fc := newForkCounter(t)
	prog := fc.script(t, t.TempDir(), "prog", protoEcho)
	d := startDaemon(t, prog)
	for _, tc := range []struct{ offer, want, line string }{
		{"ex1", "ex1", "prog p=ex1 offered=ex1"},
		{"chat, superchat", "chat", "prog p=chat offered=chat, superchat"},
		{"", "", "prog p= offered="},
	} {
		r := upgradeAt(t, d, "/", offer(tc.offer))
		if r.status != 101 || r.protocol != tc.want {
			t.Fatalf("offer %q: HTTP %d protocol %q, want 101 %q", tc.offer, r.status, r.protocol, tc.want)
		}
		r.client.expectText(t, tc.line)
	}
	// A real client library accepts the answer (it checks the server
	// picked one of its offers).
	c, err := dialWSWith(t, d.url("/"), wsDialOptions{Protocols: []string{"ex2", "ex3"}})
	if err != nil || c.protocol != "ex2" {
		t.Fatalf("gobwas dial offering ex2, ex3: protocol %q, %v", c.protocol, err)
	}
	c.expectText(t, "prog p=ex2 offered=ex2, ex3")
}

// TestSubprotocolList: --subprotocol (repeatable, comma lists) picks the
// client's first offer in the list; an offer with none of them is a 400
// whose log line names both lists, and starts no child; no offer is
// served without a subprotocol.
func TestSubprotocolList(t *testing.T) {
	t.Parallel()
	skipUnlessWsplex(t, "--subprotocol")
	fc := newForkCounter(t)
	prog := fc.script(t, t.TempDir(), "prog", protoEcho)
	d := startDaemon(t, "--subprotocol=b, c", "--subprotocol=d", prog)

	mark := d.logMark()
	r := upgradeAt(t, d, "/", offer("x, y"))
	if r.status != 400 || r.protocol != "" {
		t.Fatalf("offer x, y: HTTP %d protocol %q, want 400 and none", r.status, r.protocol)
	}
	line := d.waitLogSince(t, mark, "subprotocols offered", waitTimeout)
	if !strings.Contains(line, "(x, y)") || !strings.Contains(line, "(b, c, d)") {
		t.Errorf("refusal log line %q does not name both lists", line)
	}
	for _, tc := range []struct{ offer, want string }{
		{"a, d, b", "d"}, // the client's order, not the server's
		{"c", "c"},
		{"", ""},
	} {
		r := upgradeAt(t, d, "/", offer(tc.offer))
		if r.status != 101 || r.protocol != tc.want {
			t.Fatalf("offer %q: HTTP %d protocol %q, want 101 %q", tc.offer, r.status, r.protocol, tc.want)
		}
		r.client.expectText(t, "prog p="+tc.want+" offered="+tc.offer)
	}
	if n := fc.count(t); n != 3 {
		t.Errorf("%d children started, want 3 (none for the refused upgrade)", n)
	}
}

// TestProtoDir: --protodir runs the program named by the first offered
// subprotocol that has one, DIR/default without an offer, and never
// anything outside DIR: no "..", no "/", no dot names, no symlink out, no
// file that is not an executable. Refusals are 400s that start nothing.
func TestProtoDir(t *testing.T) {
	t.Parallel()
	skipUnlessWsplex(t, "--protodir")
	fc := newForkCounter(t)
	root := t.TempDir()
	dir := filepath.Join(root, "protos")
	must(t, os.MkdirAll(filepath.Join(dir, "sub"), 0o755))
	fc.script(t, dir, "chat", protoEcho)
	fc.script(t, dir, "default", protoEcho)
	fc.script(t, dir, ".hidden", protoEcho)
	fc.script(t, filepath.Join(dir, "sub"), "inner", protoEcho)
	fc.script(t, root, "outside", protoEcho)
	writeFile(t, filepath.Join(dir, "plain"), "not a program\n", 0o644)
	symlink(t, filepath.Join(root, "outside"), filepath.Join(dir, "out"))
	symlink(t, "chat", filepath.Join(dir, "alias"))
	d := startDaemon(t, "--protodir="+dir)

	served := 0
	for _, tc := range []struct{ offer, proto, line string }{
		{"nope, chat, default", "chat", "chat p=chat offered=nope, chat, default"},
		{"alias", "alias", "alias p=alias offered=alias"}, // a symlink to chat, inside DIR
		{"", "", "default p= offered="},
		{"default", "default", "default p=default offered=default"},
	} {
		r := upgradeAt(t, d, "/", offer(tc.offer))
		if r.status != 101 || r.protocol != tc.proto {
			t.Fatalf("offer %q: HTTP %d protocol %q, want 101 %q", tc.offer, r.status, r.protocol, tc.proto)
		}
		r.client.expectText(t, tc.line)
		served++
	}
	for _, o := range []string{"nope", "..", "../outside", ".hidden", "sub/inner", "sub", "out", "plain", "%2e%2e"} {
		mark := d.logMark()
		r := upgradeAt(t, d, "/", offer(o))
		if r.status != 400 {
			t.Errorf("offer %q: HTTP %d, want 400", o, r.status)
			continue
		}
		d.waitLogSince(t, mark, "no program in --protodir", waitTimeout)
	}
	// The count after one more served connection: every refusal's log
	// line is out, and the children are all in.
	r := upgradeAt(t, d, "/", offer("chat"))
	r.client.expectText(t, "chat p=chat offered=chat")
	served++
	if n := fc.count(t); n != served {
		t.Errorf("%d children started, want %d (none for the refusals)", n, served)
	}

	// Without DIR/default, a client that offers nothing is refused.
	must(t, os.Remove(filepath.Join(dir, "default")))
	mark := d.logMark()
	if r := upgradeAt(t, d, "/", ""); r.status != 400 {
		t.Errorf("no offer, no default: HTTP %d, want 400", r.status)
	}
	d.waitLogSince(t, mark, "no program 'default'", waitTimeout)
}

// TestProtoDirFlags: --protodir replaces COMMAND and goes with neither
// COMMAND, --dir, --subprotocol nor --prefork.
func TestProtoDirFlags(t *testing.T) {
	t.Parallel()
	skipUnlessWsplex(t, "--protodir")
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"--protodir=" + dir, "cat"}, "Provided COMMAND and --protodir"},
		{[]string{"--protodir=" + dir, "--dir=" + dir}, "Provided --dir and --protodir"},
		{[]string{"--protodir=" + dir, "--subprotocol=a"}, "--subprotocol cannot be used with --protodir"},
		{[]string{"--protodir=" + dir, "--prefork=1"}, "--prefork cannot be used with --protodir"},
		{[]string{"--protodir=" + filepath.Join(dir, "missing")}, "is not pointing to an accessible directory"},
	} {
		r := runDaemon(t, append([]string{"--port=1"}, tc.args...)...)
		if r.ExitCode != exitInvalid || !strings.Contains(r.Stderr, tc.msg) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", tc.args, r.ExitCode, r.Stderr, exitInvalid, tc.msg)
		}
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
