package spawn

import (
	"errors"
	"fmt"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// The request side of the spawner client: Start's round trip, and the read
// loop that hands replies to the waiting Start calls and exit reports to
// the Processes.

// serve is the control socket's read loop.
func (c *client) serve(l *link) {
	buf := make([]byte, 64)
	oob := make([]byte, unix.CmsgSpace(3*4))
	for {
		n, oobn, _, _, err := unix.Recvmsg(l.fd, buf, oob, unix.MSG_CMSG_CLOEXEC)
		if err == unix.EINTR {
			continue
		}
		if err != nil || n == 0 {
			return
		}
		fds := rights(oob[:oobn])
		switch buf[0] {
		case msgStarted:
			c.started(l, buf[:n], fds)
			continue
		case msgExit:
			if pid, st, err := decodeExit(buf[:n]); err == nil {
				c.exited(pid, unix.WaitStatus(st))
			}
		}
		closeFDs(fds)
	}
}

func rights(oob []byte) []int {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil
	}
	var fds []int
	for _, m := range msgs {
		if r, err := unix.ParseUnixRights(&m); err == nil {
			fds = append(fds, r...)
		}
	}
	return fds
}

func closeFDs(fds []int) {
	for _, fd := range fds {
		_ = unix.Close(fd)
	}
}

// started hands a reply to its waiting start and registers the child, so
// that its exit report, which can only come later, finds it.
func (c *client) started(l *link, msg []byte, fds []int) {
	id, pid, errno, err := decodeStarted(msg)
	l.mu.Lock()
	pd := l.pending[id]
	delete(l.pending, id)
	l.mu.Unlock()
	switch {
	case err != nil:
		closeFDs(fds)
		return
	case pd == nil || (errno == 0 && len(fds) != 3):
		// The start gave up waiting, or the fds did not arrive: nobody can
		// talk to this child. The spawner reaps it.
		closeFDs(fds)
		if errno == 0 {
			_ = unix.Kill(-pid, unix.SIGKILL)
			_ = unix.Kill(pid, unix.SIGKILL)
		}
		if pd != nil {
			pd.finish(errors.New("spawn: the spawner sent no fds"))
		}
		return
	case errno != 0:
		closeFDs(fds)
		pd.finish(syscall.Errno(errno))
		return
	}
	p := pd.p
	p.Pid = pid
	p.stdin, p.stdout, p.stderr = fds[0], fds[1], fds[2]
	c.mu.Lock()
	c.procs[pid] = rproc{p, l}
	c.mu.Unlock()
	pd.finish(nil)
}

// exited delivers an exit status to the child's Process.
func (c *client) exited(pid int, st unix.WaitStatus) {
	c.mu.Lock()
	rp, ok := c.procs[pid]
	delete(c.procs, pid)
	c.mu.Unlock()
	if ok {
		rp.p.deliverExit(st)
	}
}

// forget drops a released Process: its exit report, if one still comes,
// goes nowhere.
func (c *client) forget(p *Process) {
	c.mu.Lock()
	if rp, ok := c.procs[p.Pid]; ok && rp.p == p {
		delete(c.procs, p.Pid)
	}
	c.mu.Unlock()
}

// current returns the live spawner, waiting for a restart if need be.
func (c *client) current(deadline <-chan time.Time) (*link, error) {
	for {
		c.mu.Lock()
		l, ready, closing := c.cur, c.ready, c.closing
		c.mu.Unlock()
		if closing {
			return nil, errors.New("spawn: closed")
		}
		if l != nil {
			return l, nil
		}
		select {
		case <-ready:
		case <-deadline:
			return nil, errSpawnerGone
		}
	}
}

// startAsync sends the request and returns; done runs on the goroutine
// that reads the spawner's answer (or on a timer's, after startTimeout),
// once the pipes are registered. Only while a dead spawner is being
// replaced does it wait, on a goroutine of its own.
func (c *client) startAsync(spec Spec, done func(*Process, error)) {
	c.mu.Lock()
	l, closing := c.cur, c.closing
	c.mu.Unlock()
	if l == nil && !closing {
		go func() {
			timer := time.NewTimer(startTimeout)
			defer timer.Stop()
			l, err := c.current(timer.C)
			if err != nil {
				done(nil, fmt.Errorf("spawn: %s: %w", spec.Path, err))
				return
			}
			c.request(l, spec, done)
		}()
		return
	}
	if closing {
		done(nil, errors.New("spawn: closed"))
		return
	}
	c.request(l, spec, done)
}

// request sends one start request on l.
func (c *client) request(l *link, spec Spec, done func(*Process, error)) {
	p := &Process{stdin: -1, stdout: -1, stderr: -1, exitFD: -1, remote: c}
	var once sync.Once
	var timer *time.Timer
	pd := &pend{p: p}
	pd.finish = func(err error) {
		once.Do(func() {
			if timer != nil {
				timer.Stop()
			}
			if err != nil {
				done(nil, startError(spec.Path, err))
				return
			}
			for _, fd := range [...]int{p.stdin, p.stdout, p.stderr} {
				if err := unix.SetNonblock(fd, true); err != nil {
					done(nil, p.abandon(err))
					return
				}
			}
			done(p, nil)
		})
	}
	msg := encodeStart(0, spec)
	l.sendMu.RLock()
	if l.dead {
		l.sendMu.RUnlock()
		pd.finish(errSpawnerGone)
		return
	}
	l.mu.Lock()
	l.next++
	id := l.next
	l.mu.Unlock()
	// Armed before the request is pending (finish, which stops it, may run
	// as soon as it is).
	timer = time.AfterFunc(startTimeout, func() {
		if l.cancel(id) {
			pd.finish(fmt.Errorf("the spawner did not answer within %v", startTimeout))
		}
	})
	l.mu.Lock()
	l.pending[id] = pd
	l.mu.Unlock()
	putID(msg, id)
	var err error
	for {
		if err = unix.Sendmsg(l.fd, msg, nil, nil, 0); err != unix.EINTR {
			break
		}
	}
	l.sendMu.RUnlock()
	if err != nil && l.cancel(id) {
		pd.finish(err)
	}
}

// cancel withdraws a pending request; false if an answer already took it.
func (l *link) cancel(id uint64) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, ok := l.pending[id]
	delete(l.pending, id)
	return ok
}
