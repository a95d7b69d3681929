package spawn

import (
	"encoding/binary"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/wsplex/wsplex/reactor"
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
// the connection children. It does not fork them: its forker does
// (forker_linux.go), reading the daemon's requests from the channels the
// two share and cloning each child as the spawner's. The forker then hands the
// child's pidfd over, and the spawner watches it on its reactor loop (the
// daemon's loop package), beside the socket from the forker; when it
// becomes readable the child is reaped by pid and its status sent to the
// daemon on the channel its start came on (wire.go). The spawner never
// reads the channels; the forker does. Everything but the SIGCHLD handler,
// which posts to the loop, runs on that loop: no lock.
//
// Reaping by pid is the point: wait4(-1) walks every child of the caller,
// so with one child per connection each exit would cost time in proportion
// to the connections open (300 us at 4,500 children here, against 0.4 us
// for wait4(pid)). Only for a child without a pidfd (its exec failed inside
// the forker's ForkExec, which closes the pidfd; or the pidfd could not be
// received or watched) does the spawner fall back on wait4(-1) at SIGCHLD.
//
// It is not a subreaper: what its children leave behind is reparented to
// the daemon, whose children are few (client_linux.go). It exits when the
// forker does (the forker exits when the daemon's end of the socket
// closes); its children then pass to the daemon, which keeps them and
// starts a new spawner.
func runSpawner() int {
	unix.CloseOnExec(spawnerFD) // children must not hold the control socket
	closeInherited()
	l, err := reactor.New(0)
	if err != nil {
		fmt.Fprintf(os.Stderr, "wsplex: spawner: %v\n", err)
		return 1
	}
	fk, fpid, err := launchForker()
	if err != nil {
		fmt.Fprintf(os.Stderr, "wsplex: spawner: %v\n", err)
		return 1
	}
	sv := &server{l: l, forker: fk, forkerPid: fpid, chans: map[uint32]int{0: spawnerFD}, kids: make(map[int]kid), early: make(map[int]unix.WaitStatus),
		buf: make([]byte, 64), oob: make([]byte, unix.CmsgSpace(4)), gone: make(chan struct{})}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGCHLD)
	go func() {
		for range sigs {
			l.Post(func() {
				if sv.unwatched > 0 || time.Since(sv.failedAt) < failedScanWindow {
					sv.scan()
				}
			})
		}
	}()
	// A terminal's ^C or a hangup reaches the daemon's whole process group,
	// this process included; the daemon decides when to stop, and this
	// process then ends with its socket. Handled (not ignored) signals go
	// back to their default in the children at exec.
	signal.Notify(make(chan os.Signal, 1), syscall.SIGINT, syscall.SIGHUP, syscall.SIGTERM)
	res := make(chan error, 1)
	l.Post(func() { res <- sv.watchForker() })
	if err := <-res; err != nil {
		fmt.Fprintf(os.Stderr, "wsplex: spawner: %v\n", err)
		return 1
	}
	<-sv.gone
	_ = l.Close() // after it, forkerStatus is ours to read
	var ws unix.WaitStatus
	for {
		_, err := unix.Wait4(fpid, &ws, 0, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil { // scan reaped it
			ws = sv.forkerStatus
		}
		break
	}
	if ws.Exited() && ws.ExitStatus() == 0 {
		return 0 // the daemon closed the socket, or is gone
	}
	what := fmt.Sprintf("exit status %d", ws.ExitStatus())
	if ws.Signaled() {
		what = fmt.Sprintf("killed by signal %d (%s)", int(ws.Signal()), unix.SignalName(ws.Signal()))
	}
	fmt.Fprintf(os.Stderr, "wsplex: spawner: the forker process died (%s); exiting so that the daemon starts a new spawner\n", what)
	return 1
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

// launchForker starts the forker with /dev/null, stderr, the daemon's
// socket and its end of a new socketpair to the spawner. It gets a process
// group of its own, so that if the spawner dies and it is reparented to the
// daemon, the daemon adopts and reaps it like any orphan.
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
		Files: []uintptr{uintptr(null), 2, 2, spawnerFD, uintptr(sp[1])},
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

// server is the spawner's state. Everything in it is the loop's.
type server struct {
	l        *reactor.Loop
	forker   int // from the forker
	buf, oob []byte
	gone     chan struct{} // closed when the forker's socket ends

	forkerPid    int
	forkerStatus unix.WaitStatus // if scan reaped the forker

	// chans are the daemon's channels (wire.go), shared with the forker:
	// send only. 0 is spawnerFD; the others come from the forker.
	chans     map[uint32]int
	kids      map[int]kid
	unwatched int
	// failedAt is the last failed start. Its zombie, if exec failed after
	// the clone, has no pidfd; until failedScanWindow has passed, each
	// SIGCHLD runs scan. A child that scan reaps before its msgChild came
	// waits in early.
	failedAt time.Time
	early    map[int]unix.WaitStatus
}

// kid is a child the spawner watches: its pidfd's watch (nil: none,
// counted in unwatched) and the channel its exit is reported on.
type kid struct {
	w  *reactor.Watch
	ch uint32
}

// watchForker watches the socket the forker's msgChild messages come on.
func (sv *server) watchForker() error {
	var w *reactor.Watch
	w, err := sv.l.Register(sv.forker, reactor.Read, reactor.HandlerFunc(func(ev reactor.Events) {
		if ev&reactor.Shutdown == 0 && sv.receive() {
			return
		}
		_ = w.Deregister()
		select {
		case <-sv.gone:
		default:
			close(sv.gone)
		}
	}))
	return err
}

// receive takes the forker's msgChild messages waiting on its socket
// (level-triggered: the loop comes back while more wait); false once the
// forker is gone. MSG_DONTWAIT, since the socket is the forker's too.
func (sv *server) receive() bool {
	for {
		n, oobn, _, _, err := unix.Recvmsg(sv.forker, sv.buf, sv.oob, unix.MSG_DONTWAIT|unix.MSG_CMSG_CLOEXEC)
		if err == unix.EINTR {
			continue
		}
		if err == unix.EAGAIN {
			return true
		}
		if err != nil || n == 0 {
			return false
		}
		fds := rights(sv.oob[:oobn])
		if sv.buf[0] == msgChannel {
			if k, err := decodeChannel(sv.buf[:n]); err == nil && k != 0 && len(fds) == 1 {
				sv.chans[k] = fds[0]
				continue
			}
			closeFDs(fds)
			continue
		}
		pid, errno, ch, err := decodeChild(sv.buf[:n])
		if err != nil || sv.buf[0] != msgChild {
			closeFDs(fds)
			continue
		}
		sv.child(pid, errno, ch, fds)
	}
}

// child registers a child the daemon has just been told of (or a failed
// start) and watches its pidfd.
func (sv *server) child(pid int, errno, ch uint32, fds []int) {
	if errno != 0 {
		closeFDs(fds)
		sv.failedAt = time.Now()
		sv.scan()
		return
	}
	pidfd := -1
	if len(fds) == 1 {
		pidfd = fds[0]
	} else {
		closeFDs(fds) // the right did not arrive (a full fd table here)
	}
	if st, ok := sv.early[pid]; ok {
		delete(sv.early, pid)
		if pidfd >= 0 {
			_ = unix.Close(pidfd)
		}
		sv.send(ch, encodeExit(pid, uint32(st)))
		return
	}
	var w *reactor.Watch
	if pidfd >= 0 {
		var err error
		w, err = sv.l.Register(pidfd, reactor.Read, reactor.HandlerFunc(func(ev reactor.Events) {
			if ev&reactor.Shutdown == 0 {
				sv.collect(pid)
			}
		}))
		if err != nil {
			_ = unix.Close(pidfd) // cannot watch it (max_user_watches)
			w = nil
		}
	}
	sv.kids[pid] = kid{w, ch}
	if w == nil {
		sv.unwatched++ // scan collects it
		sv.scan()
	}
}

// collect reaps pid, whose pidfd is readable, and reports its status.
func (sv *server) collect(pid int) {
	k, ok := sv.kids[pid]
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
	sv.drop(pid, k.w)
	sv.send(k.ch, encodeExit(pid, uint32(ws)))
}

func (sv *server) drop(pid int, w *reactor.Watch) {
	if w != nil {
		_ = w.Close()
	} else {
		sv.unwatched--
	}
	delete(sv.kids, pid)
}

// scan collects every exited child with wait4(-1): the slow path, for the
// zombies that have no pidfd.
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
		if k, ok := sv.kids[pid]; ok {
			sv.drop(pid, k.w)
			sv.send(k.ch, encodeExit(pid, uint32(ws)))
			continue
		}
		if pid == sv.forkerPid {
			sv.forkerStatus = ws
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

// send sends msg on channel ch. An error means the
// daemon is gone, or closed that channel (its loop stopped): nobody waits
// for the report.
func (sv *server) send(ch uint32, msg []byte) {
	fd, ok := sv.chans[ch]
	if !ok {
		fd = spawnerFD // cannot happen: the channel comes before its children
	}
	_ = sendRetry(fd, msg, nil)
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
