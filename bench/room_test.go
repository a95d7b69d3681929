package bench

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
)

func TestRoomLine(t *testing.T) {
	for _, size := range []int{0, 40, 100, 300} {
		line := AppendRoomLine(nil, 12345, 1765100000123456789, 7, size)
		if size > 40 && len(line) != size {
			t.Errorf("size %d: line is %d bytes", size, len(line))
		}
		for _, in := range [][]byte{line, append(bytes.Clone(line), '\n'), append(bytes.Clone(line), '\r', '\n')} {
			seq, ns, phase, ok := ParseRoomLine(in)
			if !ok || seq != 12345 || ns != 1765100000123456789 || phase != 7 {
				t.Errorf("size %d: parse %q = %d %d %d %v", size, in, seq, ns, phase, ok)
			}
		}
		bad := bytes.Clone(line)
		bad[len(bad)-1]++
		if _, _, _, ok := ParseRoomLine(bad); ok {
			t.Errorf("size %d: a changed padding byte was accepted", size)
		}
	}
	for _, in := range []string{"", "1 2 3", "1 2 3 ", "x 2 3 b", "1 x 3 b", "1 2 -1 b", "1 2 x b", "rate 1 10"} {
		if _, _, _, ok := ParseRoomLine([]byte(in)); ok {
			t.Errorf("%q parsed as a room line", in)
		}
	}
	// An echo payload is not a room line (its padding starts where the
	// phase would be).
	if _, _, _, ok := ParseRoomLine(AppendText(nil, 3, 4, 64)); ok {
		t.Error("an echo payload parsed as a room line")
	}
}

func TestRoomControl(t *testing.T) {
	for _, c := range []struct {
		phase int
		rate  float64
	}{{1, 10}, {2, 0.5}, {9, 0}, {3, 250000}} {
		msg := AppendRoomControl(nil, c.phase, c.rate)
		phase, rate, ok := ParseRoomControl(msg)
		if !ok || phase != c.phase || rate != c.rate {
			t.Errorf("%q: %d %v %v", msg, phase, rate, ok)
		}
		if _, _, _, ok := ParseRoomLine(msg); ok {
			t.Errorf("control %q parsed as a room line", msg)
		}
	}
	for _, in := range []string{"", "rate", "rate 1", "rate 1 2 3", "rate -1 10", "rate 1 -10", "rate 1 NaN", "rate 1 1e9", "speed 1 10"} {
		if _, _, ok := ParseRoomControl([]byte(in)); ok {
			t.Errorf("%q parsed as a control line", in)
		}
	}
	if _, _, _, ok := ParseRoomLine(AppendRoomLine(nil, 1, 2, 3, 100)); !ok {
		t.Error("room line rejected")
	}
}

func TestParseRates(t *testing.T) {
	got, err := ParseRates("10, 20,50.5")
	if err != nil || len(got) != 3 || got[0] != 10 || got[1] != 20 || got[2] != 50.5 {
		t.Errorf("ParseRates: %v %v", got, err)
	}
	for _, in := range []string{"", ",", "0", "-1", "x", "10,0", "1e8"} {
		if _, err := ParseRates(in); err == nil {
			t.Errorf("ParseRates(%q) accepted", in)
		}
	}
}

// startHelperProc runs this test binary as a helper subcommand (TestMain
// dispatches room-child and echo-backend) and returns its port when it
// prints one. The process ends with the test.
func startHelperProc(t *testing.T, wantPort bool, argv ...string) int {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	if argv[0] == "self" {
		exe, err := os.Executable()
		if err != nil {
			t.Fatal(err)
		}
		cmd = exec.Command(exe, argv[1:]...)
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	first := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(out).ReadString('\n')
		first <- line
		_, _ = io.Copy(io.Discard, out)
		_ = cmd.Wait()
		close(done)
	}()
	t.Cleanup(func() {
		stdin.Close()
		_ = cmd.Process.Kill()
		<-done
	})
	if !wantPort {
		return 0
	}
	line := <-first
	p, err := strconv.Atoi(strings.TrimPrefix(strings.TrimSpace(line), "listening "))
	if err != nil {
		t.Fatalf("%v: first line %q (%v), stderr %s", argv, line, err, stderr.String())
	}
	return p
}

// startLineGateway is websocketd running `nc 127.0.0.1 PORT` in miniature:
// each WebSocket gets its own TCP connection to backend; a client text
// message goes there as a line, every line from there comes back as a text
// message.
func startLineGateway(t *testing.T, backend string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	conns := map[net.Conn]bool{}
	track := func(c net.Conn, on bool) {
		mu.Lock()
		defer mu.Unlock()
		if on {
			conns[c] = true
		} else {
			delete(conns, c)
		}
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				br := bufio.NewReader(c)
				req, err := http.ReadRequest(br)
				if err != nil {
					return
				}
				b, err := net.Dial("tcp", backend)
				if err != nil {
					return
				}
				defer b.Close()
				track(c, true)
				track(b, true)
				defer track(c, false)
				defer track(b, false)
				io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "+acceptFor(req.Header.Get("Sec-WebSocket-Key"))+"\r\n\r\n")
				go func() {
					sc := bufio.NewScanner(b)
					for sc.Scan() {
						if wsutil.WriteServerMessage(c, ws.OpText, sc.Bytes()) != nil {
							break
						}
					}
					c.Close()
				}()
				rw := struct {
					io.Reader
					io.Writer
				}{br, c}
				for {
					data, _, err := wsutil.ReadClientData(rw)
					if err != nil {
						return
					}
					if _, err := b.Write(append(data, '\n')); err != nil {
						return
					}
				}
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return "ws://" + ln.Addr().String() + "/room"
}

// The room scenario over the talk's recipe in miniature: the chat relay
// (room_relay.py), the producer as one of its clients, and a gateway
// bridging each WebSocket to the relay. Every client gets every measured
// line, once, in order, and the control line reaches the producer through
// the relay (the measured phase would not start otherwise).
func TestRoomOverRelay(t *testing.T) {
	if runtime.GOOS != "linux" && runtime.GOOS != "darwin" && runtime.GOOS != "freebsd" {
		t.Skip("unix only")
	}
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("no python3")
	}
	relay := filepath.Join(t.TempDir(), "room_relay.py")
	if err := os.WriteFile(relay, roomRelayPy, 0o644); err != nil {
		t.Fatal(err)
	}
	port := startHelperProc(t, true, py, relay, "0")
	startHelperProc(t, false, "self", "room-child", "--rate=20", "--size=100", "--connect=127.0.0.1:"+strconv.Itoa(port))
	url := startLineGateway(t, "127.0.0.1:"+strconv.Itoa(port))

	const clients = 20
	res := runScenario(t, &RoomScenario{Clients: clients, Concurrency: 10, Rates: "40", Limit: time.Second, Drain: 2 * time.Second},
		testOptions(t, url, 500*time.Millisecond))
	l := res.Latency["delivery"]
	if !res.OK || l == nil || l.Count == 0 || res.Msgs.Received != l.Count || l.Count%clients != 0 {
		t.Fatalf("room: ok=%v msgs=%+v latency=%+v notes=%v errors=%v", res.OK, res.Msgs, l, res.Notes, res.ErrorSamples)
	}
	if res.Extra["clients"] != clients || res.Extra["deliveries_per_s"] <= 0 {
		t.Errorf("extras %v", res.Extra)
	}

	// A ramp: one histogram and one deliveries/s figure per phase; the
	// producer follows each control line (a phase with no line would have
	// no count).
	res = runScenario(t, &RoomScenario{Clients: 5, Concurrency: 5, Rates: "20,60", Limit: 1500 * time.Millisecond, Drain: 2 * time.Second},
		testOptions(t, url, 300*time.Millisecond))
	for _, f := range []string{"delivery@20/s", "delivery@60/s"} {
		if l := res.Latency[f]; l == nil || l.Count == 0 || l.Count%5 != 0 {
			t.Errorf("%s: %+v", f, l)
		}
	}
	if !res.OK || res.Extra["ramp_max_rate_within_limit"] != 60 || res.Extra["deliveries_per_s_at_60"] <= res.Extra["deliveries_per_s_at_20"] {
		t.Errorf("ramp: ok=%v extra=%v notes=%v", res.OK, res.Extra, res.Notes)
	}

	// A limit no delivery can meet: the ramp stops after its first phase
	// and says that none stayed within it.
	res = runScenario(t, &RoomScenario{Clients: 3, Concurrency: 3, Rates: "20,60", Limit: time.Microsecond, Drain: 2 * time.Second},
		testOptions(t, url, 200*time.Millisecond))
	if l := res.Latency["delivery@60/s"]; l == nil || l.Count != 0 || res.Extra["ramp_first_rate_over_limit"] != 20 ||
		res.Extra["ramp_max_rate_within_limit"] != 0 || !strings.Contains(strings.Join(res.Notes, " "), "no phase of the ramp stayed within") {
		t.Errorf("ramp over its limit: latency %+v extra=%v notes=%v", l, res.Extra, res.Notes)
	}
}

// A server that is not a room (an echo server: no producer) is a fatal
// run that says why, not a hang or a clean result.
func TestRoomWithoutProducer(t *testing.T) {
	s := startServer(t, faults{})
	res, err := (&RoomScenario{Clients: 2, Concurrency: 2, Rates: "1000", Limit: time.Second, Drain: 100 * time.Millisecond}).Run(
		t.Context(), testOptions(t, s.URL, 100*time.Millisecond))
	if err == nil || res == nil || !strings.Contains(strings.Join(res.Notes, " "), "producer") {
		t.Fatalf("err=%v notes=%v", err, res)
	}
}

// The echo backend echoes lines and ends when its stdin does.
func TestEchoBackend(t *testing.T) {
	port := startHelperProc(t, true, "self", "echo-backend", "--listen=127.0.0.1:0")
	c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	for _, line := range []string{"hello\n", strings.Repeat("x", 10000) + "\n"} {
		if _, err := io.WriteString(c, line); err != nil {
			t.Fatal(err)
		}
		got, err := br.ReadString('\n')
		if err != nil || got != line {
			t.Fatalf("echo of %d bytes: %d bytes, %v", len(line), len(got), err)
		}
	}
}

// The backend job runs each daemon with an echo backend of its own, wsplex
// with --backend=tcp://127.0.0.1:PORT and websocketd with `nc 127.0.0.1
// PORT` as its COMMAND (the fake daemons here echo by themselves and only
// record their command lines), and its results carry job=backend. The
// backend is stopped with the run.
func TestSuiteBackendJob(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the suite samples servers from /proc")
	}
	if _, err := exec.LookPath("nc"); err != nil {
		t.Skip("no nc")
	}
	out, rs := runSuiteIn(t, "--reps", "1", "--only", "backend", "--wsplex", fakeDaemonBin(t, "new"), "--websocketd", fakeDaemonBin(t, "ref"))
	var got []string
	for _, r := range rs {
		got = append(got, r.Label+":"+r.Scenario+":"+toString(r.Params["job"]))
	}
	if strings.Join(got, " ") != "wsplex:throughput:backend websocketd:throughput:backend" {
		t.Fatalf("runs %v", got)
	}
	logs, _ := filepath.Glob(filepath.Join(out, "raw", "*.log"))
	var cmds, backends string
	for _, l := range logs {
		b, _ := os.ReadFile(l)
		if strings.HasSuffix(l, "-echo-backend.log") {
			backends += "x"
			continue
		}
		cmds += string(b)
	}
	if len(backends) != 2 {
		t.Errorf("%d echo backends started, want one per daemon run: %v", len(backends), logs)
	}
	if !strings.Contains(cmds, "--backend=tcp://127.0.0.1:") || !strings.Contains(cmds, "nc 127.0.0.1 ") {
		t.Errorf("daemon command lines:\n%s", cmds)
	}
	for _, p := range descendants(os.Getpid()) {
		if b, _ := os.ReadFile("/proc/" + strconv.Itoa(p) + "/cmdline"); bytes.Contains(b, []byte("echo-backend")) {
			t.Errorf("echo backend %d still running after the suite", p)
		}
	}
}

func toString(v any) string {
	s, _ := v.(string)
	return s
}

// startWsplex runs the real wsplex (built by buildWsplex) with args on a
// free port until the test ends, and returns its URL.
func startWsplex(t *testing.T, args ...string) string {
	t.Helper()
	bin := buildWsplex(t)
	port := freePort()
	cmd := exec.Command(bin, append([]string{"--port=" + strconv.Itoa(port), "--address=127.0.0.1"}, args...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	logs, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		cmd.Wait()
	})
	sc := bufio.NewScanner(logs)
	var log strings.Builder
	for sc.Scan() {
		log.WriteString(sc.Text() + "\n")
		if strings.Contains(sc.Text(), "Starting WebSocket server") {
			go io.Copy(io.Discard, logs)
			return "ws://127.0.0.1:" + strconv.Itoa(port) + "/"
		}
	}
	t.Fatalf("wsplex %v did not start:\n%s", args, log.String())
	return ""
}

// The room scenario against the real wsplex --broadcast running the real
// producer (this test binary as `wsbench room-child`): the control lines
// reach the child through the room's fan-in, every client gets every
// measured line, and a ramp follows the rates.
func TestRoomAgainstWsplex(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("linux only (the suite's platform)")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	url := startWsplex(t, "--broadcast", exe, "room-child", "--rate=5", "--size=100") + "room/a"
	const clients = 30
	res := runScenario(t, &RoomScenario{Clients: clients, Concurrency: 10, Rates: "50", Limit: time.Second, Drain: 2 * time.Second},
		testOptions(t, url, 400*time.Millisecond))
	l := res.Latency["delivery"]
	if !res.OK || l == nil || l.Count == 0 || l.Count%clients != 0 || res.Msgs.Received != l.Count {
		t.Fatalf("room: ok=%v msgs=%+v latency=%+v notes=%v errors=%v", res.OK, res.Msgs, l, res.Notes, res.ErrorSamples)
	}
	res = runScenario(t, &RoomScenario{Clients: 10, Concurrency: 10, Rates: "20,80", Limit: 1500 * time.Millisecond, Drain: 2 * time.Second},
		testOptions(t, url, 300*time.Millisecond))
	if !res.OK || res.Extra["ramp_max_rate_within_limit"] != 80 || res.Extra["deliveries_per_s_at_80"] <= res.Extra["deliveries_per_s_at_20"] {
		t.Errorf("ramp: ok=%v extra=%v notes=%v", res.OK, res.Extra, res.Notes)
	}
}

// The backend job's measurement against the real wsplex --backend and the
// real echo backend: every message comes back, in order, through the
// bridged connections.
func TestBackendAgainstWsplex(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("linux only (the suite's platform)")
	}
	port := startHelperProc(t, true, "self", "echo-backend", "--listen=127.0.0.1:0")
	url := startWsplex(t, "--backend=tcp://127.0.0.1:"+strconv.Itoa(port))
	res := runScenario(t, &ThroughputScenario{Conns: 20, Inflight: 8, Size: 64, Drain: 3 * time.Second}, testOptions(t, url, 300*time.Millisecond))
	if !res.OK || res.Msgs.Received == 0 || res.Msgs.Received != res.Msgs.Sent {
		t.Fatalf("backend echo: ok=%v msgs=%+v errors=%v notes=%v", res.OK, res.Msgs, res.ErrorSamples, res.Notes)
	}
}
