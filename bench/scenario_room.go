package bench

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/gobwas/ws"
)

func init() { register(func() Scenario { return &RoomScenario{} }) }

// RoomScenario measures a room: N clients connect to one URL whose server
// side is one producer shared by all of them (wsplex --broadcast running
// `wsbench room-child`, or websocketd + nc + a chat relay with room-child
// as one more relay client), only read, and time every line from the
// timestamp the producer wrote into it to its arrival (roomline.go).
//
// Once every client is connected, one of them sends the control line
// "rate 0 R1" (a warm-up, not measured, until every client has had a
// line), then "rate 1 R1": the measurement starts there. After the last
// phase "rate N+1 0" stops the producer. With several --rates it is a ramp: each rate is a
// phase of --duration with a histogram of its own, and the ramp stops
// after the first phase whose p99 passes --p99-limit, that lost clients,
// or more than 1% of whose deliveries are still missing --p99-limit after
// its end (a backlog its p99 cannot show yet). The figures are per phase: deliveries per
// second, p50/p99/max, the server's CPU (Options.ServerCgroup: every
// server process; Options.ServerPID: the daemon alone) and wsbench's own
// (on a small machine the client can be what limits the ramp).
//
// Memory: Options.Probe (the suite: RSS, cgroup memory, goroutines) or
// /proc of ServerPID is read before any client connects and again with all
// of them in the room, so per-client costs are differences.
type RoomScenario struct {
	Clients, Concurrency int
	Rates                string
	Limit                time.Duration
	Drain                time.Duration
}

func (s *RoomScenario) Name() string { return "room" }
func (s *RoomScenario) Summary() string {
	return "N clients of one room read a producer's timestamped lines; delivery latency per rate phase (a ramp with several --rates)"
}
func (s *RoomScenario) Flags(fs *flag.FlagSet) {
	fs.IntVar(&s.Clients, "conns", 1000, "clients in the room")
	fs.IntVar(&s.Concurrency, "concurrency", 100, "connections being set up at once")
	fs.StringVar(&s.Rates, "rates", "10", "producer lines per second, one phase of --duration each (comma separated: a ramp)")
	fs.DurationVar(&s.Limit, "p99-limit", 100*time.Millisecond, "a ramp stops after the first phase whose delivery p99 passes this")
	fs.DurationVar(&s.Drain, "drain", 2*time.Second, "how long to wait for the last deliveries")
}
func (s *RoomScenario) Validate() error {
	_, err := ParseRates(s.Rates)
	if err == nil && s.Clients < 1 {
		err = errors.New("--conns must be at least 1")
	}
	return err
}

// Split: every worker has its share of the clients; all of them send the
// same control lines, which the producer sees as repeats.
func (s *RoomScenario) Split(i, n int) { s.Clients = max(share(s.Clients, n, i), 1) }

// ParseRates parses --rates: positive numbers, comma separated.
func ParseRates(v string) ([]float64, error) {
	var out []float64
	for _, f := range strings.Split(v, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		r, err := strconv.ParseFloat(f, 64)
		if err != nil || checkRate(r) != nil || r > 1e7 {
			return nil, fmt.Errorf("--rates: bad rate %q (lines per second, positive)", f)
		}
		out = append(out, r)
	}
	if len(out) == 0 {
		return nil, errors.New("--rates: no rate")
	}
	return out, nil
}

// ServerProbe is one reading of the server's state for per-client costs;
// a figure that cannot be read is negative.
type ServerProbe struct {
	RSS        int64   // the daemon's
	CgroupMem  int64   // every server process's (the daemon's cgroup)
	Goroutines float64 // the daemon's (Prometheus go_goroutines)
}

func (o *Options) probe() ServerProbe {
	if o.Probe != nil {
		return o.Probe()
	}
	p := ServerProbe{RSS: -1, CgroupMem: -1, Goroutines: -1}
	if o.ServerPID > 0 {
		if s, err := ReadProc(o.ServerPID, false); err == nil {
			p.RSS = s.RSS
		}
	}
	return p
}

// roomPhaseName names the latency figure of phase i (1-based) of rates.
func roomPhaseName(rates []float64, i int) string {
	if len(rates) == 1 {
		return "delivery"
	}
	return "delivery@" + strconv.FormatFloat(rates[i-1], 'f', -1, 64) + "/s"
}

type roomClient struct {
	base
	s    *roomState
	seq  SeqChecker
	seen bool
	warm bool // has had a line: the producer's output reaches it
	rep  reported
}

type roomState struct {
	figs    []string // per phase, index 1..n
	n       int
	first   atomic.Pointer[Conn] // the client that sends the control lines
	gotLine chan struct{}        // closed at the first measured line
	once    sync.Once
	minSeq  atomic.Uint64 // the range of measured lines any client got
	maxSeq  atomic.Uint64
	control atomic.Int64   // control lines seen by clients (the relay passes them on)
	warm    atomic.Int64   // clients that have had a line
	current atomic.Int64   // the latest phase asked for
	counts  []atomic.Int64 // deliveries per phase (index = phase)
	// The range of lines any client got per phase: what the producer
	// wrote in it, to tell a fan-out backlog from a slow producer.
	phaseLo, phaseHi []atomic.Uint64
	// thr is a phase's last line at its end (^0 until then); beyond
	// counts its deliveries of later lines (see the ramp's backlog check).
	thr, beyond []atomic.Uint64
}

func (h *roomClient) OnOpen(c *Conn) {
	h.open(c)
	h.s.first.CompareAndSwap(nil, c)
	h.settle()
}

func (h *roomClient) OnMessage(c *Conn, op ws.OpCode, data []byte) {
	seq, ns, phase, ok := ParseRoomLine(data)
	if !ok {
		if _, _, isCtl := ParseRoomControl(data); isCtl {
			h.s.control.Add(1)
			return
		}
		h.r.Corrupt.Add(1)
		return
	}
	if !h.warm {
		h.warm = true
		h.s.warm.Add(1)
	}
	if phase < 1 || phase > h.s.n || int64(phase) > h.s.current.Load() {
		return // before the measured phases (clients still arriving) or after
	}
	now := time.Now()
	h.r.NoteReceived()
	h.s.counts[phase].Add(1)
	h.s.once.Do(func() { close(h.s.gotLine) })
	storeIf(&h.s.maxSeq, seq, func(old uint64) bool { return seq > old })
	storeIf(&h.s.minSeq, seq, func(old uint64) bool { return seq < old })
	storeIf(&h.s.phaseHi[phase], seq, func(old uint64) bool { return seq > old })
	storeIf(&h.s.phaseLo[phase], seq, func(old uint64) bool { return seq < old })
	if seq > h.s.thr[phase].Load() {
		h.s.beyond[phase].Add(1)
	}
	if !h.seen {
		h.seen = true
		h.seq.next = seq
	}
	if !h.seq.Observe(seq) {
		h.r.Reordered.Add(h.seq.Reordered - h.rep.reordered)
		h.r.Duplicates.Add(h.seq.Duplicates - h.rep.dups)
		h.rep = reported{h.seq.Reordered, h.seq.Duplicates}
	}
	h.r.Rec(h.s.figs[phase], c.loop).Record(now, now.Sub(time.Unix(0, ns)))
}

// storeIf stores v in a while better(current) holds (clients on several
// loops update the same bound).
func storeIf(a *atomic.Uint64, v uint64, better func(uint64) bool) {
	for old := a.Load(); better(old); old = a.Load() {
		if a.CompareAndSwap(old, v) {
			return
		}
	}
}

func (h *roomClient) OnClose(c *Conn, err error) { h.closed(c, err) }

// snapshot merges the loops' histograms of figure name so far.
func (r *Run) snapshot(name string) *hdr.Histogram {
	m := newHist()
	var mu sync.Mutex
	r.OnLoops(func(l *Loop) {
		mu.Lock()
		m.Merge(r.Rec(name, l).H)
		mu.Unlock()
	})
	return m
}

// roomPhase is what the ramp saw of one phase while running it.
type roomPhase struct {
	rate      float64
	secs      float64
	delivered int64
	cpu       float64 // every server process (cgroup), -1 if unknown
	daemonCPU float64 // the daemon alone, -1 if unknown
	clientCPU float64 // this process (wsbench), -1 if unknown: is the client the limit?
	stop      string  // why the ramp stopped after this phase
}

func (s *RoomScenario) Run(ctx context.Context, o *Options) (*Result, error) {
	rates, err := ParseRates(s.Rates)
	if err != nil {
		return nil, fmt.Errorf("room: %v", err)
	}
	r, err := NewRun(s.Name(), o, map[string]any{"conns": s.Clients, "rates": s.Rates})
	if err != nil {
		return nil, err
	}
	r.StartProgress(o.Duration * time.Duration(len(rates)))
	st := &roomState{n: len(rates), gotLine: make(chan struct{}), counts: make([]atomic.Int64, len(rates)+2)}
	st.minSeq.Store(^uint64(0))
	st.phaseLo, st.phaseHi = make([]atomic.Uint64, len(rates)+2), make([]atomic.Uint64, len(rates)+2)
	st.thr, st.beyond = make([]atomic.Uint64, len(rates)+2), make([]atomic.Uint64, len(rates)+2)
	for i := range st.phaseLo {
		st.phaseLo[i].Store(^uint64(0))
		st.thr[i].Store(^uint64(0))
	}
	st.figs = make([]string, len(rates)+1)
	for i := 1; i <= len(rates); i++ {
		st.figs[i] = roomPhaseName(rates, i)
		r.Latency(st.figs[i])
	}
	idle := o.probe()
	r.openAll(ctx, s.Clients, s.Concurrency, func(b base) Handler { return &roomClient{base: b, s: st} })
	n := r.Opened.Load()
	if n == 0 {
		return fatal(r, r.FirstError())
	}
	sendCtl := func(phase int, rate float64) {
		st.current.Store(int64(phase))
		c := st.first.Load()
		msg := AppendRoomControl(nil, phase, rate)
		c.loop.Post(func() {
			if c.IsOpen() {
				c.Send(ws.OpText, msg)
			}
		})
	}
	// Warm-up (phase 0, not measured) at the first rate, whatever the
	// producer was doing: measure from the moment every client gets its
	// lines, since an open WebSocket is not yet a member of the room when
	// its server side joins after the upgrade (nc connecting to the relay).
	sendCtl(0, rates[0])
	warmBy := time.Now().Add(5*time.Second + 2*time.Duration(float64(time.Second)/rates[0]))
	for st.warm.Load() < r.Live() && time.Now().Before(warmBy) && ctx.Err() == nil {
		time.Sleep(20 * time.Millisecond)
	}
	switch w, l := st.warm.Load(), r.Live(); {
	case w == 0:
		r.Note("no line from the producer within 5 s: is the server broadcasting a room (wsbench room-child), and passing client messages to it?")
		r.CloseAll(true, 2*time.Second)
		return fatal(r, errors.New("room: no line from the producer"))
	case w < l:
		r.Note("%d of %d clients had no line before the measured phases began (5 s)", l-w, l)
	}
	var phases []roomPhase
	var loaded ServerProbe
	for i := 1; i <= len(rates) && ctx.Err() == nil; i++ {
		ph := roomPhase{rate: rates[i-1], cpu: -1, daemonCPU: -1, clientCPU: -1}
		cpu0, dcpu0, ccpu0 := cgroupCPU(o.ServerCgroup), daemonCPU(o.ServerPID), daemonCPU(os.Getpid())
		start := time.Now()
		live0 := r.Live()
		sendCtl(i, ph.rate)
		if i == 1 {
			select {
			case <-st.gotLine:
			case <-time.After(5*time.Second + 2*time.Duration(float64(time.Second)/ph.rate)):
				r.Note("no measured line within 5 s of the control line: the producer did not get it (does the server pass client messages to it?)")
				sendCtl(len(rates)+1, 0)
				r.CloseAll(true, 2*time.Second)
				return fatal(r, errors.New("room: the producer never started the measured phase"))
			case <-ctx.Done():
			}
		}
		select {
		case <-time.After(time.Until(start.Add(o.Duration))):
		case <-ctx.Done():
		}
		ph.secs = time.Since(start).Seconds()
		if cpu1 := cgroupCPU(o.ServerCgroup); cpu0 >= 0 && cpu1 >= 0 {
			ph.cpu = cpu1 - cpu0
		}
		if d1 := daemonCPU(o.ServerPID); dcpu0 >= 0 && d1 >= 0 {
			ph.daemonCPU = d1 - dcpu0
		}
		if c1 := daemonCPU(os.Getpid()); ccpu0 >= 0 && c1 >= 0 {
			ph.clientCPU = c1 - ccpu0
		}
		if i == 1 {
			loaded = o.probe()
		}
		ph.delivered = st.counts[i].Load()
		if len(rates) > 1 {
			// A backlog its histogram cannot show yet: the phase's lines
			// written by its end (up to seq thr) must all have arrived
			// once --p99-limit has passed; if more than one delivery in a
			// hundred of them has not, its p99 will pass the limit. The
			// producer goes on at this rate meanwhile.
			thr := st.phaseHi[i].Load()
			st.thr[i].Store(thr)
			select {
			case <-time.After(s.Limit):
			case <-ctx.Done():
			}
			p99 := time.Duration(r.snapshot(st.figs[i]).ValueAtQuantile(99)) * time.Microsecond
			var want, got float64
			if lo := st.phaseLo[i].Load(); thr >= lo {
				want = float64(live0) * float64(thr-lo+1)
				got = float64(st.counts[i].Load()) - float64(st.beyond[i].Load())
			}
			switch {
			case p99 > s.Limit:
				ph.stop = fmt.Sprintf("p99 %v passed %v", p99.Round(time.Millisecond), s.Limit)
			case r.Live() < live0:
				ph.stop = fmt.Sprintf("%d clients were closed", live0-r.Live())
			case got < 0.99*want:
				ph.stop = fmt.Sprintf("%.1f%% of the deliveries of its lines had not arrived %v after it ended", 100-100*got/want, s.Limit)
			}
		}
		phases = append(phases, ph)
		if ph.stop != "" {
			break
		}
	}
	sendCtl(len(rates)+1, 0)
	r.SendingDone()
	// Wait for the last deliveries: until nothing more arrives for a
	// while, bounded by --drain.
	for deadline, last := time.Now().Add(s.Drain), int64(-1); time.Now().Before(deadline) && ctx.Err() == nil; {
		cur := r.Received.Load()
		if cur == last {
			break
		}
		last = cur
		time.Sleep(200 * time.Millisecond)
	}
	// Loss: every client should have every line from the first measured
	// one to the last one any client got.
	var lost atomic.Int64
	lo, hi := st.minSeq.Load(), st.maxSeq.Load()
	r.ForLive(func(c *Conn) {
		if h, ok := c.h.(*roomClient); ok && r.Received.Load() > 0 {
			lost.Add(max(int64(hi-lo+1)-h.seq.Unique(), 0))
		}
	})
	r.Lost.Store(lost.Load())
	r.SetExtra("clients", float64(n))
	s.report(r, rates, phases, idle, loaded, n)
	r.CloseAll(true, 5*time.Second)
	res := r.Finish()
	s.judge(res, rates, phases)
	return res, nil
}

// daemonCPU is the CPU seconds of process pid so far, -1 if it cannot be
// read.
func daemonCPU(pid int) float64 {
	if pid <= 0 {
		return -1
	}
	p, err := ReadProc(pid, false)
	if err != nil {
		return -1
	}
	return p.CPU
}

// report sets the memory and per-phase figures.
func (s *RoomScenario) report(r *Run, rates []float64, phases []roomPhase, idle, loaded ServerProbe, n int64) {
	k := float64(n)
	if idle.RSS > 0 && loaded.RSS > 0 {
		r.SetExtra("server_rss_mib_idle", mib(idle.RSS))
		r.SetExtra("server_rss_mib_loaded", mib(loaded.RSS))
		r.SetExtra("server_rss_kib_per_client", float64(loaded.RSS-idle.RSS)/1024/k)
	}
	if idle.CgroupMem > 0 && loaded.CgroupMem > 0 {
		r.SetExtra("server_cgroup_mib_idle", mib(idle.CgroupMem))
		r.SetExtra("server_cgroup_mib_loaded", mib(loaded.CgroupMem))
		r.SetExtra("server_cgroup_kib_per_client", float64(loaded.CgroupMem-idle.CgroupMem)/1024/k)
	}
	if idle.Goroutines >= 0 && loaded.Goroutines >= 0 {
		r.SetExtra("server_goroutines_idle", idle.Goroutines)
		r.SetExtra("server_goroutines_loaded", loaded.Goroutines)
	}
	for _, ph := range phases {
		tag := ""
		if len(rates) > 1 {
			tag = "_at_" + strconv.FormatFloat(ph.rate, 'f', -1, 64)
		}
		r.SetExtra("deliveries_per_s"+tag, float64(ph.delivered)/ph.secs)
		if ph.cpu >= 0 {
			r.SetExtra("server_cpu_cores"+tag, ph.cpu/ph.secs)
			if ph.delivered > 0 {
				r.SetExtra("server_cpu_us_per_delivery"+tag, ph.cpu/float64(ph.delivered)*1e6)
			}
		}
		if ph.daemonCPU >= 0 {
			r.SetExtra("daemon_cpu_cores"+tag, ph.daemonCPU/ph.secs)
		}
		if ph.clientCPU >= 0 {
			r.SetExtra("client_cpu_cores"+tag, ph.clientCPU/ph.secs)
		}
		if ph.stop != "" {
			r.Note("ramp stopped after %s lines/s: %s", strconv.FormatFloat(ph.rate, 'f', -1, 64), ph.stop)
		}
	}
	if len(phases) > 0 {
		var total int64
		var secs float64
		for _, ph := range phases {
			total += ph.delivered
			secs += ph.secs
		}
		r.SetRate(float64(total)/secs, "deliveries/s")
	}
}

// judge reads the final per-phase histograms (late deliveries included):
// the highest rate whose p99 stayed within the limit is the ramp's result.
func (s *RoomScenario) judge(res *Result, rates []float64, phases []roomPhase) {
	if len(rates) < 2 {
		return
	}
	best := -1
	limit := float64(s.Limit) / float64(time.Millisecond)
	for i, ph := range phases {
		l := res.Latency[roomPhaseName(rates, i+1)]
		if l == nil || l.Count == 0 {
			break
		}
		if l.P99 > limit {
			res.Extra["ramp_first_rate_over_limit"] = ph.rate
			break
		}
		if ph.stop != "" {
			break // clients lost or a backlog: not within the limit either
		}
		best = i
	}
	if best < 0 {
		res.Notes = append(res.Notes, "no phase of the ramp stayed within the p99 limit")
		return
	}
	ph := phases[best]
	res.Extra["ramp_max_rate_within_limit"] = ph.rate
	res.Extra["ramp_deliveries_per_s_within_limit"] = float64(ph.delivered) / ph.secs
	if l := res.Latency[roomPhaseName(rates, best+1)]; l != nil {
		res.Extra["ramp_p99_ms_within_limit"] = l.P99
	}
	if ph.cpu >= 0 {
		res.Extra["ramp_server_cpu_cores_within_limit"] = ph.cpu / ph.secs
	}
	if ph.daemonCPU >= 0 {
		res.Extra["ramp_daemon_cpu_cores_within_limit"] = ph.daemonCPU / ph.secs
	}
	if ph.clientCPU >= 0 {
		res.Extra["ramp_client_cpu_cores_within_limit"] = ph.clientCPU / ph.secs
	}
	res.Rate = float64(ph.delivered) / ph.secs
}
