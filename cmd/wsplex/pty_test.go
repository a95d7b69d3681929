package main

// --pty against the real daemon over real sockets: the terminal, resizes,
// line buffering, Ctrl-C, flow control, leaks and goroutines.

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"
)

// ptyClient is a wsClient on a --pty endpoint: it gathers the terminal's
// output, which arrives as binary frames cut anywhere.
type ptyClient struct {
	*wsClient
	out bytes.Buffer
}

func dialPTY(t testing.TB, url string) *ptyClient {
	t.Helper()
	return &ptyClient{wsClient: dialWS(t, url)}
}

// until reads output until it contains want (after the first from bytes),
// and returns everything read so far. The end of the connection fails the
// test.
func (p *ptyClient) until(t testing.TB, want string) string {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !strings.Contains(p.out.String(), want) {
		m := p.readMessage(t, time.Until(deadline))
		if m.Op != ws.OpBinary {
			t.Fatalf("waiting for %q: got %s after %q", want, m, p.out.String())
		}
		p.out.Write(m.Data)
	}
	return p.out.String()
}

// end reads output until the close frame, answers it, and returns its
// code and reason.
func (p *ptyClient) end(t testing.TB) (ws.StatusCode, string) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		m := p.readMessage(t, time.Until(deadline))
		switch m.Op {
		case ws.OpBinary:
			p.out.Write(m.Data)
		case ws.OpClose:
			if m.Code != ws.StatusAbnormalClosure && m.Code != ws.StatusNoStatusRcvd && !p.closeSent {
				p.sendClose(t, m.Code, "")
			}
			return m.Code, m.Reason
		default:
			t.Fatalf("unexpected message in --pty mode: %s", m)
		}
	}
}

// TestPTYTty: the child's stdio is a terminal; its output is binary
// frames; its exit is the close frame.
func TestPTYTty(t *testing.T) {
	skipUnlessWsplex(t, "--pty")
	d := startDaemon(t, "--pty", lookPath(t, "sh"), "-c", `tty; echo "TERM=$TERM"; [ -t 0 ] && [ -t 2 ] && echo stdio-is-tty`)
	c := dialPTY(t, d.url("/"))
	code, reason := c.end(t)
	out := c.out.String()
	if !strings.HasPrefix(out, "/dev/pts/") || !strings.Contains(out, "TERM=xterm-256color\r\n") || !strings.Contains(out, "stdio-is-tty\r\n") {
		t.Errorf("output %q: want a /dev/pts path, TERM=xterm-256color, stdio-is-tty", out)
	}
	if code != ws.StatusNormalClosure {
		t.Errorf("close %d %q, want 1000", code, reason)
	}
}

// TestPTYResize: the initial size comes from the query string; a resize
// message changes it, and the program sees the new size.
func TestPTYResize(t *testing.T) {
	skipUnlessWsplex(t, "--pty")
	d := startDaemon(t, "--pty", "--term=vt100", lookPath(t, "sh"), "-c", `stty size; echo "TERM=$TERM"; read x; stty size`)
	c := dialPTY(t, d.url("/?cols=100&rows=30"))
	c.until(t, "TERM=vt100\r\n")
	if out := c.out.String(); !strings.HasPrefix(out, "30 100\r\n") {
		t.Fatalf("initial size: output %q, want 30 100", out)
	}
	c.sendText(t, `{"type":"resize","cols":132,"rows":43}`)
	c.sendBinary(t, []byte("\r"))
	c.until(t, "43 132\r\n")
	if code, reason := c.end(t); code != ws.StatusNormalClosure {
		t.Errorf("close %d %q, want 1000", code, reason)
	}

	// Default size without a query.
	c = dialPTY(t, d.url("/"))
	c.until(t, "24 80\r\n")
}

// TestPTYBadControl: an unknown or malformed control message closes the
// connection with 1003 and a reason; the daemon goes on serving.
func TestPTYBadControl(t *testing.T) {
	skipUnlessWsplex(t, "--pty")
	d := startDaemon(t, "--pty", lookPath(t, "cat"))
	for _, msg := range []string{`{"type":"explode"}`, `not json`, `{"type":"resize","cols":0,"rows":5}`} {
		c := dialPTY(t, d.url("/"))
		c.sendText(t, msg)
		code, reason := c.end(t)
		if code != ws.StatusUnsupportedData || reason == "" {
			t.Errorf("%s: close %d %q, want 1003 with a reason", msg, code, reason)
		}
	}
	c := dialPTY(t, d.url("/"))
	c.sendBinary(t, []byte("still here\r"))
	c.until(t, "still here\r\nstill here\r\n") // the terminal's echo, then cat's
	c.close()
	waitNoPrograms(t, d, waitTimeout)
}

// TestPTYLineBuffered: Python's stdout is line-buffered on a terminal, so
// a line printed without flush arrives while the program waits for input.
func TestPTYLineBuffered(t *testing.T) {
	skipUnlessWsplex(t, "--pty")
	py := lookPath(t, "python3")
	d := startDaemon(t, "--passenv=PATH,HOME,PYENV_ROOT,PYENV_VERSION", "--pty", py, "-c",
		"import sys\nprint('first line')\nsys.stdin.readline()\nprint('second line')\nsys.stdin.readline()\n")
	c := dialPTY(t, d.url("/"))
	c.until(t, "first line\r\n")
	c.sendBinary(t, []byte("\r"))
	c.until(t, "second line\r\n")
	c.sendBinary(t, []byte("\r"))
	if code, reason := c.end(t); code != ws.StatusNormalClosure {
		t.Errorf("close %d %q, want 1000", code, reason)
	}
}

// TestPTYCtrlC: byte 0x03 is the terminal's interrupt character: it stops
// a running sleep in an interactive bash, which then reports status 130.
func TestPTYCtrlC(t *testing.T) {
	skipUnlessWsplex(t, "--pty")
	d := startDaemon(t, "--pty", lookPath(t, "bash"), "--norc", "--noprofile", "-i")
	c := dialPTY(t, d.url("/"))
	c.sendBinary(t, []byte("PS1='$ '\r"))
	c.sendBinary(t, []byte("echo rea''dy\r"))
	c.until(t, "ready\r\n")
	start := time.Now()
	c.sendBinary(t, []byte("sleep 60\r"))
	waitDescendant(t, d, "sleep")
	c.sendBinary(t, []byte{0x03})
	c.sendBinary(t, []byte("echo status=$?\r"))
	c.until(t, "status=130\r\n")
	if el := time.Since(start); el > 30*time.Second {
		t.Errorf("sleep 60 took %v to be interrupted", el)
	}
	c.sendBinary(t, []byte("exit 3\r"))
	if code, reason := c.end(t); code != 4003 {
		t.Errorf("close %d %q, want 4003 (exit status 3)", code, reason)
	}
	waitNoPrograms(t, d, waitTimeout)
}

// waitDescendant polls until a process named comm runs below the daemon.
func waitDescendant(t testing.TB, d *daemon, comm string) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		for _, st := range procDescendants(t, d.pid()) {
			if st.Comm == comm && st.State != 'Z' {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s below the daemon after %v", comm, waitTimeout)
		}
		time.Sleep(10 * time.Millisecond) // polling /proc
	}
}

// TestPTYHangup: a client that goes away hangs up the terminal: an
// interactive shell and its foreground job get SIGHUP and are gone, with
// no signal ladder needed.
func TestPTYHangup(t *testing.T) {
	skipUnlessWsplex(t, "--pty")
	d := startDaemon(t, "--pty", lookPath(t, "bash"), "--norc", "--noprofile", "-i")
	c := dialPTY(t, d.url("/"))
	c.sendBinary(t, []byte("sleep 60\r"))
	waitDescendant(t, d, "sleep")
	c.close()
	waitNoPrograms(t, d, waitTimeout)
}

// TestPTYFlow: a program writes 64 MiB to a client that reads nothing for
// a while; the daemon's RSS stays under 64 MiB because the master is not
// read while the client is behind, and once the client reads every line
// arrives, in order (with the terminal's \r\n).
func TestPTYFlow(t *testing.T) {
	skipUnlessWsplex(t, "--pty")
	const (
		lineSize = 1024
		lines    = 64 << 20 / lineSize
	)
	d := startDaemon(t, "--pty", progBin(t, "lines"), strconv.Itoa(lines), strconv.Itoa(lineSize))
	c := dialPTY(t, d.url("/"))
	child := waitProgram(t, d, waitTimeout)

	rss := sampleRSS(t, d.pid(), 50*time.Millisecond)
	// Wait until the program is blocked: its write count stops growing.
	var wchar int64 = -1
	stable := 0
	for deadline := time.Now().Add(3 * waitTimeout); stable < 10; {
		w, err := procWChar(child.Pid)
		if err != nil {
			t.Fatalf("program gone while its client read nothing: %v", err)
		}
		if w == wchar {
			stable++
		} else {
			wchar, stable = w, 0
		}
		if time.Now().After(deadline) {
			t.Fatalf("the program's write count kept growing for %v (now %d bytes): not paused", 3*waitTimeout, w)
		}
		time.Sleep(100 * time.Millisecond) // sampling /proc while the client reads nothing
	}
	if wchar >= lines*lineSize {
		t.Errorf("the program wrote all %d bytes while its client read nothing: not paused", wchar)
	}

	want := bytes.Repeat([]byte{'.'}, lineSize+1)
	want[10] = ' '
	want[lineSize-1], want[lineSize] = '\r', '\n'
	var pend []byte
	got := 0
	deadline := time.Now().Add(2 * time.Minute)
	for got < lines {
		m := c.readMessage(t, time.Until(deadline))
		if m.Op != ws.OpBinary {
			t.Fatalf("after %d lines: %s", got, m)
		}
		pend = append(pend, m.Data...)
		for len(pend) >= lineSize+1 {
			copy(want, fmt.Sprintf("%010d", got))
			if !bytes.Equal(pend[:lineSize+1], want) {
				t.Fatalf("line %d: %q, want %q", got, pend[:40], want[:40])
			}
			pend = pend[lineSize+1:]
			got++
		}
		pend = append([]byte(nil), pend...)
	}
	maxRSS := rss.finish()
	t.Logf("program blocked after writing %.1f MiB; daemon max RSS %d KiB", float64(wchar)/(1<<20), maxRSS)
	if maxRSS >= rssBound {
		t.Errorf("daemon RSS reached %d KiB, want < %d KiB", maxRSS, rssBound)
	}
	if code, reason := c.end(t); code != ws.StatusNormalClosure || len(pend)+c.out.Len() != 0 {
		t.Errorf("close %d %q after %d extra bytes, want 1000 and nothing more", code, reason, len(pend)+c.out.Len())
	}
}

// TestPTYNoLeaks: 200 PTY sessions, some ending by the program's exit and
// some by the client leaving, leave no fd, no process and no zombie.
func TestPTYNoLeaks(t *testing.T) {
	skipUnlessWsplex(t, "--pty")
	const n = 200
	d := startDaemon(t, "--pty", lookPath(t, "sh"), "-c", `tty; read x`)
	warm := dialPTY(t, d.url("/"))
	warm.until(t, "/dev/pts/")
	warm.sendBinary(t, []byte("\r"))
	warm.end(t)
	waitNoPrograms(t, d, waitTimeout)
	fd0 := procFDCount(t, d.pid())

	var wg sync.WaitGroup
	next := make(chan int)
	errs := make(chan string, n)
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if msg := ptySession(t, d, i); msg != "" {
					errs <- fmt.Sprintf("session %d: %s", i, msg)
				}
			}
		}()
	}
	for i := 0; i < n; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	waitNoPrograms(t, d, 30*time.Second)
	waitFDsAtMost(t, d.pid(), fd0, 30*time.Second)
}

// ptySession runs one session for TestPTYNoLeaks from a helper goroutine
// (so it reports instead of failing): even ones end by the program's exit,
// odd ones by the client hanging up.
func ptySession(t *testing.T, d *daemon, i int) string {
	c, err := dialWSWith(t, d.url("/"), wsDialOptions{})
	if err != nil {
		return err.Error()
	}
	defer c.close()
	var out []byte
	for !bytes.Contains(out, []byte("\r\n")) {
		m, err := c.recvMessage(waitTimeout)
		if err != nil || m.Op != ws.OpBinary {
			return fmt.Sprintf("waiting for tty: %v %s", err, m)
		}
		out = append(out, m.Data...)
	}
	if !bytes.HasPrefix(out, []byte("/dev/pts/")) {
		return fmt.Sprintf("output %q", out)
	}
	if i%2 == 1 {
		return ""
	}
	if _, err := c.conn.Write(ws.MustCompileFrame(ws.MaskFrame(ws.NewBinaryFrame([]byte("\r"))))); err != nil {
		return err.Error()
	}
	for {
		m, err := c.recvMessage(waitTimeout)
		if err != nil {
			return err.Error()
		}
		if m.Op == ws.OpClose {
			if m.Code != ws.StatusNormalClosure {
				return fmt.Sprintf("close %d %q", m.Code, m.Reason)
			}
			return ""
		}
	}
}

// TestPTYScaleGoroutinesFlat is TestScaleGoroutinesFlat for terminals: 500
// connections, each with a cat on its own PTY, and the daemon's goroutine
// count does not grow with them (the masters are on the spawn pollers), each
// costs at most 4 fds (socket, master and its dup, pidfd), and everything
// is gone once the clients are.
func TestPTYScaleGoroutinesFlat(t *testing.T) {
	skipUnlessWsplex(t, "a reactor without a goroutine per connection")
	if testing.Short() {
		t.Skip("500 terminals")
	}
	const n = 500
	raiseNoFile(t, 2*n+200)
	d, m := startMetricsDaemon(t, 0, "--pty", lookPath(t, "cat"))
	pid := d.pid()

	warm := dialPTY(t, d.url("/"))
	warm.sendBinary(t, []byte("warm\r"))
	warm.until(t, "warm\r\nwarm\r\n")
	warm.close()
	m.waitGauges(t, 0, 0, waitTimeout)
	waitNoPrograms(t, d, waitTimeout)
	g0 := m.scrape(t)["go_goroutines"]
	fd0 := procFDCount(t, pid)

	clients := openEchoing(t, d, n, ptyEchoOnce)
	full := m.scrape(t)
	g1, fd1 := full["go_goroutines"], procFDCount(t, pid)
	t.Logf("goroutines: %v at 0 terminals, %v at %d; fds: %d at 0, %d at %d", g0, g1, n, fd0, fd1, n)
	if got := full["wsplex_running_children"]; got != n {
		t.Errorf("wsplex_running_children = %v, want %d", got, n)
	}
	if g1-g0 > 20 {
		t.Errorf("go_goroutines grew from %v to %v with %d terminals: not flat", g0, g1, n)
	}
	if fd1-fd0 > 4*n+4 || fd1-fd0 < n {
		t.Errorf("fds grew by %d for %d terminals, want <= 4 each", fd1-fd0, n)
	}
	echoAgainAndClose(t, d, m, clients, ptyEchoOnce, pid, fd0)
}

// ptyEchoOnce types a line into a terminal running cat and waits for it
// twice: the terminal's echo, then cat's copy. For helper goroutines.
func ptyEchoOnce(c *wsClient, text string) error {
	_ = c.conn.SetWriteDeadline(time.Now().Add(waitTimeout))
	if err := ws.WriteFrame(c.conn, ws.MaskFrame(ws.NewBinaryFrame([]byte(text+"\r")))); err != nil {
		return fmt.Errorf("send: %w", err)
	}
	want := []byte(text + "\r\n" + text + "\r\n")
	var got []byte
	for !bytes.Contains(got, want) {
		m, err := c.recvMessage(waitTimeout)
		if err != nil {
			return err
		}
		if m.Op != ws.OpBinary {
			return fmt.Errorf("want %q, got %s after %q", want, m, got)
		}
		got = append(got, m.Data...)
	}
	return nil
}
