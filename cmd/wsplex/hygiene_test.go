package main

// Hygiene: what the daemon holds after many connections have come and gone
// is what it held before them: fds, goroutines, children, zombies.

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobwas/ws"
)

// churnKinds are the ways a churn cycle ends.
var churnKinds = []string{
	"client sends close",       // the child sees end of file
	"child exits first",        // lineecho exits after "quit": close 1000 from the daemon
	"client drops TCP",         // no close frame
	"client closes at once",    // close frame right after the handshake, the child just started
	"client drops TCP at once", // no frame at all
}

// TestHygieneChurn runs 500 connect/echo/close cycles, four at a time,
// through every close path, then checks that the daemon is back where it
// started: same fds, goroutines within a few, no child and no zombie left,
// gauges at 0, and still serving.
//
// The daemon runs with the common default of 1024 open files, so that an
// fd accounting leak (fds counted for a child and never uncounted) shows up
// as refused upgrades within the 500 cycles.
func TestHygieneChurn(t *testing.T) {
	const (
		cycles  = 500
		workers = 4
		nofile  = 1024
	)
	d, m := startMetricsDaemon(t, nofile, progBin(t, "lineecho"))
	pid := d.pid()

	for k := range churnKinds {
		if err := churnCycle(t, d, k, k); err != nil {
			t.Fatalf("warm-up: %v", err)
		}
	}
	m.waitGauges(t, 0, 0, waitTimeout)
	waitNoPrograms(t, d, waitTimeout)
	base := m.scrape(t)
	g0 := base["go_goroutines"]
	fd0, rss0 := procFDCount(t, pid), procRSS(t, pid)
	hfd0 := helperFDs(t, d)

	start := time.Now()
	var (
		next    atomic.Int64
		failed  atomic.Int64
		mu      sync.Mutex
		errs    []error
		wg      sync.WaitGroup
		perKind = make([]atomic.Int64, len(churnKinds))
	)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for failed.Load() == 0 {
				i := int(next.Add(1)) - 1
				if i >= cycles {
					return
				}
				k := i % len(churnKinds)
				if err := churnCycle(t, d, i, k); err != nil {
					failed.Add(1)
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
					return
				}
				perKind[k].Add(1)
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		t.Error(err)
	}
	if len(errs) > 0 {
		t.Fatalf("churn stopped after %d cycles", min(int(next.Load()), cycles))
	}
	var counts []string
	for k, name := range churnKinds {
		counts = append(counts, fmt.Sprintf("%s: %d", name, perKind[k].Load()))
	}
	t.Logf("%d cycles in %v (%v)", cycles, time.Since(start).Round(time.Millisecond), counts)

	m.waitGauges(t, 0, 0, waitTimeout)
	// No child left: none running, none a zombie waiting to be reaped.
	waitNoPrograms(t, d, waitTimeout)
	waitFDsAtMost(t, pid, fd0, waitTimeout)
	deadline := time.Now().Add(waitTimeout)
	for hfd := helperFDs(t, d); hfd > hfd0; hfd = helperFDs(t, d) {
		if time.Now().After(deadline) {
			t.Fatalf("the daemon's helper processes hold %d fds after the churn, %d before", hfd, hfd0)
		}
		time.Sleep(20 * time.Millisecond) // polling /proc
	}
	deadline = time.Now().Add(waitTimeout)
	for {
		g := m.scrape(t)["go_goroutines"]
		if g <= g0+3 {
			t.Logf("goroutines %v before, %v after; fds %d before, %d after; RSS %d KiB before, %d KiB after",
				g0, g, fd0, procFDCount(t, pid), rss0, procRSS(t, pid))
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("go_goroutines %v after the churn, %v before: leaked", g, g0)
		}
		time.Sleep(20 * time.Millisecond) // polling the gauge
	}

	// And it still serves, every kind.
	for k := range churnKinds {
		if err := churnCycle(t, d, cycles+k, k); err != nil {
			t.Errorf("after the churn: %v", err)
		}
	}
}

// churnCycle is one connection of kind k (an index into churnKinds). It
// returns an error instead of failing, for the worker goroutines.
func churnCycle(t *testing.T, d *daemon, i, k int) error {
	c, err := dialWSWith(t, d.url("/"), wsDialOptions{})
	if err != nil {
		return fmt.Errorf("cycle %d (%s): dial: %w", i, churnKinds[k], err)
	}
	defer c.close()
	fail := func(format string, args ...any) error {
		return fmt.Errorf("cycle %d (%s): %s", i, churnKinds[k], fmt.Sprintf(format, args...))
	}
	switch k {
	case 0:
		if err := echoOnce(c, fmt.Sprintf("hello %d", i)); err != nil {
			return fail("%v", err)
		}
		if err := closeHandshake(c, true, ws.StatusNormalClosure); err != nil {
			return fail("%v", err)
		}
	case 1:
		if err := echoOnce(c, "quit"); err != nil {
			return fail("%v", err)
		}
		if err := closeHandshake(c, false, ws.StatusNormalClosure); err != nil {
			return fail("%v", err)
		}
	case 2:
		if err := echoOnce(c, fmt.Sprintf("bye %d", i)); err != nil {
			return fail("%v", err)
		}
	case 3:
		if err := closeHandshake(c, true, ws.StatusNormalClosure); err != nil {
			return fail("%v", err)
		}
	case 4:
	}
	return nil
}

// closeHandshake runs the closing handshake: we start it (clientFirst) or
// wait for the daemon's close frame and answer it; either way the close
// code seen must be want and the daemon must then close the TCP connection.
func closeHandshake(c *wsClient, clientFirst bool, want ws.StatusCode) error {
	_ = c.conn.SetWriteDeadline(time.Now().Add(waitTimeout))
	if clientFirst {
		if err := ws.WriteFrame(c.conn, ws.MaskFrame(ws.NewCloseFrame(ws.NewCloseFrameBody(want, "")))); err != nil {
			return fmt.Errorf("send close: %w", err)
		}
	}
	m, err := c.recvMessage(waitTimeout)
	if err != nil {
		return fmt.Errorf("waiting for the close frame: %w", err)
	}
	if m.Op != ws.OpClose || m.Code != want {
		return fmt.Errorf("got %s, want close %d", m, want)
	}
	if !clientFirst {
		if err := ws.WriteFrame(c.conn, ws.MaskFrame(ws.NewCloseFrame(ws.NewCloseFrameBody(want, "")))); err != nil {
			return fmt.Errorf("answer close: %w", err)
		}
	}
	_ = c.conn.SetReadDeadline(time.Now().Add(waitTimeout))
	n, err := io.Copy(io.Discard, c.br)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return fmt.Errorf("the daemon kept the connection open %v after the closing handshake", waitTimeout)
	}
	if n > 0 {
		return fmt.Errorf("%d bytes after the close frame", n)
	}
	return nil
}

// TestHygieneFrameInPieces sends frames that arrive in pieces, as TCP may
// deliver them: a header alone, then its payload; a close frame's header,
// then its body; a frame byte by byte. The pauses between the pieces are
// the scenario (each piece its own segment and read), not synchronisation.
func TestHygieneFrameInPieces(t *testing.T) {
	d := startDaemon(t, progBin(t, "lineecho"))
	pieces := func(c *wsClient, f []byte, cuts ...int) {
		t.Helper()
		prev := 0
		for _, cut := range append(cuts, len(f)) {
			c.sendRaw(t, f[prev:cut])
			prev = cut
			time.Sleep(5 * time.Millisecond)
		}
	}
	frame := func(f ws.Frame) []byte { return ws.MustCompileFrame(ws.MaskFrame(f)) }
	every := func(n int) []int {
		var cuts []int
		for i := 1; i < n; i++ {
			cuts = append(cuts, i)
		}
		return cuts
	}

	c := dialWS(t, d.url("/"))
	pieces(c, frame(ws.NewTextFrame([]byte("header, then payload"))), 6)
	c.expectText(t, "header, then payload")
	f := frame(ws.NewTextFrame([]byte("byte by byte")))
	pieces(c, f, every(len(f))...)
	if m, err := c.recvMessage(5 * time.Second); err != nil || m.Op != ws.OpText || string(m.Data) != "byte by byte" {
		t.Fatalf("text frame sent one byte at a time: got %v (%v), want its echo: were bytes of a partial frame header dropped?", m, err)
	}
	f = frame(ws.NewPingFrame([]byte("p")))
	pieces(c, f, every(len(f))...)
	if m, err := c.readFrame(waitTimeout); err != nil || m.Header.OpCode != ws.OpPong || string(m.Payload) != "p" {
		t.Fatalf("ping sent in pieces: got %+v %q (%v), want pong \"p\"", m.Header, m.Payload, err)
	}
	pieces(c, frame(ws.NewTextFrame([]byte("first byte, then the rest"))), 1)
	c.expectText(t, "first byte, then the rest")
	pieces(c, frame(ws.NewCloseFrame(ws.NewCloseFrameBody(ws.StatusNormalClosure, ""))), 6)
	c.closeSent = true
	if code, reason := c.readClose(t, waitTimeout); code != ws.StatusNormalClosure {
		t.Fatalf("close frame sent as header, then body: answered with %d %q, want 1000", code, reason)
	}
	c.waitEOF(t, waitTimeout)
}
