package spawn

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// runForker is the forker process, the spawner's own helper: a copy of the
// wsplex binary that holds five fds or so and does nothing but fork. Each
// child is cloned with CLONE_PARENT, so it is the spawner's child, not the
// forker's, and with CLONE_PIDFD; its pidfd and the parent's ends of its
// pipes go back to the spawner over the socket on spawnerFD.
//
// Why a process of its own: the spawner holds a pidfd per child (that is
// how it reaps each one by pid, in O(1), instead of with wait4(-1), whose
// cost grows with the number of children), so its fd table grows with the
// connections, and a fork copies the forking process's table. Here it stays
// at the minimum, so a start costs the same at 0 or 20,000 connections and
// every child's fd table is small. It exits when the spawner closes the
// socket.
func runForker() int {
	unix.CloseOnExec(spawnerFD)
	closeInherited()
	buf := make([]byte, maxStartMsg)
	for {
		n, _, flags, _, err := unix.Recvmsg(spawnerFD, buf, nil, 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil || n == 0 {
			return 0 // the spawner is gone or closed us
		}
		id, spec, errno := readStart(buf[:n], flags)
		if errno != 0 {
			sendRetry(spawnerFD, encodeStarted(id, 0, errno), nil)
			continue
		}
		fork(id, spec)
	}
}

// fork starts spec and answers msgStarted with, on success, the rights to
// stdin(w), stdout(r), stderr(r) and the child's pidfd.
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
	var oob []byte
	if errno == 0 {
		oob = unix.UnixRights(fds[1], fds[2], fds[4], pidfd)
	}
	sendRetry(spawnerFD, encodeStarted(id, pid, errno), oob)
	if pidfd >= 0 {
		_ = unix.Close(pidfd)
	}
}
