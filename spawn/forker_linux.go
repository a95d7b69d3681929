package spawn

import (
	"fmt"
	"os"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/wsplex/wsplex/reactor"
)

// forkerFD is the forker's end of its socket to the spawner; the daemon's
// channel 0 is on spawnerFD, shared with the spawner, and the other
// channels come over it (wire.go).
const forkerFD = 4

// runForker is the forker process, the spawner's helper: a copy of the
// wsplex binary that holds a few fds and does nothing but fork. It reads
// the daemon's start requests from the channels it shares with the spawner
// (wire.go), clones each child with CLONE_PARENT (so the child is the
// spawner's, not the forker's) and CLONE_PIDFD, answers the daemon with
// the pid and the parent's ends of the pipes on the channel the request
// came on, and then hands the pidfd to the spawner, which reaps the child
// by pid when it exits and reports that on the same channel.
//
// Why a process of its own: the spawner holds a pidfd per child, so its fd
// table grows with the connections, and a fork copies the forking
// process's table. Here it stays at the minimum (one per event loop of the
// daemon, and its own poller's two), so a start costs the same at 0 or 20,000 connections and
// every child's fd table is small. And the daemon talks to the forker
// directly, so a start is still one round trip.
//
// The channels are watches on one reactor loop (package reactor, as in
// the daemon), read with MSG_DONTWAIT: their file descriptions are shared
// with the spawner, which sends on them and must not see them made
// non-blocking. It exits when the daemon's channel 0 ends, or when the
// spawner's socket does (the spawner died: the daemon is then waiting for
// both to go).
func runForker() int {
	unix.CloseOnExec(spawnerFD)
	unix.CloseOnExec(forkerFD)
	closeInherited()
	go func() {
		var b [1]byte
		for {
			if _, err := unix.Read(forkerFD, b[:]); err != unix.EINTR {
				os.Exit(0) // the spawner is gone (it never writes here)
			}
		}
	}()
	l, err := reactor.New(0)
	if err != nil {
		fmt.Fprintf(os.Stderr, "wsplex: forker: %v\n", err)
		return 1
	}
	f := &forker{l: l, buf: make([]byte, maxStartMsg), oob: make([]byte, unix.CmsgSpace(4)), gone: make(chan struct{})}
	res := make(chan error, 1)
	l.Post(func() { res <- f.watch(spawnerFD, 0) })
	if err := <-res; err != nil {
		fmt.Fprintf(os.Stderr, "wsplex: forker: %v\n", err)
		return 1
	}
	<-f.gone
	return 0 // the daemon is gone or closed us
}

// forker is the forker's loop and what its channel watches share.
type forker struct {
	l        *reactor.Loop
	buf, oob []byte
	gone     chan struct{} // closed when channel 0 ends
}

// watch reads start requests from channel k (on the loop); channel 0 also
// brings the other channels.
func (f *forker) watch(fd int, k uint32) error {
	var w *reactor.Watch
	w, err := f.l.Register(fd, reactor.Read, reactor.HandlerFunc(func(ev reactor.Events) {
		if ev&reactor.Shutdown == 0 && !f.serve(fd, k) {
			if k == 0 {
				close(f.gone)
			}
			_ = w.Close()
		}
	}))
	return err
}

// serve reads and answers one message of channel fd (level-triggered: the
// loop comes back while more wait); false once the daemon has closed it.
func (f *forker) serve(fd int, k uint32) bool {
	for {
		n, oobn, flags, _, err := unix.Recvmsg(fd, f.buf, f.oob, unix.MSG_DONTWAIT|unix.MSG_CMSG_CLOEXEC)
		if err == unix.EINTR {
			continue
		}
		if err == unix.EAGAIN {
			return true
		}
		if err != nil || n == 0 {
			return false
		}
		fds := rights(f.oob[:oobn])
		if k == 0 && f.buf[0] == msgChannel {
			ck, err := decodeChannel(f.buf[:n])
			// The spawner learns of the channel before any child on it.
			if err == nil && ck != 0 && len(fds) == 1 && sendRetry(forkerFD, encodeChannel(ck), unix.UnixRights(fds[0])) == nil {
				if f.watch(fds[0], ck) != nil {
					_ = unix.Close(fds[0]) // the daemon's starts on it time out
				}
				return true
			}
			closeFDs(fds)
			return true
		}
		closeFDs(fds)
		id, spec, errno := readStart(f.buf[:n], flags)
		if errno != 0 {
			_ = sendRetry(fd, encodeStarted(id, 0, errno), nil)
			return true
		}
		fork(fd, k, id, spec)
		return true
	}
}

// fork starts spec, answers the daemon on channel fd (msgStarted, with
// stdin(w), stdout(r), stderr(r) on success) and tells the spawner
// (msgChild, with the pidfd and the channel k for the exit report).
func fork(fd int, k uint32, id uint64, spec Spec) {
	var fds [6]int
	var errno uint32
	n := 0
	for ; n < 3; n++ {
		var p [2]int
		if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
			errno = errnoOf(err)
			break
		}
		fds[2*n], fds[2*n+1] = p[0], p[1]
	}
	defer func() {
		for _, fd := range fds[:2*n] {
			_ = unix.Close(fd)
		}
	}()
	pid, pidfd := 0, -1
	if errno == 0 {
		var err error
		pid, err = syscall.ForkExec(spec.Path, spec.Args, &syscall.ProcAttr{
			Dir:   spec.Dir,
			Env:   spec.Env,
			Files: []uintptr{uintptr(fds[0]), uintptr(fds[3]), uintptr(fds[5])},
			Sys:   &syscall.SysProcAttr{Setpgid: true, Cloneflags: unix.CLONE_PARENT, PidFD: &pidfd},
		})
		if err != nil {
			errno, pid = errnoOf(err), 0
		}
	}
	var pipes, watch []byte
	if errno == 0 {
		pipes = unix.UnixRights(fds[1], fds[2], fds[4])
		watch = unix.UnixRights(pidfd)
	}
	_ = sendRetry(fd, encodeStarted(id, pid, errno), pipes)
	_ = sendRetry(forkerFD, encodeChild(pid, errno, k), watch)
	if pidfd >= 0 {
		_ = unix.Close(pidfd)
	}
}
