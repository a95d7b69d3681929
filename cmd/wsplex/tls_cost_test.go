package main

// What wss costs against ws, measured on the real binary: echo round-trip
// latency over one connection, and the daemon's RSS and goroutines per
// open connection. It is a measurement, not a check, so it runs only when
// asked for:
//
//	WSPLEX_TLS_COST=1 go test ./cmd/wsplex -run TestTLSCost -v
//
// The figures are quoted in the README ("TLS").

import (
	"bufio"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestTLSCost(t *testing.T) {
	if os.Getenv("WSPLEX_TLS_COST") == "" {
		t.Skip("a measurement: set WSPLEX_TLS_COST=1 to run it")
	}
	p := newTLSPKI(t)
	for _, mode := range []string{"ws", "wss"} {
		metrics := "127.0.0.1:" + strconv.Itoa(freePort(t))
		args := []string{"--loglevel=error", "--metrics=" + metrics}
		if mode == "wss" {
			args = append(args, p.sslArgs(false)...)
		}
		d := startDaemon(t, append(args, "cat")...)
		dial := func() *wsClient {
			if mode == "ws" {
				return dialWS(t, d.url("/"))
			}
			c, err := dialWSS(t, d.wssURL("/"), p.clientConf(false))
			if err != nil {
				t.Fatal(err)
			}
			return c
		}

		// Latency: 2000 echo round trips on one connection, after a warm-up.
		c := dial()
		for range 100 {
			echoLine(t, c, "warm-up")
		}
		rtt := make([]time.Duration, 0, 2000)
		for i := range 2000 {
			start := time.Now()
			echoLine(t, c, "message "+strconv.Itoa(i))
			rtt = append(rtt, time.Since(start))
		}
		slices.Sort(rtt)
		c.close()

		// Memory: the daemon's RSS and goroutines with N idle connections.
		const n = 200
		rss0, gr0 := costRSS(t, d.pid()), costGoroutines(t, metrics)
		conns := make([]*wsClient, n)
		for i := range conns {
			conns[i] = dial()
			echoLine(t, conns[i], "up")
		}
		rss1, gr1 := costRSS(t, d.pid()), costGoroutines(t, metrics)
		for _, c := range conns {
			c.close()
		}
		t.Logf("%-3s echo RTT p50 %v p90 %v p99 %v; per connection: %.1f KiB RSS, %.2f goroutines (%d connections)",
			mode, rtt[len(rtt)/2], rtt[len(rtt)*9/10], rtt[len(rtt)*99/100],
			float64(rss1-rss0)/1024/n, float64(gr1-gr0)/n, n)
		d.stop(t)
	}
}

// costRSS is VmRSS of pid in bytes.
func costRSS(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10
		}
	}
	t.Fatal("no VmRSS")
	return 0
}

// costGoroutines reads go_goroutines from the daemon's --metrics.
func costGoroutines(t *testing.T, addr string) int64 {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "go_goroutines "); ok {
			n, _ := strconv.ParseFloat(v, 64)
			_, _ = io.Copy(io.Discard, resp.Body)
			return int64(n)
		}
	}
	t.Fatal("no go_goroutines in the metrics")
	return 0
}
