package bench

import (
	"context"
	"flag"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"
)

func init() { register(func() Scenario { return &SlowScenario{} }) }

// SlowScenario is a client that keeps sending but never reads. A server with
// flow control stops reading from it once its child and the socket buffers
// are full, so our writes stall and the server's memory stays flat; a server
// that buffers without bound keeps accepting and grows. Pass --server-pid to
// see the server's RSS next to the bytes it accepted.
type SlowScenario struct {
	Conns  int
	Size   int
	Stall  time.Duration
	RcvBuf int
}

func (s *SlowScenario) Name() string { return "slow" }
func (s *SlowScenario) Summary() string {
	return "a client that sends but stops reading: does the server bound its memory? (use --server-pid)"
}
func (s *SlowScenario) Flags(fs *flag.FlagSet) {
	fs.IntVar(&s.Conns, "conns", 1, "slow connections")
	fs.IntVar(&s.Size, "size", 16<<10, sizeUsage)
	fs.DurationVar(&s.Stall, "stall", 2*time.Second, "no progress for this long counts as stalled (flow control works)")
	fs.IntVar(&s.RcvBuf, "rcvbuf", 64<<10, "client SO_RCVBUF, so what the client kernel absorbs is small and known")
}
func (s *SlowScenario) Validate() error { return checkSize(s.Size) }
func (s *SlowScenario) Split(i, n int)  { s.Conns = max(share(s.Conns, n, i), 1) }

type slowConn struct {
	base
	s   *SlowScenario
	c   *Conn
	buf []byte
	seq uint64
	out *atomic.Int64
	// counted is how much of c.BytesOut was already added to out.
	counted int64
}

func (h *slowConn) OnOpen(c *Conn) {
	h.open(c)
	h.c = c
	c.PauseRead()
	h.settle()
	h.pump()
}

// pump keeps exactly one message queued in user space: the rest waits in
// kernel buffers, so Buffered never grows and BytesOut is what the server
// side took.
func (h *slowConn) pump() {
	for h.c.IsOpen() && h.c.Buffered() == 0 {
		h.buf = AppendText(h.buf[:0], h.seq, monoNs(time.Now()), h.s.Size)
		h.seq++
		h.c.Send(ws.OpText, h.buf)
		h.r.Sent.Add(1)
		h.count()
	}
}

func (h *slowConn) count() {
	h.out.Add(h.c.BytesOut - h.counted)
	h.counted = h.c.BytesOut
}

func (h *slowConn) OnDrain(c *Conn) {
	h.count()
	h.pump()
}

func (h *slowConn) OnMessage(c *Conn, op ws.OpCode, data []byte) {}

func (h *slowConn) OnClose(c *Conn, err error) { h.closed(c, err) }

func (s *SlowScenario) Run(ctx context.Context, o *Options) (*Result, error) {
	o2 := *o
	o2.RcvBuf = s.RcvBuf
	r, err := NewRun(s.Name(), &o2, map[string]any{"conns": s.Conns, "size": s.Size, "rcvbuf": s.RcvBuf})
	if err != nil {
		return nil, err
	}
	var out atomic.Int64
	r.status = func() string { return fmt.Sprintf("server accepted %.1f MiB", float64(out.Load())/(1<<20)) }
	r.StartProgress(o.Duration)
	r.openAll(ctx, s.Conns, s.Conns, func(b base) Handler { return &slowConn{base: b, s: s, out: &out} })
	if r.Opened.Load() == 0 {
		return fatal(r, r.FirstError())
	}
	t0 := time.Now()
	deadline := t0.Add(o.Duration)
	// Watch progress: the byte count the kernel took from us.
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	last, lastChange := out.Load(), t0
	stalledAt := time.Duration(-1)
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case now := <-tick.C:
			if v := out.Load(); v != last {
				last, lastChange = v, now
			} else if now.Sub(lastChange) >= s.Stall && stalledAt < 0 {
				stalledAt = lastChange.Sub(t0)
				break loop
			}
			if now.After(deadline) || r.Live() == 0 {
				break loop
			}
		}
	}
	accepted := out.Load()
	r.SetExtra("accepted_mib", float64(accepted)/(1<<20))
	if stalledAt >= 0 {
		r.SetExtra("stalled_after_s", stalledAt.Seconds())
		r.Note("writes stalled after %.1f MiB in %.1fs: the server stopped reading (flow control)", float64(accepted)/(1<<20), stalledAt.Seconds())
	} else if r.Live() == 0 {
		r.Note("the server closed the slow connection(s) after accepting %.1f MiB", float64(accepted)/(1<<20))
	} else {
		r.Note("the server kept accepting for %v: %.1f MiB while the client read nothing; it buffers without bound, or the child consumes without echoing", o.Duration, float64(accepted)/(1<<20))
	}
	r.end = time.Now()
	res := func() *Result {
		// Server figures come from the sampler, read before closing so the
		// peak reflects the stalled state.
		r.CloseAll(false, 2*time.Second)
		return r.Finish()
	}()
	if s := res.Server; s != nil {
		res.Extra["server_rss_growth_mib"] = mib(s.RSSPeak - s.RSSStart)
		if s.ChildrenPSSPeak > 0 {
			res.Extra["server_children_pss_peak_mib"] = mib(s.ChildrenPSSPeak)
		}
	} else {
		res.Notes = append(res.Notes, "pass --server-pid to see whether the server's memory stays bounded")
	}
	res.Msgs.Lost = 0 // nothing is read back on purpose
	res.finishOK()
	return res, nil
}
