package bench

import (
	"bytes"
	"testing"

	"github.com/gobwas/ws"
)

func TestSeqChecker(t *testing.T) {
	var s SeqChecker
	for _, x := range []uint64{0, 1, 3, 2, 4, 4, 6} {
		s.Observe(x)
	}
	if s.Reordered != 1 || s.Duplicates != 1 || s.Gaps() != 1 || s.Lost(7) != 1 {
		t.Fatalf("reordered=%d dups=%d gaps=%d lost=%d", s.Reordered, s.Duplicates, s.Gaps(), s.Lost(7))
	}
}

func TestTextPayload(t *testing.T) {
	for _, size := range []int{0, 24, 64, 1000} {
		p := AppendText(nil, 12345, 987654321, size)
		if size > 24 && len(p) != size {
			t.Fatalf("size %d: got %d bytes", size, len(p))
		}
		if bytes.IndexByte(p, '\n') >= 0 {
			t.Fatal("payload contains a newline")
		}
		seq, ns, ok := ParseText(p, size)
		if !ok || seq != 12345 || ns != 987654321 {
			t.Fatalf("size %d: %d %d %v", size, seq, ns, ok)
		}
		p[len(p)-1]++
		if _, _, ok := ParseText(p, size); ok {
			t.Fatalf("corrupt padding accepted")
		}
	}
}

func TestStreamCheckerRechunked(t *testing.T) {
	var stream []byte
	for i := uint64(0); i < 50; i++ {
		stream = AppendRecord(stream, i, int64(i*10), 37)
	}
	sc := NewStreamChecker(37)
	var got []uint64
	for i, n := 0, 1; len(stream) > 0; i++ {
		n = min(1+i*5%61, len(stream))
		sc.Write(stream[:n], func(seq uint64, ns int64) { got = append(got, seq) })
		stream = stream[n:]
	}
	if len(got) != 50 || sc.Err() != nil || sc.Pending() != 0 {
		t.Fatalf("got %d records, err %v, pending %d", len(got), sc.Err(), sc.Pending())
	}
	bad := AppendRecord(nil, 0, 0, 37)
	bad = append(bad[:20], bad[21:]...) // one byte lost
	bad = AppendRecord(bad, 1, 0, 37)
	sc = NewStreamChecker(37)
	sc.Write(bad, func(uint64, int64) {})
	if sc.Err() == nil {
		t.Fatal("a lost byte went unnoticed")
	}
}

func TestFrameEncoding(t *testing.T) {
	for _, n := range []int{0, 125, 126, 65535, 65536, 200000} {
		p := bytes.Repeat([]byte{'x'}, n)
		f := appendFrame(nil, ws.OpBinary, p, [4]byte{1, 2, 3, 4})
		h, err := ws.ReadHeader(bytes.NewReader(f))
		if err != nil || !h.Masked || h.Length != int64(n) || !h.Fin || h.OpCode != ws.OpBinary {
			t.Fatalf("n=%d: %+v %v", n, h, err)
		}
		body := f[ws.HeaderSize(h):]
		ws.Cipher(body, h.Mask, 0)
		if !bytes.Equal(body, p) {
			t.Fatalf("n=%d: payload mismatch", n)
		}
		// The client side refuses masked server frames.
		if _, _, err := parseHeader(f, false); err == nil {
			t.Fatalf("masked server frame accepted")
		}
		u := appendHeader(nil, ws.Header{Fin: true, OpCode: ws.OpText, Length: int64(n)})
		hh, hn, err := parseHeader(append(u, p...), false)
		if err != nil || hh.Length != int64(n) || hn != len(u) {
			t.Fatalf("n=%d parse: %+v %d %v", n, hh, hn, err)
		}
		if n > 0 {
			if _, _, err := parseHeader(u[:len(u)-1], false); err != errNeedMore && len(u) > 2 {
				t.Fatalf("short header: %v", err)
			}
		}
	}
}

func TestParseResponse(t *testing.T) {
	key := "dGhlIHNhbXBsZSBub25jZQ=="
	b := []byte("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n\x81\x02hi")
	r, ok, err := parseResponse(b)
	if err != nil || !ok || r.status != 101 || r.checkUpgrade(key) != nil {
		t.Fatalf("%+v %v %v", r, ok, err)
	}
	if string(b[r.headLen:]) != "\x81\x02hi" {
		t.Fatalf("bytes after the head lost: %q", b[r.headLen:])
	}
	if _, ok, _ := parseResponse(b[:20]); ok {
		t.Fatal("partial head accepted")
	}
}

func TestSources(t *testing.T) {
	s, err := ParseSources("127.0.0.2-127.0.0.50, 127.1.0.1")
	if err != nil || len(s) != 50 {
		t.Fatalf("%v %d", err, len(s))
	}
	if _, err := ParseSources("127.0.0.9-127.0.0.2"); err == nil {
		t.Fatal("reversed range accepted")
	}
	tg, _ := ParseTarget("ws://127.0.0.1:1/", false)
	bad, _ := ParseSources("10.0.0.1")
	if bad.CheckLoopback(tg) == nil {
		t.Fatal("non-loopback source for a loopback target accepted")
	}
}

func TestMergeResults(t *testing.T) {
	a := NewRecorder(epoch, WindowFor(0))
	b := NewRecorder(epoch, WindowFor(0))
	for i := 0; i < 100; i++ {
		a.Record(epoch, 1e6) // 1 ms
		b.Record(epoch, 3e6) // 3 ms
	}
	ra := &Result{Scenario: "x", LatencyOrder: []string{"echo"}, Latency: map[string]*Latency{"echo": a.Summary(true)}, Msgs: MsgCounts{Sent: 100}}
	rb := &Result{Scenario: "x", LatencyOrder: []string{"echo"}, Latency: map[string]*Latency{"echo": b.Summary(true)}, Msgs: MsgCounts{Sent: 100}}
	m := MergeResults([]*Result{ra, rb})
	l := m.Latency["echo"]
	if l.Count != 200 || l.Min != 1 || l.Max < 2.99 || m.Msgs.Sent != 200 || len(l.Timeline) == 0 {
		t.Fatalf("merged: %+v", l)
	}
}
