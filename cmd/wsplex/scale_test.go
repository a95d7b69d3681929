package main

// Scale tests against the real daemon: goroutines stay flat as connections
// grow, and the daemon refuses cleanly at its open-files limit. The helpers
// at the end (metrics scraping, /proc probes, test programs in C) are shared
// with hygiene_test.go and flow_test.go.

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"
)

// TestScaleGoroutinesFlat opens 1,000 connections, each with a live cat,
// and checks that the daemon's goroutine count does not grow with them,
// that each connection costs at most 5 fds (socket, 3 pipes, pidfd), and
// that every child is gone once the clients are.
func TestScaleGoroutinesFlat(t *testing.T) {
	skipUnlessWsplex(t, "a reactor without a goroutine per connection")
	if testing.Short() {
		t.Skip("1,000 connections and children")
	}
	const n = 1000
	raiseNoFile(t, 2*n+200)
	d, m := startMetricsDaemon(t, 0, lookPath(t, "cat"))
	pid := d.pid()

	// Baseline: one connection through, so that pools and lazily started
	// runtime goroutines exist in both measurements.
	c := dialWS(t, d.url("/"))
	c.sendText(t, "warm")
	c.expectText(t, "warm")
	c.close()
	m.waitGauges(t, 0, 0, waitTimeout)
	waitNoPrograms(t, d, waitTimeout)
	base := m.scrape(t)
	g0 := base["go_goroutines"]
	fd0, rss0 := procFDCount(t, pid), procRSS(t, pid)
	hfd0 := helperFDs(t, d)

	start := time.Now()
	clients := openEchoing(t, d, n, echoOnce)
	t.Logf("%d connections opened and echoed in %v", n, time.Since(start).Round(time.Millisecond))

	full := m.scrape(t)
	if got := full["wsplex_open_connections"]; got != n {
		t.Errorf("wsplex_open_connections = %v, want %d", got, n)
	}
	if got := full["wsplex_running_children"]; got != n {
		t.Errorf("wsplex_running_children = %v, want %d", got, n)
	}
	if programs := programProcs(t, d); len(programs) != n {
		t.Errorf("%d programs run below the daemon, want %d", len(programs), n)
	}
	g1 := full["go_goroutines"]
	fd1, rss1 := procFDCount(t, pid), procRSS(t, pid)
	perFD := float64(fd1-fd0) / n
	t.Logf("goroutines: %v at 0 connections, %v at %d", g0, g1, n)
	t.Logf("fds: %d at 0, %d at %d: %.3f per connection", fd0, fd1, n, perFD)
	t.Logf("fds of the daemon's helper processes (spawner): %d at 0, %d at %d", hfd0, helperFDs(t, d), n)
	t.Logf("RSS: %d KiB at 0, %d KiB at %d: %.1f KiB per idle connection", rss0, rss1, n, float64(rss1-rss0)/n)
	if g1-g0 > 20 {
		t.Errorf("go_goroutines grew from %v to %v with %d connections: not flat", g0, g1, n)
	}
	// A scrape's socket may still be open in the daemon: allow a few fds
	// beyond 5 per connection, not one more per connection.
	if fd1-fd0 > 5*n+4 || fd1-fd0 < n {
		t.Errorf("fds grew by %d for %d connections (%.3f each), want <= 5 each", fd1-fd0, n, perFD)
	}
	if rss1-rss0 > 256*n { // KiB: a generous sanity bound, 256 KiB per connection, race detector included
		t.Errorf("RSS grew by %d KiB for %d idle connections", rss1-rss0, n)
	}

	echoAgainAndClose(t, d, m, clients, echoOnce, pid, fd0)
}

// TestScaleFDLimit runs the daemon with 200 open files: upgrades beyond what
// fits are refused with a 503 that says why, the connections it holds keep
// working, and once some close, new ones are accepted again.
func TestScaleFDLimit(t *testing.T) {
	skipUnlessWsplex(t, "a clean refusal at the open-files limit")
	d := startDaemonNoFile(t, 200, lookPath(t, "cat"))

	var open []*wsClient
	var refused *handshakeError
	for i := 0; i < 100 && refused == nil; i++ {
		c, err := dialWSWith(t, d.url("/"), wsDialOptions{})
		if err != nil {
			if !errors.As(err, &refused) {
				t.Fatalf("connection %d: %v (want success or a refused handshake)", i, err)
			}
			break
		}
		if err := echoOnce(c, fmt.Sprintf("conn %d", i)); err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		open = append(open, c)
	}
	if refused == nil {
		t.Fatalf("100 connections accepted with 200 open files (5 fds each): no refusal")
	}
	t.Logf("%d connections held with 200 open files; then %v", len(open), refused)
	if refused.Status != http.StatusServiceUnavailable || !strings.Contains(refused.Body, "open files") {
		t.Errorf("refusal: HTTP %d %q, want 503 with a body mentioning open files", refused.Status, refused.Body)
	}
	if len(open) < 10 {
		t.Errorf("only %d connections before the refusal: the limit is reached far too early", len(open))
	}
	waitLogFold(t, d, "open-files limit", waitTimeout)
	// Still refused: it is the limit, not a fluke.
	for i := 0; i < 3; i++ {
		if _, err := dialWSWith(t, d.url("/"), wsDialOptions{}); err == nil {
			t.Fatalf("attempt %d after the refusal was accepted", i)
		}
	}
	// Everything held keeps working.
	for i, c := range open {
		if err := echoOnce(c, "still here"); err != nil {
			t.Fatalf("held connection %d after the refusals: %v", i, err)
		}
	}

	// Close three; new connections are accepted again once their fds are
	// released (the child reaped).
	for _, c := range open[:3] {
		c.sendClose(t, ws.StatusNormalClosure, "")
		if code, _ := c.readClose(t, waitTimeout); code != ws.StatusNormalClosure {
			t.Errorf("close: %d, want 1000", code)
		}
		c.waitEOF(t, waitTimeout)
	}
	open = open[3:]
	var c *wsClient
	deadline := time.Now().Add(waitTimeout)
	for {
		var err error
		if c, err = dialWSWith(t, d.url("/"), wsDialOptions{}); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("still refused %v after closing 3 connections: %v", waitTimeout, err)
		}
		time.Sleep(20 * time.Millisecond) // polling for the fds to be released
	}
	if err := echoOnce(c, "back"); err != nil {
		t.Fatalf("connection after the limit eased: %v", err)
	}
	if err := echoOnce(open[0], "and the old one"); err != nil {
		t.Fatalf("held connection at the end: %v", err)
	}
}

// ---------------------------------------------------------------------------
// Helpers shared by scale_test.go, hygiene_test.go and flow_test.go.

var (
	progsOnce     sync.Once
	progsDir      string
	progsBuildErr error
)
