package spawn

import (
	"errors"
	"fmt"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/wsplex/wsplex/reactor"
)

// The request side of the spawner client: each event loop that starts
// children has its own channel to the spawner (wire.go), a SOCK_SEQPACKET
// socket watched on that loop. A start is sent on it, and its answer and,
// later, its child's exit report come back on it, so both are read and
// handled on the loop that asked, where the connection and the child's
// pipes are: no goroutine between the spawner's answer and the connection.

// channel is one loop's channel to one spawner. It is made on its loop
// (channelOn) and belongs to that loop's goroutine from then on; only if
// the loop closes first does it move to the home loop (moveHome).
type channel struct {
	c    *client
	lk   *link
	loop *reactor.Loop
	fd   int
	w    *reactor.Watch
	dead bool

	next    uint64
	pending map[uint64]*pend

	buf [64]byte
	oob []byte
	msg []byte // the start message being sent (encodeStart), reused: the send copies it
}

// pend is a start waiting for the spawner's answer.
type pend struct {
	p     *Process
	path  string
	done  func(*Process, error)
	timer *reactor.Timer
	// abandoned: the loop that asked has closed and done has been told;
	// a child that still comes is killed and released.
	abandoned bool
}

func (pd *pend) fail(err error) {
	if pd.timer != nil {
		pd.timer.Stop()
	}
	if !pd.abandoned {
		pd.abandoned = true
		pd.done(nil, startError(pd.path, err))
	}
}

// startOn starts spec through the spawner for a caller on loop's
// goroutine; done runs there too (see Spawner.SpawnOn).
func (c *client) startOn(loop *reactor.Loop, spec Spec, done func(*Process, error)) {
	c.mu.Lock()
	l, closing := c.cur, c.closing
	c.mu.Unlock()
	if closing {
		done(nil, errors.New("spawn: closed"))
		return
	}
	if l == nil {
		// A dead spawner is being replaced: wait for the next one off the
		// loop, then start again there.
		go func() {
			timer := time.NewTimer(startTimeout)
			defer timer.Stop()
			_, err := c.current(timer.C)
			if err != nil {
				err = fmt.Errorf("spawn: %s: %w", spec.Path, err)
				if !loop.Post(func() { done(nil, err) }) {
					done(nil, reactor.ErrClosed)
				}
				return
			}
			if !loop.Post(func() { c.startOn(loop, spec, done) }) {
				done(nil, reactor.ErrClosed)
			}
		}()
		return
	}
	ch, err := c.channelOn(loop, l)
	if err != nil {
		done(nil, startError(spec.Path, err))
		return
	}
	ch.request(spec, done)
}

// channelOn returns loop's channel to the spawner l, made on first use:
// a socketpair whose far end goes to the forker over channel 0.
func (c *client) channelOn(loop *reactor.Loop, l *link) (*channel, error) {
	l.mu.Lock()
	ch := l.chans[loop]
	l.mu.Unlock()
	if ch != nil {
		return ch, nil
	}
	sp, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("socketpair: %w", err)
	}
	l.sendMu.RLock()
	if l.dead {
		err = errSpawnerGone
	} else {
		l.mu.Lock()
		l.nextCh++
		k := l.nextCh
		l.mu.Unlock()
		err = sendRetry(l.fd, encodeChannel(k), unix.UnixRights(sp[1]))
	}
	l.sendMu.RUnlock()
	_ = unix.Close(sp[1])
	if err != nil {
		_ = unix.Close(sp[0])
		return nil, err
	}
	ch = &channel{c: c, lk: l, loop: loop, fd: sp[0], pending: make(map[uint64]*pend), oob: make([]byte, unix.CmsgSpace(3*4))}
	// Sends stay blocking, as on channel 0; reads are MSG_DONTWAIT.
	if ch.w, err = loop.Register(ch.fd, reactor.Read, ch); err != nil {
		_ = unix.Close(ch.fd) // the forker's reader ends
		return nil, err
	}
	l.mu.Lock()
	l.chans[loop] = ch
	l.mu.Unlock()
	return ch, nil
}

// request sends one start request on ch. Its loop's goroutine only.
func (ch *channel) request(spec Spec, done func(*Process, error)) {
	if ch.dead {
		done(nil, startError(spec.Path, errSpawnerGone))
		return
	}
	ch.next++
	id := ch.next
	ch.msg = encodeStart(ch.msg[:0], id, spec)
	if err := sendRetry(ch.fd, ch.msg, nil); err != nil {
		done(nil, startError(spec.Path, err))
		return
	}
	pd := &pend{p: &Process{stdin: -1, stdout: -1, stderr: -1, exitFD: -1, remote: ch.c}, path: spec.Path, done: done}
	pd.timer = ch.loop.AfterFunc(startTimeout, func() {
		if ch.pending[id] == pd {
			delete(ch.pending, id)
			pd.fail(fmt.Errorf("the spawner did not answer within %v", startTimeout))
		}
	})
	ch.pending[id] = pd
}

// OnEvent reads what the spawner sent: answers to starts, exit reports.
func (ch *channel) OnEvent(ev reactor.Events) {
	if ev&reactor.Shutdown != 0 {
		ch.moveHome()
		return
	}
	// Level-triggered: a bounded batch per event, the rest next round.
	for i := 0; i < 64; i++ {
		if !ch.readOne() {
			return
		}
	}
}

// readOne reads and handles one message; false when there is nothing more
// to read now (or ever: the channel is then ended).
func (ch *channel) readOne() bool {
	for {
		n, oobn, _, _, err := unix.Recvmsg(ch.fd, ch.buf[:], ch.oob, unix.MSG_DONTWAIT|unix.MSG_CMSG_CLOEXEC)
		if err == unix.EINTR {
			continue
		}
		if err == unix.EAGAIN {
			return false
		}
		if err != nil || n == 0 {
			// End of file: the spawner and its forker are gone. An error
			// we cannot read past would lose this loop's exit reports:
			// the spawner is replaced, as if it had died, so that its
			// children are adopted and their exits seen.
			if err != nil {
				ch.lk.kill()
			}
			ch.end(errSpawnerGone)
			return false
		}
		fds := rights(ch.oob[:oobn])
		switch ch.buf[0] {
		case msgStarted:
			ch.started(ch.buf[:n], fds)
			return true
		case msgExit:
			if pid, st, err := decodeExit(ch.buf[:n]); err == nil {
				ch.c.exited(pid, unix.WaitStatus(st), ch.loop)
			}
		}
		closeFDs(fds)
		return true
	}
}

// started hands a reply to its waiting start and registers the child, so
// that its exit report, which can only come later, finds it.
func (ch *channel) started(msg []byte, fds []int) {
	id, pid, errno, err := decodeStarted(msg)
	if err != nil {
		closeFDs(fds)
		return
	}
	pd := ch.pending[id]
	delete(ch.pending, id)
	if pd != nil && pd.timer != nil {
		pd.timer.Stop()
	}
	switch {
	case pd == nil || pd.abandoned || (errno == 0 && len(fds) != 3):
		// The start gave up waiting, its loop is gone, or the fds did not
		// arrive: nobody can talk to this child. The spawner reaps it.
		closeFDs(fds)
		if errno == 0 {
			_ = unix.Kill(-pid, unix.SIGKILL)
			_ = unix.Kill(pid, unix.SIGKILL)
		}
		if pd != nil {
			pd.fail(errors.New("spawn: the spawner sent no fds"))
		}
		return
	case errno != 0:
		closeFDs(fds)
		pd.fail(syscall.Errno(errno))
		return
	}
	p := pd.p
	p.Pid = pid
	p.stdin, p.stdout, p.stderr = fds[0], fds[1], fds[2]
	for _, fd := range fds {
		if err := unix.SetNonblock(fd, true); err != nil {
			pd.done(nil, p.abandon(err))
			return
		}
	}
	ch.c.mu.Lock()
	ch.c.procs[pid] = rproc{p, ch.lk}
	ch.c.mu.Unlock()
	pd.done(p, nil)
}

// end closes the channel for good: what the spawner sent before it died is
// read first, then the starts still waiting fail with err. Its loop's
// goroutine only.
func (ch *channel) end(err error) {
	if ch.dead {
		return
	}
	ch.dead = true
	for ch.readOne() {
	}
	_ = ch.w.Close()
	ch.forget()
	for id, pd := range ch.pending {
		delete(ch.pending, id)
		pd.fail(err)
	}
}

// forget takes ch out of its spawner's table: the loop's next start makes
// a new channel.
func (ch *channel) forget() {
	ch.lk.mu.Lock()
	if ch.lk.chans[ch.loop] == ch {
		delete(ch.lk.chans, ch.loop)
	}
	ch.lk.mu.Unlock()
}

// moveHome runs when ch's loop closes. The starts still waiting are told
// (reactor.ErrClosed) and abandoned, and the channel goes on on the home
// loop, which runs until the Spawner closes: a child that still comes for
// an abandoned start is killed there, and the exit reports of the loop's
// children are still delivered (Reap sees them), for the owner's shutdown
// sweep.
func (ch *channel) moveHome() {
	_ = ch.w.Deregister()
	ch.forget()
	for _, pd := range ch.pending {
		pd.timer = nil // the loop's timers are gone with it
		if !pd.abandoned {
			pd.abandoned = true
			pd.done(nil, reactor.ErrClosed)
		}
	}
	if ch.dead {
		return
	}
	home := ch.c.home
	if ch.loop == home || !home.Post(func() {
		ch.loop = home
		w, err := home.Register(ch.fd, reactor.Read, ch)
		if err != nil {
			ch.dead = true
			_ = unix.Close(ch.fd)
			return
		}
		ch.w = w
	}) {
		ch.dead = true
		_ = unix.Close(ch.fd)
	}
}

// endChannels ends every channel of the dead spawner l on its loop, and
// waits until they are: then every exit report it sent has been delivered.
func (c *client) endChannels(l *link) {
	l.mu.Lock()
	chans := make(map[*reactor.Loop]*channel, len(l.chans))
	for loop, ch := range l.chans {
		chans[loop] = ch
	}
	l.mu.Unlock()
	done := make(chan struct{}, len(chans))
	for loop, ch := range chans {
		if !loop.Post(func() {
			l.mu.Lock()
			still := l.chans[loop] == ch // not moved home meanwhile
			l.mu.Unlock()
			if still {
				ch.end(errSpawnerGone)
			}
			done <- struct{}{}
		}) {
			done <- struct{}{}
		}
	}
	for range chans {
		<-done
	}
}

// exited delivers an exit status to the child's Process; here is the loop
// the report was read on (nil: none), where the child is told at once if
// it is attached there.
func (c *client) exited(pid int, st unix.WaitStatus, here *reactor.Loop) {
	c.mu.Lock()
	rp, ok := c.procs[pid]
	delete(c.procs, pid)
	c.mu.Unlock()
	if ok {
		rp.p.deliverExit(st, here)
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
