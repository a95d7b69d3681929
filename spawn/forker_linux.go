package spawn

import (
	"os"
	"syscall"

	"golang.org/x/sys/unix"
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
// process's table. Here it stays at the minimum (two fds per event loop of
// the daemon), so a start costs the same at 0 or 20,000 connections and
// every child's fd table is small. And the daemon talks to the forker
// directly, so a start is still one round trip.
//
// Each channel is read by a goroutine of its own, blocked in recvmsg: this
// process has nothing else to wait for, and the channels are a handful.
// It exits when the daemon's channel 0 ends, or when the spawner's socket
// does (the spawner died: the daemon is then waiting for both to go).
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
	serveChannel(spawnerFD, 0)
	return 0 // the daemon is gone or closed us
}

// serveChannel reads start requests from channel k until the daemon closes
// it; channel 0 also brings the other channels.
func serveChannel(fd int, k uint32) {
	if k != 0 {
		defer unix.Close(fd)
	}
	buf := make([]byte, maxStartMsg)
	oob := make([]byte, unix.CmsgSpace(4))
	for {
		n, oobn, flags, _, err := unix.Recvmsg(fd, buf, oob, unix.MSG_CMSG_CLOEXEC)
		if err == unix.EINTR {
			continue
		}
		if err != nil || n == 0 {
			return
		}
		fds := rights(oob[:oobn])
		if k == 0 && buf[0] == msgChannel {
			ck, err := decodeChannel(buf[:n])
			// The spawner learns of the channel before any child on it.
			if err == nil && ck != 0 && len(fds) == 1 && sendRetry(forkerFD, encodeChannel(ck), unix.UnixRights(fds[0])) == nil {
				go serveChannel(fds[0], ck)
				continue
			}
			closeFDs(fds)
			continue
		}
		closeFDs(fds)
		id, spec, errno := readStart(buf[:n], flags)
		if errno != 0 {
			_ = sendRetry(fd, encodeStarted(id, 0, errno), nil)
			continue
		}
		fork(fd, k, id, spec)
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
