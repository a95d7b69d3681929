package main

// Small helpers for messages_test.go, env_test.go and lifecycle_test.go, on
// top of harness_test.go. Names start with "ml" so that they do not clash
// with the helpers of the other test files in this package.

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"golang.org/x/sys/unix"
)

// mlScript writes an executable script (body, with its #! line) into a
// temporary directory of the test and returns its path.
func mlScript(t testing.TB, name, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// mlTestKey is a valid Sec-WebSocket-Key (the RFC 6455 sample).
const mlTestKey = "dGhlIHNhbXBsZSBub25jZQ=="

// mlUpgradeRequest returns a complete WebSocket handshake request for path
// with Host host, followed by the extra header lines (each ending "\r\n").
func mlUpgradeRequest(path, host, extra string) string {
	return "GET " + path + " HTTP/1.1\r\n" +
		"Host: " + host + "\r\n" +
		"Upgrade: websocket\r\n" +
		"Connection: Upgrade\r\n" +
		"Sec-WebSocket-Key: " + mlTestKey + "\r\n" +
		"Sec-WebSocket-Version: 13\r\n" +
		extra + "\r\n"
}

// mlRawRequest connects to addr, writes raw in one write, and reads the
// response head. The connection is closed when the test ends.
func mlRawRequest(t testing.TB, addr, raw string) (net.Conn, *bufio.Reader, *http.Response) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, waitTimeout)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { conn.Close() })
	_ = conn.SetWriteDeadline(time.Now().Add(waitTimeout))
	if _, err := conn.Write([]byte(raw)); err != nil {
		t.Fatalf("write request: %v", err)
	}
	br := bufio.NewReader(conn)
	_ = conn.SetReadDeadline(time.Now().Add(waitTimeout))
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("read response to %q: %v", firstLine(raw), err)
	}
	_ = conn.SetReadDeadline(time.Time{})
	return conn, br, resp
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return strings.TrimSuffix(s[:i], "\r")
	}
	return s
}

// mlRawUpgrade performs a handshake by hand (the exact request of
// mlUpgradeRequest, plus trailing bytes in the same write) and returns a
// wsClient on the upgraded connection.
func mlRawUpgrade(t testing.TB, addr, path, host, extra string, trailing []byte) *wsClient {
	t.Helper()
	conn, br, resp := mlRawRequest(t, addr, mlUpgradeRequest(path, host, extra)+string(trailing))
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("handshake for %s: HTTP %d, want 101", path, resp.StatusCode)
	}
	return &wsClient{conn: conn, br: br}
}

// mlFrame encodes one frame by hand, so that it can be anything at all: op
// may be reserved, rsv is the three RSV bits (0..7), and the payload is
// masked with a fixed key when masked is set.
func mlFrame(fin bool, rsv byte, op byte, masked bool, payload []byte) []byte {
	b0 := rsv<<4 | op&0x0f
	if fin {
		b0 |= 0x80
	}
	out := []byte{b0}
	var m byte
	if masked {
		m = 0x80
	}
	switch n := len(payload); {
	case n < 126:
		out = append(out, m|byte(n))
	case n <= 0xffff:
		out = append(out, m|126)
		out = binary.BigEndian.AppendUint16(out, uint16(n))
	default:
		out = append(out, m|127)
		out = binary.BigEndian.AppendUint64(out, uint64(n))
	}
	if !masked {
		return append(out, payload...)
	}
	key := [4]byte{0x12, 0x34, 0x56, 0x78}
	out = append(out, key[:]...)
	for i, c := range payload {
		out = append(out, c^key[i%4])
	}
	return out
}

// mlReadUntilClose reads messages until the connection ends and returns them
// with the close code and reason (see readClose).
func mlReadUntilClose(t testing.TB, c *wsClient, timeout time.Duration) ([]wsMessage, ws.StatusCode, string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var msgs []wsMessage
	for {
		m := c.readMessage(t, time.Until(deadline))
		if m.Op == ws.OpClose {
			if m.Code != ws.StatusAbnormalClosure && !c.closeSent {
				code := m.Code
				var body []byte
				if code != ws.StatusNoStatusRcvd {
					body = ws.NewCloseFrameBody(code, "")
				}
				_ = c.conn.SetWriteDeadline(time.Now().Add(waitTimeout))
				_ = ws.WriteFrame(c.conn, ws.MaskFrame(ws.NewCloseFrame(body)))
				c.closeSent = true
			}
			return msgs, m.Code, m.Reason
		}
		msgs = append(msgs, m)
	}
}

// mlTexts returns the data of text messages, failing on any other kind.
func mlTexts(t testing.TB, msgs []wsMessage) []string {
	t.Helper()
	out := make([]string, 0, len(msgs))
	for _, m := range msgs {
		if m.Op != ws.OpText {
			t.Fatalf("want only text messages, got %s", m)
		}
		out = append(out, string(m.Data))
	}
	return out
}

var mlPidRe = regexp.MustCompile(`pid:'(\d+)'`)

// mlPid returns the child pid named by a session log line.
func mlPid(t testing.TB, line string) int {
	t.Helper()
	m := mlPidRe.FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("no pid in log line %q", line)
	}
	pid, _ := strconv.Atoi(m[1])
	return pid
}

// mlProcGone reports whether pid no longer runs: no /proc entry, or a zombie
// (nobody may reap an orphan in a container without an init).
func mlProcGone(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+2 >= len(s) {
		return false
	}
	return s[i+2] == 'Z' || s[i+2] == 'X'
}

// mlWaitGone polls /proc until pid is gone and returns the CLOCK_MONOTONIC
// time (ns) at which it was first seen gone; it fails the test after timeout.
func mlWaitGone(t testing.TB, pid int, timeout time.Duration) int64 {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !mlProcGone(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("process %d still running after %v", pid, timeout)
		}
		time.Sleep(5 * time.Millisecond) // polling /proc: there is no event to wait on
	}
	return mlMonoNow()
}

// mlKillIfAlive is a cleanup for a process the test expects the daemon to
// stop: if it survived, kill it so that nothing outlives the test.
func mlKillIfAlive(t testing.TB, pid int, comm string) {
	t.Cleanup(func() {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
		if err == nil && strings.TrimSpace(string(b)) == comm && !mlProcGone(pid) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	})
}

// mlMonoNow is CLOCK_MONOTONIC in nanoseconds, the clock of Python's
// time.monotonic_ns(), so that the test and a child can compare times.
func mlMonoNow() int64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		panic(err)
	}
	return ts.Nano()
}

// mlLookPath is exec.LookPath that fails the test.
func mlLookPath(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return p
}
