package main

// --unixsocket: serving, the child's environment, stale and live socket
// files, removal at shutdown, and flow control.

import (
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// unixSocketPath returns a socket path in a fresh directory, short enough for
// sun_path (108 bytes) even with a long test name in TMPDIR.
func unixSocketPath(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "wsx")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return filepath.Join(dir, "s")
}

// startUnixDaemon starts a daemon listening only on a Unix socket.
func startUnixDaemon(t *testing.T, sock string, args ...string) *daemon {
	t.Helper()
	return startDaemonWith(t, daemonOptions{NoTCP: true, UnixSocket: sock}, append([]string{"--unixsocket=" + sock}, args...)...)
}

func dialUnix(t *testing.T, sock string) *wsClient {
	t.Helper()
	c, err := dialWSWith(t, "ws://localhost/", wsDialOptions{UnixSocket: sock})
	if err != nil {
		t.Fatalf("dial unix %s: %v", sock, err)
	}
	return c
}

// TestUnixSocketEcho: a Unix-socket-only daemon serves there, starts no TCP
// listener, and tells the child REMOTE_ADDR=REMOTE_HOST=unix-socket with
// an empty REMOTE_PORT.
func TestUnixSocketEcho(t *testing.T) {
	sock := unixSocketPath(t)
	d := startUnixDaemon(t, sock, "cat")
	d.waitLog(t, "Starting WebSocket server   : unix socket at "+sock, waitTimeout)
	if strings.Contains(d.log.String(), "ws://") {
		t.Errorf("a --unixsocket-only daemon started a TCP listener:\n%s", d.log)
	}
	echoLine(t, dialUnix(t, sock), "over a unix socket")

	sockEnv := unixSocketPath(t)
	startUnixDaemon(t, sockEnv, "env")
	env := readEnv(t, dialUnix(t, sockEnv))
	for k, want := range map[string]string{"REMOTE_ADDR": "unix-socket", "REMOTE_HOST": "unix-socket", "REMOTE_PORT": "", "SERVER_NAME": "localhost", "SERVER_PORT": "80"} {
		if got, ok := env[k]; !ok || got != want {
			t.Errorf("%s = %q (set %v), want %q", k, got, ok, want)
		}
	}
}

// TestUnixSocketWithTCP: --unixsocket with --port serves on both.
func TestUnixSocketWithTCP(t *testing.T) {
	sock := unixSocketPath(t)
	d := startDaemonWith(t, daemonOptions{UnixSocket: sock}, "--unixsocket="+sock, "cat")
	echoLine(t, dialUnix(t, sock), "unix")
	echoLine(t, dialWS(t, d.url("/")), "tcp")
}

// TestUnixSocketStaleReplaced: a socket file nobody listens on (a killed
// daemon's) is removed and the daemon starts.
func TestUnixSocketStaleReplaced(t *testing.T) {
	sock := unixSocketPath(t)
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	l.SetUnlinkOnClose(false)
	l.Close()
	if st, err := os.Lstat(sock); err != nil || st.Mode().Type() != fs.ModeSocket {
		t.Fatalf("no stale socket file to start with: %v", err)
	}
	startUnixDaemon(t, sock, "cat")
	echoLine(t, dialUnix(t, sock), "replaced the stale file")
}

// TestUnixSocketLiveRefused: a second daemon on the socket of a running one
// exits 3 with websocketd's message and leaves the first one serving; the
// socket file is removed when the first one is stopped with SIGTERM.
func TestUnixSocketLiveRefused(t *testing.T) {
	sock := unixSocketPath(t)
	d := startUnixDaemon(t, sock, "cat")

	r := runDaemon(t, "--unixsocket="+sock, "cat")
	want := "socket " + sock + " is already in use by a running server"
	if r.ExitCode != 3 || !strings.Contains(r.Stdout, "Can't start server: "+want) {
		t.Errorf("second daemon: exit %d, stdout %q, stderr %q; want exit 3 and %q", r.ExitCode, r.Stdout, r.Stderr, want)
	}
	echoLine(t, dialUnix(t, sock), "first daemon still serves")

	if code := d.stop(t); code != 0 {
		t.Errorf("exit code after SIGTERM: %d, want 0", code)
	}
	if _, err := os.Lstat(sock); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("socket file after SIGTERM: %v, want it removed", err)
	}
}

// TestUnixSocketFlowControl: a Unix-socket client that outruns a child
// that is not reading is slowed (the read pause takes the socket out of the
// loop's poller, which works for AF_UNIX too), not closed at --inbuffer.
func TestUnixSocketFlowControl(t *testing.T) {
	flowSlowChild(t, func(script, fifo string) *wsClient {
		sock := unixSocketPath(t)
		d := startUnixDaemon(t, sock, "--inbuffer=262144", script, fifo)
		t.Cleanup(func() {
			if strings.Contains(d.log.String(), "closing with 1008") {
				t.Errorf("the client was closed at --inbuffer instead of slowed")
			}
		})
		return dialUnix(t, sock)
	})
}
