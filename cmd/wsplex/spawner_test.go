package main

// The spawner process (spawn/, re-executed wsplex with a hidden first
// argument) against the real binary: killing it with SIGKILL while
// connections are live loses nothing, and leaves nothing behind.

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gobwas/ws"
)

const (
	spawnerArg = "__wsplex-spawner" // spawn.SpawnerArg
	forkerArg  = "__wsplex-forker"  // spawn.ForkerArg
)

// isSpawner reports whether pid is a wsplex spawner process.
func isSpawner(pid int) bool { return hiddenArg(pid) == spawnerArg }

// isForker reports whether pid is a spawner's forker process.
func isForker(pid int) bool { return hiddenArg(pid) == forkerArg }

func hiddenArg(pid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil {
		return ""
	}
	args := bytes.Split(b, []byte{0})
	if len(args) < 2 {
		return ""
	}
	return string(args[1])
}

// spawnerOf waits until the daemon has a live spawner other than not, and
// returns its pid.
func spawnerOf(t *testing.T, daemon, not int) int {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		for _, k := range rawChildren(t, daemon) {
			if k.State != 'Z' && k.Pid != not && isSpawner(k.Pid) {
				return k.Pid
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("daemon %d has no spawner process (other than %d)", daemon, not)
		}
		time.Sleep(10 * time.Millisecond) // polling /proc
	}
}

func TestSpawnerKilledWhileLive(t *testing.T) {
	testKilledWhileLive(t, "", func(t *testing.T, spawner int) int { return spawner })
}

// TestForkerKilledWhileLive: the forker (the spawner's helper) is killed;
// the spawner then exits saying why, and the daemon recovers as above.
func TestForkerKilledWhileLive(t *testing.T) {
	testKilledWhileLive(t, "the forker process died (killed by signal 9 (SIGKILL))", func(t *testing.T, spawner int) int {
		for _, st := range procDescendants(t, spawner) {
			if st.PPid == spawner && isForker(st.Pid) {
				return st.Pid
			}
		}
		t.Fatalf("spawner %d has no forker", spawner)
		return 0
	})
}

// testKilledWhileLive kills victim(spawner) and checks that the daemon
// recovers; says, if not empty, is what the log must then say.
func testKilledWhileLive(t *testing.T, says string, victim func(t *testing.T, spawner int) int) {
	skipUnlessWsplex(t, "the spawner process is wsplex's")
	if runtime.GOOS != "linux" {
		t.Skip("the spawner process is Linux-only")
	}
	d := startDaemon(t, "cat")
	var conns []*wsClient
	for i := 0; i < 3; i++ {
		c := dialWS(t, d.url("/"))
		c.sendText(t, "before "+strconv.Itoa(i))
		c.expectText(t, "before "+strconv.Itoa(i))
		conns = append(conns, c)
	}
	old := spawnerOf(t, d.pid(), 0)
	if kids := rawChildren(t, old); len(kids) != 3 {
		t.Fatalf("spawner %d has %d children, want the 3 cats", old, len(kids))
	}
	if err := syscallKill(victim(t, old)); err != nil {
		t.Fatal(err)
	}
	fresh := spawnerOf(t, d.pid(), old)
	if says != "" {
		d.waitLog(t, says, waitTimeout)
	}

	// The cats were the old spawner's; they are the daemon's now and keep
	// echoing through the same pipes.
	for i, c := range conns {
		c.sendText(t, "after "+strconv.Itoa(i))
		c.expectText(t, "after "+strconv.Itoa(i))
	}
	c := dialWS(t, d.url("/"))
	c.sendText(t, "new")
	c.expectText(t, "new")
	if kids := rawChildren(t, fresh); len(kids) != 1 {
		t.Fatalf("new spawner %d has %d children, want the new cat", fresh, len(kids))
	}
	for _, c := range append(conns, c) {
		c.sendClose(t, ws.StatusNormalClosure, "")
		if code, _ := c.readClose(t, waitTimeout); code != ws.StatusNormalClosure {
			t.Fatalf("close code %d, want 1000 (cat exits 0 at end of input)", code)
		}
	}
	// No zombie, no cat: the daemon's only child is the spawner, which has
	// none.
	waitNoChildren(t, d.pid(), waitTimeout)
	for _, k := range rawChildren(t, d.pid()) {
		if k.Pid != fresh {
			t.Fatalf("daemon child %+v left behind", k)
		}
	}
	if code := d.stop(t); code != 0 {
		t.Fatalf("daemon exit code %d", code)
	}
}

// spawnerChild reports whether st counts as a child of the daemon ppid:
// its own children except the spawner, and the spawner's children except
// its forker.
func spawnerChild(st procStat, ppid int) bool {
	if st.PPid == ppid {
		return st.State == 'Z' || !isSpawner(st.Pid)
	}
	if isSpawner(st.PPid) && (st.State == 'Z' || !isForker(st.Pid)) {
		p, err := readProcStat(st.PPid)
		return err == nil && p.PPid == ppid
	}
	return false
}

// rawChildren lists ppid's children without looking through the spawner
// (a spawner's forker, its helper, is left out).
func rawChildren(t testing.TB, ppid int) []procStat {
	t.Helper()
	var out []procStat
	for _, st := range procDescendants(t, ppid) {
		if st.PPid == ppid && (st.State == 'Z' || !isForker(st.Pid)) {
			out = append(out, st)
		}
	}
	return out
}

func syscallKill(pid int) error { return syscall.Kill(pid, syscall.SIGKILL) }

// forkerOf returns the pid of the spawner's forker.
func forkerOf(t *testing.T, spawner int) int {
	t.Helper()
	for _, st := range procDescendants(t, spawner) {
		if st.PPid == spawner && st.State != 'Z' && isForker(st.Pid) {
			return st.Pid
		}
	}
	t.Fatalf("spawner %d has no forker", spawner)
	return 0
}

// stopForker opens one working connection (so that the spawner and its
// forker are up) and stops the forker with SIGSTOP; resume (idempotent)
// lets it go on.
func stopForker(t *testing.T, d *daemon) (warm *wsClient, resume func()) {
	t.Helper()
	warm = dialWS(t, d.url("/"))
	warm.sendText(t, "up")
	warm.expectText(t, "up")
	fk := forkerOf(t, spawnerOf(t, d.pid(), 0))
	if err := syscall.Kill(fk, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	return warm, func() { once.Do(func() { _ = syscall.Kill(fk, syscall.SIGCONT) }) }
}

// TestStalledForkerDoesNotStallTheLoops: starts are asynchronous. With the
// forker stopped no child can start, yet four upgrades all get their 101
// before any of them is failed (1011, after the 5 s start timeout); were
// an event loop waiting on a start, an upgrade behind it would be answered
// only after that start had failed. Once the forker runs again, new
// connections work and nothing is left behind.
func TestStalledForkerDoesNotStallTheLoops(t *testing.T) {
	skipUnlessWsplex(t, "the spawner process is wsplex's")
	if runtime.GOOS != "linux" {
		t.Skip("the spawner process is Linux-only")
	}
	d := startDaemon(t, "cat")
	warm, resume := stopForker(t, d)
	defer resume()
	// Each connection's first frame is read as soon as it is open, and
	// when it came is kept.
	type first struct {
		at   time.Time
		code ws.StatusCode
		err  error
	}
	var lastOpen time.Time
	var got []chan first
	for i := 0; i < 4; i++ {
		c := dialWS(t, d.url("/"))
		lastOpen = time.Now()
		ch := make(chan first, 1)
		got = append(got, ch)
		go func() {
			f, err := c.readFrame(3 * startTimeout)
			r := first{at: time.Now(), err: err}
			if err == nil && f.Header.OpCode == ws.OpClose {
				r.code = ws.StatusCode(binary.BigEndian.Uint16(f.Payload))
			}
			ch <- r
		}()
	}
	for i, ch := range got {
		r := <-ch
		if r.err != nil || r.code != ws.StatusInternalServerError {
			t.Fatalf("connection %d: first frame: close %d, %v; want 1011 (the start timed out)", i, r.code, r.err)
		}
		if r.at.Before(lastOpen) {
			t.Fatalf("connection %d was failed before the last upgrade was answered: an event loop waited on a start", i)
		}
	}
	d.waitLog(t, "did not answer within", waitTimeout)
	resume()
	c := dialWS(t, d.url("/"))
	c.sendText(t, "after")
	c.expectText(t, "after")
	for _, c := range []*wsClient{c, warm} {
		c.sendClose(t, ws.StatusNormalClosure, "")
		c.readClose(t, waitTimeout)
	}
	waitNoChildren(t, d.pid(), waitTimeout)
	if code := d.stop(t); code != 0 {
		t.Fatalf("daemon exit code %d", code)
	}
}

// startTimeout is spawn's bound on a start (spawn.startTimeout).
const startTimeout = 5 * time.Second

// TestClientGoneWhileStarting: the client vanishes while its child is
// being started; the child, once it runs, gets the usual end (stdin
// closed, the ladder), is reaped, and the log has CONNECT then DISCONNECT.
func TestClientGoneWhileStarting(t *testing.T) {
	skipUnlessWsplex(t, "the spawner process is wsplex's")
	if runtime.GOOS != "linux" {
		t.Skip("the spawner process is Linux-only")
	}
	d, m := startMetricsDaemon(t, 0, "cat")
	warm, resume := stopForker(t, d)
	defer resume()
	mark := d.logMark()
	c := dialWS(t, d.url("/"))
	c.sendText(t, "read once the child runs")
	clientPort := c.conn.LocalAddr().(*net.TCPAddr).Port
	c.close()
	// The client's FIN has reached the daemon when its end of the socket is
	// in CLOSE_WAIT. The daemon keeps the socket until the child runs, so
	// that what the client sent before it left reaches the child.
	waitCloseWait(t, clientPort)
	resume()
	line := d.waitLogSince(t, mark, "DISCONNECT", waitTimeout)
	var connect string
	for _, l := range d.logLines()[mark:] {
		if strings.Contains(l.Text, "| CONNECT") {
			connect = l.Text
			break
		}
	}
	if connect == "" {
		t.Fatalf("DISCONNECT (%q) without a CONNECT before it", line)
	}
	warm.sendClose(t, ws.StatusNormalClosure, "")
	warm.readClose(t, waitTimeout)
	waitNoChildren(t, d.pid(), waitTimeout)
	// The gauge drops once the loop has taken the exit report, which may
	// come a moment after the process is gone.
	deadline := time.Now().Add(waitTimeout)
	for {
		g := m.scrape(t)["wsplex_running_children"]
		if g == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("wsplex_running_children %v after the child of a vanished client, want 0", g)
		}
		time.Sleep(10 * time.Millisecond) // polling the gauge
	}
}

// waitCloseWait waits until the daemon's end of the connection from the
// client's port peer is in CLOSE_WAIT: the client's FIN has arrived and the
// daemon has not closed its socket yet (/proc/net/tcp, state 08).
func waitCloseWait(t testing.TB, peer int) {
	t.Helper()
	want := fmt.Sprintf(":%04X ", peer)
	deadline := time.Now().Add(waitTimeout)
	for {
		b, err := os.ReadFile("/proc/net/tcp")
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			f := strings.Fields(line)
			if len(f) > 3 && strings.HasSuffix(f[2]+" ", want) && f[3] == "08" {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the daemon's end of the connection from port %d never reached CLOSE_WAIT", peer)
		}
		time.Sleep(10 * time.Millisecond) // polling the kernel's socket table
	}
}
