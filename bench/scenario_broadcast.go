package bench

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"
)

func init() { register(func() Scenario { return &BroadcastScenario{} }) }

// BroadcastScenario connects N listeners and measures how long each message
// a producer emits takes to reach each of them. The producer is either one
// more connection of ours (--producer conn: for servers that relay what one
// client sends to all) or the server itself (--producer none: a child that
// emits "<seq> <unix-ns> ..." lines on its own). Timestamps are wall-clock
// nanoseconds, since the producer may be another process.
type BroadcastScenario struct {
	Listeners, Concurrency, Size int
	Rate                         float64
	Producer                     string
	Drain                        time.Duration
}

func (s *BroadcastScenario) Name() string { return "broadcast" }
func (s *BroadcastScenario) Summary() string {
	return "N listeners; delivery latency of messages a producer emits (for servers that broadcast)"
}
func (s *BroadcastScenario) Flags(fs *flag.FlagSet) {
	fs.IntVar(&s.Listeners, "conns", 100, "listening connections")
	fs.IntVar(&s.Concurrency, "concurrency", 100, "connections being set up at once")
	fs.IntVar(&s.Size, "size", 64, sizeUsage)
	fs.Float64Var(&s.Rate, "rate", 100, "messages per second the producer sends (--producer conn)")
	fs.StringVar(&s.Producer, "producer", "conn", `"conn": one extra connection sends; "none": the server emits by itself`)
	fs.DurationVar(&s.Drain, "drain", 3*time.Second, "how long to wait for the last deliveries")
}
func (s *BroadcastScenario) Validate() error {
	switch s.Producer {
	case "conn":
		return errors.Join(checkSize(s.Size), checkRate(s.Rate))
	case "none":
		return nil // the server emits: --size and --rate are not used
	}
	return fmt.Errorf("--producer %q: must be conn or none", s.Producer)
}
func (s *BroadcastScenario) Split(i, n int) {
	s.Listeners = max(share(s.Listeners, n, i), 1)
	s.Rate /= float64(n)
}

type listener struct {
	base
	s      *BroadcastScenario
	seq    SeqChecker
	seen   bool
	rep    reported
	active *atomic.Bool
}

func (h *listener) OnOpen(c *Conn) { h.open(c); h.settle() }

func (h *listener) OnMessage(c *Conn, op ws.OpCode, data []byte) {
	if !h.active.Load() {
		return
	}
	now := time.Now()
	seq, ns, ok := ParseText(data, 0)
	h.r.NoteReceived()
	if !ok {
		h.r.Corrupt.Add(1)
		return
	}
	if !h.seen {
		// A listener may join mid-stream: count from the first it sees.
		h.seen = true
		h.seq.next = seq
	}
	if !h.seq.Observe(seq) {
		h.r.Reordered.Add(h.seq.Reordered - h.rep.reordered)
		h.r.Duplicates.Add(h.seq.Duplicates - h.rep.dups)
		h.rep = reported{h.seq.Reordered, h.seq.Duplicates}
	}
	h.r.Rec("delivery", c.loop).Record(now, now.Sub(time.Unix(0, ns)))
}

func (h *listener) OnClose(c *Conn, err error) { h.closed(c, err) }

type producer struct {
	base
	s         *BroadcastScenario
	c         *Conn
	opened    chan struct{}
	buf       []byte
	seq       uint64
	due, end  time.Time
	period    time.Duration
	listeners int64
	finished  chan struct{}
	ok        bool // set before opened is closed
}

func (p *producer) OnOpen(c *Conn) { p.c = c; p.ok = true; p.base.open(c); close(p.opened) }

func (p *producer) OnMessage(c *Conn, op ws.OpCode, data []byte) {}

func (p *producer) OnClose(c *Conn, err error) {
	if !p.base.opened {
		p.r.Failed.Add(1)
		p.r.Error(err)
		close(p.opened)
		return
	}
	p.closed(c, err)
}

func (p *producer) tick() {
	now := time.Now()
	for !p.due.After(now) {
		if !p.due.Before(p.end) || !p.c.IsOpen() {
			close(p.finished)
			return
		}
		p.buf = AppendText(p.buf[:0], p.seq, time.Now().UnixNano(), max(p.s.Size, minTextSize))
		p.seq++
		p.c.Send(ws.OpText, p.buf)
		p.r.Sent.Add(p.listeners)
		p.due = p.due.Add(p.period)
	}
	p.c.loop.At(p.due, p.tick)
}

func (s *BroadcastScenario) Run(ctx context.Context, o *Options) (*Result, error) {
	if s.Producer != "conn" && s.Producer != "none" {
		return nil, fmt.Errorf("broadcast: --producer must be conn or none")
	}
	r, err := NewRun(s.Name(), o, map[string]any{"conns": s.Listeners, "rate": s.Rate, "producer": s.Producer})
	if err != nil {
		return nil, err
	}
	r.StartProgress(o.Duration)
	var active atomic.Bool
	r.openAll(ctx, s.Listeners, s.Concurrency, func(b base) Handler { return &listener{base: b, s: s, active: &active} })
	n := r.Opened.Load()
	if n == 0 {
		return fatal(r, r.FirstError())
	}
	r.Latency("delivery")
	active.Store(true)
	t0 := time.Now()
	if s.Producer == "conn" {
		p := &producer{base: base{r: r}, s: s, opened: make(chan struct{}), finished: make(chan struct{}), listeners: n}
		r.Attempted.Add(1)
		r.Engine.Dial(p)
		<-p.opened
		if !p.ok {
			return fatal(r, fmt.Errorf("producer connection: %v", r.FirstError()))
		}
		p.period = time.Duration(float64(time.Second) / s.Rate)
		p.due = time.Now()
		p.end = p.due.Add(o.Duration)
		p.c.loop.Post(p.tick)
		select {
		case <-p.finished:
		case <-ctx.Done():
		}
		r.SendingDone()
		if r.Received.Load() > 0 && !r.WaitDrained(ctx, s.Drain) {
			r.Note("not every delivery arrived within the %v drain period", s.Drain)
		}
		r.SetExtra("produced", float64(p.seq))
		r.Lost.Store(max(r.Sent.Load()-(r.Received.Load()-r.Duplicates.Load()), 0))
	} else {
		select {
		case <-time.After(o.Duration):
		case <-ctx.Done():
		}
		var gaps atomic.Int64
		r.ForLive(func(c *Conn) {
			if h, ok := c.h.(*listener); ok {
				gaps.Add(h.seq.Gaps())
			}
		})
		r.Lost.Store(gaps.Load())
	}
	el := time.Since(t0)
	if r.Received.Load() == 0 {
		r.Note("no listener received anything: the server does not broadcast (with cat, each connection has its own child)")
	}
	r.SetRate(float64(r.Received.Load())/el.Seconds(), "deliveries/s")
	r.CloseAll(true, 2*time.Second)
	return r.Finish(), nil
}
