package spawn

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// TestPoolHandsOverEnvironment: a waiting child gets the connection's
// environment as its first line, then works as usual; a replacement is
// started; Close reaps the waiting ones.
func TestPoolHandsOverEnvironment(t *testing.T) {
	s := newSpawner(t)
	sh := lookPath(t, "sh")
	pool := s.NewPool(Spec{Path: sh, Args: []string{"sh", "-c", `echo "prefork=$WSPLEX_PREFORK"; read env; echo "$env"; exec cat`}}, 2)
	defer pool.Close()
	n := make(chanNotifier, 16)
	var p *Process
	for p == nil { // the pool fills in the background
		var ok bool
		if p, ok = pool.Take([]string{"REMOTE_ADDR=127.0.0.1", "Q=a b"}, n); !ok {
			pool.mu.Lock()
			idle := len(pool.idle)
			pool.mu.Unlock()
			if idle == 0 {
				waitFilled(t, pool)
			}
		}
	}
	var out bytes.Buffer
	buf := make([]byte, 256)
	want := "prefork=1\n{\"Q\":\"a b\",\"REMOTE_ADDR\":\"127.0.0.1\"}\n"
	await(t, n, p, "banner and env line", func(uint32) bool {
		for {
			k, err := p.ReadStdout(buf)
			out.Write(buf[:k])
			if err != nil {
				return strings.HasPrefix(out.String(), want)
			}
		}
	})
	if out.String() != want {
		t.Fatalf("output %q, want %q", out.String(), want)
	}
	echo(t, n, p, "hello")
	p.CloseStdin()
	reapAll(t, n, p)
	waitFilled(t, pool)
}

// waitFilled waits until the pool has its full number of waiting children.
func waitFilled(t *testing.T, pool *Pool) {
	t.Helper()
	for i := 0; ; i++ {
		pool.mu.Lock()
		idle, filling := len(pool.idle), pool.filling
		pool.mu.Unlock()
		if idle == pool.size {
			return
		}
		if filling == 0 && idle < pool.size {
			pool.refill()
		}
		if i > 10000 {
			t.Fatalf("pool has %d of %d children", idle, pool.size)
		}
		waitTick()
	}
}

// TestPoolBacksOffFromAProgramThatCannotWait: children that exit at once
// are replaced after a growing delay, not in a fork loop, and Close still
// reaps everything.
func TestPoolBacksOffFromAProgramThatCannotWait(t *testing.T) {
	s := newSpawner(t)
	pool := s.NewPool(Spec{Path: lookPath(t, "true"), Args: []string{"true"}}, 2)
	deadline := time.Now().Add(10 * time.Second)
	for {
		pool.mu.Lock()
		deaths := pool.deaths
		pool.mu.Unlock()
		if deaths >= 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d deaths counted after 10 s of children that exit at once, want 3", deaths)
		}
		waitTick()
	}
	t0 := time.Now()
	pool.mu.Lock()
	d0 := pool.deaths
	pool.mu.Unlock()
	waitFor := time.Now().Add(100 * time.Millisecond)
	for time.Now().Before(waitFor) {
		waitTick()
	}
	pool.mu.Lock()
	d1 := pool.deaths
	pool.mu.Unlock()
	// 100 ms at 1-2 ms per fork would be dozens of deaths without back-off.
	if d1-d0 > 8 {
		t.Fatalf("%d deaths in %v: no back-off", d1-d0, time.Since(t0))
	}
	n := make(chanNotifier, 4)
	if p, ok := pool.Take(nil, n); ok { // one that had not exited yet
		reapAll(t, n, p)
	}
	pool.Close()
}
