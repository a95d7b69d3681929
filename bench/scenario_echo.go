package bench

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"
)

// echoParams drives an echo phase: latency (open loop), throughput (closed
// loop) and binary (closed loop, byte-stream records) are all this.
type echoParams struct {
	conns, conc int
	size        int
	binary      bool
	rate        float64 // > 0: open loop at this many messages/s in total
	inflight    int     // closed loop: messages outstanding per connection
	duration    time.Duration
	drain       time.Duration
	figure      string // latency figure name

	// warm: each connection echoes one message before the clock starts,
	// so the phase measures connections whose child is up. A server that
	// answers the upgrade before its child runs (wsplex) would otherwise
	// have the start-up in the first message of every connection, and one
	// that is slow to answer it while children start (websocketd under a
	// burst) would have it hidden in the opening: start-up is the storm
	// scenario's figure, not this one's.
	warm    bool
	warming *warmUp
}

// warmUp counts the connections whose warm-up echo is awaited.
type warmUp struct {
	left atomic.Int64
	done chan struct{} // closed when left reaches 0
}

type echoConn struct {
	base
	p      *echoParams
	c      *Conn
	idx    int
	seq    SeqChecker
	stream *StreamChecker
	next   uint64
	buf    []byte
	rec    *Recorder

	warming bool // its warm-up message is out, not yet echoed
	sending bool
	period  time.Duration
	due     time.Time
	end     time.Time
	timer   *Timer
}

func (ec *echoConn) OnOpen(c *Conn) {
	ec.c = c
	ec.open(c)
	ec.settle()
}

func (ec *echoConn) OnClose(c *Conn, err error) {
	if ec.warming {
		ec.warming = false
		ec.p.warmed()
	}
	ec.sending = false
	c.loop.Stop(ec.timer)
	ec.timer = nil
	ec.closed(c, err)
}

// send sends the next message, stamped ns, and counts it.
func (ec *echoConn) send(ns int64) {
	ec.sendNext(ns)
	ec.r.Sent.Add(1)
}

// sendNext sends the next message of the connection's sequence.
func (ec *echoConn) sendNext(ns int64) {
	if ec.p.binary {
		ec.buf = AppendRecord(ec.buf[:0], ec.next, ns, ec.p.size)
		ec.c.Send(ws.OpBinary, ec.buf)
	} else {
		ec.buf = AppendText(ec.buf[:0], ec.next, ns, ec.p.size)
		ec.c.Send(ws.OpText, ec.buf)
	}
	ec.next++
}

// warmUp sends the warm-up message (counted in no figure).
func (ec *echoConn) warmUp() {
	if !ec.c.IsOpen() {
		ec.p.warmed()
		return
	}
	ec.warming = true
	ec.sendNext(monoNs(time.Now()))
}

// warmed counts one connection's warm-up as done (echoed or closed).
func (p *echoParams) warmed() {
	if p.warming.left.Add(-1) == 0 {
		close(p.warming.done)
	}
}

// start begins sending: at t0 for the open loop (the schedule is fixed in
// advance), at once for the closed loop.
func (ec *echoConn) start(t0, end time.Time, nconns int) {
	if !ec.c.IsOpen() {
		return
	}
	ec.rec = ec.r.Rec(ec.p.figure, ec.c.loop)
	ec.sending = true
	ec.end = end
	if ec.p.rate > 0 {
		// Message k of the whole run is due at t0 + k/rate and goes to
		// connection k mod nconns: a fixed schedule, whatever the server
		// does. Latency counts from the due time, so a stall that delays
		// sending shows up in the figures instead of being hidden.
		ec.period = time.Duration(float64(nconns) / ec.p.rate * float64(time.Second))
		ec.due = t0.Add(time.Duration(float64(ec.idx) / ec.p.rate * float64(time.Second)))
		ec.timer = ec.c.loop.At(ec.due, ec.tick)
		return
	}
	now := time.Now()
	for i := 0; i < max(ec.p.inflight, 1); i++ {
		ec.send(monoNs(now))
	}
}

func (ec *echoConn) tick() {
	ec.timer = nil
	ec.catchUp(time.Now())
	if ec.sending {
		ec.timer = ec.c.loop.At(ec.due, ec.tick)
	}
}

// catchUp sends every message due by now, stamped with its due time.
func (ec *echoConn) catchUp(now time.Time) {
	for ec.sending && !ec.due.After(now) {
		if !ec.due.Before(ec.end) {
			ec.sending = false
			return
		}
		ec.send(monoNs(ec.due))
		ec.due = ec.due.Add(ec.period)
	}
}

func (ec *echoConn) stop() {
	if ec.p.rate > 0 && ec.sending {
		ec.catchUp(ec.end)
	}
	ec.sending = false
	ec.c.loop.Stop(ec.timer)
	ec.timer = nil
}

func (ec *echoConn) OnMessage(c *Conn, op ws.OpCode, data []byte) {
	now := c.loop.now
	if ec.p.binary {
		if ec.stream == nil {
			ec.stream = NewStreamChecker(ec.p.size)
		}
		was := ec.stream.BrokenAt
		ec.stream.Write(data, func(seq uint64, ns int64) { ec.echo(now, seq, ns, true) })
		if was < 0 && ec.stream.BrokenAt >= 0 {
			ec.r.Corrupt.Add(1)
			ec.r.Error(ec.stream.Err())
		}
		return
	}
	seq, ns, ok := ParseText(data, ec.p.size)
	if !ok {
		ec.r.Corrupt.Add(1)
		ec.r.NoteReceived()
		ec.r.Error(fmt.Errorf("corrupt echo: %q", truncate(string(data), 60)))
		return
	}
	ec.echo(now, seq, ns, ec.seq.Observe(seq))
}

func (ec *echoConn) echo(now time.Time, seq uint64, ns int64, inOrder bool) {
	chk := &ec.seq
	if ec.stream != nil {
		chk = &ec.stream.Seq
	}
	if !inOrder {
		// Observe has just counted it; mirror the counters that moved.
		ec.syncCounters(chk)
	}
	if ec.warming {
		ec.warming = false
		ec.p.warmed()
		return
	}
	ec.r.NoteReceived()
	if ec.rec != nil {
		ec.rec.Record(now, sinceMono(now, ns))
	}
	if ec.sending && ec.p.rate <= 0 && now.Before(ec.end) {
		ec.send(monoNs(time.Now()))
	}
}

// reported holds what syncCounters already pushed to the run.
type reported struct{ reordered, dups int64 }

func (ec *echoConn) syncCounters(chk *SeqChecker) {
	ec.r.Reordered.Add(chk.Reordered - ec.rep().reordered)
	ec.r.Duplicates.Add(chk.Duplicates - ec.rep().dups)
	*ec.rep() = reported{chk.Reordered, chk.Duplicates}
}

func (ec *echoConn) rep() *reported {
	if ec.c.Data == nil {
		ec.c.Data = &reported{}
	}
	return ec.c.Data.(*reported)
}

func (ec *echoConn) lost() int64 {
	chk := &ec.seq
	if ec.stream != nil {
		chk = &ec.stream.Seq
	}
	return chk.Lost(int64(ec.next))
}

// runEcho opens the connections, runs the send phase, waits for the echoes
// to drain, counts losses and closes. It returns the phase's duration.
func runEcho(ctx context.Context, r *Run, p echoParams) (time.Duration, error) {
	perLoop := make([][]*echoConn, len(r.Engine.loops))
	r.resetDrain()
	r.openAll(ctx, p.conns, p.conc, func(b base) Handler {
		return &echoConn{base: b, p: &p}
	})
	// Collect the open connections per loop (each list touched only on its loop).
	r.ForLive(func(c *Conn) {
		if ec, ok := c.h.(*echoConn); ok && ec.p == &p {
			perLoop[c.loop.id] = append(perLoop[c.loop.id], ec)
		}
	})
	n := 0
	for _, l := range perLoop {
		n += len(l)
	}
	if n == 0 {
		if err := r.FirstError(); err != nil {
			return 0, err
		}
		return 0, fmt.Errorf("no connection could be opened")
	}
	if ctx.Err() != nil {
		return 0, ctx.Err()
	}
	if p.warm {
		p.warming = &warmUp{done: make(chan struct{})}
		p.warming.left.Store(int64(n))
		r.OnLoops(func(l *Loop) {
			for _, ec := range perLoop[l.id] {
				ec.warmUp()
			}
		})
		select {
		case <-p.warming.done:
		case <-time.After(p.drain):
			r.Note("%d connection(s) did not echo their warm-up message within %v", p.warming.left.Load(), p.drain)
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
	r.Latency(p.figure)
	// Renumber so that the open-loop schedule spreads over the live ones.
	k := 0
	for _, l := range perLoop {
		for _, ec := range l {
			ec.idx = k
			k++
		}
	}
	t0 := time.Now().Add(5 * time.Millisecond)
	end := t0.Add(p.duration)
	r.OnLoops(func(l *Loop) {
		for _, ec := range perLoop[l.id] {
			ec.start(t0, end, n)
		}
	})
	select {
	case <-time.After(time.Until(end)):
	case <-ctx.Done():
	}
	r.OnLoops(func(l *Loop) {
		for _, ec := range perLoop[l.id] {
			ec.stop()
		}
	})
	elapsed := time.Since(t0)
	r.SendingDone()
	if !r.WaitDrained(ctx, p.drain) {
		r.Note("not every echo arrived within the %v drain period", p.drain)
	}
	var lost int64
	var mu = make(chan int64, len(perLoop))
	r.OnLoops(func(l *Loop) {
		var s int64
		for _, ec := range perLoop[l.id] {
			s += ec.lost()
		}
		mu <- s
	})
	for range perLoop {
		lost += <-mu
	}
	r.Lost.Add(lost)
	r.CloseAll(true, 2*time.Second)
	return elapsed, nil
}
