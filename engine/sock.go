package engine

import (
	"net"

	"golang.org/x/sys/unix"

	"github.com/wsplex/wsplex/reactor"
)

// readBuf is the size of a loop's read buffer: one read(2) of a client
// socket per event.
const readBuf = 64 << 10

// loopBufs is what one loop lends its connections: the buffer a socket is
// read into, the scratch a child's environment is made in, and the batch
// of input a read brought for its endpoint. It is per loop, not per
// connection, so an idle connection holds no read buffer at all; only
// bytes a connection has read and not yet consumed (a partial frame, input
// its child has not taken) are copied into a buffer of its own.
type loopBufs struct {
	read  []byte
	batch inputBatch // what one read brought for the endpoint (inputbatch.go)
	env   envBuilder // a child's environment being made (environ)
}

// sock is a client socket on a reactor loop: the watch, the bytes read and
// not yet consumed, and the bytes written and not yet taken by the kernel.
// Every method runs on the loop's goroutine, and every method is a no-op
// once the socket is closed.
type sock struct {
	fd     int
	w      *reactor.Watch
	lb     *loopBufs
	remote net.Addr // nil for TCP (RemoteAddr)

	in  []byte // unconsumed input: the loop's buffer during a read event (borrowed), else our own
	off int    // consumed bytes at the front of in

	out reactor.Outbuf

	borrowed bool // in is the loop's buffer
	closed   bool
}

// Peek returns the bytes read and not consumed.
func (s *sock) Peek() []byte { return s.in[s.off:] }

// Discard consumes n bytes of input (all of it if n < 0).
func (s *sock) Discard(n int) {
	if n < 0 || s.off+n >= len(s.in) {
		s.off = 0
		if s.borrowed {
			s.in = s.in[:0]
		} else {
			s.in = nil
		}
		return
	}
	s.off += n
}

// InboundBuffered is the number of bytes read and not consumed.
func (s *sock) InboundBuffered() int { return len(s.in) - s.off }

// OutboundBuffered is the number of bytes the kernel has not taken yet.
func (s *sock) OutboundBuffered() int { return s.out.Len() }

// read reads once into the loop's buffer (or, with input pending, after
// it). It returns the bytes read; 0 with a nil error is end of file.
func (s *sock) read() (int, error) {
	if s.closed {
		return 0, net.ErrClosed
	}
	if s.InboundBuffered() == 0 {
		s.in, s.off, s.borrowed = s.lb.read[:0], 0, true
	}
	if !s.borrowed {
		// Pending input of our own: read after it.
		if s.off > 0 {
			s.in = s.in[:copy(s.in, s.in[s.off:])]
			s.off = 0
		}
		if cap(s.in)-len(s.in) < 4096 {
			s.in = append(s.in, make([]byte, 16<<10)...)[:len(s.in)]
		}
	}
	// Borrowed, s.in is the loop's buffer from its start: its spare
	// capacity is the rest of that buffer.
	for {
		n, err := unix.Read(s.fd, s.in[len(s.in):cap(s.in)])
		if err == unix.EINTR {
			continue
		}
		if n > 0 {
			s.in = s.in[:len(s.in)+n]
			return n, nil
		}
		return 0, err
	}
}

// settle ends a read event: input left in the loop's buffer is copied into
// a buffer of the connection's own.
func (s *sock) settle() {
	if !s.borrowed {
		return
	}
	s.borrowed = false
	rest := s.in[s.off:]
	s.in, s.off = nil, 0
	if len(rest) > 0 {
		s.in = append(make([]byte, 0, len(rest)), rest...)
	}
}

// Write queues b: written at once if nothing is pending, the rest when the
// socket is writable again.
func (s *sock) Write(b []byte) (int, error) { return s.Writev([][]byte{b}) }

// Writev is Write of the concatenation of bufs, with one writev.
func (s *sock) Writev(bufs [][]byte) (int, error) {
	if s.closed {
		return 0, net.ErrClosed
	}
	n := 0
	for _, b := range bufs {
		n += len(b)
	}
	done, err := s.out.Write(s.fd, bufs...)
	if err != nil {
		// The peer is gone (EPIPE, ECONNRESET): the read side sees it too.
		s.out.Reset()
		return 0, err
	}
	if !done {
		_ = s.w.WantWrite(true)
	}
	return n, nil
}

// flush writes what is pending; it reports whether all of it is gone.
func (s *sock) flush() bool {
	if s.closed {
		return true
	}
	done, err := s.out.Flush(s.fd)
	if err != nil {
		s.out.Reset()
		done = true
	}
	if done {
		_ = s.w.WantWrite(false)
	}
	return done
}

// PauseRead and ResumeRead are the TCP read pause: read interest off and
// on in the loop's poller, so the kernel's buffer fills and TCP holds the
// client back.
func (s *sock) PauseRead() error {
	if s.closed {
		return nil
	}
	return s.w.PauseRead()
}

func (s *sock) ResumeRead() error {
	if s.closed {
		return nil
	}
	return s.w.ResumeRead()
}

// Dup returns a close-on-exec duplicate of the socket's descriptor.
func (s *sock) Dup() (int, error) {
	if s.closed {
		return -1, net.ErrClosed
	}
	return unix.FcntlInt(uintptr(s.fd), unix.F_DUPFD_CLOEXEC, 0)
}

// RemoteAddr is the address of the accepted socket if it is not TCP (a
// Unix socket's peer), else nil: a TCP peer's address is the connection's
// remoteAddr and remotePort, and an idle connection need not hold it twice.
func (s *sock) RemoteAddr() net.Addr { return s.remote }

// close flushes what the kernel takes now, drops the rest and closes the
// descriptor. The caller then runs socketGone.
func (s *sock) close() {
	if s.closed {
		return
	}
	if s.out.Len() > 0 {
		_, _ = s.out.Flush(s.fd)
	}
	s.out.Reset()
	s.closed = true
	_ = s.w.Close()
	s.in, s.off, s.borrowed = nil, 0, false
}
