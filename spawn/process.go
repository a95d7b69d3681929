package spawn

import (
	"errors"
	"io"
	"sync"
	"sync/atomic"

	gio "github.com/panjf2000/gnet/v2/pkg/io"
	"golang.org/x/sys/unix"

	"github.com/wsplex/wsplex/reactor"
)

// ErrWouldBlock is returned by the non-blocking I/O methods when the pipe is
// empty (reads) or full (writes). An event follows when that changes.
var ErrWouldBlock = errors.New("spawn: would block")

// Process is a running child and the parent's ends of its stdio. Its
// methods, apart from the event plumbing, are to be called by its owner
// goroutine only.
//
// A connection's child holds one for its life: the fields are in an order
// that leaves no padding but the tail's (144 bytes on 64-bit platforms).
type Process struct {
	Pid int

	stdin, stdout, stderr int // parent's ends; -1 once closed
	exitFD                int // pidfd on Linux; -1 where exits come through a shared queue

	notify Notifier
	ready  atomic.Uint32

	// The loop the Process is attached to, and its watches there (by
	// slot). loop and notify are written once by attach under amu (the
	// spawner's report reader reads them); ws belongs to the loop.
	amu  sync.Mutex
	loop *reactor.Loop
	ws   [nSlots]*reactor.Watch
	edge bool // on the spawner's own loop, one-shot watches (Start)

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
// here is the loop the report was read on (nil: none): a Process attached
// there is told at once, with no hop; one elsewhere gets a post.
func (p *Process) deliverExit(st unix.WaitStatus, here *reactor.Loop) {
	p.exitSt.Store(exitKnown | uint64(uint32(st)))
	p.amu.Lock()
	l, edge := p.loop, p.edge
	if l == nil {
		p.ready.Or(EvExit) // attach notifies
		p.amu.Unlock()
		return
	}
	p.amu.Unlock()
	if edge || l == here {
		p.raise(EvExit)
		return
	}
	// The report was read off the child's loop (after a spawner died, or
	// when the Process was attached to a loop other than the one that
	// started it): one hop.
	if !l.Post(func() { p.raise(EvExit) }) {
		p.ready.Or(EvExit)
	}
}

// TakeEvents returns and clears the pending event bits.
func (p *Process) TakeEvents() uint32 { return p.ready.Swap(0) }

// ReadStdout reads what the child wrote to stdout. It returns io.EOF once
// the child (and everything it forked) closed stdout, ErrWouldBlock when
// nothing is there yet.
func (p *Process) ReadStdout(b []byte) (int, error) { return p.readFD(&p.stdout, EvStdout, b) }

// ReadStderr is ReadStdout for stderr.
func (p *Process) ReadStderr(b []byte) (int, error) { return p.readFD(&p.stderr, EvStderr, b) }

func (p *Process) readFD(fd *int, bit uint32, b []byte) (int, error) {
	if *fd < 0 {
		return 0, io.EOF
	}
	for {
		n, err := unix.Read(*fd, b)
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			_ = p.rearm(bit) // never fails for a stream
			return 0, ErrWouldBlock
		case err == unix.EIO: // a PTY master whose terminal closed (pty_unix.go): end of file
			p.closeSlot(fd, bit)
			return 0, io.EOF
		case err != nil:
			p.closeSlot(fd, bit)
			return 0, err
		case n == 0:
			p.closeSlot(fd, bit)
			return 0, io.EOF
		}
		return n, nil
	}
}

// WriteStdin writes bufs to the child's stdin with one writev. It returns
// how much was written; ErrWouldBlock with n < total means the pipe is full
// and EvStdin follows when it drains. Writing to a child that closed stdin
// or exited returns unix.EPIPE (SIGPIPE is ignored by the Go runtime for
// non-stdio fds). A full pipe whose watch could not be made (the poller
// refused it) is that error, with n: nothing would say when it drains.
func (p *Process) WriteStdin(bufs ...[]byte) (int, error) {
	if p.stdin < 0 {
		return 0, unix.EPIPE
	}
	for {
		n, err := gio.Writev(p.stdin, bufs)
		switch err {
		case nil:
			if total := bufsLen(bufs); n < total {
				// The pipe took part: EvStdin when it takes more.
				return n, p.rearm(EvStdin)
			}
			return n, nil
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			if n < 0 {
				n = 0
			}
			if err := p.rearm(EvStdin); err != nil {
				return n, err
			}
			return n, ErrWouldBlock
		default:
			return 0, err
		}
	}
}

// CloseStdin closes the child's stdin: it reads end of file.
func (p *Process) CloseStdin() { p.closeSlot(&p.stdin, EvStdin) }

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
	p.closeSlot(&p.stdin, EvStdin)
	p.closeSlot(&p.stdout, EvStdout)
	p.closeSlot(&p.stderr, EvStderr)
	p.dropExitWatch()
	if p.remote != nil {
		p.remote.forget(p)
	}
	releasePTY(p) // pty_registry.go
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

func bufsLen(bufs [][]byte) int {
	n := 0
	for _, b := range bufs {
		n += len(b)
	}
	return n
}
