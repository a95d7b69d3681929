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
}

// maxIdleCap is the buffer capacity kept once everything is written;
// larger buffers are dropped so idle connections stay small.
const maxIdleCap = 64 << 10

// Len is the number of bytes waiting for the kernel.
func (o *Outbuf) Len() int { return len(o.b) - o.off }

// Write sends the concatenation of parts to fd, or queues what the kernel
// does not take now. done reports that nothing is pending. An error other
// than EAGAIN is returned as is (EPIPE: the reader is gone); what was not
// written then stays queued. One writev: on a non-blocking fd a short
// write means the kernel's buffer is full, so the rest is queued rather
// than tried again; parts goes to the kernel as the iovec, unchanged, and
// a connection keeps no iovec of its own between writes.
func (o *Outbuf) Write(fd int, parts ...[]byte) (done bool, err error) {
	if o.Len() > 0 {
		for _, p := range parts {
			o.b = append(o.b, p...)
		}
		return o.Flush(fd)
	}
	total := 0
	for _, p := range parts {
		total += len(p)
	}
	if total == 0 {
		return true, nil
	}
	var n int
	for {
		if len(parts) == 1 {
			n, err = unix.Write(fd, parts[0])
		} else {
			n, err = writev(fd, parts)
		}
		if err != unix.EINTR {
			break
		}
	}
	if err == unix.EAGAIN {
		err = nil
	}
	o.b = AppendUnwritten(o.b, parts, n)
	return o.Len() == 0, err
}

// AppendUnwritten appends to dst what a write of n bytes (n < 0: none)
// left unwritten of the concatenation of parts.
func AppendUnwritten(dst []byte, parts [][]byte, n int) []byte {
	n = max(n, 0)
	for _, p := range parts {
		if n >= len(p) {
			n -= len(p)
			continue
		}
		dst = append(dst, p[n:]...)
		n = 0
	}
	return dst
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
