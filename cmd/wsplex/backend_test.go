package main

// Socket backends (--backend, issue 13) against the real daemon: each
// WebSocket bridged to its own connection to a backend that is a real
// listener in this test process (TCP on loopback, or a Unix socket).

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"net"
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"golang.org/x/sys/unix"

	"github.com/wsplex/wsplex/codec"
)

// testBackend is a backend server: a listener whose connections are each
// served by serve in a goroutine of their own, closed when serve returns.
// At the end of the test the listener and every connection still open
// are closed (after the daemon has stopped: cleanups run in reverse).
type testBackend struct {
	ln  net.Listener
	url string // what --backend takes

	mu    sync.Mutex
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

func startBackend(t testing.TB, network string, serve func(net.Conn)) *testBackend {
	t.Helper()
	b := &testBackend{conns: map[net.Conn]struct{}{}}
	var err error
	switch network {
	case "tcp":
		b.ln, err = net.Listen("tcp", "127.0.0.1:0")
		if err == nil {
			b.url = "tcp://" + b.ln.Addr().String()
		}
	case "unix":
		path := filepath.Join(t.TempDir(), "backend.sock")
		b.ln, err = net.Listen("unix", path)
		b.url = "unix://" + path
	}
	if err != nil {
		t.Fatal(err)
	}
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		for {
			c, err := b.ln.Accept()
			if err != nil {
				return
			}
			b.mu.Lock()
			b.conns[c] = struct{}{}
			b.mu.Unlock()
			b.wg.Add(1)
			go func() {
				defer b.wg.Done()
				serve(c)
				c.Close()
				b.mu.Lock()
				delete(b.conns, c)
				b.mu.Unlock()
			}()
		}
	}()
	t.Cleanup(func() {
		b.ln.Close()
		b.mu.Lock()
		for c := range b.conns {
			c.Close()
		}
		b.mu.Unlock()
		b.wg.Wait()
	})
	return b
}

// echoServe sends back what it reads until end of file.
func echoServe(c net.Conn) { _, _ = io.Copy(c, c) }

// waitMetric polls the daemon's metrics until name has the value want.
func waitMetric(t testing.TB, m *metricsScraper, name string, want float64) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		v := m.scrape(t)
		if v[name] == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s = %v, want %v", waitTimeout, name, v[name], want)
		}
		time.Sleep(20 * time.Millisecond) // polling the metrics
	}
}

// TestBackendEcho: through an echo backend on TCP and on a Unix socket,
// in text mode (a message is a line; lines back are messages, "\r\n"
// stripped; binary messages are not forwarded) and in --binary mode (raw
// bytes; text messages not forwarded). The metrics count the connection.
func TestBackendEcho(t *testing.T) {
	skipUnlessWsplex(t, "--backend")
	for _, network := range []string{"tcp", "unix"} {
		for _, mode := range []string{"text", "binary"} {
			t.Run(network+"/"+mode, func(t *testing.T) {
				b := startBackend(t, network, echoServe)
				args := []string{"--backend=" + b.url}
				if mode == "binary" {
					args = append(args, "--binary")
				}
				d, m := startMetricsDaemon(t, 0, args...)
				c := dialWS(t, d.url("/"))
				if mode == "text" {
					c.sendText(t, "hello")
					c.expectText(t, "hello")
					c.sendBinary(t, []byte("not forwarded\n"))
					c.sendText(t, "two\r\nlines")
					c.expectText(t, "two")
					c.expectText(t, "lines")
					c.sendText(t, "")
					c.expectText(t, "")
				} else {
					data := make([]byte, 300<<10)
					rand.New(rand.NewSource(3)).Read(data)
					c.sendBinary(t, data)
					c.sendText(t, "not forwarded")
					c.sendBinary(t, []byte("!"))
					got := readBinary(t, c, len(data)+1)
					if !bytes.Equal(got, append(data, '!')) {
						t.Fatalf("echo of %d bytes came back different (%d bytes)", len(data)+1, len(got))
					}
				}
				v := m.scrape(t)
				if v["wsplex_backend_connects_total"] != 1 || v["wsplex_backend_open"] != 1 {
					t.Errorf("while open: connects %v, open %v; want 1 and 1", v["wsplex_backend_connects_total"], v["wsplex_backend_open"])
				}
				c.sendClose(t, ws.StatusNormalClosure, "")
				if code, reason := c.readClose(t, waitTimeout); code != ws.StatusNormalClosure {
					t.Errorf("close %d %q, want 1000", code, reason)
				}
				c.waitEOF(t, waitTimeout)
				waitMetric(t, m, "wsplex_backend_open", 0)
				d.waitLog(t, "DISCONNECT", waitTimeout)
			})
		}
	}
}

// TestBackendClosesFirst: a backend that writes lines, one of them not
// UTF-8, and a last one without a newline, then closes: every line
// arrives (repaired, the last one too), then the close 1000.
func TestBackendClosesFirst(t *testing.T) {
	skipUnlessWsplex(t, "--backend")
	b := startBackend(t, "tcp", func(c net.Conn) {
		_, _ = c.Write([]byte("one\r\ntwo\nbad \xff byte\nlast without newline"))
	})
	d := startDaemon(t, "--backend="+b.url)
	c := dialWS(t, d.url("/"))
	msgs, code, reason := readUntilClose(t, c, waitTimeout)
	want := []string{"one", "two", "bad \uFFFD byte", "last without newline"}
	if got := texts(t, msgs); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("messages %q, want %q", got, want)
	}
	if code != ws.StatusNormalClosure || reason != "backend closed" {
		t.Errorf("close %d %q, want 1000 \"backend closed\"", code, reason)
	}
	c.waitEOF(t, waitTimeout)
}

// TestBackendRefused: a closed loopback port and a Unix socket path with
// nothing there: the WebSocket opens and closes with 1014, the log names
// the backend and the error, the failure is counted by reason.
func TestBackendRefused(t *testing.T) {
	skipUnlessWsplex(t, "--backend")
	for _, tt := range []struct {
		name, url, logErr string
	}{
		{"tcp", "tcp://127.0.0.1:" + strconv.Itoa(freePort(t)), "connection refused"},
		{"unix", "unix://" + filepath.Join(t.TempDir(), "nobody.sock"), "no such file or directory"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			d, m := startMetricsDaemon(t, 0, "--backend="+tt.url)
			c := dialWS(t, d.url("/"))
			msgs, code, reason := readUntilClose(t, c, waitTimeout)
			if len(msgs) != 0 || code != 1014 || reason != "backend refused the connection" {
				t.Errorf("got %q, close %d %q; want close 1014 \"backend refused the connection\"", msgs, code, reason)
			}
			line := d.waitLog(t, "Could not connect to backend", waitTimeout)
			if !strings.Contains(line, tt.url) || !strings.Contains(line, tt.logErr) {
				t.Errorf("log line %q: want the backend %s and %q", line, tt.url, tt.logErr)
			}
			c.waitEOF(t, waitTimeout)
			for _, l := range d.logLines() {
				if strings.Contains(l.Text, "Closing with") {
					t.Errorf("the client's echo of 1014 was refused: %s", l.Text)
				}
			}
			waitMetric(t, m, `wsplex_backend_failures_total{reason="refused"}`, 1)
			v := m.scrape(t)
			if v["wsplex_backend_connects_total"] != 0 || v["wsplex_backend_open"] != 0 || v[`wsplex_closes_total{code="1014"}`] != 1 {
				t.Errorf("connects %v, open %v, closes 1014 %v; want 0, 0, 1", v["wsplex_backend_connects_total"], v["wsplex_backend_open"], v[`wsplex_closes_total{code="1014"}`])
			}
		})
	}
}

// TestBackendTimeout: a listener that never accepts, its listen queue
// filled, does not answer a connect: after --backend-timeout the
// WebSocket closes with 1014.
func TestBackendTimeout(t *testing.T) {
	skipUnlessWsplex(t, "--backend")
	addr := fullListener(t)
	d, m := startMetricsDaemon(t, 0, "--backend=tcp://"+addr, "--backend-timeout=300ms")
	c := dialWS(t, d.url("/"))
	msgs, code, reason := readUntilClose(t, c, waitTimeout)
	if len(msgs) != 0 || code != 1014 || reason != "backend did not answer within 300ms" {
		t.Errorf("got %q, close %d %q; want close 1014 \"backend did not answer within 300ms\"", msgs, code, reason)
	}
	waitMetric(t, m, `wsplex_backend_failures_total{reason="timeout"}`, 1)
	if line := d.waitLog(t, "Could not connect to backend", waitTimeout); !strings.Contains(line, addr) || !strings.Contains(line, "no answer") {
		t.Errorf("log line %q: want the address and \"no answer\"", line)
	}
}

// fullListener returns the address of a loopback listener that never
// accepts, with a listen queue of one that is already full: the kernel
// drops further SYNs, so a connect gets no answer.
func fullListener(t testing.TB) string {
	t.Helper()
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := unix.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(sa.(*unix.SockaddrInet4).Port))
	for range 16 {
		c, err := net.DialTimeout("tcp", addr, 300*time.Millisecond)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return addr // the queue is full
			}
			t.Fatalf("filling the listen queue of %s: %v", addr, err)
		}
		t.Cleanup(func() { c.Close() })
	}
	t.Fatalf("the listen queue of %s never filled", addr)
	return ""
}

// TestBackendClientClosesFirst: the client leaves (a close frame, or the
// TCP connection dropped): the backend reads what it sent, then end of
// file. A backend that keeps its side open after that is closed by the
// daemon a little later.
func TestBackendClientClosesFirst(t *testing.T) {
	skipUnlessWsplex(t, "--backend")
	got := make(chan string, 4)
	hold := make(chan struct{})
	b := startBackend(t, "tcp", func(c net.Conn) {
		_, _ = c.Write([]byte("ready\n"))
		data, _ := io.ReadAll(c)
		got <- string(data)
		if strings.HasPrefix(string(data), "stay") {
			<-hold // never closes its side
		}
	})
	t.Cleanup(func() { close(hold) }) // before the backend's cleanup, which waits for its connections
	d, m := startMetricsDaemon(t, 0, "--loglevel=debug", "--backend="+b.url)
	for _, tt := range []struct {
		name  string
		leave func(c *wsClient)
	}{
		{"close frame", func(c *wsClient) {
			c.sendClose(t, ws.StatusNormalClosure, "")
			if code, _ := c.readClose(t, waitTimeout); code != ws.StatusNormalClosure {
				t.Errorf("close %d, want 1000", code)
			}
		}},
		{"dropped", func(c *wsClient) { c.close() }},
		{"stay", func(c *wsClient) { c.close() }},
	} {
		c := dialWS(t, d.url("/"))
		c.expectText(t, "ready") // connected: what the client sends now is read before its leaving
		c.sendText(t, tt.name)
		c.sendText(t, "bye")
		tt.leave(c)
		select {
		case data := <-got:
			if data != tt.name+"\nbye\n" {
				t.Errorf("%s: the backend read %q, want %q then end of file", tt.name, data, tt.name+"\nbye\n")
			}
		case <-time.After(waitTimeout):
			t.Fatalf("%s: the backend saw no end of file", tt.name)
		}
		// "stay" keeps its side open: the daemon closes it after its bound.
		waitMetric(t, m, "wsplex_backend_open", 0)
	}
	d.waitLog(t, "Backend did not close within", waitTimeout)
}

// TestBackendFlowToClient: a backend writes 256 MiB of numbered lines to
// a client that reads nothing for 5 s. Meanwhile the daemon stays small
// and the backend is held back (what it has written stops growing, far
// short of 256 MiB); then the client reads every line, in order.
func TestBackendFlowToClient(t *testing.T) {
	skipUnlessWsplex(t, "--backend")
	const (
		lineSize = 1024
		lines    = 256 << 20 / lineSize
		idle     = 5 * time.Second
	)
	var written atomic.Int64
	b := startBackend(t, "tcp", func(c net.Conn) {
		line := bytes.Repeat([]byte{'.'}, lineSize)
		line[10], line[lineSize-1] = ' ', '\n'
		for i := range lines {
			copy(line, fmt.Sprintf("%010d", i))
			if _, err := c.Write(line); err != nil {
				return
			}
			written.Add(lineSize)
		}
	})
	d := startDaemon(t, "--backend="+b.url)
	c := dialWS(t, d.url("/"))
	rss := sampleRSS(t, d.pid(), 100*time.Millisecond)
	w, stalled, _ := watchGrowth(idle, 100*time.Millisecond, func() (int64, error) { return written.Load(), nil })
	maxRSS := rss.finish()
	t.Logf("after %v without reading: the backend wrote %.1f MiB, unchanged for the last %v; daemon max RSS %d KiB",
		idle, float64(w)/(1<<20), stalled.Round(time.Millisecond), maxRSS)
	if maxRSS >= rssBound {
		t.Errorf("daemon RSS reached %d KiB while its client read nothing, want < %d KiB", maxRSS, rssBound)
	}
	if w >= lines*lineSize {
		t.Errorf("the backend wrote all %d bytes while its client read nothing: not held back", w)
	}
	if stalled < 2*time.Second {
		t.Errorf("what the backend wrote still grew %v before the end of the idle period: not held back", stalled)
	}
	want := bytes.Repeat([]byte{'.'}, lineSize-1)
	want[10] = ' '
	for i := range lines {
		m := c.readMessage(t, waitTimeout)
		copy(want, fmt.Sprintf("%010d", i))
		if m.Op != ws.OpText || !bytes.Equal(m.Data, want) {
			t.Fatalf("message %d: got op %#x, %d bytes %.40q; want line %d", i, m.Op, len(m.Data), m.Data, i)
		}
	}
	if code, reason := c.readClose(t, waitTimeout); code != ws.StatusNormalClosure {
		t.Errorf("after the last line: close %d %q, want 1000", code, reason)
	}
}

// TestBackendFlowFromClient: a client sends 256 MiB (--binary) to a
// backend that reads nothing for 4 s, then reads slowly. The client is
// held back by TCP (what it has sent stops growing, short of 256 MiB), not
// closed, the daemon stays small, and every byte reaches the backend in
// order. (256 MiB, not less: loopback sockets here may buffer tens of MiB
// between them, tcp_rmem's maximum being 32 MiB, before anyone is held.)
func TestBackendFlowFromClient(t *testing.T) {
	skipUnlessWsplex(t, "--backend")
	const (
		total   = 256 << 20
		msgSize = 64 << 10
		idle    = 4 * time.Second
	)
	type result struct {
		n   int64
		sum [32]byte
	}
	release := make(chan struct{})
	res := make(chan result, 1)
	b := startBackend(t, "tcp", func(c net.Conn) {
		<-release
		h := sha256.New()
		var n int64
		buf := make([]byte, 64<<10)
		for {
			k, err := c.Read(buf)
			h.Write(buf[:k])
			n += int64(k)
			if err != nil {
				break
			}
			time.Sleep(200 * time.Microsecond) // a slow reader: the scenario, not synchronisation
		}
		var r result
		r.n = n
		copy(r.sum[:], h.Sum(nil))
		res <- r
	})
	d := startDaemon(t, "--binary", "--backend="+b.url)
	c := dialWS(t, d.url("/"))
	rss := sampleRSS(t, d.pid(), 50*time.Millisecond)

	rnd := rand.New(rand.NewSource(4))
	h := sha256.New()
	var sent atomic.Int64
	werr := make(chan error, 1)
	go func() {
		payload := make([]byte, msgSize)
		for sent.Load() < total {
			rnd.Read(payload)
			h.Write(payload)
			_ = c.conn.SetWriteDeadline(time.Now().Add(30 * time.Second))
			if _, err := c.conn.Write(ws.MustCompileFrame(ws.MaskFrame(ws.NewBinaryFrame(payload)))); err != nil {
				werr <- err
				return
			}
			sent.Add(msgSize)
		}
		werr <- nil
	}()
	held, stalled, _ := watchGrowth(idle, 50*time.Millisecond, func() (int64, error) { return sent.Load(), nil })
	t.Logf("after %v with the backend not reading: the client sent %.1f MiB, unchanged for the last %v", idle, float64(held)/(1<<20), stalled.Round(time.Millisecond))
	if held >= total {
		t.Errorf("the client sent all %d bytes to a backend that read nothing: not held back", total)
	}
	if stalled < time.Second {
		t.Errorf("what the client sent still grew %v before the end of the backend's idle period: not held back", stalled)
	}
	close(release)
	select {
	case err := <-werr:
		if err != nil {
			t.Fatalf("the client could not send everything (%d bytes sent): %v", sent.Load(), err)
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("the client still sending after 60 s (%d bytes sent)", sent.Load())
	}
	c.sendClose(t, ws.StatusNormalClosure, "")
	var r result
	select {
	case r = <-res:
	case <-time.After(waitTimeout):
		t.Fatal("the backend saw no end of file")
	}
	if maxRSS := rss.finish(); maxRSS >= rssBound {
		t.Errorf("daemon RSS reached %d KiB, want < %d KiB", maxRSS, rssBound)
	}
	var want [32]byte
	copy(want[:], h.Sum(nil))
	if r.n != total || r.sum != want {
		t.Errorf("the backend read %d bytes (want %d), same bytes: %v", r.n, total, r.sum == want)
	}
	if code, reason := c.readClose(t, waitTimeout); code != ws.StatusNormalClosure {
		t.Errorf("close %d %q, want 1000", code, reason)
	}
}

// TestBackendNoFDLeak: 1,000 WebSockets through an echo backend, ended
// by the client in turn with a close frame and by dropping the
// connection, then 200 to a refused backend: the daemon ends with the fds
// it had after the first.
func TestBackendNoFDLeak(t *testing.T) {
	skipUnlessWsplex(t, "--backend")
	b := startBackend(t, "tcp", echoServe)
	for _, tt := range []struct {
		name, url string
		cycles    int
	}{
		{"echo", b.url, 1000},
		{"refused", "tcp://127.0.0.1:" + strconv.Itoa(freePort(t)), 200},
	} {
		t.Run(tt.name, func(t *testing.T) {
			d := startDaemon(t, "--loglevel=error", "--backend="+tt.url)
			cycle := func(i int) {
				c := dialWS(t, d.url("/"))
				if tt.name == "refused" {
					if _, code, _ := readUntilClose(t, c, waitTimeout); code != 1014 {
						t.Fatalf("cycle %d: close %d, want 1014", i, code)
					}
					c.waitEOF(t, waitTimeout)
					c.close()
					return
				}
				c.sendText(t, strconv.Itoa(i))
				c.expectText(t, strconv.Itoa(i))
				if i%2 == 0 {
					c.close()
					return
				}
				c.sendClose(t, ws.StatusNormalClosure, "")
				c.readClose(t, waitTimeout)
				c.waitEOF(t, waitTimeout)
				c.close()
			}
			cycle(0)
			fd0 := procFDCount(t, d.pid())
			for i := 1; i <= tt.cycles; i++ {
				cycle(i)
			}
			waitFDsAtMost(t, d.pid(), fd0, waitTimeout)
		})
	}
}

// readProxyThenEcho is a backend that reads a PROXY header first, hands
// it over, then echoes.
func readProxyThenEcho(hdrs chan<- codec.ProxyHeader) func(net.Conn) {
	return func(c net.Conn) {
		var buf []byte
		tmp := make([]byte, 512)
		for {
			n, err := c.Read(tmp)
			buf = append(buf, tmp[:n]...)
			h, hn, perr := codec.ParseProxy(buf)
			if perr == nil {
				hdrs <- h
				if _, err := c.Write(buf[hn:]); err != nil {
					return
				}
				echoServe(c)
				return
			}
			if !errors.Is(perr, codec.ErrIncomplete) || err != nil {
				hdrs <- codec.ProxyHeader{Version: -1}
				return
			}
		}
	}
}

// TestBackendProxyProtocol: --backend-proxy-protocol=v1 and v2 send the
// backend a PROXY header first, naming the client's address and port and
// the daemon's; behind --proxy-protocol, the client its own header named.
func TestBackendProxyProtocol(t *testing.T) {
	skipUnlessWsplex(t, "--backend-proxy-protocol")
	hdrs := make(chan codec.ProxyHeader, 1)
	b := startBackend(t, "tcp", readProxyThenEcho(hdrs))
	next := func(t *testing.T) codec.ProxyHeader {
		t.Helper()
		select {
		case h := <-hdrs:
			return h
		case <-time.After(waitTimeout):
			t.Fatal("no PROXY header reached the backend")
		}
		return codec.ProxyHeader{}
	}
	for _, v := range []int{1, 2} {
		t.Run("v"+strconv.Itoa(v), func(t *testing.T) {
			d := startDaemon(t, "--backend="+b.url, "--backend-proxy-protocol=v"+strconv.Itoa(v))
			c := dialWS(t, d.url("/"))
			h := next(t)
			client := netip.MustParseAddrPort(c.conn.LocalAddr().String())
			daemonAddr := netip.MustParseAddrPort(d.addr)
			if h.Version != v || h.Local || h.Source != client || h.Dest != daemonAddr {
				t.Errorf("header %+v, want version %d from %v to %v", h, v, client, daemonAddr)
			}
			c.sendText(t, "after the header")
			c.expectText(t, "after the header")
		})
	}
	t.Run("behind --proxy-protocol", func(t *testing.T) {
		d := startDaemon(t, "--proxy-protocol=127.0.0.1/32", "--backend="+b.url, "--backend-proxy-protocol=v2")
		r := proxiedUpgrade(t, d.addr, []byte("PROXY TCP4 203.0.113.7 127.0.0.1 4242 "+strconv.Itoa(d.port)+"\r\n"))
		if r.status != 101 {
			t.Fatalf("upgrade: HTTP %d", r.status)
		}
		h := next(t)
		if want := netip.MustParseAddrPort("203.0.113.7:4242"); h.Version != 2 || h.Source != want {
			t.Errorf("header %+v, want version 2 from %v", h, want)
		}
		r.client.sendText(t, "hi")
		r.client.expectText(t, "hi")
	})
}

// TestBackendMaxForks: --maxforks counts backend connections.
func TestBackendMaxForks(t *testing.T) {
	skipUnlessWsplex(t, "--backend")
	b := startBackend(t, "tcp", echoServe)
	d, m := startMetricsDaemon(t, 0, "--maxforks=1", "--backend="+b.url)
	c := dialWS(t, d.url("/"))
	c.sendText(t, "one")
	c.expectText(t, "one")
	if _, err := dialWSWith(t, d.url("/"), wsDialOptions{}); !errors.Is(err, ws.StatusError(429)) {
		t.Errorf("second WebSocket with --maxforks=1: %v, want HTTP 429", err)
	}
	c.close()
	waitMetric(t, m, "wsplex_backend_open", 0)
	c2 := dialWS(t, d.url("/"))
	c2.sendText(t, "two")
	c2.expectText(t, "two")
}

// TestBackendFlags: the command lines --backend refuses, and what it
// makes of the ones it takes. A host name is resolved at startup.
func TestBackendFlags(t *testing.T) {
	newSandbox(t)
	const ok = "--backend=tcp://127.0.0.1:7777"
	for _, tt := range []struct {
		args   []string
		code   int
		stderr string // the first line
	}{
		{[]string{ok, "prog"}, 1, "Ambiguous. Provided COMMAND and --backend argument. Please only specify just one."},
		{[]string{ok, "nosuchprog"}, 1, "Ambiguous. Provided COMMAND and --backend argument. Please only specify just one."},
		{[]string{ok, "--dir=d"}, 1, "Ambiguous. Provided --dir and --backend argument. Please only specify just one."},
		{[]string{ok, "--protodir=d"}, 1, "Ambiguous. Provided --protodir and --backend argument. Please only specify just one."},
		{[]string{ok, "--pty"}, 1, "--backend cannot be used with --pty, --prefork or --passstderr: a socket backend is not a process (no terminal, nothing to start ahead, no stderr)."},
		{[]string{ok, "--prefork=2"}, 1, "--backend cannot be used with --pty, --prefork or --passstderr: a socket backend is not a process (no terminal, nothing to start ahead, no stderr)."},
		{[]string{ok, "--passstderr"}, 1, "--backend cannot be used with --pty, --prefork or --passstderr: a socket backend is not a process (no terminal, nothing to start ahead, no stderr)."},
		{[]string{ok, "--broadcast"}, 1, "--backend cannot be used with --broadcast: each WebSocket gets its own backend connection; the backend server is what they share."},
		{[]string{"--backend=http://127.0.0.1:7777"}, 1, "Incorrect --backend 'http://127.0.0.1:7777': want tcp://HOST:PORT or unix:///PATH."},
		{[]string{"--backend=127.0.0.1:7777"}, 1, "Incorrect --backend '127.0.0.1:7777': want tcp://HOST:PORT or unix:///PATH."},
		{[]string{"--backend=tcp://127.0.0.1"}, 1, "Incorrect --backend 'tcp://127.0.0.1': want tcp://HOST:PORT or unix:///PATH (a host and a port)."},
		{[]string{"--backend=tcp://127.0.0.1:0"}, 1, `Incorrect --backend 'tcp://127.0.0.1:0': bad port "0".`},
		{[]string{"--backend=tcp://127.0.0.1:7777/x"}, 1, "Incorrect --backend 'tcp://127.0.0.1:7777/x': want tcp://HOST:PORT or unix:///PATH."},
		{[]string{"--backend=unix://rel.sock"}, 1, "Incorrect --backend 'unix://rel.sock': want tcp://HOST:PORT or unix:///PATH (an absolute path: three slashes)."},
		{[]string{"--backend=tcp://no-such-host.invalid:7777"}, 1, `Incorrect --backend 'tcp://no-such-host.invalid:7777': cannot resolve "no-such-host.invalid": `},
		{[]string{ok, "--backend-timeout=0s"}, 1, "Incorrect --backend-timeout 0s: want a positive duration such as 5s or 500ms."},
		{[]string{"--backend-proxy-protocol=v1", "prog"}, 1, "--backend-proxy-protocol needs --backend."},
		{[]string{ok, "--backend-proxy-protocol=v3"}, 2, `invalid value "v3" for flag -backend-proxy-protocol: want v1 or v2`},
		{[]string{ok, "--backend-timeout=5"}, 2, `invalid value "5" for flag -backend-timeout: parse error`},
	} {
		_, code, stdout, stderr := parse(tt.args...)
		first, _, _ := strings.Cut(stderr, "\n")
		if code != tt.code || !strings.HasPrefix(first, tt.stderr) || stdout != "" {
			t.Errorf("%q: exit %d, stderr %q; want exit %d and %q", tt.args, code, stderr, tt.code, tt.stderr)
		}
	}

	cfg, code, _, stderr := parse("--backend=tcp://localhost:7777", "--binary", "--staticdir=d")
	if code != continueRun || cfg.Backend == nil || cfg.Backend.String() != "127.0.0.1:7777" || cfg.BackendURL != "tcp://localhost:7777" ||
		cfg.BackendTimeout != 5*time.Second || cfg.BackendProxyProtocol != 0 || !cfg.Binary || cfg.Command != "" {
		t.Errorf("tcp://localhost: exit %d (%q), config %+v", code, stderr, cfg)
	}
	cfg, code, _, stderr = parse("--backend=unix:///run/chat.sock", "--backend-timeout=250ms", "--backend-proxy-protocol=v2")
	if code != continueRun || cfg.Backend == nil || cfg.Backend.Network() != "unix" || cfg.Backend.String() != "/run/chat.sock" ||
		cfg.BackendTimeout != 250*time.Millisecond || cfg.BackendProxyProtocol != 2 {
		t.Errorf("unix: exit %d (%q), config %+v", code, stderr, cfg)
	}

	// The daemon itself: a name that does not resolve, exit 1 at startup.
	r := runDaemon(t, "--port=1", "--backend=tcp://no-such-host.invalid:7777")
	if r.ExitCode != 1 || !strings.Contains(r.Stderr, "cannot resolve") {
		t.Errorf("exit %d, stderr %q; want 1 and the name not resolved", r.ExitCode, r.Stderr)
	}
}

// TestBackendShutdown: SIGTERM with WebSockets open on backends: each
// client gets 1001, each backend reads end of file, and the daemon exits
// 0 once they are closed.
func TestBackendShutdown(t *testing.T) {
	skipUnlessWsplex(t, "--backend")
	eof := make(chan struct{}, 3)
	b := startBackend(t, "tcp", func(c net.Conn) {
		echoServe(c)
		eof <- struct{}{}
	})
	d := startDaemon(t, "--backend="+b.url)
	var clients []*wsClient
	for i := range 3 {
		c := dialWS(t, d.url("/"))
		c.sendText(t, strconv.Itoa(i))
		c.expectText(t, strconv.Itoa(i))
		clients = append(clients, c)
	}
	codes := make(chan ws.StatusCode, len(clients))
	for _, c := range clients {
		go func() {
			m, err := c.recvMessage(waitTimeout)
			if err != nil {
				codes <- 0
				return
			}
			if m.Code == ws.StatusGoingAway {
				_ = c.writeFrame(ws.NewCloseFrame(ws.NewCloseFrameBody(m.Code, "")))
			}
			codes <- m.Code
		}()
	}
	if code := d.stop(t); code != 0 {
		t.Errorf("exit code %d after SIGTERM, want 0", code)
	}
	for range clients {
		if code := <-codes; code != ws.StatusGoingAway {
			t.Errorf("a client got close %d, want 1001", code)
		}
	}
	for range clients {
		select {
		case <-eof:
		case <-time.After(waitTimeout):
			t.Fatal("a backend saw no end of file")
		}
	}
}
