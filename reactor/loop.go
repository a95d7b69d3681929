package reactor

import (
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// Events is the set of conditions one OnEvent call reports.
type Events uint8

const (
	// Readable: a read will not block (data, end of file or an error is
	// waiting). Reported only while read interest is on.
	Readable Events = 1 << iota
	// Writable: a write will not block. Reported only while write
	// interest is on.
	Writable
	// Hangup: the peer has gone (EPOLLRDHUP/EPOLLHUP, EV_EOF). Data sent
	// before it may still be waiting: read until end of file. On Linux it
	// is reported also while reading is paused (edge-triggered then: not
	// on every wait, though a re-armed write interest may repeat it); on
	// the BSDs a paused watch learns it on resume, as Readable|Hangup.
	Hangup
	// Error: the descriptor has a pending error (EPOLLERR, EV_ERROR).
	Error
	// Exited: the process of a WatchProcess has exited (not reaped).
	Exited
	// Shutdown: the loop is closing; this is the last event. The loop
	// closes the watch after the call if the handler did not.
	Shutdown
)

// Interest is what a watch wants to hear about.
type Interest uint8

const (
	Read  Interest = 1 << iota // deliver Readable
	Write                      // deliver Writable
)

// Handler receives the events of one watch, on its loop goroutine.
type Handler interface {
	OnEvent(ev Events)
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ev Events)

// OnEvent calls f(ev).
func (f HandlerFunc) OnEvent(ev Events) { f(ev) }

// ErrClosed is returned when the loop has been closed.
var ErrClosed = errors.New("reactor: loop closed")

type watchKind uint8

const (
	kindFD    watchKind = iota
	kindPidfd           // Linux: a pidfd, readable once the process exited
	kindProc            // BSD: an EVFILT_PROC filter on a pid, no fd
)

// Watch is one registration: a descriptor (or a process) on a loop, its
// handler and its current interest. All methods run on the loop goroutine.
//
// A connection holds several (its socket, its child's pipes), so the
// layout is kept tight: the one-byte fields last, and watchOS, empty on
// Linux, not last (a trailing zero-size field is padded to a word). 48
// bytes on Linux (TestWatchSize).
type Watch struct {
	l  *Loop
	fd int // the fd, or the pid for kindProc
	h  Handler
	// seq is the loop's poll round in which the watch was registered:
	// events of that round's batch predate it (the fd number may have
	// belonged to a registration closed in the same batch) and are dropped.
	seq uint64
	//lint:ignore U1000 the kqueue filters a watch has added; empty on Linux
	watchOS
	interest Interest
	kind     watchKind
	closed   bool
}

// FD returns the watched descriptor (the pid for a process watch on BSD).
func (w *Watch) FD() int { return w.fd }

// Interest returns the current interest.
func (w *Watch) Interest() Interest { return w.interest }

// Closed reports whether the watch has been deregistered.
func (w *Watch) Closed() bool { return w.closed }

// SetInterest changes what the watch is told about: a poller operation
// (epoll_ctl / kevent), done only when the interest changes. Turning Read
// off is the read pause: the kernel buffers, then the peer's sends block.
// Turning it on again delivers what is pending (level-triggered).
func (w *Watch) SetInterest(i Interest) error {
	if w.closed {
		return ErrClosed
	}
	if i == w.interest {
		return nil
	}
	old := w.interest
	w.interest = i
	if err := w.l.p.modify(w, old); err != nil {
		w.interest = old
		return err
	}
	return nil
}

// PauseRead turns read interest off.
func (w *Watch) PauseRead() error { return w.SetInterest(w.interest &^ Read) }

// ResumeRead turns read interest on.
func (w *Watch) ResumeRead() error { return w.SetInterest(w.interest | Read) }

// WantWrite turns write interest on or off: on while output waits for the
// kernel to take it, off once it is all written.
func (w *Watch) WantWrite(on bool) error {
	if on {
		return w.SetInterest(w.interest | Write)
	}
	return w.SetInterest(w.interest &^ Write)
}

// Deregister removes the watch from the poller; its handler is not called
// again, not even for events already collected in the current batch. The
// descriptor stays open and belongs to the caller. Deregister before
// closing a descriptor yourself: epoll keeps reporting a closed fd whose
// file is still open elsewhere (a forked child's copy).
func (w *Watch) Deregister() error {
	if w.closed {
		return nil
	}
	w.closed = true
	l := w.l
	err := l.p.remove(w)
	l.forget(w)
	return err
}

// Close deregisters the watch and closes its descriptor (for a process
// watch: its pidfd, if any).
func (w *Watch) Close() error {
	if w.closed {
		return nil
	}
	err := w.Deregister()
	if w.kind != kindProc {
		if cerr := unix.Close(w.fd); err == nil {
			err = cerr
		}
	}
	return err
}

// Loop is one event loop: a goroutine locked to its OS thread that owns a
// poller, the watches registered on it, a timer heap and a queue of tasks
// posted from other goroutines. Everything but Post, Close, ID and Load
// must be called on the loop goroutine (from a handler, a timer or a
// posted task), which is what lets the data path go without locks.
type Loop struct {
	id int
	p  *poller

	fds   []*Watch // by fd number
	procs map[int]*Watch
	seq   uint64
	load  atomic.Int64

	mu      sync.Mutex
	tasks   []func()
	spare   []func()
	woken   bool // a wake-up is pending: posters need not write again
	closing bool // Close was called: Post refuses

	timers timerHeap
	base   time.Time
	now    time.Time

	stop bool
	err  error
	done chan struct{}
}

// New opens a poller and starts its loop goroutine. id is free for the
// caller (Group numbers its loops from 0).
func New(id int) (*Loop, error) {
	p, err := openPoller()
	if err != nil {
		return nil, err
	}
	now := time.Now()
	l := &Loop{id: id, p: p, procs: make(map[int]*Watch), base: now, now: now, done: make(chan struct{})}
	go l.run()
	return l, nil
}

// ID returns the id given to New.
func (l *Loop) ID() int { return l.id }

// Load is the number of watches registered: what Group.Least compares.
// Safe from any goroutine.
func (l *Loop) Load() int64 { return l.load.Load() }

// Now is the time the loop last woke up: cheaper than time.Now() for
// handlers that do not mind a batch's worth of staleness.
func (l *Loop) Now() time.Time { return l.now }

// Post queues f to run on the loop goroutine, in order with other posts.
// Safe from any goroutine; it never blocks on the loop (one short lock,
// and one eventfd/pipe write per batch of posts). It reports false, and
// drops f, once the loop is closing.
func (l *Loop) Post(f func()) bool {
	l.mu.Lock()
	if l.closing {
		l.mu.Unlock()
		return false
	}
	l.tasks = append(l.tasks, f)
	wake := !l.woken
	l.woken = true
	l.mu.Unlock()
	if wake {
		l.p.wake()
	}
	return true
}

// Close stops the loop and waits for its goroutine to end. Tasks posted
// before Close still run; then every watch left gets a Shutdown event and
// is closed (its fd too), pending timers are dropped and the poller's own
// descriptors are closed. It returns the poller error that stopped the
// loop, if one did. Not from the loop goroutine (it would wait for itself).
func (l *Loop) Close() error {
	l.mu.Lock()
	first := !l.closing
	l.closing = true
	wake := false
	if first {
		l.tasks = append(l.tasks, func() { l.stop = true })
		wake = !l.woken
		l.woken = true
	}
	l.mu.Unlock()
	if wake {
		l.p.wake()
	}
	<-l.done
	return l.err
}

// Done is closed when the loop goroutine has ended.
func (l *Loop) Done() <-chan struct{} { return l.done }

// Register adds fd to the poller with interest i; h gets its events. The
// descriptor should be non-blocking. Loop goroutine only.
func (l *Loop) Register(fd int, i Interest, h Handler) (*Watch, error) {
	if l.stop {
		return nil, ErrClosed
	}
	w := &Watch{l: l, fd: fd, h: h, interest: i, kind: kindFD}
	if err := l.add(w); err != nil {
		return nil, err
	}
	return w, nil
}

func (l *Loop) add(w *Watch) error {
	w.seq = l.seq
	if err := l.p.add(w); err != nil {
		return err
	}
	if w.kind == kindProc {
		l.procs[w.fd] = w
	} else {
		for w.fd >= len(l.fds) {
			l.fds = append(l.fds, make([]*Watch, len(l.fds)+64)...)
		}
		l.fds[w.fd] = w
	}
	l.load.Add(1)
	return nil
}

func (l *Loop) forget(w *Watch) {
	if w.kind == kindProc {
		if l.procs[w.fd] == w {
			delete(l.procs, w.fd)
		}
	} else if w.fd < len(l.fds) && l.fds[w.fd] == w {
		l.fds[w.fd] = nil
	}
	l.load.Add(-1)
}

// lookup returns the watch an event of this round belongs to, or nil.
func (l *Loop) lookup(fd int) *Watch {
	if fd < 0 || fd >= len(l.fds) {
		return nil
	}
	w := l.fds[fd]
	if w == nil || w.seq == l.seq {
		return nil
	}
	return w
}

// deliver filters ev by the watch's current interest (a handler earlier in
// the batch may have paused it) and calls its handler.
func (w *Watch) deliver(ev Events) {
	if w.closed {
		return
	}
	if w.interest&Read == 0 {
		ev &^= Readable
	}
	if w.interest&Write == 0 {
		ev &^= Writable
	}
	if ev != 0 {
		w.h.OnEvent(ev)
	}
}

func (l *Loop) run() {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	defer close(l.done)
	for !l.stop {
		l.runTasks()
		if l.stop {
			break
		}
		l.now = time.Now()
		l.runTimers(int64(l.now.Sub(l.base)))
		timeout := time.Duration(-1)
		if len(l.timers) > 0 {
			timeout = max(0, time.Duration(l.timers[0].when)-time.Since(l.base))
		}
		l.seq++
		if err := l.p.wait(l, timeout); err != nil {
			l.err = err
			break
		}
	}
	l.shutdown()
}

func (l *Loop) runTasks() {
	l.mu.Lock()
	tasks := l.tasks
	l.tasks = l.spare[:0]
	l.woken = false
	l.mu.Unlock()
	for i, f := range tasks {
		f()
		tasks[i] = nil
	}
	l.spare = tasks
}

func (l *Loop) shutdown() {
	l.mu.Lock()
	l.closing = true
	l.tasks = nil
	l.mu.Unlock()
	l.stop = true
	var left []*Watch
	for _, w := range l.fds {
		if w != nil {
			left = append(left, w)
		}
	}
	for _, w := range l.procs {
		left = append(left, w)
	}
	for _, w := range left {
		if !w.closed {
			w.h.OnEvent(Shutdown)
		}
		w.Close()
	}
	for _, t := range l.timers {
		t.idx = -1
	}
	l.timers = nil
	l.p.close()
}
