package spawn

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"github.com/wsplex/wsplex/platform"
	"github.com/wsplex/wsplex/reactor"
)

// Spec says what to run.
type Spec struct {
	Path string   // absolute path of the program
	Args []string // argv, including argv[0]
	Env  []string // the complete environment: nothing else is inherited
	Dir  string   // working directory; "" = the daemon's
}

// Spawner starts children: through the spawner process on Linux, else by
// forking this process.
type Spawner struct {
	// home is the spawner's own loop: the children started with Start
	// (tests, the --prefork pool while a child waits) and the orphans
	// adopted from a dead spawner process are watched there. The daemon's
	// connections attach their children to their own loops (Attach).
	home   *reactor.Loop
	remote remote // the spawner process; nil = fork directly
}

// remote is the spawner process seen from the daemon (client_linux.go).
type remote interface {
	startOn(l *reactor.Loop, spec Spec, done func(*Process, error))
	prepare(loops []*reactor.Loop)
	forget(p *Process)
	close()
	mode() string
}

// Options change how a Spawner starts children.
type Options struct {
	// Direct forks children from this process even where the spawner
	// process is available.
	Direct bool
}

// New starts the spawner's loop and, where it can, the spawner process.
// n is ignored (it was the number of pollers before children moved onto
// the connections' loops).
func New(n int) (*Spawner, error) { return NewWith(n, Options{}) }

// NewWith is New with options.
func NewWith(_ int, o Options) (*Spawner, error) {
	home, err := reactor.New(0)
	if err != nil {
		return nil, fmt.Errorf("spawn: loop: %w", err)
	}
	s := &Spawner{home: home}
	if !o.Direct && selfServes.Load() && os.Getenv("WSPLEX_SPAWN") != "direct" {
		if r, err := newRemote(home); err == nil {
			s.remote = r
		}
	}
	return s, nil
}

// Mode names how children are started: "spawner" or "direct".
func (s *Spawner) Mode() string {
	if s.remote != nil {
		return s.remote.mode()
	}
	return "direct"
}

// Close stops the spawner process and the spawner's loop. Children still
// running are not touched: the termination ladder is their owners' job.
func (s *Spawner) Close() {
	if s.remote != nil {
		s.remote.close()
	}
	_ = s.home.Close()
}

// Spawn starts spec with its stdin, stdout and stderr on pipes and returns
// the child not yet watched: the caller attaches it to a loop (Attach).
// Through the spawner process it waits for the answer, which is read on
// the spawner's own loop: not from that loop's goroutine.
func (s *Spawner) Spawn(spec Spec) (*Process, error) {
	if s.remote != nil {
		type result struct {
			p   *Process
			err error
		}
		ch := make(chan result, 1)
		s.SpawnAsync(spec, func(p *Process, err error) { ch <- result{p, err} })
		r := <-ch
		return r.p, r.err
	}
	return s.forkPipes(spec)
}

// SpawnAsync is Spawn without waiting: done gets the child (not attached)
// or the error, on the spawner's own loop, or at once when the daemon forks
// directly.
func (s *Spawner) SpawnAsync(spec Spec, done func(*Process, error)) {
	if s.remote != nil {
		if !s.home.Post(func() { s.remote.startOn(s.home, spec, done) }) {
			done(nil, reactor.ErrClosed)
		}
		return
	}
	done(s.forkPipes(spec))
}

// SpawnOn is SpawnAsync for a caller on loop l's goroutine, the loop the
// child is to be attached to: through the spawner process, the answer is
// read on l (each loop has its own socket to the spawner) and done runs
// there, with no hop; the child's exit report comes the same way. Forking
// directly, done runs at once. If l closes before the answer, done gets
// reactor.ErrClosed, on l's goroutine as it shuts down or on another once
// it has stopped, and must then leave the caller's loop state alone; a
// child that still comes is killed and released.
func (s *Spawner) SpawnOn(l *reactor.Loop, spec Spec, done func(*Process, error)) {
	if s.remote != nil {
		s.remote.startOn(l, spec, done)
		return
	}
	done(s.forkPipes(spec))
}

// Prepare opens each loop's channel to the spawner process now rather than
// at the loop's first start, so that the fds the daemon holds whatever its
// load are all open once it serves (and reopened at once after a spawner
// restart). Not from one of those loops' goroutines. A no-op when children
// are forked directly.
func (s *Spawner) Prepare(loops ...*reactor.Loop) {
	if s.remote != nil {
		s.remote.prepare(loops)
	}
}

// Start is Spawn with the child watched on the spawner's own loop, its
// events told to n (from that loop's goroutine). The streams are one-shot
// there: after an event, the owner reads (or writes) until ErrWouldBlock,
// which re-arms the watch. For owners that are not a loop (tests, Pool).
func (s *Spawner) Start(spec Spec, n Notifier) (*Process, error) {
	p, err := s.Spawn(spec)
	if err != nil {
		return nil, err
	}
	return p, s.attachHome(p, n)
}

// StartAsync is SpawnAsync with the child attached as by Start; done runs
// on the spawner's loop (or at once, forking directly).
func (s *Spawner) StartAsync(spec Spec, n Notifier, done func(*Process, error)) {
	if s.remote == nil {
		p, err := s.forkPipes(spec)
		if err == nil {
			err = s.attachHome(p, n)
		}
		if err != nil {
			p = nil
		}
		done(p, err)
		return
	}
	// Through the spawner the answer is read on the home loop itself, so
	// the child is attached there and then.
	s.SpawnAsync(spec, func(p *Process, err error) {
		if err == nil {
			if err = p.attach(s.home, n, true); err != nil {
				err = p.abandon(err)
			}
		}
		if err != nil {
			p = nil
		}
		done(p, err)
	})
}

// attachHome attaches p to the spawner's loop and waits until it is. Not
// from that loop's goroutine.
func (s *Spawner) attachHome(p *Process, n Notifier) error {
	done := make(chan error, 1)
	if !s.home.Post(func() { done <- p.attach(s.home, n, true) }) {
		return p.abandon(reactor.ErrClosed)
	}
	if err := <-done; err != nil {
		return p.abandon(err)
	}
	return nil
}

// forkPipes forks spec from this process, its stdio on three pipes.
func (s *Spawner) forkPipes(spec Spec) (*Process, error) {
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
	p := &Process{stdin: fds[1], stdout: fds[2], stderr: fds[4], exitFD: -1}
	pid, exitFD, err := forkExec(spec, [3]int{fds[0], fds[3], fds[5]})
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
	return p, nil
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
