package main

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestRunListenError(t *testing.T) {
	newSandbox(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	var out, errb bytes.Buffer
	code := run([]string{"--address=127.0.0.1", "--port=" + port, "prog"}, &out, &errb)
	if code != 3 {
		t.Fatalf("exit %d, want 3; stdout %q stderr %q", code, out.String(), errb.String())
	}
	// websocketd: log.Fatal("server", "Can't start server: %s", err).
	re := regexp.MustCompile(`(?m)^.* \| FATAL  \| server     \|  \| Can't start server: listen tcp 127\.0\.0\.1:` + port + `: bind: address already in use$`)
	if !re.MatchString(out.String()) {
		t.Errorf("stdout %q", out.String())
	}
}

// startMain runs the daemon binary (built by the harness, see
// requireDaemon) serving cat on a free port, with stdout on a pipe the test
// controls, and returns once it has logged that it is listening. The
// returned reader continues stdout after that line.
func startMain(t *testing.T) (*exec.Cmd, *bufio.Reader, *os.File, *bytes.Buffer) {
	t.Helper()
	if testing.Short() {
		t.Skip("starts the daemon")
	}
	cat, err := exec.LookPath("cat")
	if err != nil {
		t.Skip("no cat")
	}
	skipUnlessWsplex(t, "SIGPIPE and SIGTERM handling of cmd/wsplex")
	cmd := exec.Command(requireDaemon(t), "--address=127.0.0.1", fmt.Sprintf("--port=%d", freePort(t)), cat)
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = pw, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
		pr.Close()
	})
	r := bufio.NewReader(pr)
	deadline := time.Now().Add(10 * time.Second)
	pr.SetReadDeadline(deadline)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("no startup line: %v; stderr %q", err, stderr.String())
		}
		if strings.Contains(line, "| Starting WebSocket server   : ws://127.0.0.1:") {
			break
		}
	}
	pr.SetReadDeadline(time.Time{})
	return cmd, r, pr, &stderr
}

func waitExit(t *testing.T, cmd *exec.Cmd) *os.ProcessState {
	t.Helper()
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatal("daemon did not exit after SIGTERM")
	}
	return cmd.ProcessState
}

func TestSIGTERMExitsZero(t *testing.T) {
	cmd, r, _, stderr := startMain(t)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	rest := make(chan string)
	go func() {
		var b strings.Builder
		r.WriteTo(&b)
		rest <- b.String()
	}()
	st := waitExit(t, cmd)
	if st.ExitCode() != 0 {
		t.Errorf("exit %v, stderr %q", st, stderr.String())
	}
	<-rest
}

// With stdout a pipe whose reader is gone, log writes fail with EPIPE; the
// daemon must neither die of SIGPIPE nor hang, and still exit 0.
func TestBrokenStdoutDoesNotKill(t *testing.T) {
	cmd, _, pr, stderr := startMain(t)
	pr.Close()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	st := waitExit(t, cmd)
	if ws, ok := st.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		t.Fatalf("killed by %v", ws.Signal())
	}
	if st.ExitCode() != 0 {
		t.Errorf("exit %v, stderr %q", st, stderr.String())
	}
}
