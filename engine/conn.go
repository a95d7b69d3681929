package engine

import (
	"net"
	"strconv"

	"github.com/gobwas/ws"
	"golang.org/x/sys/unix"

	"github.com/wsplex/wsplex/engine/tlsbridge"
	"github.com/wsplex/wsplex/internal/logline"
	"github.com/wsplex/wsplex/reactor"

	"github.com/wsplex/wsplex/codec"
)

// state is where a connection is in its life.
//
//	head     reading the HTTP request head (bounded in size and time)
//	open     WebSocket open, its endpoint starting or running
//	closing  a close frame is out (ours or the echo of the client's); the
//	         socket closes once the outbound bytes are flushed
//	gone     the socket is closed; the endpoint may still be ending (a
//	         child on its ladder)
//
// A conn is released when it is gone and its endpoint released; until
// then it stays in the engine's registry so that shutdown can reach it.
type state uint8

const (
	stHead state = iota
	stOpen
	stClosing
	stGone
)

// conn is one client connection and, once upgraded, its endpoint (a
// child, endpoint_child.go). Both live on one reactor loop: the socket,
// the child's pipes or PTY master, its exit and the connection's timer are
// watches and timers of that loop, and every field is owned by its
// goroutine. The few methods that run elsewhere (exec, handChild, a
// lookup's goroutine) touch none of them but post work to the loop (and
// the shutdown sweep takes them once the loops are gone).
//
// Every idle connection is one of these, so its size counts (448 bytes,
// TestConnSize): what only the upgrade needs (its route) is not kept here,
// and the one- and two-byte fields are together at the end, where they pack
// into two words instead of padding one word each.
type conn struct {
	e                      *Engine
	gc                     *sock // nil once the socket is closed
	loop                   *reactor.Loop
	id                     string
	remoteAddr, remotePort string
	fields                 logline.Fields    // log line keys
	bridge                 *tlsbridge.Bridge // nil unless the client came over TLS
	framer                 framer            // the far side's output to frames, by mode (framer.go); set at the upgrade

	dec codec.Decoder
	ep  endpoint // what the WebSocket is connected to (endpoint.go); nil before the upgrade

	// far side -> client
	outLine []byte // stdout line not yet terminated
	errLine []byte // stderr line not yet terminated
	dropped int64  // output bytes dropped: after our close frame, or the socket gone

	flushedAt    instant // when the closing socket's queue emptied
	progressAt   instant // when the closing socket's queue last shrank
	lastProgress int     // OutboundBuffered at the last linger check

	timer reactor.Timer
	dl    deadlines

	closeCode ws.StatusCode // the closing handshake's code: ours, or the client's we echoed
	state     state
	proxy     proxyState // --proxy-protocol (proxyproto.go)
	far       far        // where ep is, as the conn sees it
	upgraded  bool
	handedOff bool // plain HTTP, moved to net/http (handoff.go)
	hungUp    bool // ep.hangup has been called

	fragmented bool // far side -> client: a text message for the current stdout line has begun

	// client -> far side
	inPaused  bool // reads paused: the endpoint is starting, or takes no more input
	inputDone bool // the client's close frame or a protocol error: read nothing more
	errClose  bool // closing because the client broke the protocol

	closeSent        bool
	disconnectLogged bool
	closeRecv        bool
	timerSet         bool // timer initialised (InitTimer)
}

// exec runs f on c's loop: how goroutines that are not the loop's (the
// spawner's answer, a reverse lookup, shutdown) hand work to the
// connection's owner. Once the loops are closing Post refuses, and f is
// lost; nothing of the connection is lost with it: the shutdown sweep
// (sweep.go) kills, reaps and releases every child still held once the
// loops are gone, and a child that has no connection yet goes through
// handChild instead.
func (c *conn) exec(f func(*conn)) {
	c.loop.Post(func() { f(c) })
}

// open is a new socket on loop l (on l's goroutine): the connection starts
// reading its request head, under the head timer.
func (e *Engine) open(l *reactor.Loop, fd int, addr net.Addr, p *peer) {
	c := &conn{e: e, loop: l}
	s := &sock{fd: fd, lb: e.bufs[l.ID()]}
	if _, tcp := addr.(*net.TCPAddr); !tcp {
		// A TCP peer is kept as the strings setRemote makes; only another
		// kind (a Unix socket's peer) is kept as it came, for peerAddr.
		s.remote = addr
	}
	w, err := l.Register(fd, reactor.Read, c)
	if err != nil {
		_ = unix.Close(fd)
		if p != nil {
			p.bridge.Hangup()
		}
		return
	}
	s.w = w
	c.gc = s
	c.setRemote(addr, p)
	c.dec.MaxMessage = e.cfg.MaxFrameSize
	if !e.track(c) {
		s.close()
		if c.bridge != nil {
			c.bridge.Hangup()
		}
		return
	}
	e.conns.Add(1)
	e.metrics.conns.Inc()
	c.id = strconv.FormatUint(e.nextID.Add(1), 10) + "-" + strconv.FormatInt(e.started.UnixNano()%1e9, 36)
	c.dl.head = now().add(HeadTimeout)
	c.arm()
}

// OnEvent is the socket's events, on the loop.
func (c *conn) OnEvent(ev reactor.Events) {
	s := c.gc
	if s == nil {
		return
	}
	if ev&reactor.Shutdown != 0 {
		// The loops are stopping (after shutdown's drain): the loop
		// closes the descriptor; the sweep takes the child.
		s.closed = true
		c.gc = nil
		return
	}
	if ev&reactor.Writable != 0 {
		c.onWritable()
		if c.gc == nil {
			return
		}
	}
	if ev&reactor.Readable != 0 {
		c.onReadable()
		return
	}
	if ev&(reactor.Hangup|reactor.Error) != 0 {
		if c.far == farStarting && ev&reactor.Error == 0 {
			// The client's FIN while its endpoint starts: what it sent
			// before is in the kernel's buffer, for the endpoint once it
			// runs. Reads resume then (level-triggered), and the end of
			// file comes after the frames.
			return
		}
		// Reported while reading is paused: the client has gone (its FIN
		// or a reset). What it sent before is in the kernel's buffer,
		// for a far side that is not reading it anyway.
		c.closeSocket()
	}
}

// onReadable reads the socket once and hands the bytes to the state the
// connection is in.
func (c *conn) onReadable() {
	s := c.gc
	n, err := s.read()
	if n == 0 {
		if err == unix.EAGAIN {
			s.settle()
			return
		}
		// End of file or an error: the client has gone.
		c.closeSocket()
		return
	}
	switch c.state {
	case stHead:
		c.readHead()
		if c.handedOff {
			c.closeSocket() // the dup serves the request
			return
		}
	case stOpen, stClosing:
		c.readFrames()
	default:
		s.Discard(-1)
	}
	if c.gc != nil {
		c.gc.settle()
	}
}

// onWritable: the socket takes output again. What was queued goes out; an
// endpoint that held back its output because the client was behind
// resumes once the backlog is down to half of --outbuffer (no polling:
// this is the drain event); a closing socket may close.
func (c *conn) onWritable() {
	c.gc.flush()
	if c.ep != nil && c.gc.OutboundBuffered() <= c.e.cfg.OutBuffer/2 {
		c.ep.resumeOutput()
	}
	if c.gc != nil && c.state == stClosing {
		c.lingerCheck()
	}
}

// closeSocket closes the client's socket (whoever decided it) and runs
// what follows: the child's ladder, the DISCONNECT line, release.
func (c *conn) closeSocket() {
	s := c.gc
	if s == nil {
		return
	}
	s.close()
	if c.bridge != nil && !c.handedOff {
		c.bridge.Hangup()
	}
	c.socketGone()
}
