package reactor_test

import (
	"errors"
	"os"
	"runtime"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/wsplex/wsplex/reactor"
)

func newLoop(t testing.TB) *reactor.Loop {
	t.Helper()
	l, err := reactor.New(0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// on runs f on the loop goroutine and waits for it.
func on(t testing.TB, l *reactor.Loop, f func()) {
	t.Helper()
	done := make(chan struct{})
	if !l.Post(func() { defer close(done); f() }) {
		t.Fatal("Post refused")
	}
	<-done
}

// pair returns a non-blocking pipe or socketpair: r is read, w written.
func pair(t testing.TB, kind string) (r, w int) {
	t.Helper()
	var fds [2]int
	var err error
	if kind == "pipe" {
		err = unix.Pipe(fds[:])
	} else {
		fds, err = unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, fd := range fds {
		unix.SetNonblock(fd, true)
	}
	return fds[0], fds[1]
}

func closeLater(t testing.TB, fds ...int) {
	t.Cleanup(func() {
		for _, fd := range fds {
			unix.Close(fd)
		}
	})
}

// recorder is a handler that forwards its events to a channel.
type recorder struct {
	ch chan reactor.Events
	fn func(reactor.Events) // optional, runs first on the loop
}

func newRecorder() *recorder { return &recorder{ch: make(chan reactor.Events, 1024)} }

func (r *recorder) OnEvent(ev reactor.Events) {
	if r.fn != nil {
		r.fn(ev)
	}
	r.ch <- ev
}

func (r *recorder) next(t testing.TB) reactor.Events {
	t.Helper()
	select {
	case ev := <-r.ch:
		return ev
	case <-time.After(10 * time.Second):
		t.Fatal("no event within 10s")
		return 0
	}
}

// barrier makes the loop go through at least one full poller round after
// everything done so far: it registers a fresh pipe, makes it readable and
// waits for its event. Events ready before it are in that round's batch
// or an earlier one (epoll and kqueue report every ready fd per wait, and
// the tests stay far below the batch size).
func barrier(t testing.TB, l *reactor.Loop) {
	t.Helper()
	r, w := pair(t, "pipe")
	defer unix.Close(w)
	got := make(chan struct{})
	var wt *reactor.Watch
	on(t, l, func() {
		var err error
		wt, err = l.Register(r, reactor.Read, reactor.HandlerFunc(func(reactor.Events) {
			wt.Close()
			close(got)
		}))
		if err != nil {
			t.Error(err)
		}
	})
	unix.Write(w, []byte{1})
	<-got
	on(t, l, func() {}) // the barrier's round is over
}

func TestReadableWritable(t *testing.T) {
	for _, tc := range []struct {
		name     string
		kind     string
		readEnd  bool
		interest reactor.Interest
		want     reactor.Events
	}{
		{"pipe read end, data written", "pipe", true, reactor.Read, reactor.Readable},
		{"pipe write end, empty pipe", "pipe", false, reactor.Write, reactor.Writable},
		{"socketpair, data written", "socket", true, reactor.Read, reactor.Readable},
		{"socketpair, empty buffer", "socket", false, reactor.Write, reactor.Writable},
		{"socketpair, both, data written", "socket", true, reactor.Read | reactor.Write, reactor.Readable | reactor.Writable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := newLoop(t)
			r, w := pair(t, tc.kind)
			closeLater(t, r, w)
			fd, other := r, w
			if !tc.readEnd {
				fd, other = w, r
			}
			rec := newRecorder()
			var wt *reactor.Watch
			rec.fn = func(reactor.Events) { wt.SetInterest(0) } // one event is enough
			on(t, l, func() {
				var err error
				if wt, err = l.Register(fd, tc.interest, rec); err != nil {
					t.Error(err)
				}
			})
			if tc.readEnd {
				unix.Write(other, []byte("x"))
			}
			// kqueue reports read and write filters as separate events.
			var got reactor.Events
			for got&tc.want != tc.want {
				got |= rec.next(t)
				if got&tc.want != tc.want {
					on(t, l, func() { wt.SetInterest(tc.interest &^ reactor.Interest(got)) })
				}
			}
			if got&^tc.want != 0 {
				t.Fatalf("events %b, want %b", got, tc.want)
			}
			on(t, l, func() { wt.Close() })
		})
	}
}

// TestPauseResume: a paused watch is not told about data; resuming it
// delivers what is pending, level-triggered (one byte read per event still
// gets every byte).
func TestPauseResume(t *testing.T) {
	for _, kind := range []string{"pipe", "socket"} {
		t.Run(kind, func(t *testing.T) {
			l := newLoop(t)
			r, w := pair(t, kind)
			closeLater(t, r, w)
			var mu sync.Mutex
			var got []byte
			events := 0
			all := make(chan struct{})
			var wt *reactor.Watch
			h := reactor.HandlerFunc(func(ev reactor.Events) {
				mu.Lock()
				defer mu.Unlock()
				events++
				var b [1]byte
				if n, _ := unix.Read(r, b[:]); n == 1 {
					got = append(got, b[0])
					if len(got) == 5 {
						close(all)
					}
				}
			})
			on(t, l, func() {
				var err error
				if wt, err = l.Register(r, 0, h); err != nil {
					t.Error(err)
				}
			})
			unix.Write(w, []byte("hello"))
			barrier(t, l)
			mu.Lock()
			if events != 0 {
				t.Fatalf("%d events while paused", events)
			}
			mu.Unlock()
			on(t, l, func() { wt.ResumeRead() })
			<-all
			on(t, l, func() { wt.PauseRead() })
			if string(got) != "hello" {
				t.Fatalf("read %q", got)
			}
			unix.Write(w, []byte("more"))
			barrier(t, l)
			mu.Lock()
			defer mu.Unlock()
			if events != 5 {
				t.Fatalf("%d events for 5 bytes read one per event, then a pause", events)
			}
		})
	}
}

// TestInterestWithinBatch: two watches ready in the same round; whichever
// runs first pauses (or closes) the other, which then hears nothing.
func TestInterestWithinBatch(t *testing.T) {
	for _, op := range []string{"pause", "close", "deregister"} {
		t.Run(op, func(t *testing.T) {
			l := newLoop(t)
			r1, w1 := pair(t, "pipe")
			r2, w2 := pair(t, "pipe")
			closeLater(t, r1, w1, w2)
			var ws [2]*reactor.Watch
			calls := make(chan int, 4)
			for i, fd := range []int{r1, r2} {
				on(t, l, func() {
					var err error
					ws[i], err = l.Register(fd, reactor.Read, reactor.HandlerFunc(func(reactor.Events) {
						calls <- i
						o := ws[1-i]
						switch op {
						case "pause":
							o.PauseRead()
							ws[i].PauseRead()
						case "close":
							o.Close()
							ws[i].Close()
						case "deregister":
							o.Deregister()
							ws[i].Deregister()
						}
					}))
					if err != nil {
						t.Error(err)
					}
				})
			}
			// Both readable before the loop polls again.
			on(t, l, func() {
				unix.Write(w1, []byte{1})
				unix.Write(w2, []byte{1})
			})
			<-calls
			barrier(t, l)
			if n := len(calls); n != 0 {
				t.Fatalf("the second watch was called after the first %sd it", op)
			}
			if op != "close" {
				unix.Close(r2)
			}
		})
	}
}

// TestStaleEventAfterReuse: a handler closes another ready watch and a new
// descriptor takes its number in the same batch; the new registration must
// not get the old one's event.
func TestStaleEventAfterReuse(t *testing.T) {
	l := newLoop(t)
	r1, w1 := pair(t, "pipe")
	r2, w2 := pair(t, "pipe")
	r3, w3 := pair(t, "pipe") // the "new" descriptor, moved onto r2's number
	closeLater(t, r1, w1, w2, w3)
	fresh := newRecorder()
	var w2watch *reactor.Watch
	var newWatch *reactor.Watch
	first := make(chan int, 2)
	reuse := func() {
		w2watch.Close()
		if err := unix.Dup2(r3, r2); err != nil {
			t.Error(err)
		}
		unix.Close(r3)
		var err error
		if newWatch, err = l.Register(r2, reactor.Read, fresh); err != nil {
			t.Error(err)
		}
	}
	on(t, l, func() {
		var w1watch *reactor.Watch
		w1watch, _ = l.Register(r1, reactor.Read, reactor.HandlerFunc(func(reactor.Events) {
			first <- 1
			w1watch.Close()
			if !w2watch.Closed() {
				reuse()
			}
		}))
		w2watch, _ = l.Register(r2, reactor.Read, reactor.HandlerFunc(func(reactor.Events) {
			first <- 2
			w2watch.Close()
			w1watch.Close()
		}))
	})
	on(t, l, func() {
		unix.Write(w1, []byte{1})
		unix.Write(w2, []byte{1})
	})
	if <-first == 2 {
		t.Skip("the kernel listed the second pipe first; nothing to check this time")
	}
	barrier(t, l)
	if n := len(fresh.ch); n != 0 {
		t.Fatalf("the new registration on a reused fd got %d stale events", n)
	}
	on(t, l, func() { fresh.fn = func(reactor.Events) { newWatch.Close() } }) // one event is enough
	unix.Write(w3, []byte{1})
	if ev := fresh.next(t); ev&reactor.Readable == 0 {
		t.Fatalf("event %b on the new registration", ev)
	}
}

// TestWritableWhilePaused: with reading paused (edge-triggered on Linux)
// Writable stays level-triggered: told again while the watch wants it.
func TestWritableWhilePaused(t *testing.T) {
	l := newLoop(t)
	r, w := pair(t, "socket")
	closeLater(t, r, w)
	n := 0
	done := make(chan struct{})
	var wt *reactor.Watch
	on(t, l, func() {
		wt, _ = l.Register(r, reactor.Write, reactor.HandlerFunc(func(ev reactor.Events) {
			if ev&reactor.Writable == 0 {
				return
			}
			if n++; n == 3 {
				wt.WantWrite(false)
				close(done)
			}
		}))
	})
	<-done
	on(t, l, func() { wt.Deregister() })
}

func TestLoopCloseShutsWatchesAndLeaksNothing(t *testing.T) {
	fdsBefore := countFDs(t)
	gBefore := runtime.NumGoroutine()
	l, err := reactor.New(0)
	if err != nil {
		t.Fatal(err)
	}
	r, w := pair(t, "pipe")
	defer unix.Close(w)
	rec := newRecorder()
	on(t, l, func() {
		if _, err := l.Register(r, reactor.Read, rec); err != nil {
			t.Error(err)
		}
		l.AfterFunc(time.Hour, func() { t.Error("timer fired") })
	})
	ran := false
	l.Post(func() { ran = true })
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if !ran {
		t.Error("a task posted before Close did not run")
	}
	if ev := rec.next(t); ev != reactor.Shutdown {
		t.Fatalf("event %b, want Shutdown", ev)
	}
	if _, err := unix.FcntlInt(uintptr(r), unix.F_GETFD, 0); err == nil {
		t.Error("the watched fd is still open after Close")
	}
	if l.Post(func() {}) {
		t.Error("Post accepted after Close")
	}
	if err := l.Close(); err != nil {
		t.Error("second Close:", err)
	}
	unix.Close(w)
	if n := countFDs(t); n > fdsBefore {
		t.Errorf("%d fds open, %d before", n, fdsBefore)
	}
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > gBefore && time.Now().Before(deadline) {
		runtime.Gosched()
	}
	if g := runtime.NumGoroutine(); g > gBefore {
		t.Errorf("%d goroutines, %d before", g, gBefore)
	}
}

func countFDs(t testing.TB) int {
	ents, err := os.ReadDir("/dev/fd")
	if err != nil {
		t.Skip("no /dev/fd")
	}
	return len(ents)
}

func TestPostFromManyGoroutines(t *testing.T) {
	l := newLoop(t)
	const G, N = 16, 2000
	var last [G]int
	var mu sync.Mutex
	bad := 0
	var wg sync.WaitGroup
	for g := range G {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 1; i <= N; i++ {
				l.Post(func() {
					// Loop goroutine: no lock needed for last; bad is read
					// by the test after the barrier below.
					if last[g] != i-1 {
						mu.Lock()
						bad++
						mu.Unlock()
					}
					last[g] = i
				})
			}
		}()
	}
	wg.Wait()
	on(t, l, func() {
		for g := range G {
			if last[g] != N {
				t.Errorf("goroutine %d: %d of %d posts ran", g, last[g], N)
			}
		}
	})
	if bad != 0 {
		t.Errorf("%d posts ran out of order", bad)
	}
}

func TestTimers(t *testing.T) {
	for _, tc := range []struct {
		name string
		// arm runs on the loop with timers a, b, c (each records its
		// name); want is the firing order.
		arm  func(a, b, c *reactor.Timer)
		want string
	}{
		{"order", func(a, b, c *reactor.Timer) {
			c.Reset(3 * time.Millisecond)
			a.Reset(1 * time.Millisecond)
			b.Reset(2 * time.Millisecond)
		}, "abc"},
		{"reset later", func(a, b, c *reactor.Timer) {
			a.Reset(1 * time.Millisecond)
			b.Reset(2 * time.Millisecond)
			c.Reset(3 * time.Millisecond)
			a.Reset(4 * time.Millisecond)
		}, "bca"},
		{"reset earlier", func(a, b, c *reactor.Timer) {
			a.Reset(2 * time.Millisecond)
			b.Reset(3 * time.Millisecond)
			c.Reset(time.Hour)
			c.Reset(1 * time.Millisecond)
		}, "cab"},
		{"stop", func(a, b, c *reactor.Timer) {
			a.Reset(1 * time.Millisecond)
			b.Reset(2 * time.Millisecond)
			c.Reset(3 * time.Millisecond)
			b.Stop()
		}, "ac"},
		{"same deadline", func(a, b, c *reactor.Timer) {
			at := time.Now().Add(time.Millisecond)
			a.ResetAt(at)
			b.ResetAt(at.Add(time.Microsecond))
			c.ResetAt(at.Add(2 * time.Microsecond))
		}, "abc"},
		{"in the past", func(a, b, c *reactor.Timer) {
			b.ResetAt(time.Now().Add(-time.Hour))
			a.ResetAt(time.Now().Add(-2 * time.Hour))
			c.Reset(0)
		}, "abc"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := newLoop(t)
			fired := make(chan string, 3)
			var ts [3]*reactor.Timer
			on(t, l, func() {
				for i, name := range []string{"a", "b", "c"} {
					ts[i] = l.NewTimer(func() { fired <- name })
				}
				tc.arm(ts[0], ts[1], ts[2])
			})
			got := ""
			for len(got) < len(tc.want) {
				got += <-fired
			}
			// Anything stopped would have fired by now: the last wanted
			// timer is the latest armed, except a stopped one set earlier.
			on(t, l, func() {
				for _, tm := range ts {
					if tm.Active() {
						t.Errorf("a timer is still armed after %q fired", got)
					}
				}
			})
			if got != tc.want || len(fired) != 0 {
				t.Fatalf("fired %q (+%d more), want %q", got, len(fired), tc.want)
			}
		})
	}
}

// TestTimerBoundsWait: an idle loop with nothing but a timer wakes up for
// it (the poller's timeout), not later than the timer by a wake-up.
func TestTimerBoundsWait(t *testing.T) {
	l := newLoop(t)
	fired := make(chan time.Time, 1)
	var start time.Time
	on(t, l, func() {
		start = time.Now()
		l.AfterFunc(20*time.Millisecond, func() { fired <- time.Now() })
	})
	at := <-fired
	if d := at.Sub(start); d < 20*time.Millisecond {
		t.Fatalf("fired after %v, before its 20ms", d)
	}
}

// TestTimerInPastDoesNotStarve: a timer that keeps re-arming itself in the
// past (an open-loop sender far behind) must leave the poller its turn.
func TestTimerInPastDoesNotStarve(t *testing.T) {
	l := newLoop(t)
	r, w := pair(t, "pipe")
	closeLater(t, r, w)
	stop := make(chan struct{})
	var tm *reactor.Timer
	on(t, l, func() {
		past := time.Now().Add(-time.Hour)
		tm = l.NewTimer(func() {
			select {
			case <-stop:
			default:
				tm.ResetAt(past)
			}
		})
		tm.ResetAt(past)
	})
	rec := newRecorder()
	var wt *reactor.Watch
	rec.fn = func(reactor.Events) { wt.Deregister() }
	on(t, l, func() { wt, _ = l.Register(r, reactor.Read, rec) })
	unix.Write(w, []byte{1})
	rec.next(t)
	close(stop)
}

func TestWatchProcess(t *testing.T) {
	l := newLoop(t)
	sh, err := os.StartProcess("/bin/sh", []string{"sh", "-c", "read x"}, &os.ProcAttr{Files: []*os.File{nil, nil, os.Stderr}})
	if err != nil {
		t.Fatal(err)
	}
	// stdin is /dev/null: read x returns at once. Watch may come after
	// the exit: the pidfd of a zombie is readable, EVFILT_PROC may refuse.
	rec := newRecorder()
	var wt *reactor.Watch
	on(t, l, func() { wt, err = l.WatchProcess(sh.Pid, rec) })
	if errors.Is(err, unix.ENOSYS) {
		sh.Wait()
		t.Skip("no pidfd_open")
	}
	if err != nil && !errors.Is(err, unix.ESRCH) {
		t.Fatal(err)
	}
	if err == nil {
		if ev := rec.next(t); ev != reactor.Exited {
			t.Fatalf("event %b, want Exited", ev)
		}
		on(t, l, func() { wt.Close() })
	}
	if _, err := sh.Wait(); err != nil {
		t.Fatal(err)
	}
}

func TestGroup(t *testing.T) {
	g, err := reactor.NewGroup(3)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	seen := map[int]int{}
	for range 6 {
		seen[g.Next().ID()]++
	}
	if len(seen) != 3 || seen[0] != 2 || seen[1] != 2 || seen[2] != 2 {
		t.Fatalf("round robin over 3 loops gave %v", seen)
	}
	// Load loop 0 and 2: Least must pick 1.
	var fds []int
	for _, i := range []int{0, 2} {
		l := g.Loops()[i]
		r, w := pair(t, "pipe")
		fds = append(fds, w)
		on(t, l, func() { l.Register(r, reactor.Read, reactor.HandlerFunc(func(reactor.Events) {})) })
	}
	if id := g.Least().ID(); id != 1 {
		t.Fatalf("Least picked loop %d, want 1", id)
	}
	if err := g.Close(); err != nil {
		t.Fatal(err)
	}
	for _, fd := range fds {
		unix.Close(fd)
	}
}
