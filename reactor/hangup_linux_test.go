package reactor_test

import (
	"testing"

	"golang.org/x/sys/unix"

	"github.com/wsplex/wsplex/reactor"
)

// TestHangupWhilePaused (Linux): a socket whose reading is paused is told
// once that its peer hung up (EPOLLRDHUP, edge-triggered while paused),
// without Readable; the data sent before the hangup is still there on
// resume, then end of file. For a pipe the same goes through EPOLLHUP.
func TestHangupWhilePaused(t *testing.T) {
	for _, kind := range []string{"socket", "pipe"} {
		t.Run(kind, func(t *testing.T) {
			l := newLoop(t)
			r, w := pair(t, kind)
			closeLater(t, r)
			rec := newRecorder()
			var wt *reactor.Watch
			on(t, l, func() {
				var err error
				if wt, err = l.Register(r, 0, rec); err != nil {
					t.Error(err)
				}
			})
			unix.Write(w, []byte("last words"))
			unix.Close(w)
			ev := rec.next(t)
			if ev != reactor.Hangup {
				t.Fatalf("event %b while paused, want Hangup alone", ev)
			}
			barrier(t, l)
			barrier(t, l)
			if n := len(rec.ch); n != 0 {
				t.Fatalf("%d more events while paused after the hangup", n)
			}
			var got []byte
			eof := make(chan struct{})
			rec.fn = func(ev reactor.Events) {
				var b [64]byte
				n, _ := unix.Read(r, b[:])
				got = append(got, b[:max(n, 0)]...)
				if n == 0 {
					wt.Deregister()
					close(eof)
				}
			}
			on(t, l, func() { wt.ResumeRead() })
			<-eof
			if string(got) != "last words" {
				t.Fatalf("read %q after resume", got)
			}
		})
	}
}
