package reactor

import "golang.org/x/sys/unix"

// Outbuf is a connection's pending output: what it asked to send and the
// kernel has not taken yet. The usual use on a non-blocking socket or pipe:
//
//	done, err := out.Write(fd, header, payload)
//	// not done: w.WantWrite(true), and pause whatever produces the data
//	...
//	// on Writable:
//	done, err = out.Flush(fd)
//	// done: w.WantWrite(false), resume the producer
//
// Write goes straight to the kernel (writev, so a frame header and its
// payload need no copy) when nothing is pending, and copies only what the
// kernel refused. Not safe for concurrent use: it belongs to one loop.
type Outbuf struct {
	b   []byte
	off int
	iov [][]byte
}

// maxIdleCap is the buffer capacity kept once everything is written;
// larger buffers are dropped so idle connections stay small.
const maxIdleCap = 64 << 10

// Len is the number of bytes waiting for the kernel.
func (o *Outbuf) Len() int { return len(o.b) - o.off }

// Write sends the concatenation of parts to fd, or queues what the kernel
// does not take now. done reports that nothing is pending. An error other
// than EAGAIN is returned as is (EPIPE: the reader is gone); what was not
// written then stays queued.
func (o *Outbuf) Write(fd int, parts ...[]byte) (done bool, err error) {
	if o.Len() > 0 {
		for _, p := range parts {
			o.b = append(o.b, p...)
		}
		return o.Flush(fd)
	}
	nonEmpty, total := 0, 0
	var one []byte
	for _, p := range parts {
		if len(p) > 0 {
			one = p
			nonEmpty++
			total += len(p)
		}
	}
	if nonEmpty <= 1 {
		return o.writeOne(fd, one)
	}
	o.iov = o.iov[:0]
	for _, p := range parts {
		if len(p) > 0 {
			o.iov = append(o.iov, p)
		}
	}
	n := 0
	for n < total {
		var m int
		if len(o.iov) == 1 {
			m, err = unix.Write(fd, o.iov[0])
		} else {
			m, err = writev(fd, o.iov)
		}
		if err == unix.EINTR {
			continue
		}
		if m > 0 {
			n += m
			o.iov = advance(o.iov, m)
		}
		if err != nil {
			break
		}
	}
	for i := range o.iov {
		o.b = append(o.b, o.iov[i]...)
		o.iov[i] = nil
	}
	o.iov = o.iov[:0]
	if err == unix.EAGAIN {
		err = nil
	}
	return o.Len() == 0, err
}

// writeOne is Write of one buffer: write(2), no iovec. A connection whose
// writes have all been single buffers (an idle one has written only its
// handshake's answer) so never allocates o.iov.
func (o *Outbuf) writeOne(fd int, p []byte) (done bool, err error) {
	for len(p) > 0 {
		var m int
		m, err = unix.Write(fd, p)
		if err == unix.EINTR {
			continue
		}
		if m > 0 {
			p = p[m:]
		}
		if err != nil {
			break
		}
	}
	o.b = append(o.b, p...)
	if err == unix.EAGAIN {
		err = nil
	}
	return o.Len() == 0, err
}

// advance drops the first n bytes of iov.
func advance(iov [][]byte, n int) [][]byte {
	for n > 0 && len(iov) > 0 {
		if n < len(iov[0]) {
			iov[0] = iov[0][n:]
			return iov
		}
		n -= len(iov[0])
		iov[0] = nil
		iov = iov[1:]
	}
	return iov
}

// Flush writes what is pending; done reports that nothing is left.
func (o *Outbuf) Flush(fd int) (done bool, err error) {
	for o.Len() > 0 {
		n, err := unix.Write(fd, o.b[o.off:])
		if err == unix.EINTR {
			continue
		}
		if err == unix.EAGAIN {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		o.off += n
	}
	o.b, o.off = o.b[:0], 0
	if cap(o.b) > maxIdleCap {
		o.b = nil
	}
	return true, nil
}

// Reset drops whatever is pending (the connection is gone).
func (o *Outbuf) Reset() {
	o.b, o.off = nil, 0
}
