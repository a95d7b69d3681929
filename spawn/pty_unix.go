//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package spawn

import (
	"fmt"
	"os"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
)

// Winsize is a terminal size in character cells.
type Winsize struct {
	Cols, Rows uint16
}

// StartPTY starts spec on a new pseudo-terminal (--pty): the child is a
// session leader with the terminal as its controlling terminal and as its
// stdin, stdout and stderr, and the terminal starts at size.
//
// The master is one file used both ways. A Process holds two fds for it, the
// master (as "stdout", polled for reading) and a dup of it (as "stdin",
// polled for writing): epoll and kqueue key registrations by fd number, so
// each direction gets its own watch, and Release, CloseStdin
// and the EIO at end of output each close exactly the fd they own. The
// child has no separate stderr: ReadStderr reports end of file at once.
//
// PTY children are forked by the daemon itself, never by the spawner
// process: the terminal must be opened where its master lives, and the
// request protocol of the spawner carries pipes only. No goroutine is
// started (os/exec's Wait would be one per child); the exit is watched and
// reaped exactly as for a directly forked pipe child.
func (s *Spawner) StartPTY(spec Spec, size Winsize, n Notifier) (*Process, error) {
	p, err := s.SpawnPTY(spec, size)
	if err != nil {
		return nil, err
	}
	return p, s.attachHome(p, n)
}

// SpawnPTY is StartPTY without a loop: the caller attaches the child
// (Attach) on the loop that is to own it.
func (s *Spawner) SpawnPTY(spec Spec, size Winsize) (*Process, error) {
	master, tty, err := pty.Open()
	if err != nil {
		return nil, fmt.Errorf("spawn: pty: %w", err)
	}
	defer func() { _ = tty.Close() }()
	out, in, err := masterFDs(master)
	_ = master.Close()
	if err != nil {
		return nil, fmt.Errorf("spawn: pty: %w", err)
	}
	p := &Process{stdin: in, stdout: out, stderr: -1, exitFD: -1}
	if err := setSize(out, size); err != nil {
		_ = unix.Close(in)
		_ = unix.Close(out)
		return nil, fmt.Errorf("spawn: pty: %w", err)
	}
	// Fd puts the terminal side in blocking mode, which is what the child
	// expects of its stdio (Go may have opened it non-blocking). The fork
	// and the registration are one step for the orphan sweep
	// (pty_registry.go).
	ttyFD := int(tty.Fd())
	forking.RLock()
	pid, exitFD, err := ptyForkExec(spec, ttyFD)
	if err == nil {
		p.Pid = pid
		registerPTY(p, s.orphanSweep())
	}
	forking.RUnlock()
	if err != nil {
		_ = unix.Close(in)
		_ = unix.Close(out)
		return nil, startError(spec.Path, err)
	}
	p.exitFD = exitFD
	return p, nil
}

// masterFDs takes the master's fd through SyscallConn().Control (Fd would
// switch it to blocking mode) and returns two close-on-exec dups of it,
// owned by the caller, with the (shared) file description non-blocking.
func masterFDs(master *os.File) (out, in int, err error) {
	out, in = -1, -1
	rc, err := master.SyscallConn()
	if err != nil {
		return -1, -1, err
	}
	cerr := rc.Control(func(fd uintptr) {
		if out, err = unix.FcntlInt(fd, unix.F_DUPFD_CLOEXEC, 0); err != nil {
			return
		}
		if in, err = unix.FcntlInt(fd, unix.F_DUPFD_CLOEXEC, 0); err != nil {
			return
		}
		err = unix.SetNonblock(out, true)
	})
	if err == nil {
		err = cerr
	}
	if err != nil {
		for _, fd := range [...]int{out, in} {
			if fd >= 0 {
				_ = unix.Close(fd)
			}
		}
		return -1, -1, err
	}
	return out, in, nil
}

// setSize sets the terminal's size (TIOCSWINSZ on the master).
func setSize(fd int, size Winsize) error {
	return unix.IoctlSetWinsize(fd, unix.TIOCSWINSZ, &unix.Winsize{Row: size.Rows, Col: size.Cols})
}

// masterFD is the fd of a PTY child's master still open, or -1.
func (p *Process) masterFD() int {
	if p.stdout >= 0 {
		return p.stdout
	}
	return p.stdin
}

// Resize changes a PTY child's terminal size; the kernel sends SIGWINCH to
// the terminal's foreground process group. It is a no-op once the master is
// closed.
func (p *Process) Resize(size Winsize) error {
	fd := p.masterFD()
	if fd < 0 {
		return nil
	}
	return setSize(fd, size)
}

// Hangup is what closing a terminal does, for a PTY child whose client has
// gone: SIGHUP (and SIGCONT, so that a stopped job sees it) to the
// terminal's foreground process group and to the child's own (it is the
// session leader). Shells pass SIGHUP on to their jobs. The ladder follows.
func (p *Process) Hangup() {
	groups := []int{p.Pid}
	if fd := p.masterFD(); fd >= 0 {
		if fg, err := unix.IoctlGetInt(fd, unix.TIOCGPGRP); err == nil && fg > 0 && fg != p.Pid {
			groups = append(groups, fg)
		}
	}
	for _, g := range groups {
		_ = unix.Kill(-g, unix.SIGHUP)
		_ = unix.Kill(-g, unix.SIGCONT)
	}
}
