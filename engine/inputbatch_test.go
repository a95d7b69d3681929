package engine

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/wsplex/wsplex/codec"
)

// recorder is a batchWriter that keeps each batch it is given, as one
// string per piece joined by "|".
type recorder struct {
	name    string
	log     *[]string
	refuse  bool // writeBatch says the far side takes no more
	batches int
}

func (r *recorder) writeBatch(bufs [][]byte) bool {
	r.batches++
	*r.log = append(*r.log, r.name+":"+string(bytes.Join(bufs, []byte("|"))))
	return !r.refuse
}

func TestInputBatch(t *testing.T) {
	big := bytes.Repeat([]byte("x"), maxChunk/2)
	for _, tc := range []struct {
		name string
		run  func(b *inputBatch, w1, w2 *recorder) bool // returns the last more
		want []string
	}{
		{"one flush for many pieces", func(b *inputBatch, w1, _ *recorder) bool {
			b.add(w1, []byte("a"), newline)
			b.add(w1, []byte("b"))
			b.add(w1, []byte(""), newline)
			return b.flush()
		}, []string{"w1:a|\n|b|\n"}},
		{"nothing gathered: no write", func(b *inputBatch, w1, _ *recorder) bool {
			return b.flush()
		}, nil},
		{"another endpoint's piece writes the first's batch", func(b *inputBatch, w1, w2 *recorder) bool {
			b.add(w1, []byte("a"))
			b.add(w2, []byte("b"))
			return b.flush()
		}, []string{"w1:a", "w2:b"}},
		{"a full batch is written at once", func(b *inputBatch, w1, _ *recorder) bool {
			b.add(w1, big)
			more := b.add(w1, big) // maxChunk reached
			*w1.log = append(*w1.log, fmt.Sprintf("more=%v", more))
			b.add(w1, []byte("c"))
			return b.flush()
		}, []string{"w1:" + string(big) + "|" + string(big), "more=true", "w1:c"}},
		{"at most maxBatchBufs pieces per write", func(b *inputBatch, w1, _ *recorder) bool {
			for i := 0; i < maxBatchBufs+1; i++ {
				b.add(w1, []byte("p"))
			}
			return b.flush()
		}, []string{"w1:" + strings.Repeat("p|", maxBatchBufs-1) + "p", "w1:p"}},
		{"a refusing far side: more=false", func(b *inputBatch, w1, _ *recorder) bool {
			w1.refuse = true
			b.add(w1, []byte("a"))
			return b.flush()
		}, []string{"w1:a", "more=false"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var log []string
			var b inputBatch
			w1, w2 := &recorder{name: "w1", log: &log}, &recorder{name: "w2", log: &log}
			if more := tc.run(&b, w1, w2); !more {
				log = append(log, "more=false")
			}
			if strings.Join(log, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("writes %q, want %q", log, tc.want)
			}
			if b.to != nil || len(b.bufs) != 0 || b.size != 0 {
				t.Errorf("batch not empty after flush: %+v", b)
			}
			for _, p := range b.bufs[:cap(b.bufs)] {
				if p != nil {
					t.Fatalf("the batch keeps a reference to written input")
				}
			}
		})
	}
}

// batchingFake is the fake endpoint gathering its input in the loop's
// batch, as the child and socket endpoints do.
type batchingFake struct {
	*fakeEndpoint
	log chan string
}

func (f *batchingFake) input(op ws.OpCode, first, fin bool, payload []byte) (bool, *codec.CloseError) {
	return f.c.gc.lb.batch.add(f, payload), nil
}

func (f *batchingFake) writeBatch(bufs [][]byte) bool {
	f.log <- "write " + string(bytes.Join(bufs, []byte("|")))
	return true
}

func (f *batchingFake) hangup() { f.log <- "hangup" }

// TestSeamInputBatched: the messages of one read reach the endpoint in one
// write at the end of the read, and before the hangup that a close frame
// in the same read brings.
func TestSeamInputBatched(t *testing.T) {
	f := &batchingFake{fakeEndpoint: newFake(), log: make(chan string, 16)}
	f.startNow = true
	s := newSeam(t, Config{}, f)
	next := func() string {
		select {
		case l := <-f.log:
			return l
		case <-time.After(10 * time.Second):
			return "nothing within 10s"
		}
	}
	s.send(ws.NewTextFrame([]byte("m1")), ws.NewTextFrame([]byte("m2")), ws.NewTextFrame([]byte("m3")))
	if got, want := next(), "write m1|m2|m3"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	s.send(ws.NewTextFrame([]byte("m4")), ws.NewCloseFrame(ws.NewCloseFrameBody(ws.StatusNormalClosure, "")))
	for _, want := range []string{"write m4", "hangup"} {
		if got := next(); got != want {
			t.Fatalf("got %q, want %q", got, want)
		}
	}
}
