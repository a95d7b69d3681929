package spawn

import (
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// forkerFD is the forker's end of its socket to the spawner; the daemon's
// socket is on spawnerFD, shared with the spawner.
const forkerFD = 4

// runForker is the forker process, the spawner's helper: a copy of the
// wsplex binary that holds six fds or so and does nothing but fork. It
// reads the daemon's start requests from the socket it shares with the
// spawner, clones each child with CLONE_PARENT (so the child is the
// spawner's, not the forker's) and CLONE_PIDFD, answers the daemon with
// the pid and the parent's ends of the pipes, and then hands the pidfd to
// the spawner, which reaps the child by pid when it exits.
//
// Why a process of its own: the spawner holds a pidfd per child, so its fd
// table grows with the connections, and a fork copies the forking
// process's table. Here it stays at the minimum, so a start costs the same
// at 0 or 20,000 connections and every child's fd table is small. And the
// daemon talks to the forker directly, so a start is still one round trip.
//
// It exits when the daemon's socket ends, or when the spawner's does (the
// spawner died: the daemon is then waiting for both to go).
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
	buf := make([]byte, maxStartMsg)
	for {
		n, _, flags, _, err := unix.Recvmsg(spawnerFD, buf, nil, 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil || n == 0 {
			return 0 // the daemon is gone or closed us
		}
		id, spec, errno := readStart(buf[:n], flags)
		if errno != 0 {
			_ = sendRetry(spawnerFD, encodeStarted(id, 0, errno), nil)
			continue
		}
		fork(id, spec)
	}
}

// fork starts spec, answers the daemon (msgStarted, with stdin(w),
// stdout(r), stderr(r) on success) and tells the spawner (msgChild, with
// the pidfd).
func fork(id uint64, spec Spec) {
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
	_ = sendRetry(spawnerFD, encodeStarted(id, pid, errno), pipes)
	_ = sendRetry(forkerFD, encodeChild(pid, errno), watch)
	if pidfd >= 0 {
		_ = unix.Close(pidfd)
	}
}
