package engine

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"time"

	"github.com/gobwas/ws"
	"golang.org/x/sys/unix"

	"github.com/wsplex/wsplex/codec"
	"github.com/wsplex/wsplex/internal/logline"
	"github.com/wsplex/wsplex/platform"
	"github.com/wsplex/wsplex/reactor"
)

// --backend: each WebSocket is bridged to a connection of its own to a TCP
// or Unix socket, which is one more descriptor on the connection's loop:
// no process, no goroutine, no nc. The semantics are those of
// `websocketd nc HOST PORT`, so a line-oriented server written for that
// recipe works unchanged:
//
//   - text mode: a client text message goes to the backend as its bytes
//     and "\n"; what the backend sends is cut into lines by the conn's
//     text framer (one message per line, "\r\n" stripped, invalid UTF-8
//     repaired, long lines fragmented, a last line without newline
//     delivered at the end). --binary: raw bytes both ways.
//   - the connect does not block the loop: a non-blocking connect whose
//     completion is the socket's Writable, bounded by --backend-timeout on
//     the loop's timer heap. Names were resolved at startup (cmd/wsplex).
//   - flow control both ways, as for a child's pipes: the backend is not
//     read while its client is behind (c.output says so; resumeOutput
//     turns reading on again); when the backend's socket takes no more,
//     input reports it and the client's socket is not read until the
//     pending bytes are out (c.inputResumed on the Writable that drains
//     them). Memory per connection: one message piece (64 KiB) at most.
//   - closing: a backend refused, unreachable, or not connected within
//     the timeout closes the WebSocket with 1014 (bad gateway), logged
//     with the address and the error; the backend closing its side ends
//     the WebSocket with 1000 after its last line; the client leaving
//     half-closes the backend (shutdown of our write side, after the
//     input it has not taken yet), whose further output is read and
//     dropped until it closes too or backendLinger has passed.
//   - --maxforks counts backend connections (e.children) and the fd limit
//     one fd each (e.fdsHeld), from start to the close of the socket.
//   - --backend-proxy-protocol: the first bytes to the backend are a
//     PROXY header (codec.AppendProxyV1/V2) naming the client (the one a
//     --proxy-protocol header named, when there was one).
//
// There is no CGI environment: a backend learns about its client only
// through the PROXY header.

// backendLinger bounds how long a backend that has been half-closed (its
// client left) may take to close its own side before the socket is closed.
const backendLinger = 2 * time.Second

// sockPhase is where a backend connection is.
type sockPhase uint8

const (
	sockConnecting sockPhase = iota // connect in flight; the client's frames wait
	sockOpen                        // bridging both ways
	sockDraining                    // the client left: write side shut (or about to be), output dropped
	sockClosed                      // the fd is closed
)

// socketEndpoint is one WebSocket's backend connection. Every method runs
// on the connection's loop but sweep.
type socketEndpoint struct {
	c     *conn
	fd    int // -1 once closed
	w     *reactor.Watch
	phase sockPhase
	timer reactor.Timer // the connect timeout, then backendLinger
	out   reactor.Outbuf

	forward   bool // the client message in progress goes to the backend (its kind is the mode's)
	inBlocked bool // input returned more=false: c.inputResumed once out drains
	outPaused bool // not reading the backend: its client is behind
	hungUp    bool // hangup was called
	shut      bool // our write side is shut
	charged   bool // counted in e.children and e.fdsHeld
	counted   bool // counted in the open-connections gauge
}

func newSocketEndpoint() *socketEndpoint { return &socketEndpoint{fd: -1} }

// start opens the connection: a non-blocking connect whose answer is the
// socket's Writable (or, for a Unix socket, usually the connect itself).
func (b *socketEndpoint) start(c *conn) {
	b.c = c
	e := c.e
	e.children.Add(1)
	e.fdsHeld.Add(1)
	b.charged = true
	c.loop.InitTimer(&b.timer, b.onTimer)
	family, sa := backendSockaddr(e.cfg.Backend)
	fd, err := platform.Socket(family, unix.SOCK_STREAM, 0)
	if err != nil {
		b.fail(err)
		return
	}
	b.fd = fd
	err = unix.Connect(fd, sa)
	if err != nil && err != unix.EINPROGRESS && err != unix.EINTR {
		b.fail(err)
		return
	}
	interest := reactor.Write
	if err == nil {
		interest = reactor.Read
	}
	if b.w, err = c.loop.Register(fd, interest, b); err != nil {
		b.fail(err)
		return
	}
	if interest == reactor.Read {
		b.connected()
		return
	}
	timeout := e.cfg.BackendTimeout
	if timeout <= 0 {
		timeout = DefaultBackendTimeout
	}
	b.timer.Reset(timeout)
}

// backendSockaddr is the connect address of --backend.
func backendSockaddr(a net.Addr) (family int, sa unix.Sockaddr) {
	switch a := a.(type) {
	case *net.TCPAddr:
		ap := a.AddrPort()
		if ip := ap.Addr().Unmap(); ip.Is4() {
			return unix.AF_INET, &unix.SockaddrInet4{Port: int(ap.Port()), Addr: ip.As4()}
		}
		return unix.AF_INET6, &unix.SockaddrInet6{Port: int(ap.Port()), Addr: ap.Addr().As16()}
	case *net.UnixAddr:
		return unix.AF_UNIX, &unix.SockaddrUnix{Name: a.Name}
	}
	return unix.AF_UNSPEC, nil
}

// OnEvent is the backend socket's events, on the loop.
func (b *socketEndpoint) OnEvent(ev reactor.Events) {
	if ev&reactor.Shutdown != 0 {
		// The loops are stopping: the loop closes the descriptor.
		b.w, b.fd = nil, -1
		b.closed()
		return
	}
	if b.phase == sockConnecting {
		b.onConnect()
		return
	}
	if ev&reactor.Writable != 0 {
		b.onWritable()
	}
	if ev&reactor.Readable != 0 && b.phase != sockClosed {
		b.onReadable()
	}
	// A Hangup or Error reported while reading is paused (the client is
	// behind): what the backend sent before is still to be read, and the
	// end of file or the error after it, once reading resumes.
}

// onConnect: the connect has an answer, which SO_ERROR tells.
func (b *socketEndpoint) onConnect() {
	errno, err := unix.GetsockoptInt(b.fd, unix.SOL_SOCKET, unix.SO_ERROR)
	if err == nil && errno != 0 {
		err = unix.Errno(errno)
	}
	if err != nil {
		b.fail(err)
		return
	}
	b.timer.Stop()
	if serr := b.w.SetInterest(reactor.Read); serr != nil {
		b.fail(serr)
		return
	}
	b.connected()
}

// connected: the backend accepted. The PROXY header, if any, is its first
// bytes; then the conn is told and the client's frames flow.
func (b *socketEndpoint) connected() {
	c, e := b.c, b.c.e
	b.phase = sockOpen
	b.counted = true
	e.metrics.backendConnects.Inc()
	e.metrics.backendOpen.Inc()
	if v := e.cfg.BackendProxyProtocol; v != 0 {
		b.write(b.proxyHeader(v))
	}
	e.log.Log(logline.LevelDebug, "backend", &c.fields, "Connected to backend %s", e.cfg.BackendURL)
	c.started(nil)
	if b.hungUp && b.phase == sockOpen {
		b.drain() // the client left while the connect was in flight
	}
}

// errBackendTimeout is --backend-timeout passing before the connect's answer.
var errBackendTimeout = errors.New("no answer")

// fail ends a connect that did not succeed: 1014 with a reason, a log
// line with the address and the error, a count by reason.
func (b *socketEndpoint) fail(err error) {
	c, e := b.c, b.c.e
	b.close()
	label, reason := failReason(err, e.cfg.BackendTimeout)
	e.metrics.backendFail.WithLabelValues(label).Inc()
	e.log.Log(logline.LevelError, "backend", &c.fields, "Could not connect to backend %s (%s): %v", e.cfg.BackendURL, e.cfg.Backend, err)
	c.started(&endpointError{Code: ws.StatusCode(1014), Reason: reason})
}

// failReason is the metric label and close reason of a failed connect.
func failReason(err error, timeout time.Duration) (label, reason string) {
	if timeout <= 0 {
		timeout = DefaultBackendTimeout
	}
	switch {
	case errors.Is(err, errBackendTimeout), errors.Is(err, unix.ETIMEDOUT):
		return "timeout", "backend did not answer within " + timeout.String()
	case errors.Is(err, unix.ECONNREFUSED), errors.Is(err, unix.ENOENT):
		return "refused", "backend refused the connection"
	case errors.Is(err, unix.EHOSTUNREACH), errors.Is(err, unix.ENETUNREACH), errors.Is(err, unix.EADDRNOTAVAIL):
		return "unreachable", "backend unreachable: " + err.Error()
	case errors.Is(err, unix.EAGAIN):
		// A Unix socket whose listen queue is full refuses at once.
		return "busy", "backend busy: its listen queue is full"
	}
	return "error", "backend connection failed: " + err.Error()
}

// proxyHeader names the client to the backend: the address REMOTE_ADDR
// would be (the one a --proxy-protocol header named, if any), and as the
// destination the address the client reached wsplex on. A client wsplex
// has no IP address for (a Unix-socket client) is sent as unknown (v1
// UNKNOWN, v2 LOCAL); one whose destination it does not know (through
// TLS) is sent with 0.0.0.0:0 (or [::]:0) there.
func (b *socketEndpoint) proxyHeader(version int) []byte {
	c := b.c
	var h codec.ProxyHeader
	src, err := netip.ParseAddr(c.remoteAddr)
	if err != nil {
		h.Local = true
	} else {
		port, _ := strconv.Atoi(c.remotePort) // "" behind --trusted-proxy: 0
		h.Source = netip.AddrPortFrom(src.Unmap(), uint16(port))
		h.Dest = netip.AddrPortFrom(netip.IPv4Unspecified(), 0)
		if h.Source.Addr().Is6() {
			h.Dest = netip.AddrPortFrom(netip.IPv6Unspecified(), 0)
		}
		if c.gc != nil && c.bridge == nil {
			switch sa, _ := unix.Getsockname(c.gc.fd); sa := sa.(type) {
			case *unix.SockaddrInet4:
				h.Dest = netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), uint16(sa.Port))
			case *unix.SockaddrInet6:
				h.Dest = netip.AddrPortFrom(netip.AddrFrom16(sa.Addr).Unmap(), uint16(sa.Port))
			}
		}
	}
	if version == 1 {
		return codec.AppendProxyV1(nil, h)
	}
	return codec.AppendProxyV2(nil, h)
}

// input takes a piece of a client message: forwarded if it is of the
// mode's kind (text, with "\n" after its last piece; --binary: binary, as
// is), like a child's stdin. more=false: the backend's socket has not
// taken all of it; the rest waits in out, and inputResumed follows once
// it is written.
func (b *socketEndpoint) input(op ws.OpCode, first, fin bool, payload []byte) (bool, *codec.CloseError) {
	binary := b.c.e.cfg.Binary
	if first {
		b.forward = op == ws.OpText
		if binary {
			b.forward = op == ws.OpBinary
		}
	}
	if !b.forward || b.phase != sockOpen || b.hungUp {
		return true, nil
	}
	batch := &b.c.gc.lb.batch // the read's pieces go in one write (inputbatch.go)
	if !binary && fin {
		return batch.add(b, payload, newline), nil
	}
	return batch.add(b, payload), nil
}

// writeBatch writes a read's input to the backend in one writev.
func (b *socketEndpoint) writeBatch(bufs [][]byte) bool {
	if b.phase != sockOpen || b.hungUp {
		return true
	}
	b.write(bufs...)
	if b.out.Len() > 0 && b.phase == sockOpen {
		b.inBlocked = true
		return false
	}
	return true
}

// write sends to the backend, or queues what its socket does not take
// now (then write interest is on). A backend that no longer reads
// (EPIPE, ECONNRESET) loses what it will not read, as a child that closed
// its stdin does; its end shows on the read side.
func (b *socketEndpoint) write(parts ...[]byte) {
	done, err := b.out.Write(b.fd, parts...)
	if err != nil {
		b.out.Reset()
		b.c.e.log.Log(logline.LevelDebug, "backend", &b.c.fields, "Input dropped: %v", err)
		return
	}
	if !done {
		_ = b.w.WantWrite(true)
	}
}

// onWritable: the backend's socket takes more. Once what was pending is
// out, the client is read again (or, after a hangup, the write side shut).
func (b *socketEndpoint) onWritable() {
	done, err := b.out.Flush(b.fd)
	if err != nil {
		b.out.Reset()
		done = true
	}
	if !done {
		return
	}
	_ = b.w.WantWrite(false)
	if b.phase == sockDraining {
		b.shutWrite()
		return
	}
	if b.inBlocked {
		b.inBlocked = false
		b.c.inputResumed()
	}
}

// onReadable reads the backend until it has nothing more, its client is
// behind, or this event has had its share of the loop.
func (b *socketEndpoint) onReadable() {
	bp := scratch.Get().(*[]byte)
	defer scratch.Put(bp)
	buf := *bp
	for range readsPerRun {
		n, err := unix.Read(b.fd, buf)
		if n > 0 {
			if b.c.output(streamOut, buf[:n]) && b.phase == sockOpen {
				b.outPaused = true
				_ = b.w.PauseRead()
				return
			}
			if b.phase == sockClosed {
				return
			}
			continue
		}
		switch err {
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return
		}
		b.ended(err)
		return
	}
}

// resumeOutput: the client has caught up; the backend is read again.
func (b *socketEndpoint) resumeOutput() {
	if !b.outPaused || b.phase == sockClosed {
		return
	}
	b.outPaused = false
	_ = b.w.ResumeRead()
}

// ended: the backend closed its side (err nil) or the connection failed.
// The conn delivers the last partial line and closes the WebSocket: 1000
// for a backend that closed, 1014 for a connection reset.
func (b *socketEndpoint) ended(err error) {
	c, e := b.c, b.c.e
	draining := b.phase == sockDraining
	b.close()
	code, reason := ws.StatusNormalClosure, "backend closed"
	if err != nil {
		code, reason = ws.StatusCode(1014), "backend connection failed: "+err.Error()
		if !draining {
			e.metrics.backendFail.WithLabelValues("reset").Inc()
			e.log.Log(logline.LevelError, "backend", &c.fields, "Backend %s: %v", e.cfg.BackendURL, err)
		}
	}
	e.log.Log(logline.LevelDebug, "backend", &c.fields, "Backend connection closed (%s)", reason)
	c.ended(code, reason)
	c.released()
}

// hangup: the client has gone or our close frame is out. What the
// backend has not taken yet still goes (a pipe's reader, too, reads what
// was written before the writer closed), then our write side is shut: the
// backend reads end of file. Its output is drained and dropped until it
// closes its side, for backendLinger at most.
func (b *socketEndpoint) hangup() {
	if b.hungUp {
		return
	}
	b.hungUp = true
	if b.phase == sockOpen {
		b.drain() // else connected() or the failure takes it
	}
}

func (b *socketEndpoint) drain() {
	b.phase = sockDraining
	b.inBlocked = false
	b.timer.Reset(backendLinger)
	if b.outPaused {
		b.outPaused = false
		_ = b.w.ResumeRead()
	}
	if b.out.Len() == 0 {
		b.shutWrite()
	}
}

func (b *socketEndpoint) shutWrite() {
	if b.shut || b.fd < 0 {
		return
	}
	b.shut = true
	_ = unix.Shutdown(b.fd, unix.SHUT_WR)
}

// onTimer: the connect took too long, or a half-closed backend did not
// close its side in time.
func (b *socketEndpoint) onTimer() {
	switch b.phase {
	case sockConnecting:
		b.fail(fmt.Errorf("%w within %v", errBackendTimeout, b.c.e.cfg.BackendTimeout))
	case sockDraining:
		b.c.e.log.Log(logline.LevelDebug, "backend", &b.c.fields, "Backend did not close within %v of its client: closing", backendLinger)
		b.close()
		b.c.released()
	}
}

// close closes the socket (the watch, or the bare fd before it was
// registered) and gives back what it was counted for.
func (b *socketEndpoint) close() {
	b.timer.Stop()
	switch {
	case b.w != nil:
		_ = b.w.Close()
	case b.fd >= 0:
		_ = unix.Close(b.fd)
	}
	b.w, b.fd = nil, -1
	b.closed()
}

// closed is the accounting of a closed socket, done once.
func (b *socketEndpoint) closed() {
	b.phase = sockClosed
	b.out.Reset()
	e := b.c.e
	if b.charged {
		b.charged = false
		e.children.Add(-1)
		e.fdsHeld.Add(-1)
	}
	if b.counted {
		b.counted = false
		e.metrics.backendOpen.Dec()
	}
}

// sweep: the loops have stopped and closed every registered descriptor
// (OnEvent's Shutdown); what is left is the accounting.
func (b *socketEndpoint) sweep() {
	if b.fd >= 0 && b.w == nil {
		_ = unix.Close(b.fd)
		b.fd = -1
	}
	if b.c != nil {
		b.closed()
	}
}
