package engine

import (
	"bytes"
	"io"
	"net"
	"os"
	"strconv"
	"sync"
)

// Plain HTTP leaves the reactor. Static files, CGI and the dev console are
// what net/http, http.FileServer and net/http/cgi already do well, and they
// block (file reads, a CGI child's pipes), so a request that needs them is
// moved off its loop onto one shared http.Server:
//
//  1. c.gc.Dup() takes a second descriptor of the socket and net.FileConn
//     turns it into an ordinary *net.TCPConn (or *net.UnixConn) on Go's
//     own poller;
//  2. the bytes the loop already read (the request head, perhaps part of a
//     body) are replayed in front of the socket's own bytes;
//  3. the conn goes to the server through a listener that yields exactly
//     that one connection;
//  4. the loop closes its own descriptor (onReadable, closeSocket); the
//     socket lives on in the dup.
//
// Between the Peek in step 2 and the close in step 4 the loop does
// not read the socket (it is running this code), so no byte is lost or
// read twice. Keep-alives are off: the server closes the connection after
// the response, so the goroutines net/http uses exist only while a
// request is in flight, and an idle browser costs nothing.

// handOff moves c to the shared http.Server. It runs on c's loop, inside
// onReadable; when it returns true the caller closes the loop's socket.
func (c *conn) handOff() bool {
	fd, err := c.gc.Dup() // close-on-exec: CGI children do not inherit it
	if err != nil {
		c.e.log.Log(LevelError, "http", &c.fields, "Could not hand the connection to HTTP: %v", err)
		return false
	}
	f := os.NewFile(uintptr(fd), "http")
	nc, err := net.FileConn(f)
	_ = f.Close()
	if err != nil {
		c.e.log.Log(LevelError, "http", &c.fields, "Could not hand the connection to HTTP: %v", err)
		return false
	}
	buf := c.gc.Peek()
	replay := bytes.Clone(buf)
	c.gc.Discard(-1)
	c.handedOff = true
	c.e.web.serve(&replayConn{Conn: nc, pending: replay, remote: c.peerAddr()})
	return true
}

// peerAddr is the client's address as the engine knows it, which is not the
// socket's own peer when the client came through the TLS bridge.
func (c *conn) peerAddr() net.Addr {
	if ip := net.ParseIP(c.remoteAddr); ip != nil {
		port, _ := strconv.Atoi(c.remotePort)
		return &net.TCPAddr{IP: ip, Port: port}
	}
	if c.gc == nil {
		return &net.TCPAddr{}
	}
	return c.gc.RemoteAddr()
}

// serve hands one connection to the shared server. Serve returns at once:
// the listener's second Accept reports io.EOF, by which time the server
// has started the connection's own goroutine.
func (w *web) serve(nc net.Conn) {
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
