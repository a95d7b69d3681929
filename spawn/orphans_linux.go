package spawn

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/wsplex/wsplex/reactor"
)

// lostStatus is reported for a child whose exit the spawner collected but
// died before reporting: the status is gone, the child is. It reads as
// "killed by SIGKILL".
const lostStatus = unix.WaitStatus(unix.SIGKILL)

// bury handles a spawner's death. The spawner is killed (if it only closed
// its socket) and reaped; its channels are ended on their loops (what it
// reported is delivered, starts waiting on it fail). Once that wait
// returns, the kernel has reparented all its children to the daemon,
// the subreaper. Each is then watched with a pidfd on a poller and reaped
// there; connection children keep their pipes, which never went through
// the spawner after the start, so they keep working.
func (c *client) bury(l *link) {
	c.mu.Lock()
	if c.cur == l {
		c.cur = nil
		c.ready = make(chan struct{})
	}
	c.mu.Unlock()

	l.sendMu.Lock()
	l.dead = true
	l.sendMu.Unlock()

	if c.isClosing() {
		// It ends on its own once its forker has: let it reap the forker,
		// which would otherwise be left to a daemon that no longer sweeps.
		awaitExit(l.pid, 2*time.Second)
	}
	_ = unix.Kill(l.pid, unix.SIGKILL)
	for {
		var ws unix.WaitStatus
		if _, err := unix.Wait4(l.pid, &ws, 0, nil); err != unix.EINTR {
			break
		}
	}
	_ = unix.Close(l.fd)
	// The spawner is reaped, so every exit report it sent is in its
	// channels: each loop reads them, and its starts still waiting fail.
	c.endChannels(l)
	if c.isClosing() {
		return // the daemon is exiting: its children have been reaped or go with it
	}

	c.sweep()
	// Adopt the connection children directly too, in case /proc has no
	// children lists. One that is not our child now was reaped by the
	// spawner, whose report never came.
	c.mu.Lock()
	var mine []int
	for pid, rp := range c.procs {
		if _, adopted := c.orph[pid]; rp.l == l && !adopted {
			mine = append(mine, pid)
		}
	}
	c.mu.Unlock()
	for _, pid := range mine {
		if !c.adopt(pid) {
			c.exited(pid, lostStatus, nil)
		}
	}
}

// sweep adopts every child of the daemon that is an orphan: not in the
// daemon's own process group (connection children have their own group;
// anything the daemon runs itself, such as the spawner or a CGI script,
// stays in the daemon's). It runs after a spawner died, after each adopted
// orphan exits (its own children come to us then), and at each SIGCHLD
// (reapOrphans).
func (c *client) sweep() {
	for _, pid := range ownChildren() {
		c.mu.Lock()
		_, known := c.orph[pid]
		closing := c.closing
		c.mu.Unlock()
		if known || closing || ptyChild(pid) { // a live PTY child is its owner's (pty_registry.go)
			continue
		}
		if pg, err := unix.Getpgid(pid); err != nil || pg == c.pgid {
			continue
		}
		c.adopt(pid)
	}
}

// adopt watches pid, which must be a child of the daemon, with a pidfd.
func (c *client) adopt(pid int) bool {
	fd, err := unix.PidfdOpen(pid, 0) // close-on-exec by default
	if err != nil {
		return false
	}
	var info unix.Siginfo
	if err := unix.Waitid(unix.P_PIDFD, fd, &info, unix.WEXITED|unix.WNOHANG|unix.WNOWAIT, nil); err != nil {
		_ = unix.Close(fd) // ECHILD: not ours (any more)
		return false
	}
	c.mu.Lock()
	if _, known := c.orph[pid]; known {
		c.mu.Unlock()
		_ = unix.Close(fd)
		return true
	}
	c.orph[pid] = fd
	c.mu.Unlock()
	if !c.home.Post(func() {
		var w *reactor.Watch
		w, err := c.home.Register(fd, reactor.Read, reactor.HandlerFunc(func(ev reactor.Events) {
			if ev&reactor.Shutdown == 0 {
				c.orphanExited(pid, fd, w)
			}
		}))
		if err != nil {
			c.orphanExited(pid, fd, nil) // cannot watch it: collect it if it is done already
		}
	}) {
		c.orphanExited(pid, fd, nil)
	}
	return true
}

// orphanExited runs on the spawner's loop when an adopted orphan's pidfd
// becomes readable: reap it, deliver its status if it was a connection's
// child.
func (c *client) orphanExited(pid, fd int, w *reactor.Watch) {
	var ws unix.WaitStatus
	for {
		wpid, err := unix.Wait4(pid, &ws, unix.WNOHANG, nil)
		if err == unix.EINTR {
			continue
		}
		if err == nil && wpid == 0 {
			return // still running: the pidfd reports the exit later
		}
		break
	}
	if w != nil {
		_ = w.Close()
	} else {
		_ = unix.Close(fd)
	}
	c.mu.Lock()
	delete(c.orph, pid)
	c.mu.Unlock()
	c.exited(pid, ws, nil)
	c.sweep()
}

// ownChildren lists the daemon's children from /proc (every thread's list:
// an orphan is reparented to one thread of the subreaper).
func ownChildren() []int {
	tasks, _ := filepath.Glob("/proc/self/task/*/children")
	var pids []int
	for _, t := range tasks {
		b, err := os.ReadFile(t)
		if err != nil {
			continue
		}
		for _, f := range strings.Fields(string(b)) {
			if pid, err := strconv.Atoi(f); err == nil {
				pids = append(pids, pid)
			}
		}
	}
	return pids
}

// awaitExit waits up to d for the child pid to exit, without reaping it.
func awaitExit(pid int, d time.Duration) {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return
	}
	defer unix.Close(fd)
	deadline := time.Now().Add(d)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return
		}
		_, err := unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, int(left.Milliseconds())+1)
		if err != unix.EINTR {
			return
		}
	}
}
