package engine

import (
	"runtime"
	"sync"
	"testing"
)

// TestFrameListCursors: a reader on another goroutine follows the list as
// it is appended to (run with -race: publication is by the atomic next),
// and a node's end is the bytes up to it.
func TestFrameListCursors(t *testing.T) {
	l := newFrameList()
	const n = 10000
	var wg sync.WaitGroup
	wg.Add(1)
	var got, bytes uint64
	at := l.Tail() // the reader's place: it gets what is appended from now on
	go func() {
		defer wg.Done()
		for got < n {
			next := at.next.Load()
			if next == nil {
				runtime.Gosched() // the test's writer is about to append
				continue
			}
			bytes += uint64(len(next.frame))
			if next.end != bytes || int(next.frame[0]) != int(got%251) {
				t.Errorf("node %d: end %d frame %d, want %d and %d", got, next.end, next.frame[0], bytes, got%251)
				return
			}
			at = next
			got++
		}
	}()
	for i := 0; i < n; i++ {
		f := make([]byte, 1+i%7)
		f[0] = byte(i % 251)
		l.push(&frameNode{frame: f})
	}
	wg.Wait()
}

func TestFrameForClient(t *testing.T) {
	all := &frameNode{}
	some := &frameNode{to: []string{"a", "b"}}
	if !all.forClient("x") || !some.forClient("b") || some.forClient("c") {
		t.Error("forClient: nil is everyone, a list is its ids only")
	}
}

func TestDropFront(t *testing.T) {
	q := [][]byte{[]byte("abc"), []byte("de"), []byte("f")}
	q = dropFront(q, 4)
	if len(q) != 2 || string(q[0]) != "e" || string(q[1]) != "f" {
		t.Fatalf("after 4 bytes: %q", q)
	}
	if q = dropFront(q, 2); q != nil {
		t.Fatalf("after all: %q", q)
	}
}
