package spawn

import (
	"os"
	"os/signal"
	"strconv"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// spawnerFD is where the daemon puts the spawner's end of the control
// socket; 0 is /dev/null, 1 and 2 are the daemon's stderr.
const spawnerFD = 3

// runSpawner is the spawner process: a copy of the wsplex binary holding
// five fds or so, whose only job is to fork children. A fork copies the
// parent's fd table and exec then walks it; in the daemon that table is as
// large as the number of connections, here it stays at the minimum of 64
// slots, so a start costs the same at 0 or 20,000 connections and every
// child's table stays small.
//
// It is a child subreaper, so what its children leave behind is reparented
// here and reaped, not to the daemon. It exits when the daemon's end of the
// socket closes; its children then pass to the daemon (also a subreaper),
// which keeps them.
func runSpawner() int {
	unix.CloseOnExec(spawnerFD) // children must not hold the control socket
	closeInherited()
	_ = unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
	sv := &server{fd: spawnerFD, kids: make(map[int]struct{})}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGCHLD)
	go func() {
		for range sigs {
			sv.reap()
		}
	}()
	// A terminal's ^C or a hangup reaches the daemon's whole process group,
	// this process included; the daemon decides when to stop, and this
	// process then ends with its socket. Handled (not ignored) signals go
	// back to their default in the children at exec.
	signal.Notify(make(chan os.Signal, 1), syscall.SIGINT, syscall.SIGHUP, syscall.SIGTERM)
	buf := make([]byte, 1<<20)
	for {
		n, _, flags, _, err := unix.Recvmsg(sv.fd, buf, nil, 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil || n == 0 {
			return 0 // the daemon is gone or closed us
		}
		if flags&unix.MSG_TRUNC != 0 || buf[0] != msgStart {
			continue
		}
		id, spec, err := decodeStart(buf[:n])
		if err != nil {
			continue
		}
		sv.start(id, spec)
	}
}

// server is the spawner's state: the control socket and the pids it forked
// (not the orphans it adopted, which it reaps without reporting).
type server struct {
	fd   int
	mu   sync.Mutex // held across fork+reply and across reap+report: exit after start
	kids map[int]struct{}
}

func (sv *server) start(id uint64, spec Spec) {
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
	sv.mu.Lock()
	defer sv.mu.Unlock()
	pid := 0
	if errno == 0 {
		var err error
		pid, err = syscall.ForkExec(spec.Path, spec.Args, &syscall.ProcAttr{
			Dir:   spec.Dir,
			Env:   spec.Env,
			Files: []uintptr{uintptr(fds[0]), uintptr(fds[3]), uintptr(fds[5])},
			Sys:   &syscall.SysProcAttr{Setpgid: true},
		})
		if err != nil {
			errno = errnoOf(err)
		} else {
			sv.kids[pid] = struct{}{}
		}
	}
	var oob []byte
	if errno == 0 {
		oob = unix.UnixRights(fds[1], fds[2], fds[4])
	}
	sv.send(encodeStarted(id, pid, errno), oob)
}

// reap collects every exited child; the daemon hears about its own.
func (sv *server) reap() {
	sv.mu.Lock()
	defer sv.mu.Unlock()
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil || pid <= 0 {
			return
		}
		if _, ok := sv.kids[pid]; ok {
			delete(sv.kids, pid)
			sv.send(encodeExit(pid, uint32(ws)), nil)
		}
	}
}

func (sv *server) send(msg, oob []byte) {
	for {
		if err := unix.Sendmsg(sv.fd, msg, oob, nil, 0); err != unix.EINTR {
			return // an error means the daemon is gone: the read loop ends too
		}
	}
}

func errnoOf(err error) uint32 {
	if e, ok := err.(syscall.Errno); ok {
		return uint32(e)
	}
	return uint32(syscall.EIO)
}

// closeInherited closes fds the daemon itself inherited without
// close-on-exec (a supervisor's pipe, say) and so passed on. They would go
// to every child, and one high fd sizes every child's fd table. The Go
// runtime's own fds are close-on-exec and stay.
func closeInherited() {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return
	}
	for _, e := range ents {
		fd, err := strconv.Atoi(e.Name())
		if err != nil || fd <= spawnerFD {
			continue
		}
		if fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err == nil && fl&unix.FD_CLOEXEC == 0 {
			_ = unix.Close(fd)
		}
	}
}
