// Package logline is the daemon's log: websocketd's line format
// ("<time> | <LEVEL> | <category> | <key:'value' ...> | <message>"), its
// levels (--loglevel) and the key:'value' Fields of a connection. Start
// with Logger, whose Log never waits for the output: lines are queued and
// written by one goroutine, and dropped and counted when the writer is
// stuck. level.go has the levels.
package logline

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"
)

// Fields are the key:'value' pairs of a log line: websocketd's "associated"
// values of a log scope. They are printed in the fixed order url, id, remote,
// command, origin, pid, cgiscript, which is the order in which websocketd
// associates them while it serves a request; empty strings and a zero PID are
// left out, as websocketd never associates a value it does not have yet.
type Fields struct {
	URL       string // http://HOST/REQUEST_URI
	ID        string // connection id (UNIQUE_ID)
	Remote    string // REMOTE_HOST
	Command   string // program run for this connection
	Origin    string // parsed Origin header
	PID       int    // child process id, once started
	Status    string // how the child ended ("exit status 0"), for DISCONNECT
	CGIScript string // script path of a --cgidir request
}

// appendTo appends the fields as websocketd prints them:
// "key:'value'" separated by single spaces, nothing at all if empty.
// Values are printed raw, without escaping, exactly like websocketd.
func (f *Fields) appendTo(b []byte) []byte {
	if f == nil {
		return b
	}
	start := len(b)
	b = appendKV(b, start, "url", f.URL)
	b = appendKV(b, start, "id", f.ID)
	b = appendKV(b, start, "remote", f.Remote)
	b = appendKV(b, start, "command", f.Command)
	b = appendKV(b, start, "origin", f.Origin)
	if f.PID != 0 {
		if len(b) > start {
			b = append(b, ' ')
		}
		b = append(b, "pid:'"...)
		b = strconv.AppendInt(b, int64(f.PID), 10)
		b = append(b, '\'')
	}
	// Not one of websocketd's keys: the child's end, which websocketd logs
	// only at debug level, is worth a field on the access line.
	b = appendKV(b, start, "status", f.Status)
	return appendKV(b, start, "cgiscript", f.CGIScript)
}

// appendKV appends " key:'value'" (no space if it is the first pair, that
// is, if nothing was appended since start), or nothing for an empty value.
func appendKV(b []byte, start int, k, v string) []byte {
	if v == "" {
		return b
	}
	if len(b) > start {
		b = append(b, ' ')
	}
	b = append(b, k...)
	b = append(b, ":'"...)
	b = append(b, v...)
	return append(b, '\'')
}

// DefaultLogQueueBytes bounds the formatted log lines waiting for the
// writer, including the batch being written. At roughly 150 bytes a line
// this is some 28,000 lines: enough to ride out a slow terminal or a
// briefly stalled pipe, small enough not to matter next to the per-connection
// buffers.
const DefaultLogQueueBytes = 4 << 20

// closeTimeout is how long Close waits for the final flush. A writer that is
// blocked for good (stdout is a pipe nobody reads) must not keep the daemon
// from exiting. A variable so that tests can shorten it.
var closeTimeout = 5 * time.Second

// Backoff between attempts while the writer fails, so that a permanently
// broken output (EPIPE) costs one write a second, not a busy loop.
const (
	minWriteBackoff = 10 * time.Millisecond
	maxWriteBackoff = time.Second
)

// ErrLogNotFlushed is returned by Close when some lines could not be written
// before the logger stopped.
var ErrLogNotFlushed = errors.New("log: not all lines were written")

// Logger writes websocketd-format log lines:
//
//	<RFC1123Z time> | <LEVEL padded to 6> | <category padded to 10> | <key:'value' ...> | <message>
//
// Log is called from the event-loop goroutines, so it must never wait for
// the output: it formats the line into a buffer on the calling goroutine and
// appends it to a bounded in-memory queue, and a single background goroutine
// writes the queue out in batches. Lines keep the order in which Log calls
// returned. If the queue is full (the writer is slow or blocked) or the
// writer fails (ENOSPC, EPIPE, ...), lines are dropped and counted; once a
// write succeeds again, one ERROR line reporting how many were lost is
// written before the next lines. A nil *Logger is valid and logs nothing.
type Logger struct {
	w     io.Writer
	min   Level
	limit int              // bytes; see DefaultLogQueueBytes
	now   func() time.Time // time source; replaced in tests

	mu         sync.Mutex
	buf        []byte // formatted lines not yet taken by the writer
	ends       []int  // end offset in buf of every line, to count lines on a partial write
	inflight   int    // bytes of the batch the writer is writing now
	unreported uint64 // lines dropped since the last drop notice was written
	lastErr    error  // last write error, quoted in the drop notice
	closed     bool
	running    bool // the writer goroutine was started

	dropped  atomic.Uint64
	wake     chan struct{} // capacity 1: "there is something to do"
	quit     chan struct{} // closed by Close
	done     chan struct{} // closed when the writer goroutine has exited
	closing  sync.Once
	closeErr error
}

// NewLogger returns a logger writing lines of level min and above to w.
// The writer goroutine starts with the first line, so a logger that never
// logs (LevelNone, tests) costs nothing. The caller must Close it to flush
// the last lines.
func NewLogger(w io.Writer, min Level) *Logger {
	return &Logger{
		w:     w,
		min:   min,
		limit: DefaultLogQueueBytes,
		now:   time.Now,
		wake:  make(chan struct{}, 1),
		quit:  make(chan struct{}),
		done:  make(chan struct{}),
	}
}

// Enabled reports whether a line of level lv would be written. Callers use
// it to skip building expensive arguments for debug and trace lines.
func (l *Logger) Enabled(lv Level) bool {
	return l != nil && lv >= l.min && lv >= LevelDebug && lv < LevelNone
}

// Log formats one line and queues it for writing. f may be nil; it is read
// only during the call, so the caller may change it afterwards. The message
// always goes through fmt, like websocketd's Sprintf(msg, args...), so a
// text that is not a format string (a child's stderr line, for instance)
// must be logged as Log(lv, cat, f, "%s", text). Log never blocks on the
// output; see Logger.
func (l *Logger) Log(lv Level, category string, f *Fields, format string, args ...any) {
	if !l.Enabled(lv) {
		return
	}
	bp := linePool.Get().(*[]byte)
	line := appendLine((*bp)[:0], l.now(), lv, category, f, format, args)
	l.enqueue(line)
	if cap(line) <= maxPooledLine {
		*bp = line
		linePool.Put(bp)
	}
}

// Dropped returns how many lines have been lost so far, for any reason.
func (l *Logger) Dropped() uint64 {
	if l == nil {
		return 0
	}
	return l.dropped.Load()
}

// Close writes out what is queued (and a drop notice if one is owed) and
// stops the writer goroutine. It waits at most closeTimeout for a stuck
// writer. It returns ErrLogNotFlushed (wrapping the write error, if any)
// when some lines were not written. Lines logged after Close are dropped.
func (l *Logger) Close() error {
	if l == nil {
		return nil
	}
	l.closing.Do(func() {
		l.mu.Lock()
		l.closed = true
		running := l.running
		l.mu.Unlock()
		close(l.quit)
		if !running {
			return
		}
		t := time.NewTimer(closeTimeout)
		defer t.Stop()
		select {
		case <-l.done:
		case <-t.C:
			l.closeErr = fmt.Errorf("%w: writer still blocked after %v", ErrLogNotFlushed, closeTimeout)
			return
		}
		l.mu.Lock()
		defer l.mu.Unlock()
		if l.unreported > 0 {
			l.closeErr = fmt.Errorf("%w: %d lines dropped", ErrLogNotFlushed, l.unreported)
			if l.lastErr != nil {
				l.closeErr = fmt.Errorf("%w (last error: %w)", l.closeErr, l.lastErr)
			}
		}
	})
	return l.closeErr
}

// maxSpareBatch is the largest batch buffer the writer keeps for reuse.
const maxSpareBatch = 256 << 10

// Lines are formatted into pooled buffers so that logging does not allocate
// per line in the steady state; unusually long lines are not kept.
const maxPooledLine = 16 << 10

var linePool = sync.Pool{New: func() any { b := make([]byte, 0, 256); return &b }}

// appendLine formats one line exactly like websocketd's
// fmt.Printf("%s | %-6s | %-10s | %s | %s\n", ...).
func appendLine(b []byte, t time.Time, lv Level, category string, f *Fields, format string, args []any) []byte {
	b = t.AppendFormat(b, time.RFC1123Z)
	b = append(b, " | "...)
	b = appendPadded(b, lv.String(), 6)
	b = append(b, " | "...)
	b = appendPadded(b, category, 10)
	b = append(b, " | "...)
	b = f.appendTo(b)
	b = append(b, " | "...)
	b = fmt.Appendf(b, format, args...)
	return append(b, '\n')
}

// appendPadded is %-Ns: s, then spaces up to width runes (never truncated).
func appendPadded(b []byte, s string, width int) []byte {
	b = append(b, s...)
	for n := utf8.RuneCountInString(s); n < width; n++ {
		b = append(b, ' ')
	}
	return b
}

// enqueue copies a formatted line into the queue, or counts it as dropped.
func (l *Logger) enqueue(line []byte) {
	l.mu.Lock()
	if !l.running && !l.closed {
		l.running = true
		go l.run()
	}
	switch {
	case l.closed:
		// No writer left to report the loss; it still shows in Dropped.
		l.mu.Unlock()
		l.dropped.Add(1)
		return
	case len(l.buf)+l.inflight+len(line) > l.limit:
		l.unreported++
		l.mu.Unlock()
		l.dropped.Add(1)
	default:
		l.buf = append(l.buf, line...)
		l.ends = append(l.ends, len(l.buf))
		l.mu.Unlock()
	}
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// run is the writer goroutine: it takes the whole queue at once (double
// buffering, so Log can keep appending while a batch is written), writes it
// with one Write call, and accounts for what could not be written.
func (l *Logger) run() {
	defer close(l.done)
	var (
		spare     []byte
		spareEnds []int
		notice    []byte
		backoff   time.Duration
		midLine   bool // the last byte written was not '\n' (a partial write)
	)
	for {
		l.mu.Lock()
		for len(l.buf) == 0 && l.unreported == 0 && !l.closed {
			l.mu.Unlock()
			select {
			case <-l.wake:
			case <-l.quit:
			}
			l.mu.Lock()
		}
		closing := l.closed
		if len(l.buf) == 0 && l.unreported == 0 {
			l.mu.Unlock()
			return // closed and everything written
		}
		batch, ends := l.buf, l.ends
		l.buf, l.ends = spare[:0], spareEnds[:0]
		l.inflight = len(batch)
		owed, lastErr := l.unreported, l.lastErr
		l.mu.Unlock()

		// First the drop notice (and a newline to finish a line cut short
		// by a failed write), then the batch. The notice is counted as
		// delivered only if it was written in full.
		var err error
		reported := false
		if midLine || owed > 0 {
			notice = notice[:0]
			if midLine {
				notice = append(notice, '\n')
			}
			if owed > 0 {
				notice = appendDropNotice(notice, l.now(), owed, lastErr)
			}
			var n int
			n, err = l.w.Write(notice)
			if n > 0 {
				midLine = notice[n-1] != '\n'
			}
			reported = err == nil && owed > 0
		}
		written := 0
		if err == nil && len(batch) > 0 {
			written, err = l.w.Write(batch)
			if written > 0 {
				midLine = batch[written-1] != '\n'
			}
		}
		failed := 0
		if err != nil {
			for _, e := range ends {
				if e > written {
					failed++
				}
			}
		}

		l.mu.Lock()
		l.inflight = 0
		if reported {
			l.unreported -= owed
			l.lastErr = nil // a later notice must not quote an error that is over
		}
		if err != nil {
			l.unreported += uint64(failed)
			l.lastErr = err
		}
		l.mu.Unlock()
		if failed > 0 {
			l.dropped.Add(uint64(failed))
		}
		spare, spareEnds = batch, ends
		if cap(spare) > maxSpareBatch {
			// Keep the double buffer small in the steady state; a burst
			// that filled the queue should not pin its memory forever.
			spare, spareEnds = nil, nil
		}

		if err == nil {
			backoff = 0
			continue
		}
		if closing {
			// No retries once Close was called: account for what is
			// left and stop, so Close returns promptly.
			l.mu.Lock()
			left := uint64(len(l.ends))
			l.unreported += left
			l.buf, l.ends = l.buf[:0], l.ends[:0]
			l.mu.Unlock()
			l.dropped.Add(left)
			return
		}
		backoff = min(max(2*backoff, minWriteBackoff), maxWriteBackoff)
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
		case <-l.quit:
			t.Stop()
		}
	}
}

// appendDropNotice formats the line that reports lost lines. It is an ERROR
// line of category "server" and is written whatever the minimum level, since
// the lost lines themselves had passed the level filter.
func appendDropNotice(b []byte, t time.Time, n uint64, lastErr error) []byte {
	if lastErr != nil {
		return appendLine(b, t, LevelError, "server", nil,
			"Log output stalled or failed: %d log lines dropped (last error: %v)", []any{n, lastErr})
	}
	return appendLine(b, t, LevelError, "server", nil,
		"Log output stalled or failed: %d log lines dropped", []any{n})
}
