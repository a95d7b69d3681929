package spawn

import (
	"errors"
	"fmt"
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

// started hands a reply to its waiting Start and registers the child, so
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
		// Start gave up waiting, or the fds did not arrive: nobody can talk
		// to this child. The spawner reaps it.
		closeFDs(fds)
		if errno == 0 {
			_ = unix.Kill(-pid, unix.SIGKILL)
			_ = unix.Kill(pid, unix.SIGKILL)
		}
		if pd != nil {
			pd.err = errors.New("spawn: the spawner sent no fds")
			close(pd.done)
		}
		return
	case errno != 0:
		closeFDs(fds)
		pd.err = syscall.Errno(errno)
		close(pd.done)
		return
	}
	p := pd.p
	p.Pid = pid
	p.stdin, p.stdout, p.stderr = fds[0], fds[1], fds[2]
	c.mu.Lock()
	c.procs[pid] = rproc{p, l}
	c.mu.Unlock()
	close(pd.done)
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

// start asks the spawner for a child and waits for the answer: one round
// trip on a local socket plus the fork, about as long as the fork alone.
func (c *client) start(spec Spec, n Notifier, pl *poller) (*Process, error) {
	timer := time.NewTimer(startTimeout)
	defer timer.Stop()
	l, err := c.current(timer.C)
	if err != nil {
		return nil, err
	}
	p := &Process{stdin: -1, stdout: -1, stderr: -1, exitFD: -1, notify: n, pl: pl, remote: c}
	pd := &pend{p: p, done: make(chan struct{})}
	msg := encodeStart(0, spec)
	l.sendMu.RLock()
	if l.dead {
		l.sendMu.RUnlock()
		return nil, errSpawnerGone
	}
	l.mu.Lock()
	l.next++
	id := l.next
	l.pending[id] = pd
	l.mu.Unlock()
	putID(msg, id)
	for {
		if err = unix.Sendmsg(l.fd, msg, nil, nil, 0); err != unix.EINTR {
			break
		}
	}
	l.sendMu.RUnlock()
	if err != nil && l.cancel(id) {
		return nil, fmt.Errorf("spawn: %s: %w", spec.Path, err)
	}
	select {
	case <-pd.done:
	case <-timer.C:
		if l.cancel(id) {
			return nil, fmt.Errorf("spawn: %s: the spawner did not answer within %v", spec.Path, startTimeout)
		}
		<-pd.done // the answer is being delivered right now
	}
	if pd.err != nil {
		return nil, fmt.Errorf("spawn: %s: %w", spec.Path, pd.err)
	}
	for _, fd := range [...]int{p.stdin, p.stdout, p.stderr} {
		if err := unix.SetNonblock(fd, true); err != nil {
			return nil, p.abandon(err)
		}
	}
	if err := registerPipes(p, pl); err != nil {
		return nil, p.abandon(err)
	}
	return p, nil
}

// cancel withdraws a pending request; false if an answer already took it.
func (l *link) cancel(id uint64) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, ok := l.pending[id]
	delete(l.pending, id)
	return ok
}
