package spawn

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/wsplex/wsplex/reactor"
)

// errSpawnerGone fails the Start calls that were waiting on a spawner that
// died; the engine closes those connections with 1011.
var errSpawnerGone = errors.New("spawn: the spawner process died")

// startTimeout bounds how long Start waits for the spawner (to answer, or
// to be restarted): a stopped spawner must not hang an event loop forever.
const startTimeout = 5 * time.Second

// client is the daemon's side of the spawner process: it sends start
// requests, reads replies and exit reports on one goroutine, and replaces
// the spawner when it dies. Children are not its children: they are the
// spawner's, so the daemon holds no pidfd per child (3 fds per child, not 4).
type client struct {
	home *reactor.Loop // where adopted orphans' pidfds are watched
	pgid int           // the daemon's process group: children of ours in it are not orphans

	mu      sync.Mutex
	cur     *link         // nil while a dead spawner is being replaced
	ready   chan struct{} // closed once cur is set again
	procs   map[int]rproc // live children of any spawner, until their exit is delivered
	orph    map[int]int   // adopted orphans: pid -> pidfd
	closing bool

	stop chan struct{} // closed by close: ends a restart back-off
	done chan struct{} // closed when the supervisor goroutine ends

	restarts  int           // spawners started after the first, for tests and logs
	restarted chan struct{} // closed and replaced at each restart, for tests
}

type rproc struct {
	p *Process
	l *link
}

// link is one spawner process and its control socket.
type link struct {
	fd, pid int

	sendMu sync.RWMutex // senders share it; burying takes it to close fd safely
	dead   bool

	mu      sync.Mutex
	next    uint64
	pending map[uint64]*pend
}

// pend is a start waiting for the spawner's answer; finish runs once, with
// the Process (its fds set) or the error.
type pend struct {
	p      *Process
	finish func(error)
}

func newRemote(home *reactor.Loop) (remote, error) {
	// Children of a spawner that dies, and whatever any child leaves
	// behind, are reparented to the nearest subreaper: the daemon, which
	// then watches and reaps them itself.
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return nil, fmt.Errorf("spawn: subreaper: %w", err)
	}
	l, err := launch()
	if err != nil {
		return nil, err
	}
	c := &client{
		home: home, pgid: unix.Getpgrp(), cur: l, ready: make(chan struct{}),
		procs: make(map[int]rproc), orph: make(map[int]int),
		stop: make(chan struct{}), done: make(chan struct{}), restarted: make(chan struct{}),
	}
	close(c.ready)
	go c.supervise(l)
	go c.reapOrphans()
	return c, nil
}

// reapOrphans sweeps at each SIGCHLD. What a child leaves behind when it
// exits (a background job, a daemonized server) is reparented to the
// daemon, the nearest subreaper; the daemon hears of such an orphan only
// when it exits in turn, by SIGCHLD, and the sweep then adopts and reaps
// it. The daemon's own children are few (the spawner, CGI scripts, PTY
// children, orphans), so a sweep is cheap.
func (c *client) reapOrphans() {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGCHLD)
	defer signal.Stop(sigs)
	for {
		select {
		case <-sigs:
			c.sweep()
		case <-c.stop:
			return
		}
	}
}

// launch re-executes this binary as the spawner, with only /dev/null, the
// daemon's stderr and the control socket open.
func launch() (*link, error) {
	sp, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("spawn: socketpair: %w", err)
	}
	null, err := unix.Open("/dev/null", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		unix.Close(sp[0])
		unix.Close(sp[1])
		return nil, err
	}
	pid, err := syscall.ForkExec("/proc/self/exe", []string{os.Args[0], SpawnerArg}, &syscall.ProcAttr{
		Env:   os.Environ(),
		Files: []uintptr{uintptr(null), 2, 2, uintptr(sp[1])},
	})
	unix.Close(null)
	unix.Close(sp[1])
	if err != nil {
		unix.Close(sp[0])
		return nil, fmt.Errorf("spawn: start the spawner: %w", err)
	}
	return &link{fd: sp[0], pid: pid, pending: make(map[uint64]*pend)}, nil
}

// supervise reads what the spawner sends until it dies, then buries it and
// starts another, until close.
func (c *client) supervise(l *link) {
	defer close(c.done)
	for {
		c.serve(l)
		c.bury(l)
		back := 10 * time.Millisecond
		for {
			if c.isClosing() {
				return
			}
			nl, err := launch()
			if err == nil {
				c.mu.Lock()
				c.cur, l = nl, nl
				if c.closing {
					// close read the old link; this one is ours to end.
					_ = unix.Shutdown(nl.fd, unix.SHUT_RDWR)
				}
				c.restarts++
				close(c.ready)
				close(c.restarted)
				c.restarted = make(chan struct{})
				c.mu.Unlock()
				break
			}
			fmt.Fprintf(os.Stderr, "wsplex: %v; retrying in %v\n", err, back)
			select {
			case <-c.stop:
				return
			case <-time.After(back):
			}
			back = min(2*back, time.Second)
		}
	}
}

func (c *client) isClosing() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closing
}

// close stops the spawner (it exits when its socket closes) and the
// supervisor. Children should have been reaped by then.
func (c *client) close() {
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return
	}
	c.closing = true
	l := c.cur
	close(c.stop)
	c.mu.Unlock()
	if l != nil {
		l.sendMu.RLock()
		if !l.dead {
			_ = unix.Shutdown(l.fd, unix.SHUT_RDWR) // wakes serve
		}
		l.sendMu.RUnlock()
	}
	<-c.done
	// The orphans' pidfds are watches on the home loop, which closes them
	// when the Spawner closes it.
}

func (c *client) mode() string { return "spawner" }

// nextRestart returns a channel closed when the next spawner is up.
func (c *client) nextRestart() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.restarted
}

// spawnerPid is the live spawner's pid (0 while restarting), for tests.
func (c *client) spawnerPid() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cur == nil {
		return 0
	}
	return c.cur.pid
}
