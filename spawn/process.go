package spawn

import (
	"errors"
	"io"
	"sync/atomic"

	gio "github.com/panjf2000/gnet/v2/pkg/io"
	"golang.org/x/sys/unix"
)

// ErrWouldBlock is returned by the non-blocking I/O methods when the pipe is
// empty (reads) or full (writes). An event follows when that changes.
var ErrWouldBlock = errors.New("spawn: would block")

// Process is a running child and the parent's ends of its stdio. Its
// methods, apart from the event plumbing, are to be called by its owner
// goroutine only.
type Process struct {
	Pid int

	stdin, stdout, stderr int // parent's ends; -1 once closed
	exitFD                int // pidfd on Linux; -1 where exits come through a shared queue

	ready  atomic.Uint32
	notify Notifier
	pl     *poller

	reaped bool
	status unix.WaitStatus

	// remote is set when a spawner process is the child's parent: the exit
	// status then arrives as a message (or from the orphan reaper) and is
	// stored in exitSt, with exitKnown set, by another goroutine.
	remote remote
	exitSt atomic.Uint64
}

const exitKnown = 1 << 32

// deliverExit records the status of a spawner's child and raises EvExit.
func (p *Process) deliverExit(st unix.WaitStatus) {
	p.exitSt.Store(exitKnown | uint64(uint32(st)))
	p.raise(EvExit)
}

// TakeEvents returns and clears the pending event bits.
func (p *Process) TakeEvents() uint32 { return p.ready.Swap(0) }

// ReadStdout reads what the child wrote to stdout. It returns io.EOF once
// the child (and everything it forked) closed stdout, ErrWouldBlock when
// nothing is there yet.
func (p *Process) ReadStdout(b []byte) (int, error) { return readFD(&p.stdout, p.pl, b) }

// ReadStderr is ReadStdout for stderr.
func (p *Process) ReadStderr(b []byte) (int, error) { return readFD(&p.stderr, p.pl, b) }

func readFD(fd *int, pl *poller, b []byte) (int, error) {
	if *fd < 0 {
		return 0, io.EOF
	}
	for {
		n, err := unix.Read(*fd, b)
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			return 0, ErrWouldBlock
		case err == unix.EIO: // a PTY master whose terminal closed (pty_unix.go): end of file
			closeWatched(fd, pl)
			return 0, io.EOF
		case err != nil:
			closeWatched(fd, pl)
			return 0, err
		case n == 0:
			closeWatched(fd, pl)
			return 0, io.EOF
		}
		return n, nil
	}
}

// WriteStdin writes bufs to the child's stdin with one writev. It returns
// how much was written; ErrWouldBlock with n < total means the pipe is full
// and EvStdin follows when it drains. Writing to a child that closed stdin
// or exited returns unix.EPIPE (SIGPIPE is ignored by the Go runtime for
// non-stdio fds).
func (p *Process) WriteStdin(bufs ...[]byte) (int, error) {
	if p.stdin < 0 {
		return 0, unix.EPIPE
	}
	for {
		n, err := gio.Writev(p.stdin, bufs)
		switch err {
		case nil:
			return n, nil
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			if n < 0 {
				n = 0
			}
			return n, ErrWouldBlock
		default:
			return 0, err
		}
	}
}

// CloseStdin closes the child's stdin: it reads end of file.
func (p *Process) CloseStdin() { closeWatched(&p.stdin, p.pl) }

// Signal sends sig to the child's whole process group, so that what the
// child started goes too. After the child is reaped it signals the group
// only if members remain (the group id cannot be reused while they do).
func (p *Process) Signal(sig unix.Signal) error {
	return unix.Kill(-p.Pid, sig)
}

// GroupAlive reports whether any process of the child's group still runs.
func (p *Process) GroupAlive() bool {
	return unix.Kill(-p.Pid, 0) == nil
}

// Reap collects the child's exit status if it has exited. It never blocks.
func (p *Process) Reap() (unix.WaitStatus, bool) {
	if p.reaped {
		return p.status, true
	}
	if p.remote != nil {
		v := p.exitSt.Load()
		if v&exitKnown == 0 {
			return 0, false
		}
		p.reaped, p.status = true, unix.WaitStatus(uint32(v))
		return p.status, true
	}
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(p.Pid, &ws, unix.WNOHANG, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			// ECHILD: someone else reaped it (should not happen); do not
			// wait for it forever.
			p.reaped, p.status = true, 0
			p.dropExitWatch()
			return p.status, true
		}
		if pid == 0 {
			return 0, false
		}
		p.reaped, p.status = true, ws
		p.dropExitWatch()
		return ws, true
	}
}

// Exited reports whether Reap has collected the child.
func (p *Process) Exited() bool { return p.reaped }

// Release closes every fd the parent still holds for the child. It does not
// signal or reap: the owner runs the Ladder and Reap first.
func (p *Process) Release() {
	closeWatched(&p.stdin, p.pl)
	closeWatched(&p.stdout, p.pl)
	closeWatched(&p.stderr, p.pl)
	p.dropExitWatch()
	if p.remote != nil {
		p.remote.forget(p)
	}
	releasePTY(p) // pty_registry.go
}

func (p *Process) dropExitWatch() {
	if p.exitFD >= 0 {
		closeWatched(&p.exitFD, p.pl)
	}
}

func closeWatched(fd *int, pl *poller) {
	if *fd < 0 {
		return
	}
	pl.remove(*fd)
	_ = unix.Close(*fd)
	*fd = -1
}

// FDs returns how many fds the parent holds for this child, for accounting.
func (p *Process) FDs() int {
	n := 0
	for _, fd := range [...]int{p.stdin, p.stdout, p.stderr, p.exitFD} {
		if fd >= 0 {
			n++
		}
	}
	return n
}
