package engine

import (
	"bytes"
	"net"
	"net/netip"
	"os"
	"strconv"

	"github.com/wsplex/wsplex/internal/logline"
)

// Plain HTTP leaves the reactor. Static files, CGI and the dev console are
// what net/http, http.FileServer and net/http/cgi already do well, and they
// block (file reads, a CGI child's pipes), so a request that needs them is
// moved off its loop onto one shared http.Server (package web):
//
//  1. c.gc.Dup() takes a second descriptor of the socket and net.FileConn
//     turns it into an ordinary *net.TCPConn (or *net.UnixConn) on Go's
//     own poller;
//  2. the bytes the loop already read (the request head, perhaps part of a
//     body) are replayed in front of the socket's own bytes;
//  3. the conn goes to the server (web.Server.Handoff) through a listener
//     that yields exactly that one connection;
//  4. the loop closes its own descriptor (onReadable, closeSocket); the
//     socket lives on in the dup.
//
// Between the Peek in step 2 and the close in step 4 the loop does
// not read the socket (it is running this code), so no byte is lost or
// read twice. Keep-alives are off: the server closes the connection after
// the response, so the goroutines net/http uses exist only while a
// request is in flight, and an idle browser costs nothing.

// handOff moves c to the shared http.Server (c.e.web). It runs on c's
// loop, inside onReadable; when it returns true the caller closes the
// loop's socket.
func (c *conn) handOff() bool {
	fd, err := c.gc.Dup() // close-on-exec: CGI children do not inherit it
	if err != nil {
		c.e.log.Log(logline.LevelError, "http", &c.fields, "Could not hand the connection to HTTP: %v", err)
		return false
	}
	f := os.NewFile(uintptr(fd), "http")
	nc, err := net.FileConn(f)
	_ = f.Close()
	if err != nil {
		c.e.log.Log(logline.LevelError, "http", &c.fields, "Could not hand the connection to HTTP: %v", err)
		return false
	}
	buf := c.gc.Peek()
	replay := bytes.Clone(buf)
	c.gc.Discard(-1)
	c.handedOff = true
	c.e.web.Handoff(nc, replay, c.peerAddr())
	return true
}

// peerAddr is the client's address as the engine knows it, which is not the
// socket's own peer when the client came through the TLS bridge.
// A TCP peer is rebuilt from remoteAddr and remotePort (the socket does not
// keep it: sock.RemoteAddr); another kind is the socket's.
func (c *conn) peerAddr() net.Addr {
	if ip, err := netip.ParseAddr(c.remoteAddr); err == nil {
		port, _ := strconv.ParseUint(c.remotePort, 10, 16)
		return net.TCPAddrFromAddrPort(netip.AddrPortFrom(ip.Unmap(), uint16(port)))
	}
	if c.gc == nil || c.gc.RemoteAddr() == nil {
		return &net.TCPAddr{}
	}
	return c.gc.RemoteAddr()
}
