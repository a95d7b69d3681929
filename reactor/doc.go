// Package reactor is wsplex's event loop: one goroutine per core, each
// owning one poller (epoll on Linux, kqueue on FreeBSD and macOS) that
// carries every descriptor of its connections (client sockets, child
// pipes, PTY masters, pidfds, report sockets), process exits, a timer heap
// and a wake-up for work posted from other goroutines. wsbench runs on it
// (bench/client.go); the daemon's engine is to move onto it next.
//
// Where to start: loop.go (Loop, Watch, Handler, Post, Close; the rules on
// which goroutine may call what), then timer.go (the heap that bounds the
// poller's wait), then poller_linux.go / poller_bsd.go (how interest maps
// onto epoll masks and kqueue filters), then group.go (N loops, picking
// one for a new connection), and outbuf.go (Outbuf, a connection's pending
// output: writev straight to the kernel, queue the rest, flush on
// Writable). reactor_test.go shows each piece in use.
//
// # The model
//
// A Loop's goroutine is locked to its OS thread and runs: posted tasks,
// due timers, then one poller wait bounded by the earliest timer. Every
// handler, timer callback and task runs there, so state owned by a loop
// needs no locks; the only ways in from elsewhere are Post and Close.
//
// Register puts a descriptor on the loop with an Interest (Read, Write,
// both or neither) and a Handler whose OnEvent gets Readable, Writable,
// Hangup, Error (and Exited for WatchProcess, Shutdown when the loop
// closes). Flow control is a poller operation: PauseRead/ResumeRead and
// WantWrite change the registration (one epoll_ctl or kevent), so "stop
// reading the child while the client is behind, resume when the socket
// drains" is WantWrite(true) on the socket and PauseRead on the pipe, and
// the socket's Writable is where the pipe is resumed: no polling timer.
//
// Readable and Writable are level-triggered: a handler may read or write
// a bounded amount per event and is told again while more is possible.
// A paused read is edge-triggered on Linux so that the peer's hangup is
// reported once while paused rather than on every wait; on the BSDs a
// disabled filter reports nothing and the hangup comes with the resume.
// Events are filtered by the interest current at delivery: a handler that
// pauses another watch earlier in the same batch is obeyed at once.
//
// Deregistration is final: Watch.Close (or Deregister, which leaves the
// descriptor open) removes it from the poller and the handler is never
// called again, not even for an event already collected in the batch.
// A descriptor number reused by a new registration in the same batch does
// not receive the old one's events: events are matched to registrations
// through a table by fd, and a registration made during a batch is not
// offered that batch's events.
//
// Timers (NewTimer/InitTimer, Reset, Stop) live in a binary heap whose
// earliest entry sets the poller's timeout (epoll_pwait2 for microsecond
// precision where the kernel has it, kevent's timespec); re-arming a timer
// does not allocate. Post appends to a slice under a short lock and writes
// the eventfd (a pipe on the BSDs) only when the loop is not already due
// to wake, so a burst of posts costs one wake-up.
//
// # Why our own poller, not gnet's pkg/netpoll
//
// wsplex keeps gnet v2 and its public packages, and issue 11 suggested
// gnet's exported netpoll.Poller as this loop's poller. We use a small
// epoll/kqueue layer of our own (about 200 lines per OS on x/sys/unix)
// because netpoll cannot express what the loop needs without workarounds:
//   - Polling owns the loop and waits with no timeout (EpollWait -1, then
//     Gosched on an empty round), so timers would need a timerfd per loop
//     on Linux and EVFILT_TIMER on the BSDs, neither of which netpoll can
//     register, and the loop could only be stopped by a task returning
//     gnet's shutdown error;
//   - it has no "no read interest" registration: a pause would be Delete
//     then AddWrite, and a paused socket's hangup (EPOLLRDHUP) could not be
//     seen while paused; edge-triggered mode is all-or-nothing per call;
//   - events come keyed by fd with no generation (the default build), so
//     fd-reuse safety would need the same table we keep anyway;
//   - process exits on the BSDs (EVFILT_PROC) are not descriptors, so
//     netpoll cannot watch them.
//
// None of this reaches into gnet's unexported state; nothing in this
// package uses reflection or linkname into a dependency.
package reactor
