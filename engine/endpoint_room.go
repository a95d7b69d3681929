package engine

import (
	"sync"
	"time"

	"github.com/gobwas/ws"
	gio "github.com/panjf2000/gnet/v2/pkg/io"
	"golang.org/x/sys/unix"

	"github.com/wsplex/wsplex/codec"
	"github.com/wsplex/wsplex/internal/logline"
)

// member is the endpoint of a client of a room (--broadcast, room.go): its
// place in the room, its cursor in the room's shared frames, and the
// message it is sending. Everything here runs on the client's loop.
type member struct {
	r   *room
	c   *conn
	rl  *roomLoop  // the room on this client's loop
	at  *frameNode // cursor: the last node of the room's list written (or skipped)
	env []string   // the client's CGI environment, for the envelope's join

	place   memberPlace
	msg     []byte // the message in progress, whole messages only go to the room
	msgOp   ws.OpCode
	msgSkip bool // not forwarded in this mode (websocketd ignores the other kind)
}

// memberPlace is where a client is in its room:
//
//	placeReserved  counted among its clients (taken before the 101), waiting
//	               for the room's child to start: no deliveries yet
//	placeIn        in rl.members: deliveries reach it
//	placeLeft      gone: nothing more is done for it
type memberPlace uint8

const (
	placeReserved memberPlace = iota
	placeIn
	placeLeft
)

// start: once the room's child runs, the client is in; with
// --reverselookup, once its name is known too (the join's REMOTE_HOST).
func (m *member) start(c *conn) {
	if wantsLookup(c) {
		lookUpRemote(c, func(host string) {
			setRemoteHost(m.env, host)
			m.join()
		})
		return
	}
	m.join()
}

// join waits for the room's child, or begins at once if it runs (or
// failed to start).
func (m *member) join() {
	r := m.r
	r.startMu.Lock()
	if !r.startDone {
		r.waiting = append(r.waiting, m)
		r.startMu.Unlock()
		return
	}
	err := r.startErr
	r.startMu.Unlock()
	m.begin(err)
}

// begin reports the room's start to the client and, if it runs, puts the
// client among those deliveries reach. A client that left while the room
// started is hung up by started itself.
func (m *member) begin(err error) {
	if err != nil {
		m.leave() // the conn is released by started: no hangup follows
		m.c.started(err)
		return
	}
	r := m.r
	r.startMu.Lock()
	m.c.fields.PID = r.pid
	r.startMu.Unlock()
	m.place = placeIn
	m.rl.members[m] = struct{}{}
	m.rl.n.Add(1)
	if r.e.cfg.Envelope != "" {
		r.enqueue(nil, appendJoin(nil, m.c.id, m.env))
	}
	m.env = nil
	m.c.started(nil)
	m.pump() // what the room wrote since the client's place was reserved
}

// input takes a piece of a client message. Pieces are gathered into the
// whole message, which goes to the room at once: messages of different
// clients never interleave on the child's stdin.
func (m *member) input(op ws.OpCode, first, fin bool, payload []byte) (bool, *codec.CloseError) {
	cfg := &m.r.e.cfg
	if first {
		m.msgOp = op
		m.msg = m.msg[:0]
		switch {
		case cfg.Envelope != "":
			m.msgSkip = false
		case cfg.Binary:
			m.msgSkip = op != ws.OpBinary
		default:
			m.msgSkip = op != ws.OpText
		}
	}
	if m.msgSkip || m.place == placeLeft {
		return true, nil
	}
	if len(m.msg)+len(payload) > cfg.InBuffer {
		return true, &codec.CloseError{Code: ws.StatusMessageTooBig, Reason: "message too big for the room"}
	}
	msg := payload // a message in one piece is not gathered first
	if !first || !fin {
		m.msg = append(m.msg, payload...)
		if !fin {
			return true, nil
		}
		msg = m.msg
	}
	// The line is the room's from here (it may be written on another
	// loop): one copy, in the form the child reads.
	var line []byte
	switch {
	case cfg.Envelope != "":
		line = appendMessage(make([]byte, 0, len(msg)+len(m.c.id)+40), m.c.id, m.msgOp, msg)
	case cfg.Binary:
		line = append([]byte(nil), msg...)
	default:
		line = append(append(make([]byte, 0, len(msg)+1), msg...), '\n')
	}
	if cap(m.msg) > 4<<10 {
		m.msg = nil // a rare large message does not pin its buffer
	}
	return m.r.enqueue(m, line), nil
}

// inputResumed: the room's queue has room again (posted to this loop).
func (m *member) inputResumed() {
	if m.place != placeLeft {
		m.c.inputResumed()
	}
}

// resumeOutput: the socket has taken what was queued: write on.
func (m *member) resumeOutput() { m.pump() }

// hangup: the client has gone, or our close frame is out: it leaves, and
// nothing of the room is the conn's any more.
func (m *member) hangup() {
	m.leave()
	m.c.released()
}

// leave takes the client out of the room (and, with --envelope=json, tells
// the child); the last one to leave starts the room's end (room.idle).
func (m *member) leave() {
	if m.place == placeLeft {
		return
	}
	wasIn := m.place == placeIn
	m.place = placeLeft
	r := m.r
	if wasIn {
		delete(m.rl.members, m)
		m.rl.n.Add(-1)
	}
	g := &r.e.rooms
	g.mu.Lock()
	r.clients--
	last := r.clients == 0
	g.mu.Unlock()
	if wasIn && r.e.cfg.Envelope != "" {
		code := m.c.closeCode
		if code == 0 {
			code = ws.StatusAbnormalClosure // gone without a closing handshake
		}
		r.enqueue(nil, appendLeave(nil, m.c.id, code))
	}
	m.at, m.msg = nil, nil
	if last {
		r.loop.Post(func() { r.left(true) })
	}
}

// sweep: the room's child is the room's; e.sweepRooms takes it.
func (m *member) sweep() {}

// roomBatch is what one write of a client's pump is built from: the
// frames (iov) and the nodes they are (nodes), lent per call.
type roomBatch struct {
	iov   [][]byte
	nodes []*frameNode
}

var roomBatches = sync.Pool{New: func() any {
	return &roomBatch{iov: make([][]byte, 0, maxIOV), nodes: make([]*frameNode, 0, maxIOV)}
}}

// pump is pumpFrames outside a delivery round (the client's start, its
// socket's Writable).
func (m *member) pump() {
	m.pumpFrames()
	m.rl.flushCount()
}

// pumpFrames writes the room's frames from the client's cursor, as much as
// the socket takes, in writevs of at most roomWriteBatch bytes; the rest
// goes on the socket's Writable (resumeOutput). A client too far behind is
// handled by --slow first.
func (m *member) pumpFrames() {
	c := m.c
	if m.place != placeIn {
		return
	}
	e := m.r.e
	for {
		if !c.canSend() {
			return
		}
		tail := m.r.frames.Tail()
		if m.at == tail {
			return
		}
		// The tail is published after its link, so the cursor may already
		// be past the tail loaded: then it is not behind at all.
		queued := c.gc.OutboundBuffered()
		behind := uint64(queued)
		if tail.end > m.at.end {
			behind += tail.end - m.at.end
		}
		if behind > uint64(e.cfg.BroadcastQueue) && !m.slow(tail) {
			return
		}
		if queued > 0 {
			return // the socket's Writable calls resumeOutput
		}
		b := roomBatches.Get().(*roomBatch)
		size := 0
		var ctl *frameNode
		n := m.at
		for size < roomWriteBatch && len(b.iov) < maxIOV {
			next := n.next.Load()
			if next == nil {
				break
			}
			if !next.forClient(c.id) {
				n = next
				continue
			}
			if next.ctl != ctlNone {
				ctl = next
				break
			}
			b.iov = append(b.iov, next.frame)
			b.nodes = append(b.nodes, next)
			size += len(next.frame)
			n = next
		}
		stopped := false
		if len(b.iov) > 0 {
			stopped = m.write(b, size)
		}
		if !stopped {
			m.at = n
		}
		clear(b.iov)
		clear(b.nodes)
		b.iov, b.nodes = b.iov[:0], b.nodes[:0]
		roomBatches.Put(b)
		switch {
		case stopped:
			return // the socket's Writable calls resumeOutput
		case ctl != nil:
			m.at = ctl
			m.control(ctl)
			return
		case n == tail || n.next.Load() == nil:
			return
		}
	}
}

// write writes a batch of frames (size bytes) to the client's socket,
// straight from the shared frames. The cursor moves past what the kernel
// took; a frame it took only part of is finished from the socket's queue
// (a copy of its rest: the one copy a slow client costs). stopped: the
// kernel took less than the batch, and the socket's Writable follows.
func (m *member) write(b *roomBatch, size int) (stopped bool) {
	c := m.c
	took, more := c.writeShared(b.iov)
	if took == size && more {
		m.delivered(b.nodes)
		return false
	}
	left := took
	done := 0
	for _, node := range b.nodes {
		if left >= len(node.frame) {
			left -= len(node.frame)
			m.at = node
			done++
			continue
		}
		if left > 0 {
			_, _ = c.gc.Write(node.frame[left:])
			m.at = node
			done++
		}
		break
	}
	m.delivered(b.nodes[:done])
	if c.gc != nil && c.gc.OutboundBuffered() == 0 {
		_ = c.gc.w.WantWrite(true) // stopped on a frame's bound: tell me when it takes more
	}
	return true
}

// delivered counts frames written (or queued whole) to the client, and
// the delivery latency of the oldest.
func (m *member) delivered(nodes []*frameNode) {
	if len(nodes) == 0 {
		return
	}
	e := m.r.e
	m.rl.count += len(nodes)
	e.metrics.roomDelivery.Observe(time.Duration(int64(time.Since(e.started)) - nodes[0].born).Seconds())
}

// slow applies --slow to a client more than --broadcast-queue bytes
// behind: close it (false: write nothing more), or skip it to the newest
// message, which it then gets (true). A skip stops before an order for
// this client (a close, the child's end), which is never lost.
func (m *member) slow(tail *frameNode) bool {
	e := m.r.e
	c := m.c
	if !e.cfg.SlowDrop {
		e.metrics.roomSlowCloses.Inc()
		e.log.Log(logline.LevelAccess, "websocket", &c.fields, "Room %s: client more than %d bytes behind: closing with 1008", m.r.path, e.cfg.BroadcastQueue)
		c.closeWith(ws.StatusPolicyViolation, "slow consumer")
		return false
	}
	// Skip up to the newest message, which is kept to be written.
	skipped := 0
	n := m.at
	for {
		next := n.next.Load()
		if next == nil || next == tail || (next.ctl != ctlNone && next.forClient(c.id)) {
			break
		}
		if next.frame != nil && next.forClient(c.id) {
			skipped++
		}
		n = next
	}
	m.at = n
	e.metrics.roomDrops.Add(float64(skipped))
	e.log.Log(logline.LevelDebug, "websocket", &c.fields, "Room %s: client behind: %d messages skipped", m.r.path, skipped)
	return true
}

// control carries out an order of the room's list: the child's end (every
// client) or an envelope's close (one).
func (m *member) control(n *frameNode) {
	if n.ctl == ctlEnd {
		m.c.ended(n.code, n.cause)
		return
	}
	m.c.closeWith(n.code, n.cause)
}

// canSend: the client may be sent frames (not after our close frame, and
// not once its socket is gone: doc.go).
func (c *conn) canSend() bool { return c.gc != nil && !c.closeSent }

// writeShared writes frames of a room, encoded once for all its clients,
// to the client's socket with one writev, when nothing else is queued on
// it: the kernel takes what it takes straight from the shared frames.
// took is how much; more=false: the socket takes nothing more now (EAGAIN,
// or the peer has gone, which the read side sees). Nothing goes after our
// close frame.
func (c *conn) writeShared(iov [][]byte) (took int, more bool) {
	if !c.canSend() || c.gc.OutboundBuffered() > 0 {
		return 0, false
	}
	for {
		n, err := gio.Writev(c.gc.fd, iov)
		if n < 0 {
			n = 0
		}
		switch err {
		case nil:
			return n, true
		case unix.EINTR:
			continue
		default:
			return n, false
		}
	}
}

// closeWith closes the connection from the far side's decision (a room's
// slow-consumer policy, an envelope's close order): our close frame, then
// the endpoint's hangup, as for any close we start.
func (c *conn) closeWith(code ws.StatusCode, reason string) {
	c.sendClose(code, reason)
	c.hangup()
}
