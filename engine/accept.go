package engine

import (
	"errors"
	"net"
	"os"
	"syscall"
	"time"

	"github.com/wsplex/wsplex/engine/tlsbridge"
	"github.com/wsplex/wsplex/internal/logline"
	"golang.org/x/sys/unix"
)

// acceptLoop accepts on ln and hands each socket to a loop of the reactor
// group (one goroutine per listener, parked in Go's netpoller between
// connections).
//
// Accepting is ours, not a library's, so that at the open-files limit the
// daemon keeps serving the connections it has: it sheds the waiting ones
// with a 503 (using a spare fd kept for exactly that), says so in the log,
// and backs off until fds are free again. A plain socket's descriptor is
// duplicated for its loop and the net.Conn closed; a TLS connection stays
// a net.Conn for crypto/tls (tls.go, package tlsbridge).
func (e *Engine) acceptLoop(ln net.Listener) {
	defer e.acceptWG.Done()
	spare, _ := os.Open(os.DevNull)
	defer func() {
		if spare != nil {
			_ = spare.Close()
		}
	}()
	var backoff time.Duration
	var lastWarn time.Time
	for {
		nc, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			if errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) {
				if time.Since(lastWarn) > time.Second {
					lastWarn = time.Now()
					e.log.Log(logline.LevelError, "server", nil, "Refusing connections: open-files limit reached (%d fds; %d connections held): %v", e.nofile, e.conns.Load(), err)
				}
				e.metrics.refused.WithLabelValues("fd_limit").Inc()
				spare = e.shed(ln, spare)
			}
			backoff = nextBackoff(backoff)
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		if !e.fdHeadroom(1) {
			e.metrics.refused.WithLabelValues("fd_limit").Inc()
			if time.Since(lastWarn) > time.Second {
				lastWarn = time.Now()
				e.log.Log(logline.LevelError, "server", nil, "Refusing connections: open-files limit reached (%d fds; %d connections held)", e.nofile, e.conns.Load())
			}
			refuse(nc)
			continue
		}
		if e.tlsConf != nil {
			e.fdsHeld.Add(tlsbridge.FDs)
			e.bridges.Add(1)
			go e.serveTLS(nc) // handshake off the accept loop
			continue
		}
		fd, err := takeFD(nc)
		if err != nil {
			e.log.Log(logline.LevelError, "server", nil, "Could not register connection from %s: %v", nc.RemoteAddr(), err)
			_ = nc.Close()
			continue
		}
		e.enroll(fd, nc.RemoteAddr(), nil)
		_ = nc.Close() // the loop has the descriptor's duplicate

	}
}

// enroll hands a connected, non-blocking socket to a loop: the connection
// lives there from now on (conn.go). p is the TLS bridge's peer, or nil.
func (e *Engine) enroll(fd int, addr net.Addr, p *peer) {
	l := e.group.Next()
	if !l.Post(func() { e.open(l, fd, addr, p) }) {
		_ = unix.Close(fd)
		if p != nil {
			p.bridge.Hangup()
		}
	}
}

// takeFD duplicates an accepted socket's descriptor for a loop (close-on-
// exec, and non-blocking like the original: they share the open file). Go's
// listener hands out net.Conns only, and its RawConn cannot accept.
func takeFD(nc net.Conn) (int, error) {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return -1, syscall.EINVAL
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return -1, err
	}
	fd := -1
	var derr error
	if err := raw.Control(func(f uintptr) { fd, derr = unix.FcntlInt(f, unix.F_DUPFD_CLOEXEC, 0) }); err != nil {
		return -1, err
	}
	return fd, derr
}

// shed frees the spare fd, accepts one waiting connection to refuse it
// properly, and takes the spare back.
func (e *Engine) shed(ln net.Listener, spare *os.File) *os.File {
	if spare == nil {
		return nil
	}
	_ = spare.Close()
	if tl, ok := ln.(*net.TCPListener); ok {
		_ = tl.SetDeadline(time.Now().Add(10 * time.Millisecond))
		if nc, err := ln.Accept(); err == nil {
			refuse(nc)
		}
		_ = tl.SetDeadline(time.Time{})
	}
	f, _ := os.Open(os.DevNull)
	return f
}

// refuse answers a connection we cannot serve and closes it. The write is
// best-effort and bounded: a fresh socket's send buffer takes it at once.
func refuse(nc net.Conn) {
	_ = nc.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
	_, _ = nc.Write(refusal)
	_ = nc.Close()
}

var refusal = []byte("HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\nContent-Length: 45\r\n\r\n503 Service Unavailable: too many open files\n")

func nextBackoff(d time.Duration) time.Duration {
	if d == 0 {
		return 5 * time.Millisecond
	}
	if d *= 2; d > time.Second {
		d = time.Second
	}
	return d
}
