package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gobwas/ws"
)

// TestInBufferWhileStarting: while a child is starting, the client's reads
// are paused, and they must stay paused after a write of the daemon's own
// has queued and drained (gnet, the daemon's earlier event loop, turned
// reading back on by itself then, and only --inbuffer bounded what it read).
//
// The 101 is made larger than the socket buffers (--header-ws) and the
// client reads it slowly, so that the daemon queues it and drains it on
// the socket's writable event; the forker is stopped, so the child is
// still starting when the client then sends more than --inbuffer. Nothing
// of it may be read: the kernel holds it and TCP holds the client back,
// so the connection ends with the start's failure (1011, after the start
// timeout), not with --inbuffer's 1008, which would mean the daemon read
// input while the child was starting.
func TestInBufferWhileStarting(t *testing.T) {
	skipUnlessWsplex(t, "the spawner process is wsplex's")
	if runtime.GOOS != "linux" {
		t.Skip("the spawner process is Linux-only")
	}
	big := strings.Repeat("b", 64<<10)
	args := []string{"--inbuffer=1"}
	for range 4 {
		args = append(args, "--header-ws=X-Big: "+big)
	}
	d := startDaemon(t, append(args, "cat")...)
	_, resume := stopForker(t, d)
	defer resume()

	dialer := net.Dialer{Timeout: waitTimeout, Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			// A small window and a small MSS keep the daemon's send buffer
			// small (Linux sizes it from the MSS), so the 101 is queued.
			serr = errors.Join(syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096),
				syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_MAXSEG, 128))
		})
		if err != nil {
			return err
		}
		return serr
	}}
	conn, err := dialer.DialContext(context.Background(), "tcp", d.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(waitTimeout))
	if _, err := conn.Write([]byte(upgradeRequest("/", d.addr, ""))); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReaderSize(conn, 4096)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("read the 101: %v", err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols || len(resp.Header.Values("X-Big")) != 4 {
		t.Fatalf("HTTP %d with %d X-Big headers, want 101 with 4", resp.StatusCode, len(resp.Header.Values("X-Big")))
	}
	// More than --inbuffer, in one write, while the child is starting. The
	// write may block once the daemon pauses reads again: it is not waited for.
	payload := bytes.Repeat([]byte("x"), 1<<20)
	go func() { _, _ = conn.Write(rawFrame(true, 0, 0x1, true, payload)) }()
	c := &wsClient{conn: conn, br: br}
	code, reason := c.readClose(t, waitTimeout)
	if code != ws.StatusInternalServerError {
		t.Fatalf("close %d %q, want 1011 (the start failed; no input read while the child is starting)", code, reason)
	}
	_, _ = io.Copy(io.Discard, br)
}
