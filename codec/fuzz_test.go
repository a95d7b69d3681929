package codec

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/gobwas/ws"
)

// FuzzParseHead checks that ParseHead never panics, keeps n within p and the
// limit, returns only the documented errors, and that a parsed request
// written out again parses to the same fields. Upgrade must not panic on the
// same bytes either, and must always give a response.
//
// Seeds are in testdata/fuzz/FuzzParseHead.
func FuzzParseHead(f *testing.F) {
	f.Fuzz(func(t *testing.T, p []byte, max uint16) {
		limit := int(max)
		req, n, err := ParseHead(p, limit)
		if n < 0 || n > len(p) || (limit > 0 && n > limit) {
			t.Fatalf(
				"n = %d with len(p) = %d, max = %d",
				n, len(p), limit,
			)
		}
		if err != nil {
			var herr *HeadError
			switch {
			case n != 0 || req != nil:
				t.Fatalf(
					"error %v with n = %d, req = %v",
					err, n, req,
				)
			case err == ErrIncomplete:
				if limit > 0 && len(p) >= limit {
					t.Fatalf(
						"ErrIncomplete with %d bytes and max %d",
						len(p), limit,
					)
				}
			case err == ErrHeadTooLarge:
				if limit == 0 || len(p) < limit {
					t.Fatalf(
						"ErrHeadTooLarge with %d bytes and max %d",
						len(p), limit,
					)
				}
			case errors.As(err, &herr):
				if herr.Status != 400 && herr.Status != 505 {
					t.Fatalf(
						"status %d",
						herr.Status,
					)
				}
			default:
				t.Fatalf(
					"unexpected error %v",
					err,
				)
			}
		} else {
			checkRequest(t, p[:n], req)
		}

		resp, proto, err := Upgrade(p, UpgradeOptions{
			Protocols: func(s string) bool { return strings.HasPrefix(s, "a") },
		})
		switch {
		case err == nil && !bytes.HasPrefix(resp, []byte("HTTP/1.1 101 ")):
			t.Fatalf(
				"Upgrade() succeeded with %q",
				resp,
			)
		case err != nil && (proto != "" || !bytes.HasPrefix(resp, []byte("HTTP/1.1 4")) && !bytes.HasPrefix(resp, []byte("HTTP/1.1 5"))):
			t.Fatalf(
				"Upgrade() failed (%v) with %q, %q",
				err, resp, proto,
			)
		}
	})
}

// checkRequest checks a request parsed from head.
func checkRequest(t *testing.T, head []byte, req *Request) {
	// Written out again with CRLF and single spaces, it is the same.
	var b []byte
	b = append(b, req.Method+" "+req.Target+" "+req.Proto+"\r\n"...)
	for _, h := range req.Headers {
		b = append(b, h.Name+": "+h.Value+"\r\n"...)
	}
	b = append(b, "\r\n"...)
	req2, n2, err := ParseHead(b, 0)
	if err != nil || n2 != len(b) {
		t.Fatalf(
			"%q written out as %q: %d, %v",
			head, b, n2, err,
		)
	}
	if !reflect.DeepEqual(req, req2) {
		t.Fatalf(
			"%q written out as %q parses to\n%#v\nnot\n%#v",
			head, b, req2, req,
		)
	}
	// Path and query are the target, for the origin form.
	if strings.HasPrefix(req.Target, "/") {
		joined := req.Path
		if strings.Contains(req.Target, "?") {
			joined += "?" + req.RawQuery
		}
		if joined != req.Target {
			t.Fatalf(
				"target %q split into %q and %q",
				req.Target, req.Path, req.RawQuery,
			)
		}
	}
	// Every prefix of a valid head is incomplete, never an error.
	for _, k := range []int{0, 1, len(head) / 2, len(head) - 2, len(head) - 1} {
		if k < 0 || k >= len(head) {
			continue
		}
		if _, _, err := ParseHead(head[:k], 0); err != ErrIncomplete {
			t.Fatalf(
				"prefix %q of valid head %q: %v",
				head[:k], head, err,
			)
		}
	}
}

// FuzzDecoder feeds bytes to a Decoder twice: all at once with no chunk
// limit, and cut at random points (from seed) with a chunk limit. It checks
// that Next never panics, that n stays within the buffer, that an event
// other than NeedMore always consumes bytes, that NeedMore means nothing is
// left to decode, that First, Fin and Op frame the messages, that every text
// message delivered is valid UTF-8, and that both runs deliver the same
// bytes, the same control frames and the same error.
//
// Seeds are in testdata/fuzz/FuzzDecoder.
func FuzzDecoder(f *testing.F) {
	f.Fuzz(func(t *testing.T, in []byte, seed uint64, maxChunk uint16, maxMessage uint16) {
		chunk := int(maxChunk % 512)
		whole := decodeChecked(t, bytes.Clone(in), nil, 0, int64(maxMessage))

		rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
		var sizes []int
		for rest := len(in); rest > 0; {
			s := rng.IntN(min(rest, 64) + 1)
			sizes = append(sizes, s)
			rest -= s
		}
		cut := decodeChecked(t, bytes.Clone(in), sizes, chunk, int64(maxMessage))

		if !reflect.DeepEqual(whole.control, cut.control) {
			t.Fatalf(
				"control frames differ:\nwhole: %+v\ncut:   %+v",
				whole.control, cut.control,
			)
		}
		var wholeCode, cutCode ws.StatusCode
		if whole.err != nil {
			wholeCode = whole.err.Code
		}
		if cut.err != nil {
			cutCode = cut.err.Code
		}
		if wholeCode != cutCode {
			t.Fatalf(
				"errors differ: whole %v, cut %v",
				whole.err, cut.err,
			)
		}
		// A chunk cut before an invalid byte is delivered by the cut run
		// only: the whole run rejects the chunk.
		if whole.err == nil && !bytes.Equal(whole.data, cut.data) ||
			whole.err != nil && !bytes.HasPrefix(cut.data, whole.data) {
			t.Fatalf(
				"data differ (error %v):\nwhole: %q\ncut:   %q",
				whole.err, whole.data, cut.data,
			)
		}
	})
}

type decodeResult struct {
	data    []byte  // all Data payloads, joined
	control []event // Ping, Pong and Close events
	err     *CloseError
}

// decodeChecked is decodeAll with the invariants of FuzzDecoder checked on
// every call.
func decodeChecked(t *testing.T, in []byte, sizes []int, maxChunk int, maxMessage int64) (res decodeResult) {
	d := Decoder{MaxMessage: maxMessage}
	var (
		buf   []byte
		inMsg bool
		op    ws.OpCode
		text  []byte // the text message in progress
	)
	feed := func(piece []byte) bool {
		buf = append(buf, piece...)
		for {
			ev, n, err := d.Next(buf, maxChunk)
			if n < 0 || n > len(buf) {
				t.Fatalf(
					"n = %d with %d bytes",
					n, len(buf),
				)
			}
			if err != nil {
				var cerr *CloseError
				if !errors.As(err, &cerr) || n != 0 || !reflect.DeepEqual(ev, Event{}) {
					t.Fatalf(
						"error %v with n = %d, event %+v",
						err, n, ev,
					)
				}
				switch cerr.Code {
				case 1002, 1007, 1009:
				default:
					t.Fatalf(
						"close code %d",
						cerr.Code,
					)
				}
				res.err = cerr
				return false
			}
			buf = buf[n:]
			if ev.Kind == NeedMore {
				// Nothing more to decode without more bytes.
				ev2, n2, err2 := d.Next(buf, maxChunk)
				if ev2.Kind != NeedMore || n2 != 0 || err2 != nil {
					t.Fatalf(
						"NeedMore, then %+v, %d, %v on the same bytes",
						ev2, n2, err2,
					)
				}
				return true
			}
			if n == 0 {
				t.Fatalf(
					"event %+v consumed nothing",
					ev,
				)
			}
			switch ev.Kind {
			case Data:
				if maxChunk > 0 && len(ev.Payload) > maxChunk {
					t.Fatalf(
						"chunk of %d bytes, maxChunk %d",
						len(ev.Payload), maxChunk,
					)
				}
				if ev.First == inMsg || (inMsg && ev.Op != op) || (ev.Op != ws.OpText && ev.Op != ws.OpBinary) {
					t.Fatalf(
						"event %+v in message %v of op %v",
						ev, inMsg, op,
					)
				}
				inMsg, op = !ev.Fin, ev.Op
				res.data = append(res.data, ev.Payload...)
				if ev.Op == ws.OpText {
					text = append(text, ev.Payload...)
					if ev.Fin {
						if !utf8.Valid(text) {
							t.Fatalf(
								"invalid text message %q delivered",
								text,
							)
						}
						text = text[:0]
					}
				}
			case Ping, Pong, Close:
				if ev.Kind == Close && !utf8.ValidString(ev.CloseReason) {
					t.Fatalf(
						"close reason %q",
						ev.CloseReason,
					)
				}
				res.control = append(res.control, copyEvent(ev))
			default:
				t.Fatalf(
					"event kind %v",
					ev.Kind,
				)
			}
		}
	}
	for _, s := range sizes {
		if !feed(in[:s]) {
			return res
		}
		in = in[s:]
	}
	feed(in)
	return res
}
