package engine

import (
	"io"
	"os"
	"testing"

	"github.com/gobwas/ws"
	"golang.org/x/sys/unix"

	"github.com/wsplex/wsplex/codec"
	"github.com/wsplex/wsplex/internal/logline"
	"github.com/wsplex/wsplex/reactor"
)

type wantFrame struct {
	op   ws.OpCode
	fin  bool
	data string
}

// TestFramers drives each output mode's framer (chosen by newFramer, as
// at the upgrade) through conn.fromStdout, conn.fromStderr and the end of
// output, on a socketpair registered on a real reactor loop, and reads
// the frames the client end gets. After our close frame (closeSent) the
// output is dropped and counted whatever the mode.
func TestFramers(t *testing.T) {
	js := func(stream, s string) string { return string(codec.AppendStreamJSON(nil, stream, []byte(s))) }
	cases := []struct {
		name string
		cfg  Config
		want []wantFrame
	}{
		{"text", Config{}, []wantFrame{{ws.OpText, true, "a"}, {ws.OpText, true, "bc"}, {ws.OpText, true, "tail"}}},
		{"binary", Config{Binary: true}, []wantFrame{{ws.OpBinary, true, "a\nb"}, {ws.OpBinary, true, "c\n"}, {ws.OpBinary, true, "tail"}}},
		{"pty", Config{PTY: true, Binary: true, PassStderr: true}, []wantFrame{{ws.OpBinary, true, "a\nb"}, {ws.OpBinary, true, "c\n"}, {ws.OpBinary, true, "tail"}}},
		{"passstderr", Config{PassStderr: true}, []wantFrame{
			{ws.OpText, true, js("stdout", "a")}, {ws.OpText, true, js("stderr", "e1")},
			{ws.OpText, true, js("stdout", "bc")}, {ws.OpText, true, js("stdout", "tail")}, {ws.OpText, true, js("stderr", "e2")},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
			if err != nil {
				t.Fatal(err)
			}
			peer := os.NewFile(uintptr(fds[1]), "peer")
			defer peer.Close()
			if err := unix.SetNonblock(fds[0], true); err != nil {
				t.Fatal(err)
			}
			l, err := reactor.New(0)
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			e := &Engine{cfg: tc.cfg, log: logline.NewLogger(io.Discard, logline.LevelError)}
			if e.metrics, err = newMetrics(e); err != nil {
				t.Fatal(err)
			}
			c := &conn{e: e, loop: l, state: stOpen, upgraded: true}
			done := make(chan int64)
			if !l.Post(func() {
				w, err := l.Register(fds[0], reactor.Read, reactor.HandlerFunc(func(reactor.Events) {}))
				if err != nil {
					t.Error(err)
					close(done)
					return
				}
				c.gc = &sock{fd: fds[0], w: w, lb: &loopBufs{read: make([]byte, readBuf)}}
				c.framer = newFramer(&c.e.cfg)
				b := batches.Get().(*batch)
				for _, in := range []struct {
					stderr bool
					s      string
				}{{false, "a\nb"}, {true, "e1\ne"}, {false, "c\n"}, {false, "tail"}, {true, "2"}} {
					if in.stderr {
						c.fromStderr(b, []byte(in.s))
					} else {
						c.fromStdout(b, []byte(in.s))
					}
					c.flush(b)
				}
				batches.Put(b)
				c.flushPartial()
				c.closeSent = true // as sendClose does, without the frame
				b = batches.Get().(*batch)
				c.fromStdout(b, []byte("after close\n"))
				c.flush(b)
				batches.Put(b)
				c.gc.close()
				done <- c.dropped
			}) {
				t.Fatal("loop refused the post")
			}
			dropped := <-done
			if dropped != int64(len("after close\n")) {
				t.Errorf("dropped %d bytes after the close frame, want %d", dropped, len("after close\n"))
			}
			var got []wantFrame
			for {
				h, err := ws.ReadHeader(peer)
				if err == io.EOF || err == io.ErrUnexpectedEOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				if h.Masked || h.Length > 1<<20 {
					t.Fatalf("frame header %+v", h)
				}
				payload := make([]byte, h.Length)
				if _, err := io.ReadFull(peer, payload); err != nil {
					t.Fatal(err)
				}
				got = append(got, wantFrame{h.OpCode, h.Fin, string(payload)})
			}
			if len(got) != len(tc.want) {
				t.Fatalf("frames %+v, want %+v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("frame %d: %+v, want %+v", i, got[i], tc.want[i])
				}
			}
		})
	}
}

// TestLifeTransitions pins what the life states mean to the rest of the
// conn: finished and laddering as the flags they replaced read.
func TestLifeTransitions(t *testing.T) {
	for _, tc := range []struct {
		l                   life
		finished, laddering bool
	}{
		{lifeNone, false, false},
		{lifeStarting, false, false},
		{lifeRunning, false, false},
		{lifeLaddering, false, true},
		{lifeOrphans, true, false},
		{lifeGroupLadder, true, true},
		{lifeReaped, true, false},
	} {
		if tc.l.finished() != tc.finished || tc.l.laddering() != tc.laddering {
			t.Errorf("%v: finished %v laddering %v, want %v %v", tc.l, tc.l.finished(), tc.l.laddering(), tc.finished, tc.laddering)
		}
	}
}
