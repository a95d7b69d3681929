package bench

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/gobwas/ws"
	"golang.org/x/sys/unix"

	"github.com/wsplex/wsplex/reactor"
)

// Handler receives a connection's events, always on the connection's loop
// goroutine. data passed to OnMessage is valid only during the call.
type Handler interface {
	// OnOpen runs once the 101 has been checked, before any frame that came
	// with it is delivered.
	OnOpen(c *Conn)
	OnMessage(c *Conn, op ws.OpCode, data []byte)
	// OnClose runs exactly once per Dial, also when the dial or the upgrade
	// failed. err is nil for a close the client started and completed.
	OnClose(c *Conn, err error)
}

// Drainer is optionally implemented by a Handler that wants to know when
// everything it sent has been handed to the kernel (a closed-loop writer).
type Drainer interface {
	OnDrain(c *Conn)
}

// EngineConfig configures an Engine.
type EngineConfig struct {
	Target           *Target
	Sources          Sources
	Loops            int           // event loops (goroutines); default 1
	HandshakeTimeout time.Duration // connect + upgrade; default 10s
	RcvBuf           int           // SO_RCVBUF for client sockets; 0 = kernel default
}

// Engine is the connection engine: a few event loops (a reactor.Group),
// each owning its sockets. One Engine holds as many connections as the fd
// limit allows with Loops goroutines; nothing is created per connection but
// a small struct.
type Engine struct {
	cfg     EngineConfig
	group   *reactor.Group
	loops   []*Loop
	src     atomic.Uint64
	open    atomic.Int64 // sockets currently open
	peak    atomic.Int64
	limit   uint64
	stopped atomic.Bool
}

// NewEngine raises the fd limit and starts the loops.
func NewEngine(cfg EngineConfig) (*Engine, error) {
	if cfg.Target == nil {
		return nil, errors.New("engine: no target")
	}
	if cfg.Loops <= 0 {
		cfg.Loops = 1
	}
	if cfg.HandshakeTimeout <= 0 {
		cfg.HandshakeTimeout = 10 * time.Second
	}
	e := &Engine{cfg: cfg, limit: RaiseFileLimit()}
	g, err := reactor.NewGroup(cfg.Loops)
	if err != nil {
		return nil, err
	}
	e.group = g
	for _, r := range g.Loops() {
		e.loops = append(e.loops, newLoop(e, r))
	}
	return e, nil
}

// Loops returns the engine's loops, indexed by Loop.ID.
func (e *Engine) Loops() []*Loop { return e.loops }

// OpenSockets is the number of client sockets currently open.
func (e *Engine) OpenSockets() int64 { return e.open.Load() }

// PeakSockets is the largest number of client sockets open at once.
func (e *Engine) PeakSockets() int64 { return e.peak.Load() }

// FileLimit is the (raised) open-files limit of this process.
func (e *Engine) FileLimit() uint64 { return e.limit }

// Dial starts a connection on the next loop (round robin). Safe from any
// goroutine; h's callbacks run on that loop.
func (e *Engine) Dial(h Handler) {
	l := e.loops[e.group.Next().ID()]
	l.Post(func() { l.Dial(h) })
}

// Close stops the loops; connections still open are failed with
// errEngineClosed (their OnClose runs) and their sockets closed.
func (e *Engine) Close() {
	if e.stopped.Swap(true) {
		return
	}
	// Each loop hands its sockets a Shutdown event (connEvents.OnEvent).
	e.group.Close()
}

type connState uint8

const (
	stConnecting connState = iota
	stHandshake
	stRejected // non-101 response: collecting the body for the error
	stOpen
	stClosing
	stClosed
)

// Conn is one client WebSocket connection. All methods must be called on its
// loop goroutine (from a Handler callback, a loop timer or Loop.Post).
type Conn struct {
	loop  *Loop
	h     Handler
	fd    int
	w     *reactor.Watch
	state connState
	key   string

	in   []byte // bytes not yet parsed (partial head or frame)
	out  []byte // bytes not yet written
	woff int

	pollRead, pollWrite bool
	readPaused          bool

	fragOp ws.OpCode // opcode of the message being reassembled, 0 if none
	frag   []byte

	rej     *UpgradeError
	rejWant int // body length announced by the refusal, -1 if unknown
	timer   *Timer
	err     error // reason kept for OnClose while closing
	byUs    bool  // Close or Abort was called

	// Timestamps of the dial, the TCP connect and the 101.
	DialStart, ConnectedAt, OpenAt time.Time
	// Counters, kept by the engine.
	BytesIn, BytesOut int64
	MsgsIn, MsgsOut   int64
	// Data is free for the handler.
	Data any
}

// Loop returns the loop the connection lives on.
func (c *Conn) Loop() *Loop { return c.loop }

// IsOpen reports whether the upgrade completed and no close has started.
func (c *Conn) IsOpen() bool { return c.state == stOpen }

// ClosedByClient reports whether Close or Abort was called.
func (c *Conn) ClosedByClient() bool { return c.byUs }

// Buffered is the number of bytes accepted by Send but not yet by the kernel.
func (c *Conn) Buffered() int { return len(c.out) - c.woff }

// Errors reported to OnClose.
var (
	errEngineClosed     = errors.New("engine stopped")
	ErrNoCloseFrame     = errors.New("server closed the TCP connection without a close frame")
	ErrHandshakeTimeout = errors.New("timed out waiting for the WebSocket upgrade")
	errNotOpen          = errors.New("connection is not open")
)

// DialError is a failure to create or connect the socket.
type DialError struct {
	Addr netip.AddrPort
	Err  error
}

func (e *DialError) Error() string {
	switch {
	case errors.Is(e.Err, unix.ECONNREFUSED):
		return fmt.Sprintf("connection to %s refused: is the server running and listening there?", e.Addr)
	case errors.Is(e.Err, unix.EADDRNOTAVAIL):
		return fmt.Sprintf("connect to %s: no free local port (ephemeral ports exhausted); spread connections with --source 127.0.0.2-127.0.0.50", e.Addr)
	case errors.Is(e.Err, unix.ETIMEDOUT):
		return fmt.Sprintf("connect to %s timed out: the server's accept backlog may be full", e.Addr)
	}
	return fmt.Sprintf("connect to %s: %v", e.Addr, e.Err)
}
func (e *DialError) Unwrap() error { return e.Err }

// FdLimitError reports that this process ran out of file descriptors.
type FdLimitError struct {
	Open  int64  // client sockets open when it happened
	Limit uint64 // RLIMIT_NOFILE
}

func (e *FdLimitError) Error() string {
	return fmt.Sprintf("file descriptor limit reached: %d connections open, RLIMIT_NOFILE is %d; use --workers to spread connections over several processes", e.Open, e.Limit)
}

// UpgradeError is a refused upgrade: the server answered with something else
// than 101.
type UpgradeError struct {
	Status int
	Reason string
	Body   string
}

func (e *UpgradeError) Error() string {
	b := strings.TrimSpace(e.Body)
	if b == "" {
		b = "(empty body)"
	}
	return fmt.Sprintf("upgrade refused: HTTP %d %s: %s", e.Status, e.Reason, truncate(b, 300))
}

// CloseError is a close the server started, with its status code.
type CloseError struct {
	Code   ws.StatusCode
	Reason string
}

func (e *CloseError) Error() string {
	return fmt.Sprintf("server closed the connection: status %d %q", e.Code, e.Reason)
}

// ProtocolError is a violation of RFC 6455 (or HTTP) by the server.
type ProtocolError struct{ Err error }

func (e *ProtocolError) Error() string { return "protocol error from server: " + e.Err.Error() }
func (e *ProtocolError) Unwrap() error { return e.Err }

// Dial starts a connection on this loop. Loop goroutine only; useful for
// dialers that pace themselves from OnClose/OnOpen callbacks.
func (l *Loop) Dial(h Handler) *Conn {
	c := &Conn{loop: l, h: h, fd: -1, DialStart: time.Now()}
	e := l.e
	addr := e.cfg.Target.Addr
	fail := func(err error) {
		// Report asynchronously: a dialer that re-dials from OnClose must
		// not recurse when every dial fails at once (fd limit).
		l.Post(func() { c.finish(err) })
	}
	family := unix.AF_INET
	if addr.Addr().Is6() {
		family = unix.AF_INET6
	}
	syscall.ForkLock.RLock()
	fd, err := unix.Socket(family, unix.SOCK_STREAM, 0)
	if err == nil {
		unix.CloseOnExec(fd)
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		if err == unix.EMFILE || err == unix.ENFILE {
			fail(&FdLimitError{Open: e.open.Load(), Limit: e.limit})
		} else {
			fail(&DialError{Addr: addr, Err: err})
		}
		return c
	}
	n := e.open.Add(1)
	for {
		p := e.peak.Load()
		if n <= p || e.peak.CompareAndSwap(p, n) {
			break
		}
	}
	c.fd = fd
	unix.SetNonblock(fd, true)
	unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
	if e.cfg.RcvBuf > 0 {
		unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, e.cfg.RcvBuf)
	}
	if len(e.cfg.Sources) > 0 {
		src := e.cfg.Sources[e.src.Add(1)%uint64(len(e.cfg.Sources))]
		bindNoPort(fd)
		if err := unix.Bind(fd, sockaddr(netip.AddrPortFrom(src, 0))); err != nil {
			c.closeFD()
			fail(&DialError{Addr: addr, Err: fmt.Errorf("bind source %s: %w", src, err)})
			return c
		}
	}
	err = unix.Connect(fd, sockaddr(addr))
	if err != nil && err != unix.EINPROGRESS && err != unix.EINTR {
		c.closeFD()
		fail(&DialError{Addr: addr, Err: err})
		return c
	}
	c.pollWrite = true
	w, err := l.r.Register(fd, reactor.Write, (*connEvents)(c))
	if err != nil {
		c.closeFD()
		fail(&DialError{Addr: addr, Err: err})
		return c
	}
	c.w = w
	c.timer = l.After(e.cfg.HandshakeTimeout, func() {
		c.timer = nil
		c.finish(ErrHandshakeTimeout)
	})
	return c
}

func sockaddr(a netip.AddrPort) unix.Sockaddr {
	if a.Addr().Is4() {
		return &unix.SockaddrInet4{Port: int(a.Port()), Addr: a.Addr().As4()}
	}
	return &unix.SockaddrInet6{Port: int(a.Port()), Addr: a.Addr().As16()}
}

func (c *Conn) closeFD() {
	if c.fd >= 0 {
		unix.Close(c.fd)
		c.fd = -1
		c.loop.e.open.Add(-1)
	}
}

// connEvents is a Conn as the reactor.Handler of its socket (kept off
// Conn's own method set).
type connEvents Conn

// OnEvent maps the reactor's events onto the connection. Hangup alone is
// the server's FIN seen while reading is paused: what it sent before is
// still to be read on resume, so only an error ends a paused connection.
func (h *connEvents) OnEvent(ev reactor.Events) {
	c := (*Conn)(h)
	if ev&reactor.Shutdown != 0 {
		c.finish(errEngineClosed)
		return
	}
	c.loop.now = time.Now()
	c.event(ev&reactor.Readable != 0, ev&reactor.Writable != 0, ev&reactor.Error != 0 || (ev&reactor.Hangup != 0 && c.state == stConnecting))
}

func (c *Conn) event(readable, writable, hup bool) {
	if c.state == stConnecting {
		if writable || hup {
			c.connected()
		}
		return
	}
	if writable {
		c.flush()
		if c.state == stClosed {
			return
		}
	}
	if readable || (hup && !c.readPaused) {
		c.read()
	} else if hup {
		c.finish(ErrNoCloseFrame)
	}
}

func (c *Conn) connected() {
	v, err := unix.GetsockoptInt(c.fd, unix.SOL_SOCKET, unix.SO_ERROR)
	if err == nil && v != 0 {
		err = unix.Errno(v)
	}
	if err != nil {
		c.finish(&DialError{Addr: c.loop.e.cfg.Target.Addr, Err: err})
		return
	}
	c.ConnectedAt = time.Now()
	c.state = stHandshake
	c.key = newKey(c.loop)
	c.out = appendRequest(c.out, c.loop.e.cfg.Target, c.key)
	c.flush()
	c.setPoll()
}

// setPoll brings the poller's interest set in line with the state.
func (c *Conn) setPoll() {
	if c.state == stClosed {
		return
	}
	r := !c.readPaused
	w := c.Buffered() > 0
	if r != c.pollRead || w != c.pollWrite {
		c.pollRead, c.pollWrite = r, w
		var i reactor.Interest
		if r {
			i |= reactor.Read
		}
		if w {
			i |= reactor.Write
		}
		c.w.SetInterest(i)
	}
}

func (c *Conn) flush() {
	for c.Buffered() > 0 {
		n, err := unix.Write(c.fd, c.out[c.woff:])
		if err == unix.EINTR {
			continue
		}
		if err == unix.EAGAIN {
			break
		}
		if err != nil {
			c.finish(fmt.Errorf("write: %w", err))
			return
		}
		c.woff += n
		c.BytesOut += int64(n)
	}
	if c.Buffered() == 0 {
		wasWaiting := c.pollWrite
		c.out, c.woff = c.out[:0], 0
		if cap(c.out) > 256<<10 {
			c.out = nil // an idle connection keeps no big buffer
		}
		if wasWaiting && c.state == stOpen {
			c.setPoll()
			if d, ok := c.h.(Drainer); ok {
				d.OnDrain(c)
			}
			return
		}
	}
	c.setPoll()
}

// Send frames, masks and writes one message (or queues what the kernel does
// not take). op is ws.OpText or ws.OpBinary.
func (c *Conn) Send(op ws.OpCode, payload []byte) error {
	if c.state != stOpen {
		return errNotOpen
	}
	c.MsgsOut++
	var mask [4]byte
	r := c.loop.rng.Uint32()
	mask[0], mask[1], mask[2], mask[3] = byte(r), byte(r>>8), byte(r>>16), byte(r>>24)
	c.out = appendFrame(c.out, op, payload, mask)
	if !c.pollWrite {
		c.flush()
	}
	return nil
}

// PauseRead stops reading the socket, so the server meets TCP flow control.
func (c *Conn) PauseRead() { c.readPaused = true; c.setPoll() }

// ResumeRead undoes PauseRead.
func (c *Conn) ResumeRead() { c.readPaused = false; c.setPoll() }

// Close starts the closing handshake (status 1000) and closes the socket once
// the server has answered and closed its side, or after a grace period.
func (c *Conn) Close() {
	c.byUs = true
	switch c.state {
	case stOpen:
		c.sendControl(ws.OpClose, ws.NewCloseFrameBody(ws.StatusNormalClosure, ""))
		c.state = stClosing
		c.setTimer(2*time.Second, nil)
	case stClosing, stClosed:
	default:
		c.finish(nil)
	}
}

// Abort closes the socket at once with a RST (SO_LINGER 0), leaving no
// TIME_WAIT behind: for tearing down thousands of held connections.
func (c *Conn) Abort() {
	c.byUs = true
	if c.fd >= 0 {
		unix.SetsockoptLinger(c.fd, unix.SOL_SOCKET, unix.SO_LINGER, &unix.Linger{Onoff: 1, Linger: 0})
	}
	c.finish(nil)
}

func (c *Conn) setTimer(d time.Duration, err error) {
	c.loop.Stop(c.timer)
	c.timer = c.loop.After(d, func() {
		c.timer = nil
		c.finish(err)
	})
}

func (c *Conn) sendControl(op ws.OpCode, payload []byte) {
	var mask [4]byte
	r := c.loop.rng.Uint32()
	mask[0], mask[1], mask[2], mask[3] = byte(r), byte(r>>8), byte(r>>16), byte(r>>24)
	c.out = appendFrame(c.out, op, payload, mask)
	if !c.pollWrite {
		c.flush()
	}
}

// finish closes the socket and reports err to the handler, once.
func (c *Conn) finish(err error) {
	if c.state == stClosed {
		return
	}
	if err == nil {
		err = c.err
	}
	c.state = stClosed
	c.loop.Stop(c.timer)
	c.timer = nil
	if c.fd >= 0 {
		if c.w != nil {
			c.w.Deregister()
		}
		c.closeFD()
	}
	c.in, c.out, c.frag = nil, nil, nil
	c.h.OnClose(c, err)
}

func (c *Conn) read() {
	l := c.loop
	n, err := unix.Read(c.fd, l.buf)
	if err == unix.EAGAIN || err == unix.EINTR {
		return
	}
	if err != nil {
		c.finish(fmt.Errorf("read: %w", err))
		return
	}
	if n == 0 {
		c.eof()
		return
	}
	c.BytesIn += int64(n)
	data := l.buf[:n]
	inBuf := len(c.in) > 0
	if inBuf {
		c.in = append(c.in, data...)
		data = c.in
	}
	used := c.process(data)
	if c.state == stClosed {
		return
	}
	rest := data[used:]
	switch {
	case len(rest) == 0:
		c.in = c.in[:0]
		if cap(c.in) > 256<<10 {
			c.in = nil
		}
	case inBuf:
		c.in = c.in[:copy(c.in, rest)]
	default:
		c.in = append(c.in[:0], rest...)
	}
}

func (c *Conn) eof() {
	switch c.state {
	case stClosing:
		c.finish(nil)
	case stRejected:
		c.finish(c.rej)
	case stHandshake:
		c.finish(&ProtocolError{Err: errors.New("server closed the connection during the upgrade, without a response")})
	default:
		c.finish(ErrNoCloseFrame)
	}
}

func (c *Conn) process(data []byte) int {
	off := 0
	switch c.state {
	case stHandshake:
		r, ok, err := parseResponse(data)
		if err != nil {
			c.finish(&ProtocolError{Err: err})
			return 0
		}
		if !ok {
			return 0
		}
		off = r.headLen
		if r.status != 101 {
			c.rej = &UpgradeError{Status: r.status, Reason: r.reason}
			c.rejWant = -1
			if cl, ok := r.headers["content-length"]; ok {
				fmt.Sscan(cl, &c.rejWant)
			}
			c.state = stRejected
			c.setTimer(time.Second, c.rej)
			return off + c.rejected(data[off:])
		}
		if err := r.checkUpgrade(c.key); err != nil {
			c.finish(&ProtocolError{Err: err})
			return 0
		}
		c.state = stOpen
		c.OpenAt = time.Now()
		c.loop.Stop(c.timer)
		c.timer = nil
		c.h.OnOpen(c)
	case stRejected:
		return c.rejected(data)
	}
	for c.state == stOpen || c.state == stClosing {
		h, hn, err := parseHeader(data[off:], c.fragOp != 0)
		if err == errNeedMore {
			break
		}
		if err != nil {
			c.protocolError(err)
			return off
		}
		if int64(len(data)-off-hn) < h.Length {
			break
		}
		payload := data[off+hn : off+hn+int(h.Length)]
		off += hn + int(h.Length)
		c.frame(h, payload)
	}
	return off
}

func (c *Conn) rejected(body []byte) int {
	if room := maxRejectBody - len(c.rej.Body); room > 0 {
		c.rej.Body += string(body[:min(len(body), room)])
	}
	if c.rejWant >= 0 && len(c.rej.Body) >= min(c.rejWant, maxRejectBody) {
		c.finish(c.rej)
	}
	return len(body)
}

func (c *Conn) protocolError(err error) {
	c.err = &ProtocolError{Err: err}
	if c.state == stOpen {
		c.sendControl(ws.OpClose, ws.NewCloseFrameBody(ws.StatusProtocolError, ""))
	}
	c.finish(c.err)
}

func (c *Conn) frame(h ws.Header, p []byte) {
	switch h.OpCode {
	case ws.OpText, ws.OpBinary:
		if !h.Fin {
			c.fragOp = h.OpCode
			c.frag = append(c.frag[:0], p...)
			return
		}
		c.deliver(h.OpCode, p)
	case ws.OpContinuation:
		if len(c.frag)+len(p) > maxFrame {
			c.protocolError(fmt.Errorf("message larger than %d bytes", maxFrame))
			return
		}
		c.frag = append(c.frag, p...)
		if h.Fin {
			op := c.fragOp
			c.fragOp = 0
			c.deliver(op, c.frag)
			if c.frag != nil {
				c.frag = c.frag[:0]
			}
		}
	case ws.OpPing:
		if c.state == stOpen {
			c.sendControl(ws.OpPong, p)
		}
	case ws.OpPong:
	case ws.OpClose:
		code, reason := ws.ParseCloseFrameData(p)
		if len(p) > 0 {
			if err := ws.CheckCloseFrameData(code, reason); err != nil {
				c.protocolError(err)
				return
			}
		}
		if c.state == stOpen {
			// Echo the code and wait for the server to close TCP first, so
			// TIME_WAIT lands on the server side, as RFC 6455 suggests.
			c.sendControl(ws.OpClose, p[:min(len(p), 2)])
			c.state = stClosing
			c.err = &CloseError{Code: code, Reason: reason}
			c.setTimer(time.Second, nil)
		}
	}
}

func (c *Conn) deliver(op ws.OpCode, p []byte) {
	if c.state != stOpen && c.state != stClosing {
		return
	}
	if op == ws.OpText && !utf8.Valid(p) {
		c.protocolError(errors.New("text message is not valid UTF-8"))
		return
	}
	c.MsgsIn++
	c.h.OnMessage(c, op, p)
}
