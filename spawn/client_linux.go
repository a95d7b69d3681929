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

// client is the daemon's side of the spawner process: each event loop that
// starts children has a channel of its own to it (request_linux.go),
// watched on that loop, where the replies and the exit
// reports of the children started from that loop are read and handled with
// no hop; the spawner's channel 0, watched on the home loop, says when it
// dies, and a supervisor goroutine then buries it and starts another.
// Children are not the daemon's children: they are the spawner's, so the
// daemon holds no pidfd per child (3 fds per child, not 4).
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

	loops []*reactor.Loop // their channels are opened as soon as a spawner is up (prepare)

	restarts  int           // spawners started after the first, for tests and logs
	restarted chan struct{} // closed and replaced at each restart, for tests
}

type rproc struct {
	p *Process
	l *link
}

// link is one spawner process and its channel 0 (wire.go).
type link struct {
	fd, pid int
	died    chan struct{} // closed by the home loop when channel 0 ends

	sendMu sync.RWMutex // senders share it; burying takes it to close fd safely
	dead   bool

	mu     sync.Mutex
	nextCh uint32
	chans  map[*reactor.Loop]*channel // the loops' channels to this spawner
}

func newRemote(home *reactor.Loop) (remote, error) {
	// Children of a spawner that dies, and whatever any child leaves
	// behind, are reparented to the nearest subreaper: the daemon, which
	// then watches and reaps them itself.
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return nil, fmt.Errorf("spawn: subreaper: %w", err)
	}
	c := &client{
		home: home, pgid: unix.Getpgrp(), ready: make(chan struct{}),
		procs: make(map[int]rproc), orph: make(map[int]int),
		stop: make(chan struct{}), done: make(chan struct{}), restarted: make(chan struct{}),
	}
	l, err := c.launch()
	if err != nil {
		return nil, err
	}
	c.cur = l
	close(c.ready)
	// The home loop's channel (Start, SpawnAsync, the --prefork pool) is
	// opened now, as the daemon's loops' are (Prepare).
	c.prepare([]*reactor.Loop{home})
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
// daemon's stderr and its channel 0 open, and watches channel 0 on the home
// loop.
func (c *client) launch() (*link, error) {
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
	l := &link{fd: sp[0], pid: pid, died: make(chan struct{}), chans: make(map[*reactor.Loop]*channel)}
	if err := c.watchLifeline(l); err != nil {
		unix.Close(l.fd) // the forker and then the spawner exit
		var ws unix.WaitStatus
		for {
			if _, err := unix.Wait4(pid, &ws, 0, nil); err != unix.EINTR {
				break
			}
		}
		return nil, fmt.Errorf("spawn: watch the spawner: %w", err)
	}
	return l, nil
}

// watchLifeline watches l's channel 0 on the home loop. Nothing comes back
// on it but its end, when the spawner and its forker are gone (or close
// shut it down): l.died is then closed for the supervisor.
func (c *client) watchLifeline(l *link) error {
	res := make(chan error, 1)
	if !c.home.Post(func() {
		var w *reactor.Watch
		var b [16]byte
		oob := make([]byte, unix.CmsgSpace(3*4))
		w, err := c.home.Register(l.fd, reactor.Read, reactor.HandlerFunc(func(ev reactor.Events) {
			for ev&reactor.Shutdown == 0 {
				n, oobn, _, _, err := unix.Recvmsg(l.fd, b[:], oob, unix.MSG_DONTWAIT|unix.MSG_CMSG_CLOEXEC)
				if err == unix.EINTR {
					continue
				}
				if err == unix.EAGAIN {
					return
				}
				if err != nil || n == 0 {
					break
				}
				closeFDs(rights(oob[:oobn])) // nothing is sent here; drop it
			}
			_ = w.Deregister() // the fd is bury's to close
			close(l.died)
		}))
		res <- err
	}) {
		return reactor.ErrClosed
	}
	return <-res
}

// supervise waits for the spawner to die, then buries it and starts
// another, until close. It is not on the data path: replies and exit
// reports are read on the loops (request_linux.go).
func (c *client) supervise(l *link) {
	defer close(c.done)
	for {
		<-l.died
		c.bury(l)
		back := 10 * time.Millisecond
		for {
			if c.isClosing() {
				return
			}
			nl, err := c.launch()
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
				loops := c.loops
				c.mu.Unlock()
				c.openChannels(nl, loops)
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

// kill kills the spawner unless it is being buried already (then its pid
// may be reaped and reused).
func (l *link) kill() {
	l.sendMu.RLock()
	if !l.dead {
		_ = unix.Kill(l.pid, unix.SIGKILL)
	}
	l.sendMu.RUnlock()
}

// prepare notes loops, whose channels are opened on every spawner from now
// on, and opens them on the live one.
func (c *client) prepare(loops []*reactor.Loop) {
	c.mu.Lock()
	c.loops = append(c.loops, loops...)
	l := c.cur
	c.mu.Unlock()
	if l != nil {
		c.openChannels(l, loops)
	}
}

// openChannels opens the channel of each of loops to the spawner l, on the
// loop, and waits until they are open (or failed: a start makes them then).
func (c *client) openChannels(l *link, loops []*reactor.Loop) {
	done := make(chan struct{}, len(loops))
	posted := 0
	for _, loop := range loops {
		if loop.Post(func() {
			_, _ = c.channelOn(loop, l)
			done <- struct{}{}
		}) {
			posted++
		}
	}
	for ; posted > 0; posted-- {
		<-done
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
			_ = unix.Shutdown(l.fd, unix.SHUT_RDWR) // ends channel 0: the supervisor buries the spawner
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
