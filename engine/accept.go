package engine

import (
	"errors"
	"net"
	"os"
	"syscall"
	"time"
)

// acceptLoop accepts on ln and enrolls each socket into a gnet event loop.
//
// wsplex accepts itself instead of letting gnet listen because gnet's
// acceptor treats EMFILE as fatal and stops the whole engine. Here, at the
// open-files limit, the daemon keeps serving the connections it has: it
// sheds the waiting ones with a 503 (using a spare fd kept for exactly
// that), says so in the log, and backs off until fds are free again.
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
					e.log.Log(LevelError, "server", nil, "Refusing connections: open-files limit reached (%d fds; %d connections held): %v", e.nofile, e.conns.Load(), err)
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
				e.log.Log(LevelError, "server", nil, "Refusing connections: open-files limit reached (%d fds; %d connections held)", e.nofile, e.conns.Load())
			}
			refuse(nc)
			continue
		}
		if e.tlsConf != nil {
			e.fdsHeld.Add(bridgeFDs)
			e.bridges.Add(1)
			go e.serveTLS(nc) // handshake off the accept loop
			continue
		}
		if _, err := e.client.EnrollContext(nc, nil); err != nil {
			e.log.Log(LevelError, "server", nil, "Could not register connection from %s: %v", nc.RemoteAddr(), err)
			_ = nc.Close()
		}
	}
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
