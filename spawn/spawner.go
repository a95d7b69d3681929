package spawn

import (
	"fmt"
	"os"
	"runtime"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/wsplex/wsplex/platform"
)

// Spec says what to run.
type Spec struct {
	Path string   // absolute path of the program
	Args []string // argv, including argv[0]
	Env  []string // the complete environment: nothing else is inherited
	Dir  string   // working directory; "" = the daemon's
}

// Spawner starts children and polls their fds on a fixed set of pollers.
type Spawner struct {
	pollers []*poller
	next    atomic.Uint32
	wg      sync.WaitGroup
	remote  remote // the spawner process; nil = fork directly
}

// remote is a spawner process (see client_linux.go).
type remote interface {
	start(spec Spec, n Notifier, pl *poller) (*Process, error)
	startAsync(spec Spec, n Notifier, pl *poller, done func(*Process, error))
	forget(p *Process)
	close()
	mode() string
}

// Options select how children are started.
type Options struct {
	// Direct forks children from the daemon itself, as before the spawner
	// process existed: each fork then costs time in proportion to the fds
	// the daemon holds, and every child gets a fd table that large.
	Direct bool
}

// New starts n pollers (at least 1; 0 means one per CPU) and, where it can,
// the spawner process; see NewWith.
func New(n int) (*Spawner, error) { return NewWith(n, Options{}) }

// NewWith is New with options. The spawner process is used on Linux when
// the binary's main called MaybeRunSpawner, unless o.Direct is set or the
// environment has WSPLEX_SPAWN=direct; if it cannot be started, children
// are forked directly.
func NewWith(n int, o Options) (*Spawner, error) {
	if n <= 0 {
		n = runtime.NumCPU()
	}
	s := &Spawner{}
	for i := 0; i < n; i++ {
		pl, err := newPoller()
		if err == nil {
			err = pl.init()
		}
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("spawn: poller: %w", err)
		}
		s.pollers = append(s.pollers, pl)
		s.wg.Add(1)
		go func() { defer s.wg.Done(); pl.run() }()
	}
	if !o.Direct && selfServes.Load() && os.Getenv("WSPLEX_SPAWN") != "direct" {
		if r, err := newRemote(s.pollers); err == nil {
			s.remote = r
		}
	}
	return s, nil
}

// Mode says how children are started: "spawner" or "direct".
func (s *Spawner) Mode() string {
	if s.remote != nil {
		return s.remote.mode()
	}
	return "direct"
}

// Close stops the pollers. Children still running are not touched: the
// owner runs their ladders first.
func (s *Spawner) Close() {
	if s.remote != nil {
		s.remote.close()
	}
	for _, pl := range s.pollers {
		pl.stop()
	}
	s.wg.Wait()
	for _, pl := range s.pollers {
		_ = pl.close()
	}
}

// Start forks and execs spec in a new process group with fresh pipes for
// its stdin, stdout and stderr, and registers the parent's ends. Events go
// to n. On error nothing is left open and no child is left behind.
func (s *Spawner) Start(spec Spec, n Notifier) (*Process, error) {
	pl := s.pollers[int(s.next.Add(1))%len(s.pollers)]
	if s.remote != nil {
		return s.remote.start(spec, n, pl)
	}
	var fds [6]int // in r, in w, out r, out w, err r, err w
	for i := range fds {
		fds[i] = -1
	}
	closeAll := func() {
		for _, fd := range fds {
			if fd >= 0 {
				_ = unix.Close(fd)
			}
		}
	}
	for i := 0; i < 3; i++ {
		r, w, err := platform.Pipe()
		if err != nil {
			closeAll()
			return nil, fmt.Errorf("spawn: pipe: %w", err)
		}
		fds[2*i], fds[2*i+1] = r, w
	}
	p := &Process{stdin: fds[1], stdout: fds[2], stderr: fds[4], exitFD: -1, notify: n, pl: pl}
	pid, exitFD, err := forkExec(spec, [3]int{fds[0], fds[3], fds[5]})
	// The child's ends are the child's now.
	for _, i := range [...]int{0, 3, 5} {
		_ = unix.Close(fds[i])
		fds[i] = -1
	}
	if err != nil {
		closeAll()
		return nil, startError(spec.Path, err)
	}
	p.Pid, p.exitFD = pid, exitFD
	for _, fd := range [...]int{p.stdin, p.stdout, p.stderr} {
		if err := unix.SetNonblock(fd, true); err != nil {
			return nil, p.abandon(err)
		}
	}
	if err := registerPipes(p, pl); err != nil {
		return nil, p.abandon(err)
	}
	if err := pl.watchExit(p); err != nil {
		return nil, p.abandon(err)
	}
	return p, nil
}

// StartAsync is Start for a caller that must not wait: an event loop. Where
// a start is a round trip to the spawner process, the request is sent and
// StartAsync returns; done runs later, on another goroutine, with the
// running child (its pipes registered, so events may reach n before done
// has run) or the error. Elsewhere (the direct fork path) done runs before
// StartAsync returns.
func (s *Spawner) StartAsync(spec Spec, n Notifier, done func(*Process, error)) {
	pl := s.pollers[int(s.next.Add(1))%len(s.pollers)]
	if s.remote != nil {
		s.remote.startAsync(spec, n, pl, done)
		return
	}
	done(s.Start(spec, n))
}

// registerPipes puts the parent's ends of the pipes on the poller.
func registerPipes(p *Process, pl *poller) error {
	for _, w := range [...]struct {
		fd  int
		bit uint32
	}{{p.stdout, EvStdout}, {p.stderr, EvStderr}, {p.stdin, EvStdin}} {
		if err := pl.add(w.fd, p, w.bit); err != nil {
			return err
		}
	}
	return nil
}

// abandon kills and reaps a child whose registration failed. The wait is
// bounded: SIGKILL to a fresh child takes effect at once. A spawner's child
// is reaped by the spawner.
func (p *Process) abandon(cause error) error {
	_ = unix.Kill(-p.Pid, unix.SIGKILL)
	_ = unix.Kill(p.Pid, unix.SIGKILL)
	if p.remote != nil {
		p.reaped = true
		p.Release()
		return fmt.Errorf("spawn: register: %w", cause)
	}
	var ws unix.WaitStatus
	for {
		if _, err := unix.Wait4(p.Pid, &ws, 0, nil); err != unix.EINTR {
			break
		}
	}
	p.reaped = true
	p.Release()
	return fmt.Errorf("spawn: register: %w", cause)
}
