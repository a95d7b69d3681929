package spawn

import (
	"fmt"
	"testing"
	"time"
)

// BenchmarkStart measures one child's start-to-reaped cycle (/bin/true)
// with 0 and 15,000 extra fds held by the daemon, on the direct fork path
// and through the spawner process. The direct path's cost grows with the
// fd table (clone copies it, exec walks it); the spawner's does not.
//
//	go test -run '^$' -bench Start -benchtime 2000x ./spawn/
func BenchmarkStart(b *testing.B) {
	for _, held := range []int{0, 15000} {
		for _, direct := range []bool{true, false} {
			mode := "spawner"
			if direct {
				mode = "direct"
			}
			b.Run(fmt.Sprintf("%s/held=%d", mode, held), func(b *testing.B) {
				holdFDs(b, held)
				s, err := NewWith(1, Options{Direct: direct})
				if err != nil {
					b.Fatal(err)
				}
				defer s.Close()
				if s.Mode() != mode {
					b.Skipf("mode %s unavailable", mode)
				}
				n := make(wakeNotifier, 1)
				spec := Spec{Path: "/bin/true", Args: []string{"true"}}
				var inStart time.Duration
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					t0 := time.Now()
					p, err := s.Start(spec, n)
					inStart += time.Since(t0)
					if err != nil {
						b.Fatal(err)
					}
					waitExit(b, n, p)
				}
				// Start itself: how long a start takes to answer.
				b.ReportMetric(float64(inStart.Microseconds())/float64(b.N), "start-us/op")
			})
		}
	}
}

// wakeNotifier never blocks the poller: notifications coalesce. (A
// chanNotifier shared by thousands of children fills up with their late
// events, and a poller blocked in Notify never stops.)
type wakeNotifier chan struct{}

func (w wakeNotifier) Notify(*Process) {
	select {
	case w <- struct{}{}:
	default:
	}
}

// waitExit is reapAll for benchmarks.
func waitExit(b *testing.B, n wakeNotifier, p *Process) {
	for {
		p.TakeEvents()
		if _, ok := p.Reap(); ok {
			p.Release()
			return
		}
		<-n
	}
}

// BenchmarkStartAmongLiveChildren is BenchmarkStart's cycle through the
// spawner with 0 and 4,000 other children alive (cats, waiting on their
// stdin): the cost of an exit must not grow with them. wait4(-1) walks
// every child of the caller, about 300 us per call at 4,500 children here;
// the spawner reaps by pid instead.
//
//	go test -run '^$' -bench StartAmongLiveChildren -benchtime 2000x ./spawn/
func BenchmarkStartAmongLiveChildren(b *testing.B) {
	for _, live := range []int{0, 4000} {
		b.Run(fmt.Sprintf("live=%d", live), func(b *testing.B) {
			s, err := New(1)
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			if s.Mode() != "spawner" {
				b.Skip("no spawner process")
			}
			n := make(wakeNotifier, 1)
			var cats []*Process
			defer func() {
				for _, p := range cats {
					p.CloseStdin()
					waitExit(b, n, p)
				}
			}()
			for range live {
				p, err := s.Start(Spec{Path: "/bin/cat", Args: []string{"cat"}}, n)
				if err != nil {
					b.Skipf("cannot hold %d children: %v", live, err)
				}
				cats = append(cats, p)
			}
			spec := Spec{Path: "/bin/true", Args: []string{"true"}}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				p, err := s.Start(spec, n)
				if err != nil {
					b.Fatal(err)
				}
				waitExit(b, n, p)
			}
		})
	}
}
