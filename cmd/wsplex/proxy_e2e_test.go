package main

// wsplex behind Debian's real haproxy and nginx, run with the
// configurations kept in examples/proxy (rendered with this test's ports),
// all on loopback. The client connects from 127.0.0.2 so that its address
// differs from the proxy's (127.0.0.1).

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gobwas/ws"
)

// clientIP is where the test's clients connect from.
const clientIP = "127.0.0.2"

// lookTool finds a program in PATH or /usr/sbin; it skips (fails under
// CI) without it.
func lookTool(t testing.TB, name, pkg string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	if p := filepath.Join("/usr/sbin", name); isExecutable(p) {
		return p
	}
	skipOrFail(t, "%s not installed (apt-get install %s)", name, pkg)
	return ""
}

func isExecutable(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular() && st.Mode().Perm()&0o111 != 0
}

// renderExample writes examples/proxy/NAME with the placeholders replaced
// into dir and returns its path.
func renderExample(t testing.TB, dir, name string, vars map[string]string) string {
	t.Helper()
	b, err := os.ReadFile(exampleScript("proxy/" + name))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for k, v := range vars {
		s = strings.ReplaceAll(s, "{{"+k+"}}", v)
	}
	if i := strings.Index(s, "{{"); i >= 0 && !strings.HasPrefix(s[i:], "{{NAME}}") {
		t.Fatalf("%s: placeholder left: %.30s", name, s[i:])
	}
	p := filepath.Join(dir, name)
	must(t, os.WriteFile(p, []byte(s), 0o644))
	return p
}

// startTool runs a proxy in the foreground as the test's own process and
// waits until it accepts on addr; the test's end stops it with SIGTERM
// and reaps it (nginx's master reaps its worker before it exits).
func startTool(t testing.TB, addr string, logf string, bin string, args ...string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	out, err := os.Create(logf)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.WaitDelay = 2 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatalf("%s: %v", bin, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); out.Close(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(waitTimeout):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			b, _ := os.ReadFile(logf)
			t.Logf("%s output:\n%s", filepath.Base(bin), b)
		}
	})
	deadline := time.Now().Add(waitTimeout)
	for pause := 2 * time.Millisecond; ; pause = min(2*pause, 50*time.Millisecond) {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return
		}
		select {
		case <-done:
			b, _ := os.ReadFile(logf)
			t.Fatalf("%s exited before listening on %s:\n%s", bin, addr, b)
		case <-time.After(pause):
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not listening on %s after %v", bin, addr, waitTimeout)
		}
	}
}

// dialFrom connects to addr from clientIP and upgrades.
func dialFrom(t testing.TB, addr string) (hsResult, net.Conn) {
	t.Helper()
	d := net.Dialer{Timeout: waitTimeout, LocalAddr: &net.TCPAddr{IP: net.ParseIP(clientIP)}}
	conn, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial %s from %s: %v", addr, clientIP, err)
	}
	t.Cleanup(func() { conn.Close() })
	return upgradeOver(t, conn, addr, nil), conn
}

// TestHAProxyEndToEnd: haproxy (examples/proxy/haproxy.cfg, send-proxy-v2)
// in front of two wsplex instances. The child sees the client's address
// and port; SIGTERM to one instance closes its clients with 1001, and a
// client that reconnects lands on the other.
func TestHAProxyEndToEnd(t *testing.T) {
	skipUnlessWsplex(t, "--proxy-protocol")
	haproxy := lookTool(t, "haproxy", "haproxy")
	prog := func(name string) string {
		return `echo "$REMOTE_ADDR $REMOTE_PORT ` + name + `"; exec cat`
	}
	a := startDaemon(t, "--proxy-protocol=127.0.0.1", "sh", "-c", prog("a"))
	b := startDaemon(t, "--proxy-protocol=127.0.0.1", "sh", "-c", prog("b"))
	dir := t.TempDir()
	front := net.JoinHostPort("127.0.0.1", strconv.Itoa(freePort(t)))
	cfg := renderExample(t, dir, "haproxy.cfg", map[string]string{"LISTEN": front, "BACKEND_A": a.addr, "BACKEND_B": b.addr})
	startTool(t, front, filepath.Join(dir, "haproxy.log"), haproxy, "-db", "-f", cfg)

	// Connect until one client is on each instance (round robin).
	on := map[string]*wsClient{}
	for i := 0; len(on) < 2; i++ {
		if i == 10 {
			t.Fatalf("10 clients, instances reached: %v", len(on))
		}
		r, conn := dialFrom(t, front)
		if r.status != 101 {
			t.Fatalf("through haproxy: HTTP %d", r.status)
		}
		m := r.client.readMessage(t, waitTimeout)
		f := strings.Fields(string(m.Data))
		_, port, _ := net.SplitHostPort(conn.LocalAddr().String())
		if len(f) != 3 || f[0] != clientIP || f[1] != port {
			t.Fatalf("child saw %q, want the client %s %s", m.Data, clientIP, port)
		}
		on[f[2]] = r.client
	}
	on["a"].sendText(t, "via haproxy")
	on["a"].expectText(t, "via haproxy")
	a.waitLog(t, "remote:'"+clientIP+"'", waitTimeout)

	a.stop(t)
	if code, _ := on["a"].readClose(t, waitTimeout); code != ws.StatusGoingAway {
		t.Errorf("client of the stopped instance: close %d, want 1001", code)
	}
	for range 3 {
		r, _ := dialFrom(t, front)
		if r.status != 101 {
			t.Fatalf("reconnect through haproxy: HTTP %d", r.status)
		}
		m := r.client.readMessage(t, waitTimeout)
		if !strings.HasSuffix(string(m.Data), " b") {
			t.Fatalf("reconnected client reached %q, want instance b", m.Data)
		}
	}
	on["b"].sendText(t, "still here")
	on["b"].expectText(t, "still here")
}

// TestNginxEndToEnd: nginx (examples/proxy/nginx.conf) in front of one
// instance with --trusted-proxy: echo works and REMOTE_ADDR is the
// client's.
func TestNginxEndToEnd(t *testing.T) {
	skipUnlessWsplex(t, "--trusted-proxy")
	nginx := lookTool(t, "nginx", "nginx-light")
	d := startDaemon(t, "--trusted-proxy=127.0.0.1", "sh", "-c", `echo "$REMOTE_ADDR"; exec cat`)
	dir := t.TempDir()
	front := net.JoinHostPort("127.0.0.1", strconv.Itoa(freePort(t)))
	conf := renderExample(t, dir, "nginx.conf", map[string]string{"LISTEN": front, "BACKEND": d.addr, "DIR": dir})
	startTool(t, front, filepath.Join(dir, "nginx.out"), nginx, "-p", dir, "-e", filepath.Join(dir, "error.log"), "-c", conf)

	r, _ := dialFrom(t, front)
	if r.status != 101 {
		t.Fatalf("through nginx: HTTP %d", r.status)
	}
	r.client.expectText(t, clientIP)
	r.client.sendText(t, "via nginx")
	r.client.expectText(t, "via nginx")
	r.client.sendClose(t, ws.StatusNormalClosure, "")
	if code, _ := r.client.readClose(t, waitTimeout); code != ws.StatusNormalClosure {
		t.Errorf("close through nginx: %d, want 1000", code)
	}
	d.waitLog(t, "remote:'"+clientIP+"'", waitTimeout)
}
