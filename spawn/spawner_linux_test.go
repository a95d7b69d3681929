package spawn

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/wsplex/wsplex/reactor"
)

func remoteOf(t *testing.T, s *Spawner) *client {
	t.Helper()
	c, ok := s.remote.(*client)
	if !ok {
		t.Fatalf("mode %q, want the spawner process", s.Mode())
	}
	return c
}

func TestSpawnerHoldsThreeFDsPerChild(t *testing.T) {
	s := newSpawner(t)
	remoteOf(t, s)
	n := make(chanNotifier, 16)
	p, err := s.Start(Spec{Path: lookPath(t, "cat"), Args: []string{"cat"}}, n)
	if err != nil {
		t.Fatal(err)
	}
	if p.FDs() != 3 {
		t.Fatalf("parent holds %d fds for the child, want 3 (no pidfd)", p.FDs())
	}
	echo(t, n, p, "hi")
	p.CloseStdin()
	if st := reapAll(t, n, p); st.ExitStatus() != 0 {
		t.Fatalf("status %v", st)
	}
}

// TestConcurrentStarts: many goroutines (event loops) start at once; each
// gets its own child and its own exit status.
func TestConcurrentStarts(t *testing.T) {
	s := newSpawner(t)
	sh := lookPath(t, "sh")
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for i := 0; i < 32; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n := make(chanNotifier, 16)
			p, err := s.Start(Spec{Path: sh, Args: []string{"sh", "-c", "exit " + strconv.Itoa(i)}}, n)
			if err != nil {
				errs <- err
				return
			}
			st := reapAll(t, n, p)
			if st.ExitStatus() != i {
				errs <- fmt.Errorf("child %d: exit status %d", i, st.ExitStatus())
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestSpawnerKilled: SIGKILL the spawner while children run. They keep
// working (their pipes never went through it), their exits are still
// reported with the right status, what they leave behind is reaped, a new
// spawner serves new starts, and no zombie remains.
func TestSpawnerKilled(t *testing.T) {
	testKilled(t, func(t *testing.T, c *client) int { return c.spawnerPid() })
}

// TestForkerKilled: the same when the forker dies; the spawner then exits
// so that the daemon adopts the children and starts a new pair.
func TestForkerKilled(t *testing.T) {
	testKilled(t, func(t *testing.T, c *client) int { return forkerPid(t, c.spawnerPid()) })
}

// forkerPid finds the forker among the spawner's children.
func forkerPid(t *testing.T, spawner int) int {
	t.Helper()
	tasks, _ := filepath.Glob("/proc/" + strconv.Itoa(spawner) + "/task/*/children")
	for _, task := range tasks {
		b, _ := os.ReadFile(task)
		for _, f := range strings.Fields(string(b)) {
			cmd, _ := os.ReadFile("/proc/" + f + "/cmdline")
			if strings.Contains(string(cmd), ForkerArg) {
				pid, _ := strconv.Atoi(f)
				return pid
			}
		}
	}
	t.Fatalf("spawner %d has no forker child", spawner)
	return 0
}

func testKilled(t *testing.T, victim func(*testing.T, *client) int) {
	s := newSpawner(t)
	c := remoteOf(t, s)
	cat, sh := lookPath(t, "cat"), lookPath(t, "sh")
	path := []string{"PATH=" + os.Getenv("PATH")}
	n := make(chanNotifier, 64)
	var cats []*Process
	for i := 0; i < 3; i++ {
		p, err := s.Start(Spec{Path: cat, Args: []string{"cat"}}, n)
		if err != nil {
			t.Fatal(err)
		}
		cats = append(cats, p)
	}
	// A child that exits 7 after one line, and one with a grandchild in the
	// background that outlives it.
	seven, err := s.Start(Spec{Path: sh, Args: []string{"sh", "-c", "read x; exit 7"}, Env: path}, n)
	if err != nil {
		t.Fatal(err)
	}
	parent, err := s.Start(Spec{Path: sh, Args: []string{"sh", "-c", "sleep 60 & echo $!; read x"}, Env: path}, n)
	if err != nil {
		t.Fatal(err)
	}
	grandchild := readPid(t, n, parent, "grandchild pid")

	old := c.spawnerPid()
	restarted := c.nextRestart()
	if err := unix.Kill(victim(t, c), unix.SIGKILL); err != nil {
		t.Fatal(err)
	}
	select {
	case <-restarted:
	case <-time.After(10 * time.Second):
		t.Fatal("spawner not restarted")
	}
	if now := c.spawnerPid(); now == 0 || now == old {
		t.Fatalf("spawner pid %d after restart (old %d)", now, old)
	}

	for i, p := range cats {
		echo(t, n, p, "still here "+strconv.Itoa(i))
	}
	fresh, err := s.Start(Spec{Path: cat, Args: []string{"cat"}}, n)
	if err != nil {
		t.Fatalf("start after restart: %v", err)
	}
	echo(t, n, fresh, "new")

	if _, err := seven.WriteStdin([]byte("go\n")); err != nil {
		t.Fatal(err)
	}
	if st := reapAll(t, n, seven); st.ExitStatus() != 7 {
		t.Fatalf("adopted child: status %v, want exit 7", st)
	}
	// The sh exits at end of input; its sleep, now ours through two
	// reparentings, is killed and must be reaped by the daemon too.
	parent.CloseStdin()
	reapAll(t, n, parent)
	_ = unix.Kill(grandchild, unix.SIGKILL)
	for _, p := range append(cats, fresh) {
		p.CloseStdin()
		if st := reapAll(t, n, p); st.ExitStatus() != 0 {
			t.Fatalf("cat %d: status %v", p.Pid, st)
		}
	}
	awaitNoOrphans(t, c, grandchild)
	for _, pid := range ownChildren() {
		if pid != c.spawnerPid() {
			t.Errorf("child %d left behind (zombie: %v)", pid, isZombie(pid))
		}
	}
}

// awaitNoOrphans waits until the orphan reaper has collected everything it
// adopted, grandchild included: it does so on the poller, in its own time.
func awaitNoOrphans(t *testing.T, c *client, grandchild int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c.mu.Lock()
		left := len(c.orph)
		c.mu.Unlock()
		_, err := os.Stat("/proc/" + strconv.Itoa(grandchild))
		if left == 0 && err != nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d orphans not reaped; grandchild %d present: %v", left, grandchild, err == nil)
		}
		time.Sleep(5 * time.Millisecond) // polling the outcome, not ordering events
	}
}

// TestPendingStartFailsWhenSpawnerDies: a Start waiting on a spawner that
// dies returns an error instead of hanging.
func TestPendingStartFailsWhenSpawnerDies(t *testing.T) {
	s := newSpawner(t)
	c := remoteOf(t, s)
	old := c.spawnerPid()
	if err := unix.Kill(old, unix.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	res := make(chan error, 1)
	go func() {
		p, err := s.Start(Spec{Path: lookPath(t, "true"), Args: []string{"true"}}, make(chanNotifier, 4))
		if err == nil {
			p.Release()
		}
		res <- err
	}()
	c.mu.Lock()
	l := c.cur
	c.mu.Unlock()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if pendingOn(c.home, l) > 0 {
			break
		}
		if time.Now().After(deadline) {
			_ = unix.Kill(old, unix.SIGKILL)
			t.Fatal("the start is not pending after 10 s")
		}
		time.Sleep(time.Millisecond) // polling the outcome, not ordering events
	}
	restarted := c.nextRestart()
	_ = unix.Kill(old, unix.SIGKILL)
	select {
	case err := <-res:
		if err == nil {
			t.Fatal("Start succeeded on a spawner that was killed while stopped")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Start still waiting 10 s after its spawner was killed")
	}
	select {
	case <-restarted:
	case <-time.After(10 * time.Second):
		t.Fatal("spawner not restarted")
	}
	n := make(chanNotifier, 4)
	p, err := s.Start(Spec{Path: lookPath(t, "true"), Args: []string{"true"}}, n)
	if err != nil {
		t.Fatal(err)
	}
	reapAll(t, n, p)
}

// pendingOn counts the starts waiting on loop's channel to the spawner l,
// on that loop.
func pendingOn(loop *reactor.Loop, l *link) int {
	res := make(chan int, 1)
	if !loop.Post(func() {
		l.mu.Lock()
		ch := l.chans[loop]
		l.mu.Unlock()
		if ch == nil {
			res <- 0
			return
		}
		res <- len(ch.pending)
	}) {
		return 0
	}
	return <-res
}

// holdFDs opens k more fds (dups of /dev/null) until the test ends.
func holdFDs(t testing.TB, k int) {
	t.Helper()
	f, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	fds := make([]int, 0, k)
	t.Cleanup(func() {
		for _, fd := range fds {
			_ = unix.Close(fd)
		}
		f.Close()
	})
	for i := 0; i < k; i++ {
		fd, err := unix.FcntlInt(f.Fd(), unix.F_DUPFD_CLOEXEC, 0)
		if err != nil {
			t.Skipf("cannot hold %d fds: %v", k, err)
		}
		fds = append(fds, fd)
	}
}

// fdSize reads FDSize (slots in the fd table) from /proc/PID/status.
func fdSize(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "FDSize:"); ok {
			k, _ := strconv.Atoi(strings.TrimSpace(v))
			return k
		}
	}
	t.Fatal("no FDSize")
	return 0
}

// TestChildFDTableSmall: with the daemon holding 5,000 fds, a child started
// by the spawner has the minimal fd table; a directly forked one inherits
// one as large as the daemon's.
func TestChildFDTableSmall(t *testing.T) {
	holdFDs(t, 5000)
	for _, direct := range []bool{false, true} {
		s, err := NewWith(1, Options{Direct: direct})
		if err != nil {
			t.Fatal(err)
		}
		n := make(chanNotifier, 16)
		p, err := s.Start(Spec{Path: lookPath(t, "cat"), Args: []string{"cat"}}, n)
		if err != nil {
			t.Fatal(err)
		}
		echo(t, n, p, "up") // exec done: the table is the program's
		size := fdSize(t, p.Pid)
		p.CloseStdin()
		reapAll(t, n, p)
		s.Close()
		t.Logf("%s: child FDSize %d", s.Mode(), size)
		if !direct && size > 64 {
			t.Errorf("spawner child FDSize %d, want <= 64", size)
		}
		if direct && size < 5000 {
			t.Logf("direct child FDSize %d: smaller than expected", size)
		}
	}
}

// TestOrphanReaped: a child exits and leaves a background job holding its
// stdin; when that job exits too, the daemon (the subreaper) reaps it.
func TestOrphanReaped(t *testing.T) {
	s := newSpawner(t)
	c := remoteOf(t, s)
	n := make(chanNotifier, 16)
	p, err := s.Start(Spec{Path: lookPath(t, "sh"), Args: []string{"sh", "-c", "exec 3<&0; cat <&3 >/dev/null 2>&1 & echo $!"}, Env: []string{"PATH=" + os.Getenv("PATH")}}, n)
	if err != nil {
		t.Fatal(err)
	}
	orphan := readPid(t, n, p, "background pid")
	if st := reapAll(t, n, p); st.ExitStatus() != 0 {
		t.Fatalf("status %v", st)
	}
	if ppid := parentOf(t, orphan); ppid != os.Getpid() {
		t.Fatalf("orphan %d has parent %d, want the daemon %d", orphan, ppid, os.Getpid())
	}
	p.CloseStdin() // the orphan's cat sees end of input and exits
	awaitNoOrphans(t, c, orphan)
}

// TestFailedStartLeavesNoZombie: a start whose exec fails leaves a zombie
// with no pidfd in the spawner; the spawner's fallback reaps it.
func TestFailedStartLeavesNoZombie(t *testing.T) {
	s := newSpawner(t)
	c := remoteOf(t, s)
	dir := t.TempDir()
	notExec := filepath.Join(dir, "prog")
	if err := os.WriteFile(notExec, []byte("data"), 0o644); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		if _, err := s.Start(Spec{Path: notExec, Args: []string{"prog"}}, make(chanNotifier, 1)); !errors.Is(err, unix.EACCES) {
			t.Fatalf("err = %v, want EACCES", err)
		}
	}
	sp := c.spawnerPid()
	fk := forkerPid(t, sp)
	deadline := time.Now().Add(10 * time.Second)
	for {
		var left []string
		tasks, _ := filepath.Glob("/proc/" + strconv.Itoa(sp) + "/task/*/children")
		for _, task := range tasks {
			b, _ := os.ReadFile(task)
			for _, f := range strings.Fields(string(b)) {
				if f != strconv.Itoa(fk) {
					left = append(left, f)
				}
			}
		}
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("spawner %d still has children %v after failed starts", sp, left)
		}
		time.Sleep(5 * time.Millisecond) // polling the outcome, not ordering events
	}
}

// parentOf reads a process's parent pid from /proc/PID/stat.
func parentOf(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	ppid, _ := strconv.Atoi(f[1])
	return ppid
}

// TestStartAsync: 16 starts requested from one goroutine without waiting
// for any; every callback brings a running child (its own pid, its pipes
// registered) or an error, and each echoes.
func TestStartAsync(t *testing.T) {
	s := newSpawner(t)
	remoteOf(t, s)
	cat := lookPath(t, "cat")
	type result struct {
		p   *Process
		n   chanNotifier
		err error
	}
	done := make(chan result, 16)
	for i := 0; i < 16; i++ {
		n := make(chanNotifier, 16)
		s.StartAsync(Spec{Path: cat, Args: []string{"cat"}}, n, func(p *Process, err error) { done <- result{p, n, err} })
	}
	pids := map[int]bool{}
	for i := 0; i < 16; i++ {
		r := <-done
		if r.err != nil {
			t.Fatal(r.err)
		}
		if pids[r.p.Pid] {
			t.Fatalf("pid %d twice", r.p.Pid)
		}
		pids[r.p.Pid] = true
		echo(t, r.n, r.p, "async "+strconv.Itoa(i))
		r.p.CloseStdin()
		if st := reapAll(t, r.n, r.p); st.ExitStatus() != 0 {
			t.Fatalf("status %v", st)
		}
	}
}
