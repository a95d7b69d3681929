package main

import (
	"io"
	"net"
	"os"
	"regexp"
	"testing"

	"github.com/gobwas/ws"
)

// TestFramesBeforeHalfCloseWhileStarting: a client that sends its message
// and its close frame and then half-closes (FIN) while its child is still
// starting loses nothing: the child gets the message once it runs. The
// start is held up by --reverselookup against a DNS server that never
// answers (the lookup's 3 s bound), so the FIN surely arrives meanwhile.
// Before, the daemon took the hangup as the client gone and closed the
// socket with the frames unread: no child was ever started.
func TestFramesBeforeHalfCloseWhileStarting(t *testing.T) {
	skipUnlessWsplex(t, "WSPLEX_DNS is wsplex's")
	if b, err := os.ReadFile("/etc/hosts"); err != nil || !regexp.MustCompile(`(?m)^127\.0\.0\.1\s+localhost\b`).Match(b) {
		t.Skip("needs /etc/hosts to name 127.0.0.1 localhost")
	}
	dns, queried := silentDNS(t)
	script := writeScript(t, "got.sh", "#!/bin/sh\nread line\necho \"got:$line\" >&2\n")
	d := startDaemonWith(t, daemonOptions{Env: []string{"WSPLEX_DNS=" + dns}}, "--reverselookup", script)

	nd := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}, Timeout: waitTimeout}
	c, err := nd.Dial("tcp", d.addr)
	if err != nil {
		t.Skipf("cannot connect from 127.0.0.2: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	req := []byte(upgradeRequest("/", d.addr, ""))
	req = append(req, ws.MustCompileFrame(ws.MaskFrameInPlace(ws.NewTextFrame([]byte("hello"))))...)
	req = append(req, ws.MustCompileFrame(ws.MaskFrameInPlace(ws.NewCloseFrame(ws.NewCloseFrameBody(ws.StatusNormalClosure, ""))))...)
	if _, err := c.Write(req); err != nil {
		t.Fatal(err)
	}
	<-queried // the start waits for the lookup
	if err := c.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	d.waitLog(t, "got:hello", 2*waitTimeout)
	_, _ = io.Copy(io.Discard, c) // the 101, our close frame, then end of file
}
