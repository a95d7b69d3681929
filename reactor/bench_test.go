package reactor_test

import (
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/wsplex/wsplex/reactor"
)

// BenchmarkPost is the round trip of a Post from another goroutine: queue,
// wake the loop, run the task, which signals back.
func BenchmarkPost(b *testing.B) {
	l := newLoop(b)
	done := make(chan struct{}, 1)
	f := func() { done <- struct{}{} }
	b.ResetTimer()
	for range b.N {
		l.Post(f)
		<-done
	}
}

// BenchmarkPostBatch posts 64 tasks per wake-up from one goroutine.
func BenchmarkPostBatch(b *testing.B) {
	l := newLoop(b)
	done := make(chan struct{}, 1)
	nop := func() {}
	last := func() { done <- struct{}{} }
	b.ResetTimer()
	for i := 0; i < b.N; i += 64 {
		for range 63 {
			l.Post(nop)
		}
		l.Post(last)
		<-done
	}
}

// BenchmarkTimerResetStop arms and disarms a timer among 1,000 armed ones,
// on the loop goroutine (0 allocs/op expected).
func BenchmarkTimerResetStop(b *testing.B) {
	l := newLoop(b)
	on(b, l, func() {
		for i := range 1000 {
			l.AfterFunc(time.Hour+time.Duration(i)*time.Millisecond, func() {})
		}
		t := l.NewTimer(func() {})
		b.ReportAllocs()
		b.ResetTimer()
		for i := range b.N {
			t.Reset(time.Duration(i%7200) * time.Second)
			t.Stop()
		}
		b.StopTimer()
	})
}

// BenchmarkEchoSocketpair: a 64-byte message written to one end of a
// socketpair, echoed by a handler on the loop, read back (blocking).
func BenchmarkEchoSocketpair(b *testing.B) {
	l := newLoop(b)
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer unix.Close(fds[1])
	unix.SetNonblock(fds[0], true)
	buf := make([]byte, 4096)
	on(b, l, func() {
		l.Register(fds[0], reactor.Read, reactor.HandlerFunc(func(ev reactor.Events) {
			n, err := unix.Read(fds[0], buf)
			if n > 0 && err == nil {
				unix.Write(fds[0], buf[:n])
			}
		}))
	})
	msg := make([]byte, 64)
	in := make([]byte, 64)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		unix.Write(fds[1], msg)
		for got := 0; got < len(in); {
			n, err := unix.Read(fds[1], in[got:])
			if err != nil {
				b.Fatal(err)
			}
			got += n
		}
	}
}
