package spawn

import (
	"bytes"
	"runtime"
	"strconv"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/wsplex/wsplex/reactor"
)

// TestNoGoroutineReadsTheSpawner: with children started and running
// through the spawner process, no goroutine of the daemon sits in a system
// call inside this package: the spawner's answers and exit reports are read
// by the event loops (a goroutine blocked in recvmsg on the spawner's
// socket, as before, fails it).
func TestNoGoroutineReadsTheSpawner(t *testing.T) {
	s := newSpawner(t)
	remoteOf(t, s)
	n := make(chanNotifier, 16)
	var cats []*Process
	for i := 0; i < 4; i++ {
		p, err := s.Start(Spec{Path: lookPath(t, "cat"), Args: []string{"cat"}}, n)
		if err != nil {
			t.Fatal(err)
		}
		cats = append(cats, p)
		echo(t, n, p, "hi "+strconv.Itoa(i))
	}
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	for _, g := range bytes.Split(buf, []byte("\n\n")) {
		head, _, _ := bytes.Cut(g, []byte("\n"))
		if bytes.Contains(head, []byte("[syscall")) && bytes.Contains(g, []byte("wsplex/spawn.")) {
			t.Errorf("a goroutine waits in a system call in package spawn:\n%s", g)
		}
	}
	for _, p := range cats {
		p.CloseStdin()
		if st := reapAll(t, n, p); st.ExitStatus() != 0 {
			t.Fatalf("cat %d: status %v", p.Pid, st)
		}
	}
}

// loopNotifier records, on the loop, the thread each Notify runs on and the
// child's exit status once it is reaped.
type loopNotifier struct {
	tids chan int
	exit chan unix.WaitStatus
}

func (n loopNotifier) Notify(p *Process) {
	n.tids <- unix.Gettid()
	bits := p.TakeEvents()
	var b [512]byte
	for bits&EvStdout != 0 {
		if _, err := p.ReadStdout(b[:]); err != nil {
			break // ErrWouldBlock, or end of file (the pipe is closed)
		}
	}
	for bits&EvStderr != 0 {
		if _, err := p.ReadStderr(b[:]); err != nil {
			break
		}
	}
	if bits&EvExit == 0 {
		return
	}
	if st, ok := p.Reap(); ok {
		p.Release()
		n.exit <- st
	}
}

// TestSpawnOnAnswersOnTheLoop: SpawnOn's answer and the exit of a child
// attached to the same loop are both handled on that loop's thread (a loop
// goroutine is locked to its thread), each with its own status.
func TestSpawnOnAnswersOnTheLoop(t *testing.T) {
	s := newSpawner(t)
	remoteOf(t, s)
	l, err := reactor.New(0)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	tidc := make(chan int, 1)
	l.Post(func() { tidc <- unix.Gettid() })
	tid := <-tidc

	sh := lookPath(t, "sh")
	const k = 32
	type answer struct {
		tid int
		err error
	}
	answers := make(chan answer, k)
	n := loopNotifier{tids: make(chan int, 4*k), exit: make(chan unix.WaitStatus, k)}
	for i := 0; i < k; i++ {
		spec := Spec{Path: sh, Args: []string{"sh", "-c", "exit " + strconv.Itoa(i)}}
		l.Post(func() {
			s.SpawnOn(l, spec, func(p *Process, err error) {
				if err == nil {
					err = p.Attach(l, n)
				}
				answers <- answer{unix.Gettid(), err}
			})
		})
	}
	seen := make(map[int]bool)
	deadline := time.After(20 * time.Second)
	for got := 0; got < 2*k; {
		select {
		case a := <-answers:
			if a.err != nil {
				t.Fatal(a.err)
			}
			if a.tid != tid {
				t.Fatalf("SpawnOn's answer on thread %d, the loop's is %d", a.tid, tid)
			}
			got++
		case st := <-n.exit:
			if seen[st.ExitStatus()] {
				t.Fatalf("exit status %d twice", st.ExitStatus())
			}
			seen[st.ExitStatus()] = true
			got++
		case <-deadline:
			t.Fatalf("%d of %d answers and exits after 20 s", got, 2*k)
		}
	}
	close(n.tids)
	for nt := range n.tids {
		if nt != tid {
			t.Fatalf("Notify on thread %d, the loop's is %d", nt, tid)
		}
	}
}
