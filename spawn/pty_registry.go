//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package spawn

import "sync"

// The PTY children the daemon forked itself, by pid.
//
// Why it exists: where the spawner process is used, the daemon is a child
// subreaper (client_linux.go), and its sweep adopts every child of the
// daemon outside the daemon's process group as an orphan. A PTY child is a
// child of the daemon in its own session, so the sweep must leave the live
// ones to their owners (ptyChild), and what a PTY child leaves behind when
// it exits (its orphans, reparented to the daemon) must be swept up.
//
// forking is held for reading across each fork and its registration, and
// for writing by ptyChild: a sweep that saw a new pid in /proc then waits
// until that pid is registered, so it can never adopt a PTY child.
var (
	forking sync.RWMutex
	ptyMu   sync.Mutex
	ptyPids = map[int]ptyEntry{}
)

type ptyEntry struct {
	p     *Process
	sweep func() // adopts orphans; nil where the daemon is no subreaper
}

func registerPTY(p *Process, sweep func()) {
	ptyMu.Lock()
	ptyPids[p.Pid] = ptyEntry{p: p, sweep: sweep}
	ptyMu.Unlock()
}

// ptyChild reports whether pid is a PTY child the daemon owns.
func ptyChild(pid int) bool {
	forking.Lock()
	defer forking.Unlock()
	ptyMu.Lock()
	defer ptyMu.Unlock()
	_, ok := ptyPids[pid]
	return ok
}

// releasePTY forgets a released PTY child and sweeps for the orphans it
// left: by the time its exit was seen (and so before Release), the kernel
// had reparented them. It is a no-op for any other Process.
func releasePTY(p *Process) {
	ptyMu.Lock()
	e, ok := ptyPids[p.Pid]
	if ok && e.p == p {
		delete(ptyPids, p.Pid)
	}
	ptyMu.Unlock()
	if ok && e.p == p && e.sweep != nil {
		e.sweep()
	}
}
