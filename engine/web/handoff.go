package web

import (
	"io"
	"net"
	"sync"
)

// Handoff gives the server one connection the engine has taken off its
// loop: nc is the socket (a dup of the loop's descriptor, on Go's own
// poller), replay the bytes the loop already read from it (the request
// head, perhaps part of a body), served before the socket's own, and
// remote the client's address as the engine knows it (nil: nc's own),
// which is not the socket's peer when the client came through the TLS
// bridge. Handoff returns at once: the listener's second Accept reports
// io.EOF, by which time the server has started the connection's own
// goroutine. Keep-alives are off: the server closes the connection after
// the response, so the goroutines net/http uses exist only while a request
// is in flight, and an idle browser costs nothing.
func (w *Server) Handoff(nc net.Conn, replay []byte, remote net.Addr) {
	nc = &replayConn{Conn: nc, pending: replay, remote: remote}
	l := &oneConnListener{conn: nc}
	_ = w.srv.Serve(l)
	if !l.taken() {
		_ = nc.Close() // the server is shut down and never took it
	}
}

// replayConn is a socket with bytes already read from it put back in front.
// RemoteAddr is the address the loop saw, so that it stays right for whatever
// kind of listener the connection came from.
type replayConn struct {
	net.Conn
	pending []byte
	remote  net.Addr
}

func (r *replayConn) Read(p []byte) (int, error) {
	if len(r.pending) > 0 {
		n := copy(p, r.pending)
		r.pending = r.pending[n:]
		return n, nil
	}
	return r.Conn.Read(p)
}

func (r *replayConn) RemoteAddr() net.Addr {
	if r.remote != nil {
		return r.remote
	}
	return r.Conn.RemoteAddr()
}

// oneConnListener yields its one connection, then io.EOF, which ends
// http.Server.Serve without touching the connection.
type oneConnListener struct {
	mu   sync.Mutex
	conn net.Conn
	done bool
}

func (l *oneConnListener) Accept() (net.Conn, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.done {
		return nil, io.EOF
	}
	l.done = true
	return l.conn, nil
}

func (l *oneConnListener) taken() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.done
}

func (l *oneConnListener) Close() error   { return nil }
func (l *oneConnListener) Addr() net.Addr { return l.conn.LocalAddr() }
