package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// Options are the settings every scenario shares.
type Options struct {
	Target           *Target
	Sources          Sources
	Loops            int
	Duration         time.Duration
	HandshakeTimeout time.Duration
	RcvBuf           int
	ServerPID        int
	// ServerCgroup is a cgroup directory holding the whole server (set by
	// the suite): its CPU counter then gives the server's CPU, children that
	// exited during the run included.
	ServerCgroup   string
	SampleInterval time.Duration
	// Probe, when set (by the suite), reads the server's memory and
	// goroutines for scenarios that report per-client costs (room).
	Probe func() ServerProbe
	Label string
	// Progress receives a live status line (\r-terminated); nil for none.
	Progress io.Writer
	// Worker is set in a process started by --workers: results then carry
	// the per-window histograms the parent needs to merge.
	Worker      bool
	WorkerIndex int
	WorkerCount int
}

// epoch anchors the monotonic timestamps carried in echo payloads: they are
// nanoseconds since epoch, immune to wall-clock steps.
var epoch = time.Now()

func monoNs(t time.Time) int64                        { return int64(t.Sub(epoch)) }
func fromMono(ns int64) time.Time                     { return epoch.Add(time.Duration(ns)) }
func sinceMono(now time.Time, ns int64) time.Duration { return now.Sub(fromMono(ns)) }

// Run is the state of one scenario run: counters readable from any
// goroutine (for the progress line), per-loop latency recorders, and the
// error tally. Scenarios fill it; Result turns it into a report.
type Run struct {
	Opts   *Options
	Name   string
	Start  time.Time
	Window time.Duration
	Params map[string]any
	Engine *Engine

	Attempted, Opened, Failed, Dropped atomic.Int64
	Sent, Received, Lost, Reordered    atomic.Int64
	Duplicates, Corrupt                atomic.Int64
	BytesSent, BytesReceived           atomic.Int64

	recs  map[string][]*Recorder
	order []string

	mu           sync.Mutex
	errs         map[string]int64
	errSamples   map[string]string
	notes        []string
	extra        map[string]float64
	fdLimit      atomic.Bool
	sendingDone  atomic.Bool
	drained      chan struct{} // guarded by mu
	drainClosed  bool
	rate         float64
	rateUnit     string
	end          time.Time
	sampler      *Sampler
	progressStop chan struct{}
	progressDone chan struct{}
	// status is an optional extra for the progress line.
	status func() string

	live      []map[*Conn]struct{} // per loop: open connections
	liveCount atomic.Int64
	closing   atomic.Bool
	allClosed chan struct{}
	closeOnce sync.Once
}

// NewRun prepares a run of the named scenario and starts its engine.
func NewRun(name string, o *Options, params map[string]any) (*Run, error) {
	e, err := NewEngine(EngineConfig{Target: o.Target, Sources: o.Sources, Loops: o.Loops, HandshakeTimeout: o.HandshakeTimeout, RcvBuf: o.RcvBuf})
	if err != nil {
		return nil, err
	}
	r := &Run{
		Opts: o, Name: name, Start: time.Now(), Window: WindowFor(o.Duration), Params: params, Engine: e,
		recs: map[string][]*Recorder{}, errs: map[string]int64{}, errSamples: map[string]string{},
		extra: map[string]float64{}, drained: make(chan struct{}), allClosed: make(chan struct{}),
	}
	for range e.loops {
		r.live = append(r.live, map[*Conn]struct{}{})
	}
	if o.ServerPID > 0 {
		s, err := StartSamplerCgroup(o.ServerPID, o.ServerCgroup, o.SampleInterval)
		if err != nil {
			e.Close()
			return nil, fmt.Errorf("--server-pid: %v", err)
		}
		r.sampler = s
	}
	return r, nil
}

// Latency declares a latency figure (its order in reports is declaration
// order) and returns nothing; use Rec on a loop to record into it.
func (r *Run) Latency(names ...string) {
	for _, n := range names {
		if _, ok := r.recs[n]; ok {
			continue
		}
		// Windows count from the moment the figure is declared, which
		// is when its phase starts.
		now := time.Now()
		rs := make([]*Recorder, len(r.Engine.loops))
		for i := range rs {
			rs[i] = NewRecorder(now, r.Window)
		}
		r.recs[n] = rs
		r.order = append(r.order, n)
	}
}

// Rec returns the recorder of figure name for loop l (lock-free: one per loop).
func (r *Run) Rec(name string, l *Loop) *Recorder { return r.recs[name][l.id] }

// Error counts err by kind and keeps the first message of each kind.
func (r *Run) Error(err error) {
	if err == nil {
		return
	}
	k := ErrorKind(err)
	var fe *FdLimitError
	if errors.As(err, &fe) {
		r.fdLimit.Store(true)
	}
	r.mu.Lock()
	r.errs[k]++
	if _, ok := r.errSamples[k]; !ok {
		r.errSamples[k] = err.Error()
	}
	r.mu.Unlock()
}

// FdLimitHit reports whether a dial failed for lack of descriptors.
func (r *Run) FdLimitHit() bool { return r.fdLimit.Load() }

// Note adds a line to the report.
func (r *Run) Note(format string, args ...any) {
	r.mu.Lock()
	r.notes = append(r.notes, fmt.Sprintf(format, args...))
	r.mu.Unlock()
}

// SetExtra sets a scenario-specific figure.
func (r *Run) SetExtra(k string, v float64) {
	r.mu.Lock()
	r.extra[k] = v
	r.mu.Unlock()
}

// SetRate sets the headline rate.
func (r *Run) SetRate(v float64, unit string) { r.rate, r.rateUnit = v, unit }

// ErrorKind classifies an error for the tally.
func ErrorKind(err error) string {
	var fe *FdLimitError
	var ue *UpgradeError
	var de *DialError
	var ce *CloseError
	var pe *ProtocolError
	switch {
	case errors.As(err, &fe):
		return "fd_limit"
	case errors.As(err, &ue):
		return fmt.Sprintf("upgrade_refused_%d", ue.Status)
	case errors.As(err, &de):
		switch {
		case errors.Is(de.Err, unix.ECONNREFUSED):
			return "connect_refused"
		case errors.Is(de.Err, unix.EADDRNOTAVAIL):
			return "no_local_port"
		case errors.Is(de.Err, unix.ETIMEDOUT):
			return "connect_timeout"
		}
		return "connect_error"
	case errors.Is(err, ErrHandshakeTimeout):
		return "handshake_timeout"
	case errors.Is(err, ErrNoCloseFrame):
		return "closed_without_close_frame"
	case errors.As(err, &ce):
		return fmt.Sprintf("server_close_%d", ce.Code)
	case errors.As(err, &pe):
		return "protocol_error"
	case errors.Is(err, errEngineClosed):
		return "engine_stopped"
	}
	return "other"
}

// SendingDone marks the end of the send phase; Drained fires once every
// message sent has been answered (checked by NoteReceived).
func (r *Run) SendingDone() {
	r.sendingDone.Store(true)
	r.checkDrained()
}

func (r *Run) checkDrained() {
	if r.sendingDone.Load() && r.Received.Load()-r.Duplicates.Load() >= r.Sent.Load() {
		r.mu.Lock()
		if !r.drainClosed {
			r.drainClosed = true
			close(r.drained)
		}
		r.mu.Unlock()
	}
}

// resetDrain re-arms the drain signal for a new send phase. Call it while
// nothing is in flight.
func (r *Run) resetDrain() {
	r.mu.Lock()
	r.sendingDone.Store(false)
	r.drained = make(chan struct{})
	r.drainClosed = false
	r.mu.Unlock()
}

// NoteReceived counts one echo and checks whether the run has drained.
func (r *Run) NoteReceived() {
	r.Received.Add(1)
	if r.sendingDone.Load() {
		r.checkDrained()
	}
}

// WaitDrained waits until every sent message was answered, the timeout
// passes, or ctx ends. It reports whether the run drained.
func (r *Run) WaitDrained(ctx context.Context, timeout time.Duration) bool {
	r.mu.Lock()
	ch := r.drained
	r.mu.Unlock()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-ch:
		return true
	case <-t.C:
	case <-ctx.Done():
	}
	return false
}

// OnLoops runs f on every loop and waits for all of them.
func (r *Run) OnLoops(f func(l *Loop)) {
	var wg sync.WaitGroup
	for _, l := range r.Engine.loops {
		wg.Add(1)
		l.Post(func() { f(l); wg.Done() })
	}
	wg.Wait()
}

// StartProgress starts the live status line if Options.Progress is set.
func (r *Run) StartProgress(total time.Duration) {
	w := r.Opts.Progress
	if w == nil {
		return
	}
	r.progressStop = make(chan struct{})
	r.progressDone = make(chan struct{})
	go func() {
		defer close(r.progressDone)
		t := time.NewTicker(500 * time.Millisecond)
		defer t.Stop()
		lastRecv, last := int64(0), time.Now()
		for {
			select {
			case <-r.progressStop:
				fmt.Fprint(w, "\r\033[K")
				return
			case now := <-t.C:
				el := now.Sub(r.Start)
				recv := r.Received.Load()
				rate := float64(recv-lastRecv) / now.Sub(last).Seconds()
				lastRecv, last = recv, now
				bar := ""
				if total > 0 {
					const width = 20
					n := min(int(float64(width)*el.Seconds()/total.Seconds()), width)
					bar = "[" + repeat('#', n) + repeat('-', width-n) + "] "
				}
				line := fmt.Sprintf("%s%5.1fs %s: conns %d open, %d failed; msgs sent %d recv %d (%.0f/s)",
					bar, el.Seconds(), r.Name, r.Engine.OpenSockets(), r.Failed.Load(), r.Sent.Load(), recv, rate)
				if r.status != nil {
					line += "; " + r.status()
				}
				if r.sampler != nil {
					s := r.sampler.Last()
					line += fmt.Sprintf("; server rss %.1f MiB", float64(s.RSS)/(1<<20))
				}
				fmt.Fprintf(w, "\r\033[K%s", line)
			}
		}
	}()
}

func repeat(c byte, n int) string {
	b := make([]byte, max(n, 0))
	for i := range b {
		b[i] = c
	}
	return string(b)
}

// Finish stops sampling, progress and the engine, and builds the result.
func (r *Run) Finish() *Result {
	if r.end.IsZero() {
		r.end = time.Now()
	}
	if r.progressStop != nil {
		close(r.progressStop)
		<-r.progressDone
	}
	var server *ServerStats
	if r.sampler != nil {
		server = r.sampler.Stop()
	}
	r.Engine.Close()
	res := &Result{
		Scenario: r.Name, Label: r.Opts.Label, Target: r.Opts.Target.URL, Params: r.Params,
		Started: r.Start, Seconds: r.end.Sub(r.Start).Seconds(),
		Conns: ConnCounts{Attempted: r.Attempted.Load(), Opened: r.Opened.Load(), Failed: r.Failed.Load(),
			Dropped: r.Dropped.Load(), PeakOpen: r.Engine.PeakSockets()},
		Msgs: MsgCounts{Sent: r.Sent.Load(), Received: r.Received.Load(), Lost: r.Lost.Load(), Reordered: r.Reordered.Load(),
			Duplicates: r.Duplicates.Load(), Corrupt: r.Corrupt.Load(), BytesSent: r.BytesSent.Load(), BytesReceived: r.BytesReceived.Load()},
		Rate: r.rate, RateUnit: r.rateUnit, Server: server,
		Latency: map[string]*Latency{}, Extra: r.extra, Notes: r.notes,
	}
	if r.Opts.Worker {
		res.Workers = 1
	}
	for _, n := range r.order {
		m := MergeRecorders(r.recs[n][0].Start, r.Window, r.recs[n])
		res.Latency[n] = m.Summary(r.Opts.Worker)
		res.LatencyOrder = append(res.LatencyOrder, n)
	}
	if len(r.errs) > 0 {
		res.Errors = r.errs
		keys := make([]string, 0, len(r.errSamples))
		for k := range r.errSamples {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			res.ErrorSamples = append(res.ErrorSamples, k+": "+r.errSamples[k])
		}
	}
	res.finishOK()
	return res
}

// pacer dials total connections on one loop with at most conc in progress.
// Each handler calls the settle function it was built with once its
// connection is open or has failed; allSettled runs when all have. Dialing
// stops early when stop reports true (deadline, fd limit).
type pacer struct {
	l                  *Loop
	left, active, conc int
	total, settled     int
	newH               func(settle func()) Handler
	allSettled         func()
	stop               func() bool
	stopped            bool
}

func startPacer(l *Loop, total, conc int, newH func(settle func()) Handler, stop func() bool, allSettled func()) *pacer {
	p := &pacer{l: l, left: total, conc: max(conc, 1), total: total, newH: newH, stop: stop, allSettled: allSettled}
	if total == 0 {
		allSettled()
		return p
	}
	p.fill()
	return p
}

func (p *pacer) fill() {
	for p.active < p.conc && p.left > 0 {
		if p.stop != nil && p.stop() {
			// Count what will never be dialed as settled so the caller
			// is not left waiting.
			p.settled += p.left
			p.left = 0
			p.stopped = true
			if p.active == 0 {
				p.allSettled()
			}
			return
		}
		p.left--
		p.active++
		done := false
		p.l.Dial(p.newH(func() {
			if done {
				return
			}
			done = true
			p.active--
			p.settled++
			if p.settled == p.total {
				p.allSettled()
				return
			}
			p.fill()
		}))
	}
}

// share splits n over k parts; part i gets its fair share.
func share(n, k, i int) int {
	s := n / k
	if i < n%k {
		s++
	}
	return s
}

// Track registers an open connection (loop goroutine).
func (r *Run) Track(c *Conn) {
	r.live[c.loop.id][c] = struct{}{}
	r.liveCount.Add(1)
}

// Untrack forgets a connection that closed (loop goroutine).
func (r *Run) Untrack(c *Conn) {
	if _, ok := r.live[c.loop.id][c]; !ok {
		return
	}
	delete(r.live[c.loop.id], c)
	if r.liveCount.Add(-1) == 0 && r.closing.Load() {
		r.closeOnce.Do(func() { close(r.allClosed) })
	}
}

// Live is the number of tracked open connections.
func (r *Run) Live() int64 { return r.liveCount.Load() }

// ForLive runs f on every tracked connection, on its loop, and waits.
func (r *Run) ForLive(f func(c *Conn)) {
	r.OnLoops(func(l *Loop) {
		for c := range r.live[l.id] {
			f(c)
		}
	})
}

// CloseAll closes every tracked connection (graceful: the closing
// handshake; otherwise a RST) and waits up to timeout for them to finish.
func (r *Run) CloseAll(graceful bool, timeout time.Duration) {
	if r.sampler != nil {
		// The loaded state is what matters: sample it, children's PSS
		// included, before tearing down.
		r.sampler.SampleNow()
	}
	r.closing.Store(true)
	r.ForLive(func(c *Conn) {
		if graceful {
			c.Close()
		} else {
			c.Abort()
		}
	})
	if r.liveCount.Load() == 0 {
		return
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-r.allClosed:
	case <-t.C:
	}
}

// FirstError returns the first recorded error message, for a fatal report
// when nothing could connect.
func (r *Run) FirstError() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	var best string
	var n int64
	for k, v := range r.errs {
		if v > n {
			best, n = k, v
		}
	}
	if best == "" {
		return nil
	}
	return errors.New(r.errSamples[best])
}

// base is the bookkeeping every scenario's handler shares: counting opens,
// failures and drops, tracking live connections, settling its pacer.
type base struct {
	r      *Run
	settle func()
	opened bool
}

func (b *base) open(c *Conn) {
	b.opened = true
	b.r.Opened.Add(1)
	b.r.Track(c)
}

func (b *base) closed(c *Conn, err error) {
	b.r.BytesSent.Add(c.BytesOut)
	b.r.BytesReceived.Add(c.BytesIn)
	if !b.opened {
		b.r.Failed.Add(1)
		b.r.Error(err)
		if b.settle != nil {
			b.settle()
		}
		return
	}
	b.r.Untrack(c)
	if !c.ClosedByClient() && !errors.Is(err, errEngineClosed) {
		b.r.Dropped.Add(1)
		if err == nil {
			err = ErrNoCloseFrame
		}
		b.r.Error(err)
	}
}

// openAll dials n connections, conc at a time, spread over the loops, and
// waits until each is open or failed (or ctx ends). newH builds a handler
// around the base it is given; the base's settle is called by base.closed on
// failure and must be called by the handler once it counts as established.
func (r *Run) openAll(ctx context.Context, n, conc int, newH func(b base) Handler) {
	r.openUntil(ctx, n, conc, func() bool { return ctx.Err() != nil }, newH)
}

// openUntil is openAll with its own condition for no longer dialing; it
// still waits for the connections in progress unless ctx ends.
func (r *Run) openUntil(ctx context.Context, n, conc int, stopDial func() bool, newH func(b base) Handler) {
	nl := len(r.Engine.loops)
	done := make(chan struct{})
	var pending atomic.Int64
	pending.Store(int64(nl))
	stop := func() bool { return r.FdLimitHit() || stopDial() }
	for i, l := range r.Engine.loops {
		ln, lc := share(n, nl, i), max(share(conc, nl, i), 1)
		l.Post(func() {
			startPacer(l, ln, lc, func(settle func()) Handler {
				r.Attempted.Add(1)
				return newH(base{r: r, settle: settle})
			}, stop, func() {
				if pending.Add(-1) == 0 {
					close(done)
				}
			})
		})
	}
	select {
	case <-done:
	case <-ctx.Done():
	}
}
