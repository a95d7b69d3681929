package engine

// maxBatchBufs bounds the pieces gathered for one writev (IOV_MAX is 1024
// on Linux and the BSDs; a text message is two pieces, its payload and its
// newline).
const maxBatchBufs = 512

// inputBatch gathers what one read of a client socket brought for its
// endpoint, so that it reaches the child's stdin (or the backend's socket)
// in one writev instead of one per message. With many small messages in
// flight a read holds several, and each write would wake the reader (on a
// busy core, switch to it) once per message.
//
// It is the loop's (loopBufs), not the connection's: it is filled and
// emptied within one read event. The pieces alias the socket's input
// buffer, so conn flushes it before that input is consumed (readFrames)
// and before the endpoint is hung up (conn.hangup); a piece for another
// endpoint flushes the one before. Nothing is copied unless the far side
// does not take it all, and then only the rest (the endpoint's own
// pending buffer, bounded by maxChunk per flush).
type inputBatch struct {
	to   batchWriter
	bufs [][]byte
	size int
}

// batchWriter is an endpoint that writes its input in batches: writeBatch
// writes bufs in order, keeps what the far side did not take, and says
// whether it takes more (false: conn stops reading the client until the
// endpoint's inputResumed).
type batchWriter interface {
	writeBatch(bufs [][]byte) (more bool)
}

// add appends parts for w. A full batch is written at once; more is false
// when that write left something behind.
func (b *inputBatch) add(w batchWriter, parts ...[]byte) (more bool) {
	if b.to != w && b.to != nil {
		b.flush()
	}
	b.to = w
	for _, p := range parts {
		if len(p) > 0 {
			b.bufs = append(b.bufs, p)
			b.size += len(p)
		}
	}
	if b.size >= maxChunk || len(b.bufs) >= maxBatchBufs {
		return b.flush()
	}
	return true
}

// flush writes what was gathered (if anything) and empties the batch.
func (b *inputBatch) flush() (more bool) {
	w := b.to
	if w == nil {
		return true
	}
	b.to = nil
	more = true
	if len(b.bufs) > 0 {
		more = w.writeBatch(b.bufs)
	}
	clear(b.bufs) // no reference to a socket's input outlives the read
	b.bufs, b.size = b.bufs[:0], 0
	return more
}
