package engine

import (
	"sync"
	"unicode/utf8"

	"github.com/gobwas/ws"

	"github.com/wsplex/wsplex/codec"
	"github.com/wsplex/wsplex/internal/logline"
)

const (
	readChunk   = 64 << 10 // one read of a child's pipe
	readsPerRun = 16       // reads per event before yielding the loop to others
	fragmentAt  = 64 << 10 // a stdout line longer than this goes out as fragments
	maxJSONLine = 1 << 20  // --passstderr: a longer unterminated line is sent as is
	maxLogLine  = 64 << 10 // stderr to the log: a longer unterminated line is logged in pieces
	maxIOV      = 1000     // under IOV_MAX (1024): the vector goes to writev as is
)

// scratch is a read buffer lent to one event at a time. It is per event,
// not per connection, so an idle connection holds no buffer at all. (A
// sync.Pool rather than the loop's buffer: the loop's holds the client's
// input while a frame is forwarded, and a write to the child can make the
// loop read its output in the same event.)
var scratch = sync.Pool{New: func() any { b := make([]byte, readChunk); return &b }}

// batch gathers the frames made from one read so they leave in one writev.
// Payloads point into the scratch buffer or the connection's line buffer;
// the headers live in hdr, which never grows (it is flushed first).
type batch struct {
	hdr [][14]byte
	iov [][]byte
}

var batches = sync.Pool{New: func() any { return &batch{hdr: make([][14]byte, 0, maxIOV/2), iov: make([][]byte, 0, maxIOV)} }}

func (c *conn) add(b *batch, fin bool, op ws.OpCode, payload []byte) {
	if c.closeSent || c.gc == nil {
		c.dropOutput(len(payload)) // nothing after our close frame (doc.go)
		return
	}
	if len(b.iov)+2 > maxIOV {
		c.flush(b)
	}
	b.hdr = b.hdr[:len(b.hdr)+1]
	h := &b.hdr[len(b.hdr)-1]
	n := len(codec.AppendHeader(h[:0], fin, op, len(payload)))
	b.iov = append(b.iov, h[:n])
	if len(payload) > 0 {
		b.iov = append(b.iov, payload)
	}
	c.e.metrics.bytesOut.Add(float64(len(payload)))
	if fin {
		c.e.metrics.msgsOut.Inc()
	}
}

func (c *conn) flush(b *batch) {
	if c.gc != nil && !c.closeSent && len(b.iov) > 0 {
		_, _ = c.gc.Writev(b.iov)
	}
	clear(b.iov)
	b.iov, b.hdr = b.iov[:0], b.hdr[:0]
}

func (c *conn) fromStdout(b *batch, data []byte) {
	if c.gc == nil || c.closeSent {
		c.dropOutput(len(data))
		return
	}
	c.framer.stdout(c, b, data)
}

func (c *conn) fromStderr(b *batch, data []byte) {
	if c.gc != nil && !c.closeSent && c.framer.stderr(c, b, data) {
		return
	}
	// Unless the mode sends it to the client (--passstderr), and once the
	// client can no longer be sent anything, stderr is logged.
	c.errLine = cutLines(c.errLine, data, func(line []byte, _ bool) { c.logStderr(line) })
	if len(c.errLine) >= maxLogLine {
		c.logStderr(c.errLine)
		c.errLine = c.errLine[:0]
	}
}

// cutLines hands fn every complete line of data, without its "\n" or
// "\r\n"; the first one is joined to pend, the unterminated end of earlier
// reads. What follows the last newline is appended to pend, which is
// returned. A joined line lives in pend's buffer, reused as soon as fn
// returns, so fn must be done with it by then (joined says so: flush what
// refers to it); the other lines alias data. The one line splitter of the
// child's output: text messages, --passstderr JSON, stderr to the log.
func cutLines(pend, data []byte, fn func(line []byte, joined bool)) []byte {
	for {
		line, rest, ok := codec.CutLine(data)
		if !ok {
			return append(pend, data...)
		}
		if len(pend) == 0 {
			fn(line, false)
		} else {
			// The terminator may straddle the reads ("\r" then "\n"), so the
			// line is joined before its "\r" is trimmed.
			pend = append(pend, data[:len(data)-len(rest)-1]...)
			fn(trimCR(pend), true)
			if cap(pend) > 4<<10 {
				pend = nil // a rare long line does not pin its buffer
			} else {
				pend = pend[:0]
			}
		}
		data = rest
	}
}

// dropOutput counts child output that is not sent: it came after our
// close frame, or after the socket closed.
func (c *conn) dropOutput(n int) {
	c.dropped += int64(n)
	c.e.metrics.dropped.Add(float64(n))
}

func (c *conn) logStderr(line []byte) {
	c.e.log.Log(logline.LevelError, "stderr", &c.fields, "%s", line)
}

// textLines turns stdout into text messages, one per line. A line split
// across reads waits in outLine; one longer than fragmentAt is sent as a
// fragmented message, so a child that never writes a newline costs bounded
// memory and still reaches the client.
func (c *conn) textLines(b *batch, data []byte) {
	c.outLine = cutLines(c.outLine, data, func(line []byte, joined bool) {
		c.emitText(b, line, true)
		if joined {
			c.flush(b)
		}
	})
	if len(c.outLine) >= fragmentAt {
		c.sendFragment(b)
	}
}

// sendFragment sends the part of outLine that ends on a UTF-8 boundary (and
// not on a '\r' that may be half of a "\r\n") as a non-final fragment.
func (c *conn) sendFragment(b *batch) {
	cut := codec.ValidPrefix(c.outLine)
	if cut > 0 && c.outLine[cut-1] == '\r' {
		cut--
	}
	if cut == 0 {
		cut = len(c.outLine) - 3 // not UTF-8 at all: AppendValidUTF8 will repair it
	}
	c.emitText(b, c.outLine[:cut], false)
	c.flush(b)
	c.outLine = c.outLine[:copy(c.outLine, c.outLine[cut:])]
}

// emitText queues a text frame; child output that is not valid UTF-8 is
// repaired with U+FFFD, because a text frame must be UTF-8 and browsers
// fail the whole connection otherwise.
func (c *conn) emitText(b *batch, line []byte, fin bool) {
	op := ws.OpText
	if c.fragmented {
		op = ws.OpContinuation
	}
	if !utf8.Valid(line) {
		line = codec.AppendValidUTF8(nil, line)
	}
	c.add(b, fin, op, line)
	c.fragmented = !fin
}

// jsonLines is --passstderr: every line, from either stream, is one JSON
// text message. Lines are sent as they complete, so the client sees them in
// the order the poller saw them.
func (c *conn) jsonLines(b *batch, stream string, pend, data []byte) []byte {
	pend = cutLines(pend, data, func(line []byte, _ bool) { c.sendJSON(b, stream, line) })
	if len(pend) >= maxJSONLine {
		c.sendJSON(b, stream, pend)
		pend = pend[:0]
	}
	return pend
}

// sendJSON sends one line as a JSON message. A stderr line is also logged,
// the same ERROR line as without --passstderr: websocketd logs it on the
// server while the client gets it, and an operator should not lose the
// child's complaints by letting the client see them.
func (c *conn) sendJSON(b *batch, stream string, line []byte) {
	if stream == "stderr" {
		c.logStderr(line)
	}
	msg := codec.AppendStreamJSON(nil, stream, line)
	c.add(b, true, ws.OpText, msg)
	c.flush(b)
}

// flushPartial delivers what the child wrote after its last newline, at end
// of output (websocketd drops it: its issue #271).
func (c *conn) flushPartial() {
	b := batches.Get().(*batch)
	defer batches.Put(b)
	c.framer.end(c, b)
	if len(c.errLine) > 0 {
		c.logStderr(c.errLine)
	}
	c.outLine, c.errLine = nil, nil
}

func trimCR(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\r' {
		return b[:n-1]
	}
	return b
}
