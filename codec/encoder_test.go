package codec

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/gobwas/ws"
)

func TestAppendHeader(t *testing.T) {
	for _, test := range []struct {
		length int
		size   int
	}{
		{
			length: 0,
			size:   2,
		},
		{
			length: 125,
			size:   2,
		},
		{
			length: 126,
			size:   4,
		},
		{
			length: 65535,
			size:   4,
		},
		{
			length: 65536,
			size:   10,
		},
		{
			length: 1 << 40,
			size:   10,
		},
	} {
		for _, op := range []ws.OpCode{ws.OpText, ws.OpBinary, ws.OpContinuation, ws.OpClose} {
			for _, fin := range []bool{true, false} {
				p := AppendHeader([]byte("x"), fin, op, test.length)
				if len(p) != 1+test.size {
					t.Fatalf(
						"length %d: %d header bytes; want %d",
						test.length, len(p)-1, test.size,
					)
				}
				h, err := ws.ReadHeader(bytes.NewReader(p[1:]))
				if err != nil {
					t.Fatal(err)
				}
				want := ws.Header{Fin: fin, OpCode: op, Length: int64(test.length)}
				if h != want {
					t.Fatalf(
						"header %+v; want %+v",
						h, want,
					)
				}
			}
		}
	}
}

func TestAppendHeaderNegative(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Errorf("no panic on a negative length")
		}
	}()
	AppendHeader(nil, true, ws.OpText, -1)
}

func TestAppendFrame(t *testing.T) {
	for _, n := range []int{0, 1, 125, 126, 1000, 70000} {
		payload := bytes.Repeat([]byte{'z'}, n)
		p := AppendFrame(nil, false, ws.OpBinary, payload)
		f, err := readFrame(bytes.NewReader(p))
		if err != nil {
			t.Fatal(err)
		}
		if f.Header.Fin || f.Header.OpCode != ws.OpBinary || f.Header.Masked || !bytes.Equal(f.Payload, payload) {
			t.Fatalf(
				"frame of %d bytes: header %+v",
				n, f.Header,
			)
		}
	}
}

func TestAppendClose(t *testing.T) {
	euro := strings.Repeat("€", 50) // 150 bytes
	for _, test := range []struct {
		name   string
		code   ws.StatusCode
		reason string
		want   string // the payload
	}{
		{
			name: "no status",
			code: ws.StatusNoStatusRcvd,
			want: "",
		},
		{
			name:   "zero",
			code:   0,
			reason: "ignored",
			want:   "",
		},
		{
			name: "code only",
			code: 1000,
			want: "\x03\xe8",
		},
		{
			name:   "code and reason",
			code:   4001,
			reason: "exit status 1",
			want:   "\x0f\xa1exit status 1",
		},
		{
			name:   "long ASCII reason",
			code:   1011,
			reason: strings.Repeat("a", 200),
			want:   "\x03\xf3" + strings.Repeat("a", 123),
		},
		{
			name:   "long reason cut at a code point boundary",
			code:   1001,
			reason: euro,
			want:   "\x03\xe9" + euro[:123],
		},
		{
			name:   "long reason cut inside a code point",
			code:   1001,
			reason: "x" + euro,
			want:   "\x03\xe9x" + euro[:120],
		},
		{
			name:   "invalid UTF-8 made valid",
			code:   1000,
			reason: "a\xffb",
			want:   "\x03\xe8a\uFFFDb",
		},
	} {
		t.Run(test.name, func(t *testing.T) {
			p := AppendClose([]byte("prefix"), test.code, test.reason)
			if !bytes.HasPrefix(p, []byte("prefix")) {
				t.Fatalf(
					"prefix lost: %q",
					p,
				)
			}
			f, err := readFrame(bytes.NewReader(p[len("prefix"):]))
			if err != nil {
				t.Fatal(err)
			}
			if !f.Header.Fin || f.Header.OpCode != ws.OpClose || string(f.Payload) != test.want {
				t.Fatalf(
					"frame %+v %q; want payload %q",
					f.Header, f.Payload, test.want,
				)
			}
			if len(f.Payload) > 125 || !utf8.Valid(f.Payload[min(2, len(f.Payload)):]) {
				t.Errorf(
					"payload %q is not a valid close body",
					f.Payload,
				)
			}
			// What the Decoder makes of it, masked.
			if len(f.Payload) >= 2 {
				var d Decoder
				ev, _, err := d.Next(clientFrame(true, ws.OpClose, f.Payload, testMask), 0)
				if err != nil || ev.CloseCode != test.code || ev.CloseReason != test.want[2:] {
					t.Errorf(
						"decoded: %+v, %v",
						ev, err,
					)
				}
			}
		})
	}
}

func TestCloseCodeValid(t *testing.T) {
	for code := 0; code < 1<<16; code++ {
		c := ws.StatusCode(code)
		want := (code >= 1000 && code <= 1003) ||
			(code >= 1007 && code <= 1014) ||
			(code >= 3000 && code <= 4999)
		if got := CloseCodeValid(c); got != want {
			t.Fatalf(
				"CloseCodeValid(%d) = %v",
				code, got,
			)
		}
		// Every code valid here is valid for gobwas too, but the three
		// IANA registered after its list.
		if want && (code < 1012 || code > 1014) && ws.CheckCloseFrameData(c, "") != nil {
			t.Fatalf(
				"gobwas rejects %d",
				code,
			)
		}
	}
}

func TestEncoderAllocs(t *testing.T) {
	dst := make([]byte, 0, 4096)
	payload := make([]byte, 1000)
	allocs := testing.AllocsPerRun(100, func() {
		p := AppendFrame(dst[:0], true, ws.OpText, payload)
		p = AppendHeader(p, true, ws.OpBinary, 100000)
		p = AppendClose(p, 1000, "normal closure")
		_ = p
	})
	if allocs != 0 {
		t.Errorf(
			"encoder allocates %v times",
			allocs,
		)
	}
}

// readFrame parses one whole frame from r with gobwas's header reader (its
// ReadFrame is deprecated because it trusts the declared length).
func readFrame(r io.Reader) (ws.Frame, error) {
	h, err := ws.ReadHeader(r)
	if err != nil {
		return ws.Frame{}, err
	}
	p := make([]byte, h.Length)
	if _, err := io.ReadFull(r, p); err != nil {
		return ws.Frame{}, err
	}
	return ws.Frame{Header: h, Payload: p}, nil
}
