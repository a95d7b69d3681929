package codec

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/gobwas/ws"
)

func TestDecoderEvents(t *testing.T) {
	long := bytes.Repeat([]byte("0123456789abcdef"), 5000) // 80000 bytes: 64-bit length
	mid := long[:300]                                      // 16-bit length
	for _, test := range []struct {
		name string
		in   []byte
		want []event
	}{
		{
			name: "text",
			in:   clientFrame(true, ws.OpText, []byte("Hello"), testMask),
			want: []event{
				{Kind: Data, Op: ws.OpText, Payload: "Hello", First: true, Fin: true},
			},
		},
		{
			name: "empty text",
			in:   clientFrame(true, ws.OpText, nil, testMask),
			want: []event{
				{Kind: Data, Op: ws.OpText, Payload: "", First: true, Fin: true},
			},
		},
		{
			name: "binary 16-bit and 64-bit lengths",
			in: cat(
				clientFrame(true, ws.OpBinary, mid, testMask),
				clientFrame(true, ws.OpBinary, long, testMask),
			),
			want: []event{
				{Kind: Data, Op: ws.OpBinary, Payload: string(mid), First: true, Fin: true},
				{Kind: Data, Op: ws.OpBinary, Payload: string(long), First: true, Fin: true},
			},
		},
		{
			name: "fragmented with control frames between",
			in: cat(
				clientFrame(false, ws.OpText, []byte("He"), testMask),
				clientFrame(true, ws.OpPing, []byte("ping!"), testMask),
				clientFrame(false, ws.OpContinuation, []byte("ll"), [4]byte{1, 2, 3, 4}),
				clientFrame(true, ws.OpPong, nil, testMask),
				clientFrame(true, ws.OpContinuation, []byte("o"), testMask),
			),
			want: []event{
				{Kind: Data, Op: ws.OpText, Payload: "He", First: true},
				{Kind: Ping, Payload: "ping!"},
				{Kind: Data, Op: ws.OpText, Payload: "ll"},
				{Kind: Pong, Payload: ""},
				{Kind: Data, Op: ws.OpText, Payload: "o", Fin: true},
			},
		},
		{
			name: "empty frames: skipped unless final",
			in: cat(
				clientFrame(false, ws.OpBinary, nil, testMask),
				clientFrame(false, ws.OpContinuation, nil, testMask),
				clientFrame(false, ws.OpContinuation, []byte("x"), testMask),
				clientFrame(false, ws.OpContinuation, nil, testMask),
				clientFrame(true, ws.OpContinuation, nil, testMask),
			),
			want: []event{
				{Kind: Data, Op: ws.OpBinary, Payload: "x", First: true},
				{Kind: Data, Op: ws.OpBinary, Payload: "", Fin: true},
			},
		},
		{
			name: "code point split across frames",
			in: cat(
				clientFrame(false, ws.OpText, []byte("\xf0\x9f"), testMask),
				clientFrame(false, ws.OpContinuation, []byte("\x98"), testMask),
				clientFrame(true, ws.OpContinuation, []byte("\x80!"), testMask),
			),
			want: []event{
				{Kind: Data, Op: ws.OpText, Payload: "\xf0\x9f", First: true},
				{Kind: Data, Op: ws.OpText, Payload: "\x98"},
				{Kind: Data, Op: ws.OpText, Payload: "\x80!", Fin: true},
			},
		},
		{
			name: "binary is not UTF-8 checked",
			in:   clientFrame(true, ws.OpBinary, []byte("\xff\xfe"), testMask),
			want: []event{
				{Kind: Data, Op: ws.OpBinary, Payload: "\xff\xfe", First: true, Fin: true},
			},
		},
		{
			name: "close without body",
			in:   clientFrame(true, ws.OpClose, nil, testMask),
			want: []event{
				{Kind: Close, CloseCode: ws.StatusNoStatusRcvd},
			},
		},
		{
			name: "close with code and reason",
			in:   clientFrame(true, ws.OpClose, []byte("\x03\xe8bye \xe2\x82\xac"), testMask),
			want: []event{
				{Kind: Close, Payload: "\x03\xe8bye \xe2\x82\xac", CloseCode: 1000, CloseReason: "bye \xe2\x82\xac"},
			},
		},
		{
			name: "close with private code",
			in:   clientFrame(true, ws.OpClose, []byte("\x13\x87"), testMask),
			want: []event{
				{Kind: Close, Payload: "\x13\x87", CloseCode: 4999},
			},
		},
		{
			name: "ping of 125 bytes",
			in:   clientFrame(true, ws.OpPing, long[:125], testMask),
			want: []event{
				{Kind: Ping, Payload: string(long[:125])},
			},
		},
	} {
		t.Run(test.name, func(t *testing.T) {
			// One shot.
			var d Decoder
			got, err := decodeAll(&d, bytes.Clone(test.in), nil, 0)
			if err != nil {
				t.Fatalf(
					"error: %v",
					err,
				)
			}
			if !reflect.DeepEqual(got, test.want) {
				t.Fatalf(
					"events:\n%+v\nwant:\n%+v",
					got, test.want,
				)
			}
			// Byte by byte, and in random pieces with random chunk
			// limits: the same data, the same control events.
			rng := rand.New(rand.NewPCG(1, uint64(len(test.in))))
			for round := 0; round < 50; round++ {
				var sizes []int
				if round == 0 {
					sizes = make([]int, len(test.in))
					for i := range sizes {
						sizes[i] = 1
					}
				} else {
					for range rng.IntN(10) {
						sizes = append(sizes, rng.IntN(len(test.in)+1))
					}
				}
				maxChunk := rng.IntN(20)
				var d Decoder
				got, err := decodeAll(&d, bytes.Clone(test.in), sizes, maxChunk)
				if err != nil {
					t.Fatalf(
						"sizes %v, maxChunk %d: error: %v",
						sizes, maxChunk, err,
					)
				}
				if a, b := merge(got), merge(test.want); !reflect.DeepEqual(a, b) {
					t.Fatalf(
						"sizes %v, maxChunk %d: events:\n%+v\nwant:\n%+v",
						sizes, maxChunk, a, b,
					)
				}
				for _, ev := range got {
					if maxChunk > 0 && len(ev.Payload) > maxChunk && ev.Kind == Data {
						t.Fatalf(
							"chunk of %d bytes with maxChunk %d",
							len(ev.Payload), maxChunk,
						)
					}
				}
			}
		})
	}
}

// merge joins consecutive Data chunks into whole messages, checking that
// First and Fin frame them and that Op stays. Control events go after the
// messages: their order relative to chunks is not compared.
func merge(evs []event) []event {
	var data, ctl []event
	var buf []byte
	inMsg := false
	for _, ev := range evs {
		if ev.Kind != Data {
			ctl = append(ctl, ev)
			continue
		}
		if ev.First != !inMsg {
			panic("First flag wrong")
		}
		if !inMsg {
			data = append(data, ev)
			buf = buf[:0]
		} else if data[len(data)-1].Op != ev.Op {
			panic("Op changed within a message")
		}
		buf = append(buf, ev.Payload...)
		data[len(data)-1].Fin = ev.Fin
		inMsg = !ev.Fin
		if ev.Fin {
			data[len(data)-1].Payload = string(buf)
		}
	}
	if inMsg {
		data[len(data)-1].Payload = string(buf)
	}
	return append(data, ctl...)
}

func TestDecoderErrors(t *testing.T) {
	text := func(fin bool, payload string) []byte {
		return clientFrame(fin, ws.OpText, []byte(payload), testMask)
	}
	cont := func(fin bool, payload string) []byte {
		return clientFrame(fin, ws.OpContinuation, []byte(payload), testMask)
	}
	closeFrame := func(payload string) []byte {
		return clientFrame(true, ws.OpClose, []byte(payload), testMask)
	}
	for _, test := range []struct {
		name       string
		in         []byte
		maxMessage int64
		code       ws.StatusCode
		delivered  string // data delivered before the error, in one-shot decoding
	}{
		{
			name: "unmasked",
			in:   rawFrame(true, 0, ws.OpText, false, 2, []byte("hi"), testMask),
			code: 1002,
		},
		{
			name: "unmasked, first two bytes only",
			in:   []byte{0x81, 0x05},
			code: 1002,
		},
		{
			name: "RSV1",
			in:   rawFrame(true, 4, ws.OpText, true, 2, []byte("hi"), testMask),
			code: 1002,
		},
		{
			name: "RSV3",
			in:   rawFrame(true, 1, ws.OpBinary, true, 0, nil, testMask),
			code: 1002,
		},
		{
			name: "reserved data opcode",
			in:   rawFrame(true, 0, 3, true, 0, nil, testMask),
			code: 1002,
		},
		{
			name: "reserved control opcode",
			in:   rawFrame(true, 0, 0xb, true, 0, nil, testMask),
			code: 1002,
		},
		{
			name: "fragmented ping",
			in:   rawFrame(false, 0, ws.OpPing, true, 0, nil, testMask),
			code: 1002,
		},
		{
			name: "ping of 126 bytes",
			in:   clientFrame(true, ws.OpPing, make([]byte, 126), testMask),
			code: 1002,
		},
		{
			name: "continuation without message",
			in:   cont(true, "x"),
			code: 1002,
		},
		{
			name:      "continuation after a finished message",
			in:        cat(text(true, "a"), cont(true, "x")),
			code:      1002,
			delivered: "a",
		},
		{
			name:      "text while fragmented",
			in:        cat(text(false, "a"), text(true, "b")),
			code:      1002,
			delivered: "a",
		},
		{
			name:      "binary while fragmented",
			in:        cat(text(false, "a"), clientFrame(true, ws.OpBinary, nil, testMask)),
			code:      1002,
			delivered: "a",
		},
		{
			name: "64-bit length with top bit",
			in:   rawFrame(true, 0, ws.OpBinary, true, 1<<63, nil, testMask),
			code: 1002,
		},
		{
			name: "close with 1-byte body",
			in:   closeFrame("\x03"),
			code: 1002,
		},
		{
			name: "close code 999",
			in:   closeFrame("\x03\xe7"),
			code: 1002,
		},
		{
			name: "close code 1004",
			in:   closeFrame("\x03\xec"),
			code: 1002,
		},
		{
			name: "close code 1005",
			in:   closeFrame("\x03\xed"),
			code: 1002,
		},
		{
			name: "close code 1006",
			in:   closeFrame("\x03\xee"),
			code: 1002,
		},
		{
			name: "close code 1015",
			in:   closeFrame("\x03\xf7"),
			code: 1002,
		},
		{
			name: "close code 1016",
			in:   closeFrame("\x03\xf8"),
			code: 1002,
		},
		{
			name: "close code 2999",
			in:   closeFrame("\x0b\xb7"),
			code: 1002,
		},
		{
			name: "close code 5000",
			in:   closeFrame("\x13\x88"),
			code: 1002,
		},
		{
			name: "close code 65535",
			in:   closeFrame("\xff\xff"),
			code: 1002,
		},
		{
			name: "close reason not UTF-8",
			in:   closeFrame("\x03\xe8\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited"),
			code: 1007,
		},
		{
			name: "invalid text",
			in:   text(true, "abc\xffdef"),
			code: 1007,
		},
		{
			name: "surrogate",
			in:   text(true, "\xed\xa0\x80"),
			code: 1007,
		},
		{
			name: "overlong",
			in:   text(true, "\xc0\xaf"),
			code: 1007,
		},
		{
			name: "text ends inside a code point",
			in:   text(true, "ab\xe2\x82"),
			code: 1007,
		},
		{
			name:      "fragmented text ends inside a code point",
			in:        cat(text(false, "ab\xe2"), cont(false, "\x82"), cont(true, "")),
			code:      1007,
			delivered: "ab\xe2\x82",
		},
		{
			name:      "invalid text in a later fragment, fails before the message ends",
			in:        cat(text(false, "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5"), cont(false, "\xf4\x90\x80\x80")),
			code:      1007,
			delivered: "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5",
		},
		{
			name:      "invalid code point split across frames",
			in:        cat(text(false, "a\xf4"), cont(false, "\x90")),
			code:      1007,
			delivered: "a\xf4",
		},
		{
			name:       "frame over MaxMessage, known from its header alone",
			in:         rawFrame(true, 0, ws.OpBinary, true, 11, nil, testMask)[:6],
			maxMessage: 10,
			code:       1009,
		},
		{
			name:       "fragments over MaxMessage",
			in:         cat(text(false, "12345"), cont(false, "12345"), cont(true, "1")),
			maxMessage: 10,
			code:       1009,
			delivered:  "1234512345",
		},
	} {
		t.Run(test.name, func(t *testing.T) {
			d := Decoder{MaxMessage: test.maxMessage}
			evs, err := decodeAll(&d, bytes.Clone(test.in), nil, 0)
			var cerr *CloseError
			if !errors.As(err, &cerr) || cerr.Code != test.code {
				t.Fatalf(
					"events %+v, error %v; want close code %d",
					evs, err, test.code,
				)
			}
			var data string
			for _, ev := range evs {
				data += ev.Payload
			}
			if data != test.delivered {
				t.Errorf(
					"delivered %q before the error; want %q",
					data, test.delivered,
				)
			}
			// Sticky.
			ev, n, err2 := d.Next(make([]byte, 100), 0)
			if err2 != err || n != 0 || ev.Kind != NeedMore {
				t.Errorf(
					"after the error: %v, %d, %v",
					ev, n, err2,
				)
			}
			// Byte by byte: the same error.
			d = Decoder{MaxMessage: test.maxMessage}
			sizes := make([]int, len(test.in))
			for i := range sizes {
				sizes[i] = 1
			}
			_, err = decodeAll(&d, bytes.Clone(test.in), sizes, 0)
			if !errors.As(err, &cerr) || cerr.Code != test.code {
				t.Fatalf(
					"byte by byte: error %v; want close code %d",
					err, test.code,
				)
			}
		})
	}
}

func TestDecoderValidCloseCodes(t *testing.T) {
	for code := 0; code < 1<<16; code++ {
		in := clientFrame(true, ws.OpClose, []byte{byte(code >> 8), byte(code)}, testMask)
		var d Decoder
		ev, _, err := d.Next(in, 0)
		valid := CloseCodeValid(ws.StatusCode(code))
		if valid != (err == nil) {
			t.Fatalf(
				"close code %d: error %v, CloseCodeValid %v",
				code, err, valid,
			)
		}
		if valid && ev.CloseCode != ws.StatusCode(code) {
			t.Fatalf(
				"close code %d: event %+v",
				code, ev,
			)
		}
	}
}

func TestDecoderPartial(t *testing.T) {
	ping := clientFrame(true, ws.OpPing, []byte("12345"), testMask)
	var d Decoder
	for i := 0; i < len(ping); i++ {
		ev, n, err := d.Next(ping[:i], 0)
		if err != nil || n != 0 || ev.Kind != NeedMore {
			t.Fatalf(
				"ping cut at %d: %v, %d, %v; want NeedMore, 0",
				i, ev, n, err,
			)
		}
	}
	ev, n, err := d.Next(ping, 0)
	if err != nil || n != len(ping) || ev.Kind != Ping || string(ev.Payload) != "12345" {
		t.Fatalf(
			"whole ping: %v, %d, %v",
			ev, n, err,
		)
	}

	// A data frame header is consumed without its payload; a cut header
	// is not.
	frame := clientFrame(true, ws.OpBinary, make([]byte, 300), testMask) // 8-byte header
	for i := 0; i < 8; i++ {
		ev, n, err := d.Next(frame[:i], 0)
		if err != nil || n != 0 || ev.Kind != NeedMore {
			t.Fatalf(
				"header cut at %d: %v, %d, %v; want NeedMore, 0",
				i, ev, n, err,
			)
		}
	}
	ev, n, err = d.Next(frame[:8], 0)
	if err != nil || n != 8 || ev.Kind != NeedMore {
		t.Fatalf(
			"header alone: %v, %d, %v; want NeedMore, 8",
			ev, n, err,
		)
	}
	ev, n, err = d.Next(frame[8:20], 0)
	if err != nil || n != 12 || ev.Kind != Data || !ev.First || ev.Fin {
		t.Fatalf(
			"first 12 payload bytes: %+v, %d, %v",
			ev, n, err,
		)
	}
}

func TestDecoderUnmasksInPlace(t *testing.T) {
	in := clientFrame(true, ws.OpBinary, []byte("in place"), testMask)
	var d Decoder
	ev, _, _ := d.Next(in, 0)
	if &ev.Payload[0] != &in[6] {
		t.Errorf("Payload does not alias the input")
	}
	if string(in[6:]) != "in place" {
		t.Errorf(
			"input after Next: %q",
			in,
		)
	}
}

func TestDecoderCipherOffsets(t *testing.T) {
	// Every chunk size against every offset into the mask, with payloads
	// long enough for ws.Cipher's block path.
	payload := make([]byte, 200)
	for i := range payload {
		payload[i] = byte(i * 7)
	}
	for maxChunk := 1; maxChunk <= 40; maxChunk++ {
		in := clientFrame(true, ws.OpBinary, payload, [4]byte{0xde, 0xad, 0xbe, 0xef})
		var d Decoder
		evs, err := decodeAll(&d, in, []int{3, 17, 50, 1, 64}, maxChunk)
		if err != nil {
			t.Fatal(err)
		}
		var got []byte
		for _, ev := range evs {
			got = append(got, ev.Payload...)
		}
		if !bytes.Equal(got, payload) {
			t.Fatalf(
				"maxChunk %d: unmasked payload differs",
				maxChunk,
			)
		}
	}
}

func TestDecoderMaxMessage(t *testing.T) {
	d := Decoder{MaxMessage: 10}
	in := cat(
		clientFrame(false, ws.OpBinary, []byte("12345"), testMask),
		clientFrame(true, ws.OpContinuation, []byte("12345"), testMask),
		clientFrame(true, ws.OpText, []byte(strings.Repeat("x", 10)), testMask),
		clientFrame(true, ws.OpPing, []byte(strings.Repeat("p", 100)), testMask),
	)
	evs, err := decodeAll(&d, in, nil, 0)
	if err != nil || len(evs) != 4 {
		t.Fatalf(
			"messages of exactly MaxMessage: %+v, %v",
			evs, err,
		)
	}
}

func TestDecoderAllocs(t *testing.T) {
	tmpl := cat(
		clientFrame(true, ws.OpText, []byte("hello, world"), testMask),
		clientFrame(false, ws.OpText, []byte("κόσμε \xe2\x82"), testMask),
		clientFrame(true, ws.OpContinuation, []byte("\xac"), testMask),
		clientFrame(true, ws.OpBinary, make([]byte, 1000), testMask),
		clientFrame(true, ws.OpPing, []byte("ping"), testMask),
	)
	buf := make([]byte, len(tmpl))
	var d Decoder
	allocs := testing.AllocsPerRun(100, func() {
		copy(buf, tmpl)
		p := buf
		for {
			ev, n, err := d.Next(p, 100)
			if err != nil {
				t.Fatal(err)
			}
			p = p[n:]
			if ev.Kind == NeedMore {
				break
			}
		}
		if len(p) != 0 {
			t.Fatal("not all consumed")
		}
	})
	if allocs != 0 {
		t.Errorf(
			"Decoder.Next allocates %v times per run; want 0",
			allocs,
		)
	}
}

func TestEventKindString(t *testing.T) {
	for k, want := range map[EventKind]string{
		NeedMore: "NeedMore",
		Data:     "Data",
		Ping:     "Ping",
		Pong:     "Pong",
		Close:    "Close",
		9:        "EventKind(9)",
	} {
		if got := k.String(); got != want {
			t.Errorf(
				"%d.String() = %q; want %q",
				k, got, want,
			)
		}
	}
}
