package engine

import (
	"encoding/binary"
	"errors"
	"io"
	"os"
	"testing"

	"github.com/gobwas/ws"
	"golang.org/x/sys/unix"

	"github.com/wsplex/wsplex/codec"
	"github.com/wsplex/wsplex/internal/logline"
	"github.com/wsplex/wsplex/reactor"
)

// The conn's side of the endpoint seam, driven with a fake endpoint on a
// real reactor loop and a socketpair whose other end is the client: close
// orders, flow control both ways, output that ends mid-line, a failed
// start, and hangup called once. No process, no network.

// piece is one call of endpoint.input.
type piece struct {
	op          ws.OpCode
	first, fin  bool
	payload     string
	whileParked bool // the conn called input while its reads were paused
}

// fakeEndpoint records what the conn tells it. Its methods run on the loop;
// the test reads what it recorded through the channels, or on the loop.
type fakeEndpoint struct {
	c        *conn
	startNow bool  // report started(nil) from start
	startErr error // with startNow: report this failure
	holdOn   bool  // input answers more=false on every piece

	inputs  chan piece
	resumes chan struct{}
	hangups int
	hungUp  chan struct{}
	sweeps  int
}

func newFake() *fakeEndpoint {
	return &fakeEndpoint{inputs: make(chan piece, 64), resumes: make(chan struct{}, 64), hungUp: make(chan struct{}, 4)}
}

func (f *fakeEndpoint) start(c *conn) {
	f.c = c
	if f.startNow {
		c.started(f.startErr)
	}
}

func (f *fakeEndpoint) input(op ws.OpCode, first, fin bool, payload []byte) (bool, *codec.CloseError) {
	f.inputs <- piece{op, first, fin, string(payload), f.c.inPaused}
	return !f.holdOn, nil
}

func (f *fakeEndpoint) resumeOutput() { f.resumes <- struct{}{} }
func (f *fakeEndpoint) hangup()       { f.hangups++; f.hungUp <- struct{}{} }
func (f *fakeEndpoint) sweep()        { f.sweeps++ }

// seam is one conn on a loop with its client end.
type seam struct {
	t    *testing.T
	l    *reactor.Loop
	e    *Engine
	c    *conn
	peer *os.File
}

func newSeam(t *testing.T, cfg Config, f endpoint) *seam {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	peer := os.NewFile(uintptr(fds[1]), "client")
	t.Cleanup(func() { peer.Close() })
	if err := unix.SetNonblock(fds[0], true); err != nil {
		t.Fatal(err)
	}
	l, err := reactor.New(0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	if cfg.OutBuffer == 0 {
		cfg.OutBuffer = 1 << 20
	}
	if cfg.InBuffer == 0 {
		cfg.InBuffer = 1 << 20
	}
	e := &Engine{cfg: cfg, log: logline.NewLogger(io.Discard, logline.LevelError), live: map[*conn]struct{}{}}
	if e.metrics, err = newMetrics(e); err != nil {
		t.Fatal(err)
	}
	c := &conn{e: e, loop: l, state: stOpen, upgraded: true}
	s := &seam{t: t, l: l, e: e, c: c, peer: peer}
	s.do(func() {
		w, err := l.Register(fds[0], reactor.Read, c)
		if err != nil {
			t.Error(err)
			return
		}
		c.gc = &sock{fd: fds[0], w: w, lb: &loopBufs{read: make([]byte, readBuf)}}
		e.track(c)
		e.conns.Add(1)
		c.framer = newFramer(&e.cfg)
		c.startEndpoint(f)
	})
	return s
}

// do runs fn on the loop and waits for it.
func (s *seam) do(fn func()) {
	s.t.Helper()
	done := make(chan struct{})
	if !s.l.Post(func() { defer close(done); fn() }) {
		s.t.Fatal("loop refused the post")
	}
	<-done
}

// send writes client frames (masked, as a client must).
func (s *seam) send(frames ...ws.Frame) {
	s.t.Helper()
	var b []byte
	for _, fr := range frames {
		fr = ws.MaskFrameInPlace(fr)
		b = append(b, ws.MustCompileFrame(fr)...)
	}
	if _, err := s.peer.Write(b); err != nil {
		s.t.Fatal(err)
	}
}

// frame reads one frame from the daemon; io.EOF once the socket is closed.
func (s *seam) frame() (wantFrame, error) {
	h, err := ws.ReadHeader(s.peer)
	if err != nil {
		return wantFrame{}, err
	}
	if h.Masked || h.Length > 1<<24 {
		s.t.Fatalf("frame header %+v", h)
	}
	p := make([]byte, h.Length)
	if _, err := io.ReadFull(s.peer, p); err != nil {
		return wantFrame{}, err
	}
	return wantFrame{h.OpCode, h.Fin, string(p)}, nil
}

// expect reads frames until EOF and compares them with want.
func (s *seam) expect(want ...wantFrame) {
	s.t.Helper()
	var got []wantFrame
	for {
		fr, err := s.frame()
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, unix.ECONNRESET) {
			break
		}
		if err != nil {
			s.t.Fatal(err)
		}
		got = append(got, fr)
		if fr.op == ws.OpClose {
			// The client's answer completes the handshake, if the conn
			// waits for one (it has not closed the socket already).
			_, _ = s.peer.Write(ws.MustCompileFrame(ws.MaskFrameInPlace(ws.NewCloseFrame(nil))))
		}
	}
	if len(got) != len(want) {
		s.t.Fatalf("frames %+v, want %+v", got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			s.t.Errorf("frame %d: %+v, want %+v", i, got[i], want[i])
		}
	}
}

func closeBody(code ws.StatusCode, reason string) string {
	b := binary.BigEndian.AppendUint16(nil, uint16(code))
	return string(append(b, reason...))
}

// released reports whether the conn has left the registry, once what the
// loop is doing now (closing the socket the client saw close) is done.
func (s *seam) released() bool {
	s.do(func() {})
	s.e.mu.Lock()
	defer s.e.mu.Unlock()
	_, ok := s.e.live[s.c]
	return !ok
}

// TestSeamEndsFirst: the far side ends mid-line; the partial line goes out,
// then the close frame with the endpoint's code, and nothing after it.
// Hangup follows the socket's close, once; the conn stays until released.
func TestSeamEndsFirst(t *testing.T) {
	f := newFake()
	f.startNow = true
	s := newSeam(t, Config{}, f)
	s.do(func() {
		s.c.output(streamOut, []byte("one\ntw"))
		s.c.output(streamOut, []byte("o\npart"))
		s.c.ended(ws.StatusCode(4003), "exit status 3")
		s.c.output(streamOut, []byte("late\n")) // after our close frame
	})
	s.expect(
		wantFrame{ws.OpText, true, "one"}, wantFrame{ws.OpText, true, "two"}, wantFrame{ws.OpText, true, "part"},
		wantFrame{ws.OpClose, true, closeBody(4003, "exit status 3")},
	)
	<-f.hungUp
	s.do(func() {
		if f.hangups != 1 {
			t.Errorf("hangup called %d times", f.hangups)
		}
		if s.c.dropped != int64(len("late\n")) {
			t.Errorf("dropped %d bytes, want %d", s.c.dropped, len("late\n"))
		}
	})
	if s.released() {
		t.Fatal("conn released before its endpoint")
	}
	s.do(func() { s.c.released() })
	if !s.released() {
		t.Fatal("conn not released after its endpoint and socket")
	}
}

// TestSeamClientClosesFirst: the client's close frame is echoed, the
// endpoint is hung up once, and what it says afterwards is dropped; its
// end sends no second close frame.
func TestSeamClientClosesFirst(t *testing.T) {
	f := newFake()
	f.startNow = true
	s := newSeam(t, Config{}, f)
	s.send(ws.NewCloseFrame(ws.NewCloseFrameBody(ws.StatusNormalClosure, "bye")))
	<-f.hungUp
	s.do(func() {
		s.c.output(streamOut, []byte("after\n"))
		s.c.ended(ws.StatusNormalClosure, "exit status 0")
		s.c.released()
	})
	s.expect(wantFrame{ws.OpClose, true, closeBody(ws.StatusNormalClosure, "")})
	s.do(func() {
		if f.hangups != 1 {
			t.Errorf("hangup called %d times", f.hangups)
		}
		if s.c.dropped != int64(len("after\n")) {
			t.Errorf("dropped %d bytes", s.c.dropped)
		}
	})
	if !s.released() {
		t.Error("conn not released")
	}
}

// TestSeamProtocolError: an unmasked client frame closes with 1002 and
// hangs the endpoint up once.
func TestSeamProtocolError(t *testing.T) {
	f := newFake()
	f.startNow = true
	s := newSeam(t, Config{}, f)
	if _, err := s.peer.Write(ws.MustCompileFrame(ws.NewTextFrame([]byte("unmasked")))); err != nil {
		t.Fatal(err)
	}
	<-f.hungUp
	fr, err := s.frame()
	if err != nil || fr.op != ws.OpClose || len(fr.data) < 2 || ws.StatusCode(binary.BigEndian.Uint16([]byte(fr.data))) != ws.StatusProtocolError {
		t.Fatalf("got %+v, %v; want a 1002 close frame", fr, err)
	}
	if len(f.inputs) != 0 {
		t.Errorf("the endpoint got input from a frame that broke the protocol")
	}
}

// TestSeamClientVanishes: a client that closes its socket without a close
// frame hangs the endpoint up; the conn waits for released.
func TestSeamClientVanishes(t *testing.T) {
	f := newFake()
	f.startNow = true
	s := newSeam(t, Config{}, f)
	s.peer.Close()
	<-f.hungUp
	if s.released() {
		t.Fatal("released before the endpoint")
	}
	s.do(func() {
		if s.c.state != stGone || s.c.output(streamOut, []byte("x\n")) {
			t.Errorf("state %v: output to a gone client must be dropped, never behind", s.c.state)
		}
		s.c.ended(ws.StatusNormalClosure, "exit status 0")
	})
	if s.released() {
		t.Fatal("released at ended, before released")
	}
	s.do(func() { s.c.released() })
	if !s.released() {
		t.Fatal("not released")
	}
}

// TestSeamStartPending: frames that arrive while the endpoint starts wait,
// unread, and reach it in order once it has started.
func TestSeamStartPending(t *testing.T) {
	f := newFake()
	s := newSeam(t, Config{}, f)
	s.send(ws.NewTextFrame([]byte("early1")), ws.NewTextFrame([]byte("early2")))
	s.do(func() {
		if !s.c.inPaused || s.c.far != farStarting {
			t.Errorf("starting: inPaused %v far %v", s.c.inPaused, s.c.far)
		}
	})
	if len(f.inputs) != 0 {
		t.Fatal("input before the endpoint started")
	}
	s.do(func() { s.c.started(nil) })
	for _, want := range []string{"early1", "early2"} {
		if p := <-f.inputs; p.payload != want || !p.first || !p.fin || p.op != ws.OpText {
			t.Errorf("got %+v, want %q whole", p, want)
		}
	}
}

// TestSeamStartFails: a failed start closes with the endpoint's code and
// reason (a backend's 1014); the endpoint is never hung up or given input.
func TestSeamStartFails(t *testing.T) {
	f := newFake()
	f.startNow = true
	f.startErr = &endpointError{Code: 1014, Reason: "backend refused"}
	s := newSeam(t, Config{}, f)
	s.expect(wantFrame{ws.OpClose, true, closeBody(1014, "backend refused")})
	if !s.released() {
		t.Error("conn not released after a failed start")
	}
	if f.hangups != 0 || len(f.inputs) != 0 {
		t.Errorf("hangups %d inputs %d after a failed start", f.hangups, len(f.inputs))
	}
}

// TestSeamInputFlowControl: an endpoint that takes no more stops the
// client's reads; the frames behind wait until inputResumed, in order,
// fragments included.
func TestSeamInputFlowControl(t *testing.T) {
	f := newFake()
	f.startNow = true
	f.holdOn = true
	s := newSeam(t, Config{}, f)
	first := ws.NewFrame(ws.OpText, false, []byte("m2a"))
	cont := ws.NewFrame(ws.OpContinuation, true, []byte("m2b"))
	s.send(ws.NewTextFrame([]byte("m1")), first, cont, ws.NewBinaryFrame([]byte("m3")))
	want := []piece{
		{ws.OpText, true, true, "m1", false},
		{ws.OpText, true, false, "m2a", false},
		{ws.OpText, false, true, "m2b", false},
		{ws.OpBinary, true, true, "m3", false},
	}
	for i, w := range want {
		p := <-f.inputs
		if p != w {
			t.Fatalf("piece %d: %+v, want %+v", i, p, w)
		}
		s.do(func() {
			if !s.c.inPaused {
				t.Errorf("after piece %d: reads not paused", i)
			}
			if len(f.inputs) != 0 {
				t.Errorf("after piece %d: more input while paused", i)
			}
			s.c.inputResumed()
		})
	}
}

// TestSeamOutputFlowControl: output reports the client behind once its
// backlog reaches --outbuffer, and resumeOutput comes when the client has
// read it down to half; nothing is lost.
func TestSeamOutputFlowControl(t *testing.T) {
	f := newFake()
	f.startNow = true
	s := newSeam(t, Config{Binary: true, OutBuffer: 64 << 10}, f)
	chunk := make([]byte, 16<<10)
	var sent int
	s.do(func() {
		for sent < 256<<20 {
			behind := s.c.output(streamOut, chunk)
			sent += len(chunk)
			if behind {
				return
			}
		}
		t.Error("never behind")
	})
	var got int
	for got < sent {
		fr, err := s.frame()
		if err != nil {
			t.Fatal(err)
		}
		got += len(fr.data)
	}
	<-f.resumes
	if got != sent {
		t.Errorf("client got %d bytes, endpoint sent %d", got, sent)
	}
}
