package spawn

import (
	"encoding/binary"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// spawnerFD is where the spawner's (and the forker's) end of its control
// socket is put; 0 is /dev/null, 1 and 2 are the daemon's stderr.
const spawnerFD = 3

// maxStartMsg bounds a start request (argv and environment); a larger one
// is refused with E2BIG.
const maxStartMsg = 1 << 20

// failedScanWindow is how long after a failed start the spawner collects
// exits with wait4(-1) (see server.failedAt).
const failedScanWindow = 5 * time.Second

// runSpawner is the spawner process: a copy of the wsplex binary that owns
// the connection children. It relays start requests to its forker
// (forker_linux.go), which clones each child as the spawner's child and
// hands back the pipes and a pidfd; the pipes go on to the daemon, the
// pidfd stays here on an epoll set. When a pidfd becomes readable the child
// is reaped by pid and its status sent to the daemon.
//
// Reaping by pid is the point: wait4(-1) walks every child of the caller,
// so with one child per connection each exit would cost time in proportion
// to the connections open (300 us at 4,500 children here, against 0.4 us
// for wait4(pid)). Only after a failed start, whose zombie has no pidfd
// (exec failed inside the forker's ForkExec), does the spawner fall back
// on wait4(-1) for a few seconds.
//
// It is not a subreaper: what its children leave behind is reparented to
// the daemon, whose children are few (client_linux.go). It exits when the
// daemon's end of the socket closes, or when the forker dies; its children
// then pass to the daemon, which keeps them and starts a new spawner.
func runSpawner() int {
	unix.CloseOnExec(spawnerFD) // children must not hold the control socket
	closeInherited()
	ep, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		fmt.Fprintf(os.Stderr, "wsplex: spawner: epoll: %v\n", err)
		return 1
	}
	fk, fpid, err := launchForker()
	if err != nil {
		fmt.Fprintf(os.Stderr, "wsplex: spawner: %v\n", err)
		return 1
	}
	sv := &server{fd: spawnerFD, forker: fk, forkerPid: fpid, ep: ep, kids: make(map[int]int), early: make(map[int]unix.WaitStatus)}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGCHLD)
	go func() {
		for range sigs {
			sv.mu.Lock()
			if time.Since(sv.failedAt) < failedScanWindow {
				sv.scan()
			}
			sv.mu.Unlock()
		}
	}()
	// A terminal's ^C or a hangup reaches the daemon's whole process group,
	// this process included; the daemon decides when to stop, and this
	// process then ends with its socket. Handled (not ignored) signals go
	// back to their default in the children at exec.
	signal.Notify(make(chan os.Signal, 1), syscall.SIGINT, syscall.SIGHUP, syscall.SIGTERM)
	go sv.watch()
	go func() {
		sv.relay()
		if sv.stopping.Load() {
			return // runSpawner is returning
		}
		fmt.Fprintln(os.Stderr, "wsplex: spawner: the forker process died; exiting so that the daemon starts a new spawner")
		sv.stopForker()
		os.Exit(1)
	}()
	buf := make([]byte, maxStartMsg)
	for {
		n, _, flags, _, err := unix.Recvmsg(sv.fd, buf, nil, 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil || n == 0 {
			sv.stopForker()
			return 0 // the daemon is gone or closed us
		}
		if id, _, errno := readStart(buf[:n], flags); errno != 0 {
			sv.send(encodeStarted(id, 0, errno), nil)
			continue
		}
		if err := sendRetry(sv.forker, buf[:n], nil); err != nil {
			sv.send(encodeStarted(binary.LittleEndian.Uint64(buf[1:9]), 0, uint32(unix.EIO)), nil)
		}
	}
}

// readStart checks a received msgStart; errno is non-zero (and id set when
// the message has one) if it cannot be served.
func readStart(b []byte, flags int) (id uint64, spec Spec, errno uint32) {
	if len(b) >= 9 {
		id = binary.LittleEndian.Uint64(b[1:9])
	}
	switch {
	case len(b) == 0 || b[0] != msgStart:
		return id, spec, uint32(unix.EINVAL)
	case flags&unix.MSG_TRUNC != 0:
		return id, spec, uint32(unix.E2BIG)
	}
	id, spec, err := decodeStart(b)
	if err != nil {
		return id, spec, uint32(unix.EINVAL)
	}
	return id, spec, 0
}

// launchForker starts the forker with /dev/null, stderr and its end of a
// socketpair. It gets a process group of its own, so that if the spawner
// dies and it is reparented to the daemon, the daemon adopts and reaps it
// like any orphan.
func launchForker() (fd, pid int, err error) {
	sp, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, 0, fmt.Errorf("socketpair: %w", err)
	}
	null, err := unix.Open("/dev/null", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		closeFDs(sp[:])
		return -1, 0, err
	}
	pid, err = syscall.ForkExec("/proc/self/exe", []string{os.Args[0], ForkerArg}, &syscall.ProcAttr{
		Env:   os.Environ(),
		Files: []uintptr{uintptr(null), 2, 2, uintptr(sp[1])},
		Sys:   &syscall.SysProcAttr{Setpgid: true},
	})
	unix.Close(null)
	unix.Close(sp[1])
	if err != nil {
		unix.Close(sp[0])
		return -1, 0, fmt.Errorf("start the forker: %w", err)
	}
	return sp[0], pid, nil
}

// server is the spawner's state.
type server struct {
	fd        int // to the daemon
	forker    int // to the forker
	forkerPid int
	ep        int // epoll set of the children's pidfds
	stopping  atomic.Bool

	// mu orders what goes to the daemon: a child's msgExit always follows
	// its msgStarted, since its pidfd is watched only after msgStarted went.
	mu    sync.Mutex
	kids  map[int]int // pid -> pidfd, for every child the daemon was told of
	early map[int]unix.WaitStatus
	// failedAt is the last failed start. Its zombie, if exec failed after
	// the clone, has no pidfd; until failedScanWindow has passed, each
	// SIGCHLD runs scan. A child reaped by scan before its msgStarted was
	// sent waits in early.
	failedAt time.Time
}

// relay passes the forker's answers on to the daemon and watches each new
// child's pidfd. It returns when the forker is gone.
func (sv *server) relay() {
	buf := make([]byte, 64)
	oob := make([]byte, unix.CmsgSpace(4*4))
	for {
		n, oobn, _, _, err := unix.Recvmsg(sv.forker, buf, oob, unix.MSG_CMSG_CLOEXEC)
		if err == unix.EINTR {
			continue
		}
		if err != nil || n == 0 {
			return
		}
		fds := rights(oob[:oobn])
		id, pid, errno, err := decodeStarted(buf[:n])
		if err != nil || buf[0] != msgStarted {
			closeFDs(fds)
			continue
		}
		sv.started(id, pid, errno, fds)
	}
}

func (sv *server) started(id uint64, pid int, errno uint32, fds []int) {
	sv.mu.Lock()
	defer sv.mu.Unlock()
	if errno == 0 && len(fds) != 4 {
		// The rights did not arrive (the forker's sendmsg cannot lose them
		// on its own, but a full fd table here can): nobody can talk to
		// this child. Kill it; scan reaps it.
		closeFDs(fds)
		_ = unix.Kill(-pid, unix.SIGKILL)
		_ = unix.Kill(pid, unix.SIGKILL)
		fds, errno = nil, uint32(unix.EMFILE)
	}
	if errno != 0 {
		closeFDs(fds)
		sv.send(encodeStarted(id, 0, errno), nil)
		sv.failedAt = time.Now()
		sv.scan()
		return
	}
	sv.send(encodeStarted(id, pid, 0), unix.UnixRights(fds[0], fds[1], fds[2]))
	closeFDs(fds[:3])
	pidfd := fds[3]
	if st, ok := sv.early[pid]; ok {
		delete(sv.early, pid)
		_ = unix.Close(pidfd)
		sv.send(encodeExit(pid, uint32(st)), nil)
		return
	}
	sv.kids[pid] = pidfd
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(pidfd), Pad: int32(pid)}
	if err := unix.EpollCtl(sv.ep, unix.EPOLL_CTL_ADD, pidfd, &ev); err != nil {
		// Cannot watch it (max_user_watches): collect exits the slow way
		// for a while; this one is reaped by scan.
		sv.failedAt = time.Now()
	}
}

// watch waits on the pidfds and collects each child that exits.
func (sv *server) watch() {
	evs := make([]unix.EpollEvent, 128)
	for {
		n, err := unix.EpollWait(sv.ep, evs, -1)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "wsplex: spawner: epoll_wait: %v\n", err)
			os.Exit(1)
		}
		sv.mu.Lock()
		for _, ev := range evs[:n] {
			sv.collect(int(ev.Pad))
		}
		sv.mu.Unlock()
	}
}

// collect reaps pid, whose pidfd is readable, and reports its status. Called
// with mu held.
func (sv *server) collect(pid int) {
	pidfd, ok := sv.kids[pid]
	if !ok {
		return // scan got it first
	}
	var ws unix.WaitStatus
	wpid, err := unix.Wait4(pid, &ws, unix.WNOHANG, nil)
	for err == unix.EINTR {
		wpid, err = unix.Wait4(pid, &ws, unix.WNOHANG, nil)
	}
	if err == nil && wpid == 0 {
		return // not waitable yet; the level-triggered pidfd says so again
	}
	if err != nil {
		ws = lostStatus // cannot happen: it is our child and only we reap
	}
	sv.drop(pid, pidfd)
	sv.send(encodeExit(pid, uint32(ws)), nil)
}

func (sv *server) drop(pid, pidfd int) {
	_ = unix.EpollCtl(sv.ep, unix.EPOLL_CTL_DEL, pidfd, nil)
	_ = unix.Close(pidfd)
	delete(sv.kids, pid)
}

// scan collects every exited child with wait4(-1): the slow path, for the
// zombies that have no pidfd. Called with mu held.
func (sv *server) scan() {
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil || pid <= 0 {
			return
		}
		if pidfd, ok := sv.kids[pid]; ok {
			sv.drop(pid, pidfd)
			sv.send(encodeExit(pid, uint32(ws)), nil)
			continue
		}
		if pid == sv.forkerPid {
			sv.forkerPid = 0
			continue
		}
		// A failed exec's zombie, or a child whose msgStarted is on its
		// way: keep its status a while for the latter.
		if len(sv.early) >= 1024 {
			clear(sv.early)
		}
		sv.early[pid] = ws
	}
}

// stopForker closes the forker's socket, on which it exits, and reaps it.
func (sv *server) stopForker() {
	sv.stopping.Store(true)
	_ = unix.Shutdown(sv.forker, unix.SHUT_RDWR)
	sv.mu.Lock()
	pid := sv.forkerPid
	sv.mu.Unlock()
	if pid == 0 {
		return
	}
	for {
		if _, err := unix.Wait4(pid, nil, 0, nil); err != unix.EINTR {
			return
		}
	}
}

func (sv *server) send(msg, oob []byte) {
	_ = sendRetry(sv.fd, msg, oob) // an error means the daemon is gone: the read loop ends too
}

// sendRetry sends one message, retrying on EINTR.
func sendRetry(fd int, msg, oob []byte) error {
	for {
		if err := unix.Sendmsg(fd, msg, oob, nil, 0); err != unix.EINTR {
			return err
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
