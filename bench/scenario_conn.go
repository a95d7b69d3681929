package bench

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"
)

// ---- storm ----

func init() { register(func() Scenario { return &StormScenario{} }) }

// StormScenario opens N connections, P at a time, each sending one message:
// connect rate, connect/handshake/first-echo latency.
type StormScenario struct {
	Conns, Concurrency, Size int
	Keep                     bool
}

func (s *StormScenario) Name() string { return "storm" }
func (s *StormScenario) Summary() string {
	return "N connections, P at a time, one echo each: connect rate, handshake and first-echo latency"
}
func (s *StormScenario) Flags(fs *flag.FlagSet) {
	fs.IntVar(&s.Conns, "conns", 1000, "connections to open")
	fs.IntVar(&s.Concurrency, "concurrency", 100, "connections being set up at once")
	fs.IntVar(&s.Size, "size", 32, fmt.Sprintf("size of the one message each sends, in bytes (text, at least %d)", minTextSize))
	fs.BoolVar(&s.Keep, "keep", true, "keep each connection open until all are done (else close after its echo)")
}
func (s *StormScenario) Validate() error { return checkSize(s.Size) }
func (s *StormScenario) Split(i, n int) {
	s.Conns = share(s.Conns, n, i)
	s.Concurrency = max(share(s.Concurrency, n, i), 1)
}

type stormConn struct {
	base
	s      *StormScenario
	sentAt time.Time
	echoed bool
	last   *atomic.Int64
}

func (h *stormConn) OnOpen(c *Conn) {
	h.open(c)
	r := h.r
	r.Rec("connect", c.loop).Record(c.OpenAt, c.ConnectedAt.Sub(c.DialStart))
	r.Rec("handshake", c.loop).Record(c.OpenAt, c.OpenAt.Sub(c.DialStart))
	h.sentAt = time.Now()
	buf := AppendText(nil, 0, monoNs(h.sentAt), max(h.s.Size, minTextSize))
	c.Send(ws.OpText, buf)
	r.Sent.Add(1)
}

func (h *stormConn) OnMessage(c *Conn, op ws.OpCode, data []byte) {
	if h.echoed {
		return
	}
	now := c.loop.now
	seq, _, ok := ParseText(data, max(h.s.Size, minTextSize))
	h.r.NoteReceived()
	if !ok || seq != 0 {
		h.r.Corrupt.Add(1)
	}
	h.echoed = true
	h.r.Rec("first_echo", c.loop).Record(now, now.Sub(h.sentAt))
	h.r.Rec("total", c.loop).Record(now, now.Sub(c.DialStart))
	h.last.Store(now.UnixNano())
	if !h.s.Keep {
		c.Close()
	}
	h.settle()
}

func (h *stormConn) OnClose(c *Conn, err error) {
	if h.opened && !h.echoed {
		h.echoed = true
		h.r.Lost.Add(1)
		defer h.settle()
	}
	h.closed(c, err)
}

func (s *StormScenario) Run(ctx context.Context, o *Options) (*Result, error) {
	r, err := NewRun(s.Name(), o, map[string]any{"conns": s.Conns, "concurrency": s.Concurrency, "keep": s.Keep})
	if err != nil {
		return nil, err
	}
	r.Latency("connect", "handshake", "first_echo", "total")
	r.StartProgress(0)
	var last atomic.Int64
	t0 := time.Now()
	r.openAll(ctx, s.Conns, s.Concurrency, func(b base) Handler { return &stormConn{base: b, s: s, last: &last} })
	if r.Opened.Load() == 0 {
		return fatal(r, r.FirstError())
	}
	if l := last.Load(); l > 0 {
		el := time.Unix(0, l).Sub(t0)
		r.SetRate(float64(r.Received.Load())/el.Seconds(), "conn/s")
		r.SetExtra("storm_s", el.Seconds())
	}
	if r.FdLimitHit() {
		r.Note("fd limit reached: %d connections were open (RLIMIT_NOFILE %d); use --workers", r.Engine.PeakSockets(), r.Engine.FileLimit())
	}
	r.CloseAll(true, 5*time.Second)
	return r.Finish(), nil
}

// ---- churn ----

func init() { register(func() Scenario { return &ChurnScenario{} }) }

// ChurnScenario runs connect/echo/close cycles back to back.
type ChurnScenario struct {
	Concurrency, Size int
}

func (s *ChurnScenario) Name() string { return "churn" }
func (s *ChurnScenario) Summary() string {
	return "serial connect/echo/close cycles (C in parallel): cycles/s and cycle latency"
}
func (s *ChurnScenario) Flags(fs *flag.FlagSet) {
	fs.IntVar(&s.Concurrency, "concurrency", 1, "cycles running in parallel")
	fs.IntVar(&s.Size, "size", 32, sizeUsage)
}
func (s *ChurnScenario) Validate() error { return checkSize(s.Size) }
func (s *ChurnScenario) Split(i, n int)  { s.Concurrency = max(share(s.Concurrency, n, i), 1) }

type churnConn struct {
	base
	s      *ChurnScenario
	sentAt time.Time
	echoed bool
	cycles *atomic.Int64
}

func (h *churnConn) OnOpen(c *Conn) {
	h.open(c)
	h.r.Rec("handshake", c.loop).Record(c.OpenAt, c.OpenAt.Sub(c.DialStart))
	h.sentAt = time.Now()
	c.Send(ws.OpText, AppendText(nil, 0, monoNs(h.sentAt), max(h.s.Size, minTextSize)))
	h.r.Sent.Add(1)
}

func (h *churnConn) OnMessage(c *Conn, op ws.OpCode, data []byte) {
	now := c.loop.now
	seq, _, ok := ParseText(data, max(h.s.Size, minTextSize))
	h.r.NoteReceived()
	if !ok || seq != 0 || h.echoed {
		h.r.Corrupt.Add(1)
	}
	h.echoed = true
	h.r.Rec("echo", c.loop).Record(now, now.Sub(h.sentAt))
	c.Close()
}

func (h *churnConn) OnClose(c *Conn, err error) {
	if h.opened {
		if h.echoed && c.ClosedByClient() {
			now := time.Now()
			h.r.Rec("cycle", c.loop).Record(now, now.Sub(c.DialStart))
			h.cycles.Add(1)
		} else if !h.echoed {
			h.r.Lost.Add(1)
		}
		defer h.settle()
	}
	h.closed(c, err)
}

func (s *ChurnScenario) Run(ctx context.Context, o *Options) (*Result, error) {
	r, err := NewRun(s.Name(), o, map[string]any{"concurrency": s.Concurrency})
	if err != nil {
		return nil, err
	}
	r.Latency("cycle", "handshake", "echo")
	var cycles atomic.Int64
	r.status = func() string { return fmt.Sprintf("cycles %d", cycles.Load()) }
	r.StartProgress(o.Duration)
	deadline := time.Now().Add(o.Duration)
	t0 := time.Now()
	// A pacer of "infinitely many" connections, stopped by the deadline;
	// cycles under way then finish.
	r.openUntil(ctx, 1<<40, s.Concurrency, func() bool { return ctx.Err() != nil || time.Now().After(deadline) },
		func(b base) Handler { return &churnConn{base: b, s: s, cycles: &cycles} })
	el := time.Since(t0)
	r.CloseAll(true, 2*time.Second)
	if cycles.Load() == 0 && r.FirstError() != nil {
		return fatal(r, r.FirstError())
	}
	r.SetRate(float64(cycles.Load())/el.Seconds(), "cycles/s")
	return r.Finish(), nil
}

// ---- hold ----

func init() { register(func() Scenario { return &HoldScenario{} }) }

// HoldScenario opens N idle connections and keeps them.
type HoldScenario struct {
	Conns, Concurrency int
	Check              bool
	// Held, if set, is called once the connections are open (with how many);
	// the hold then lasts until Release is closed (or the duration passes
	// if Release is nil). The suite uses this to measure while holding.
	Held    func(open int64)
	Release <-chan struct{}
	// Announce (--announce) prints "held N" on stdout once the connections
	// are open, for a parent process (the suite's capacity holders) that
	// waits for it; the hold then lasts until stdin ends (the parent closed
	// it, or died), SIGTERM or --duration.
	Announce bool
}

func (s *HoldScenario) Name() string { return "hold" }
func (s *HoldScenario) Summary() string {
	return "open N idle connections (P at a time) and keep them for --duration; then check each still echoes"
}
func (s *HoldScenario) Flags(fs *flag.FlagSet) {
	fs.IntVar(&s.Conns, "conns", 1000, "connections to hold")
	fs.IntVar(&s.Concurrency, "concurrency", 100, "connections being set up at once")
	fs.BoolVar(&s.Check, "check", true, "after holding, send one echo on every connection")
	fs.BoolVar(&s.Announce, "announce", false, `print "held N" on stdout once the connections are open`)
}
func (s *HoldScenario) Split(i, n int) {
	s.Conns = share(s.Conns, n, i)
	s.Concurrency = max(share(s.Concurrency, n, i), 1)
}

type holdConn struct {
	base
	sentAt time.Time
	echoes *atomic.Int64
	done   bool
}

func (h *holdConn) OnOpen(c *Conn) {
	h.open(c)
	h.r.Rec("handshake", c.loop).Record(c.OpenAt, c.OpenAt.Sub(c.DialStart))
	h.settle()
}

func (h *holdConn) OnMessage(c *Conn, op ws.OpCode, data []byte) {
	if h.done {
		return
	}
	now := c.loop.now
	h.done = true
	if seq, _, ok := ParseText(data, minTextSize); !ok || seq != 0 {
		h.r.Corrupt.Add(1)
	}
	h.r.Rec("check_echo", c.loop).Record(now, now.Sub(h.sentAt))
	// Counted before NoteReceived: WaitDrained may return as soon as that
	// runs, and the check then reads echoes.
	h.echoes.Add(1)
	h.r.NoteReceived()
}

func (h *holdConn) OnClose(c *Conn, err error) { h.closed(c, err) }

func (s *HoldScenario) Run(ctx context.Context, o *Options) (*Result, error) {
	r, err := NewRun(s.Name(), o, map[string]any{"conns": s.Conns, "concurrency": s.Concurrency})
	if err != nil {
		return nil, err
	}
	r.Latency("handshake", "check_echo")
	r.status = func() string { return fmt.Sprintf("holding %d", r.Live()) }
	r.StartProgress(o.Duration)
	var echoes atomic.Int64
	t0 := time.Now()
	r.openAll(ctx, s.Conns, s.Concurrency, func(b base) Handler { return &holdConn{base: b, echoes: &echoes} })
	openEl := time.Since(t0)
	opened := r.Opened.Load()
	if opened == 0 {
		return fatal(r, r.FirstError())
	}
	r.SetRate(float64(opened)/openEl.Seconds(), "conn/s")
	r.SetExtra("open_s", openEl.Seconds())
	if r.FdLimitHit() {
		r.Note("fd limit reached: %d connections opened (RLIMIT_NOFILE %d); use --workers for more", opened, r.Engine.FileLimit())
	}
	if s.Held != nil {
		s.Held(r.Live())
	}
	switch {
	case s.Announce:
		fmt.Printf("held %d\n", r.Live())
		eof := make(chan struct{})
		go func() {
			_, _ = io.Copy(io.Discard, os.Stdin)
			close(eof)
		}()
		select {
		case <-eof:
		case <-ctx.Done():
		case <-time.After(o.Duration):
		}
	case s.Release != nil:
		select {
		case <-s.Release:
		case <-ctx.Done():
		}
	default:
		select {
		case <-time.After(o.Duration):
		case <-ctx.Done():
		}
	}
	r.SetExtra("held", float64(r.Live()))
	if s.Check {
		r.resetDrain()
		r.ForLive(func(c *Conn) {
			h := c.h.(*holdConn)
			h.sentAt = time.Now()
			c.Send(ws.OpText, AppendText(nil, 0, monoNs(h.sentAt), minTextSize))
			r.Sent.Add(1)
		})
		r.SendingDone()
		r.WaitDrained(context.Background(), 10*time.Second+time.Duration(opened)*time.Millisecond)
		r.Lost.Store(r.Sent.Load() - echoes.Load())
		r.SetExtra("alive_after_hold", float64(echoes.Load()))
	}
	// A RST per connection: thousands of closing handshakes would only
	// measure teardown, and leave no TIME_WAIT on our side.
	r.CloseAll(false, 5*time.Second)
	return r.Finish(), nil
}
