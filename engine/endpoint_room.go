package engine

import (
	"sync"
	"time"

	"github.com/gobwas/ws"

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

	joined  bool // in rl.members: deliveries reach it
	left    bool
	msg     []byte // the message in progress, whole messages only go to the room
	msgOp   ws.OpCode
	msgSkip bool // not forwarded in this mode (websocketd ignores the other kind)
}

// iovs lends the slices a client's pump builds its writev from: per call,
// not per client, so an idle client holds none.
var iovs = sync.Pool{New: func() any { v := make([][]byte, 0, maxIOV); return &v }}

// start: once the room's child runs, the client is in.
func (m *member) start(c *conn) {
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
	m.joined = true
	m.rl.members[m] = struct{}{}
	m.rl.n.Add(1)
	if m.r.e.cfg.Envelope != "" {
		m.r.enqueue(nil, appendJoin(nil, m.c.id, m.env))
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
	if m.msgSkip || m.left {
		return true, nil
	}
	if len(m.msg)+len(payload) > cfg.InBuffer {
		return true, &codec.CloseError{Code: ws.StatusMessageTooBig, Reason: "message too big for the room"}
	}
	m.msg = append(m.msg, payload...)
	if !fin {
		return true, nil
	}
	var line []byte
	switch {
	case cfg.Envelope != "":
		line = appendMessage(make([]byte, 0, len(m.msg)+len(m.c.id)+40), m.c.id, m.msgOp, m.msg)
	case cfg.Binary:
		line = append([]byte(nil), m.msg...)
	default:
		line = append(append(make([]byte, 0, len(m.msg)+1), m.msg...), '\n')
	}
	if cap(m.msg) > 4<<10 {
		m.msg = nil // a rare large message does not pin its buffer
	}
	return m.r.enqueue(m, line), nil
}

// inputResumed: the room's queue has room again (posted to this loop).
func (m *member) inputResumed() {
	if !m.left {
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
	if m.left {
		return
	}
	m.left = true
	r := m.r
	if m.joined {
		delete(m.rl.members, m)
		m.rl.n.Add(-1)
	}
	g := &r.e.rooms
	g.mu.Lock()
	r.clients--
	last := r.clients == 0
	g.mu.Unlock()
	if m.joined && r.e.cfg.Envelope != "" {
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

// pump writes the room's frames from the client's cursor, as much as the
// socket takes, in writevs of at most roomWriteBatch bytes; the rest goes
// on the socket's Writable (resumeOutput). A client too far behind is
// handled by --slow first.
func (m *member) pump() {
	c := m.c
	if m.left || !m.joined {
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
		ip := iovs.Get().(*[][]byte)
		iov := (*ip)[:0]
		size, count := 0, 0
		var first, ctl *frameNode
		n := m.at
		for size < roomWriteBatch && len(iov) < maxIOV {
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
			if first == nil {
				first = next
			}
			iov = append(iov, next.frame)
			size += len(next.frame)
			count++
			n = next
		}
		if n == m.at && ctl == nil {
			iovs.Put(ip)
			return // nothing more linked yet
		}
		m.at = n
		if count > 0 {
			c.writeShared(iov)
			e.metrics.roomDeliveries.Add(float64(count))
			e.metrics.msgsOut.Add(float64(count))
			e.metrics.roomDelivery.Observe(time.Duration(int64(time.Since(e.started)) - first.born).Seconds())
		}
		clear(iov)
		*ip = iov
		iovs.Put(ip)
		if ctl != nil {
			m.at = ctl
			m.control(ctl)
			return
		}
	}
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
// to the client's socket: the kernel takes what it takes straight from the
// shared frames, and only the rest is copied into the socket's queue,
// bounded by the caller's batch. Nothing goes after our close frame.
func (c *conn) writeShared(iov [][]byte) {
	if !c.canSend() {
		return
	}
	_, _ = c.gc.Writev(iov)
}

// closeWith closes the connection from the far side's decision (a room's
// slow-consumer policy, an envelope's close order): our close frame, then
// the endpoint's hangup, as for any close we start.
func (c *conn) closeWith(code ws.StatusCode, reason string) {
	c.sendClose(code, reason)
	c.hangup()
}
