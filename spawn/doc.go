// Package spawn runs one child program per connection and turns everything
// about it (stdout or stderr readable, stdin writable again, the child gone)
// into events on a reactor loop, without a goroutine per child.
//
// Spawn (or SpawnAsync, SpawnPTY) starts a child in its own process group
// with three pipes (or a PTY) and returns it unwatched. Its owner then calls
// Attach on the loop that owns the connection: the parent's pipe ends (or
// the PTY master), and its exit (the pidfd from CLONE_PIDFD on Linux, an
// EVFILT_PROC filter on the BSDs) become watches of that loop, and the
// Notifier is called there, on the loop's goroutine, where the owner takes
// the bits (TakeEvents) and does the I/O itself with the non-blocking
// Read/Write methods. Readiness is level-triggered, and flow control is a
// poller operation: PauseRead(EvStdout) takes the pipe's read interest off
// (the pipe fills, the child blocks in write(2)), ResumeRead puts it back;
// stdin is watched only after a short write (EvStdin says the pipe takes
// more). A child of the spawner process has no pidfd in the daemon: its
// exit comes as a report on the socket of the loop that started it
// (SpawnOn, below), read there, so it too is handled with no hop.
//
// Start (and StartAsync, StartPTY) attach to the Spawner's own loop
// instead, with one-shot watches re-armed when the owner reads or writes to
// ErrWouldBlock, for owners that are not a loop: tests, and the --prefork
// Pool while a child waits for its connection. That loop also watches the
// orphans adopted from a dead spawner process.
//
// Where the children come from. On Linux, when the binary's main calls
// MaybeRunSpawner, New starts the spawner process: this binary re-executed
// with SpawnerArg (server_linux.go), which owns the children, and its
// forker, re-executed with ForkerArg (forker_linux.go), which clones them
// for it. Each loop that starts children has its own SOCK_SEQPACKET
// channel to them (wire.go, request_linux.go), opened with the spawner
// (Prepare; else at the loop's first start) and watched on that loop: SpawnOn sends the request there, the forker
// reads it and answers with the pid and the parent's ends of the pipes
// (SCM_RIGHTS), and the spawner reports the child's exit on the same
// channel later. Both are read on the loop, where the connection is, and
// handled at once: no goroutine reads the spawner, and nothing is posted
// between loops. (SpawnAsync and Start use the Spawner's own loop's
// channel.) The spawner's first channel, watched on that loop, is its
// lifeline: its end means the spawner died (client_linux.go).
// Two costs that would otherwise grow with the number
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
