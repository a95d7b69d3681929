package reactor_test

import (
	"bytes"
	"io"
	"os"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/wsplex/wsplex/reactor"
)

// TestOutbufFlushOnWritable: messages far larger than the socket buffer
// are written with Outbuf; what the kernel refuses is queued, write
// interest waits for room, and the reader gets every byte in order.
func TestOutbufFlushOnWritable(t *testing.T) {
	for _, tc := range []struct {
		name  string
		parts [][]byte // one message, sent 20 times
	}{
		{"one part", [][]byte{bytes.Repeat([]byte("a"), 40<<10)}},
		{"header and payload (writev)", [][]byte{[]byte{0x82, 0x7f}, bytes.Repeat([]byte("b"), 30<<10)}},
		{"empty parts skipped", [][]byte{nil, []byte("hdr"), {}, bytes.Repeat([]byte("c"), 50<<10)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := newLoop(t)
			fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
			if err != nil {
				t.Fatal(err)
			}
			unix.SetNonblock(fds[0], true)
			unix.SetsockoptInt(fds[0], unix.SOL_SOCKET, unix.SO_SNDBUF, 4096)
			var want []byte
			for range 20 {
				for _, p := range tc.parts {
					want = append(want, p...)
				}
			}
			got := make(chan []byte, 1)
			rd := os.NewFile(uintptr(fds[1]), "reader")
			// Nothing reads until the loop has queued: with 1 MB against
			// a socket buffer of a few KB, it must.
			startRead := make(chan struct{})
			go func() {
				<-startRead
				b, _ := io.ReadAll(rd)
				got <- b
			}()
			var out reactor.Outbuf
			var w *reactor.Watch
			sent, queued := 0, false
			var send func()
			started := false
			start := func() {
				if !started {
					started = true
					close(startRead)
				}
			}
			finish := func() { w.Close(); start() } // EOF for the reader
			send = func() {
				for sent < 20 {
					done, err := out.Write(fds[0], tc.parts...)
					if err != nil {
						t.Error(err)
						finish()
						return
					}
					sent++
					if !done {
						queued = true
						start()
						w.WantWrite(true)
						return // resumed by Writable
					}
				}
				finish()
			}
			on(t, l, func() {
				w, err = l.Register(fds[0], 0, reactor.HandlerFunc(func(ev reactor.Events) {
					done, err := out.Flush(fds[0])
					if err != nil {
						t.Error(err)
						finish()
						return
					}
					if done {
						w.WantWrite(false)
						send()
					}
				}))
				if err != nil {
					t.Error(err)
					return
				}
				send()
			})
			b := <-got
			rd.Close()
			if !bytes.Equal(b, want) {
				t.Fatalf("reader got %d bytes, want %d (equal prefix %d)", len(b), len(want), commonPrefix(b, want))
			}
			var q bool
			on(t, l, func() { q = queued })
			if !q {
				t.Fatal("the kernel took everything at once: nothing tested the queue")
			}
		})
	}
}

func commonPrefix(a, b []byte) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return n
}
