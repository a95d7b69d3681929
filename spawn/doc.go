// Package spawn runs one child program per connection and turns everything
// about it (stdout or stderr readable, stdin writable again, the child gone)
// into events, without a goroutine per child.
//
// A Spawner owns a few pollers (gnet's pkg/netpoll: epoll or kqueue), each a
// single goroutine. Start forks a child in its own process group with three
// pipes and registers the parent's ends, plus a way to see the exit (a pidfd
// on Linux, EVFILT_PROC on the BSDs), edge-triggered. When something becomes
// ready the poller sets a bit on the Process and, if no bits were set
// before, calls the Notifier once. The owner (in wsplex, the connection's
// event loop) then calls TakeEvents and does the I/O itself with the
// non-blocking Read/Write methods, on its own goroutine. So a Process has
// exactly one owner goroutine and the pollers only ever flip atomic bits.
//
// Because registration is edge-triggered, the owner must read until it gets
// ErrWouldBlock (or stop on purpose: flow control) and later read again on
// its own initiative; no new event comes for data that was already there.
// That is what lets a slow client pause its child for free: the owner just
// stops reading, the pipe fills, the child blocks in write(2).
//
// Where the children come from. On Linux, when the binary's main calls
// MaybeRunSpawner, New starts the spawner process: this binary re-executed
// with SpawnerArg (server_linux.go), which owns the children, and its
// forker, re-executed with ForkerArg (forker_linux.go), which clones them
// for it. Start sends a request over a SOCK_SEQPACKET socket, which the
// forker reads, and gets back the pid and the parent's ends of the pipes
// (SCM_RIGHTS); exits come back from the spawner on the same socket
// (client_linux.go). Two costs that would otherwise grow with the number
// of connections stay flat: a fork copies the forking process's fd table,
// and the forker's holds six fds, not the daemon's thousands; wait4(-1)
// walks every child, and the spawner reaps each child by pid when its
// pidfd becomes readable instead (wait4(-1) only after a failed start). If the spawner dies
// its children pass to the daemon, a child subreaper, which watches and
// reaps them with pidfds (orphans_linux.go), and a new spawner is started;
// the daemon also reaps the orphans any child leaves behind.
// Elsewhere, or with Options.Direct, Start forks from the daemon itself
// (fork_linux.go, fork_bsd.go). Pool (--prefork) keeps children waiting.
//
// A start that execve refuses is a *StartError whose Reason names the cause
// in words, found by looking at the files (starterr.go, Diagnose): the
// program is not executable, or the interpreter of its #! line is missing.
//
// Ladder is the termination sequence for a child whose client has gone.
package spawn
