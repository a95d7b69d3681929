package engine

import (
	"context"
	"strconv"
	"time"

	"github.com/panjf2000/gnet/v2"

	"github.com/wsplex/wsplex/codec"
	"github.com/wsplex/wsplex/spawn"
)

// state is where a connection is in its life.
//
//	head     reading the HTTP request head (bounded in size and time)
//	open     WebSocket open, the child running
//	closing  a close frame is out (ours or the echo of the client's); the
//	         socket closes once the outbound bytes are flushed
//	gone     the socket is closed; the child may still be on its ladder
//
// A conn is released when it is gone and its child is reaped; until then
// it stays in the engine's registry so that shutdown can reach it.
type state uint8

const (
	stHead state = iota
	stOpen
	stClosing
	stGone
)

// conn is one client connection and, once upgraded, its child. Every field
// is owned by the connection's event-loop goroutine; the few methods that
// run elsewhere (Notify, fire, exec) touch none of them but hand work over
// (and the shutdown sweep takes them once the loops are gone).
type conn struct {
	e                      *Engine
	gc                     gnet.Conn // nil once the socket is closed
	loop                   gnet.EventLoop
	state                  state
	id                     string
	remoteAddr, remotePort string
	proxy                  proxyState // --proxy-protocol (proxyproto.go)
	fields                 Fields     // log line keys
	bridge                 *tlsBridge // nil unless the client came over TLS
	upgraded               bool
	handedOff              bool    // plain HTTP, moved to net/http (handoff.go)
	route                  route   // what the upgrade runs (route.go)
	pty                    ptyConn // --pty only (pty.go)

	dec      codec.Decoder
	proc     *spawn.Process
	starting bool // upgraded, the child not started yet (childStarted)

	// child -> client
	outLine    []byte // stdout line not yet terminated
	errLine    []byte // stderr line not yet terminated
	fragmented bool   // a text message for the current stdout line has begun
	outPaused  bool   // not reading the child's output: the client is behind
	outEOF     bool
	errEOF     bool
	finished   bool  // child reaped and its output delivered, or never started
	dropped    int64 // output bytes dropped: after our close frame, or the socket gone
	ladder     spawn.Ladder
	fdsCharged int64 // fds counted in Engine.fdsHeld for this child
	laddering  bool

	// client -> child
	stdinPend []byte // input the child's pipe did not take yet
	inPaused  bool   // TCP reads paused until stdinPend drains
	inText    bool   // the message in progress is forwarded (text in text mode, binary in binary mode)
	inputDone bool   // the client's close frame or a protocol error: read nothing more
	errClose  bool   // closing because the client broke the protocol

	closeSent        bool
	disconnectLogged bool
	closeRecv        bool
	flowWait         time.Duration
	flushedAt        time.Time // when the closing socket's queue emptied
	progressAt       time.Time // when the closing socket's queue last shrank
	lastProgress     int       // OutboundBuffered at the last linger check

	timer *time.Timer
	dl    deadlines
}

// exec runs f on c's event loop. It is how pollers and timers hand work
// to the connection's owner. Once the daemon is stopping gnet's loops
// (shutdown, after the drain), Execute fails, or takes a task the exiting
// loop never runs: f is lost. Nothing of the connection is lost with it:
// the shutdown sweep (sweep.go) kills, reaps and releases every child still
// held once the loops are gone, and a child that has no connection yet
// goes through handChild instead.
func (c *conn) exec(f func(*conn)) {
	_ = c.loop.Execute(context.Background(), task{c, f})
}

type task struct {
	c *conn
	f func(*conn)
}

func (t task) Run(context.Context) error { t.f(t.c); return nil }

// Notify is spawn's signal that the child has events: take them on the loop.
func (c *conn) Notify(*spawn.Process) { c.exec((*conn).onChild) }

// OnOpen starts the head timer. It runs on the connection's loop.
func (e *Engine) OnOpen(gc gnet.Conn) ([]byte, gnet.Action) {
	c := &conn{e: e, gc: gc, loop: gc.EventLoop()}
	c.setRemote(gc) // before SetContext replaces the enrolment context
	c.dec.MaxMessage = e.cfg.MaxFrameSize
	if !e.track(c) {
		return nil, gnet.Close
	}
	e.conns.Add(1)
	e.metrics.conns.Inc()
	gc.SetContext(c)
	c.id = strconv.FormatUint(e.nextID.Add(1), 10) + "-" + strconv.FormatInt(e.started.UnixNano()%1e9, 36)
	c.dl.head = time.Now().Add(HeadTimeout)
	c.arm()
	return nil, gnet.None
}

// OnTraffic is gnet telling us bytes arrived. Bytes left in gnet's buffer
// while the input was paused are not announced again: whoever resumes the
// input (flushStdin, childStarted) reads them with readFrames.
func (e *Engine) OnTraffic(gc gnet.Conn) gnet.Action {
	c, _ := gc.Context().(*conn)
	if c == nil {
		return gnet.Close
	}
	switch c.state {
	case stHead:
		c.readHead()
		if c.handedOff {
			return gnet.Close // gnet closes its fd; the dup serves the request
		}
	case stOpen, stClosing:
		c.readFrames()
	default:
		_, _ = gc.Discard(-1)
	}
	return gnet.None
}

// OnClose: the socket is gone, whoever closed it.
func (e *Engine) OnClose(gc gnet.Conn, _ error) gnet.Action {
	c, _ := gc.Context().(*conn)
	if c == nil {
		return gnet.None
	}
	gc.SetContext(nil)
	if c.bridge != nil && !c.handedOff {
		c.bridge.hangup()
	}
	c.socketGone()
	return gnet.None
}
