package codec

import (
	"encoding/binary"
	"strconv"
	"unicode/utf8"

	"github.com/gobwas/ws"
)

// EventKind says what Decoder.Next found.
type EventKind uint8

// Event kinds.
const (
	NeedMore EventKind = iota // nothing more can be decoded without more bytes
	Data                      // a chunk of a text or binary message
	Ping                      // a whole ping frame
	Pong                      // a whole pong frame
	Close                     // a whole, valid close frame
)

func (k EventKind) String() string {
	switch k {
	case NeedMore:
		return "NeedMore"
	case Data:
		return "Data"
	case Ping:
		return "Ping"
	case Pong:
		return "Pong"
	case Close:
		return "Close"
	}
	return "EventKind(" + strconv.Itoa(int(k)) + ")"
}

// Event is one result of Decoder.Next.
type Event struct {
	Kind EventKind

	// Op is, for Data, the opcode of the message (ws.OpText or
	// ws.OpBinary), on every chunk, continuation frames included.
	Op ws.OpCode

	// Payload aliases the caller's buffer, unmasked in place. For Data it
	// is the next chunk of the message; for Ping, Pong and Close the whole
	// control payload (for Close: code and reason, as received).
	Payload []byte

	// First is set on the first Data chunk of a message and Fin on the one
	// that completes it; a single chunk can have both. A message that ends
	// with an empty final frame gets an empty chunk with Fin set.
	First, Fin bool

	// CloseCode is, for Close, the status code, already validated;
	// ws.StatusNoStatusRcvd (1005) if the close frame had no body.
	CloseCode ws.StatusCode
	// CloseReason is, for Close, the reason, valid UTF-8, copied out.
	CloseReason string
}

// CloseError is a protocol violation by the client. The engine sends a close
// frame with Code (AppendClose(dst, e.Code, e.Reason)) and closes the
// connection.
type CloseError struct {
	Code   ws.StatusCode
	Reason string
}

// Error implements the error interface.
func (e *CloseError) Error() string {
	return "codec: close " + strconv.Itoa(int(e.Code)) + ": " + e.Reason
}

func protocolError(reason string) *CloseError {
	return &CloseError{Code: ws.StatusProtocolError, Reason: reason}
}

// Shared error values; callers must not modify them.
var (
	errInvalidText  = &CloseError{Code: ws.StatusInvalidFramePayloadData, Reason: "invalid UTF-8 in text message"}
	errInvalidClose = &CloseError{Code: ws.StatusInvalidFramePayloadData, Reason: "invalid UTF-8 in close reason"}
	errTooBig       = &CloseError{Code: ws.StatusMessageTooBig, Reason: "message too big"}
	errLength       = protocolError("invalid payload length")
	errCloseBody    = protocolError("close frame with a 1-byte body")
	errCloseCode    = protocolError("invalid close code")
)

// Decoder decodes the frames a client sends to a server (RFC 6455 section 5),
// incrementally, out of whatever bytes have arrived. The zero value is ready
// to use; set MaxMessage before the first call. A Decoder is for one
// connection and is not safe for concurrent use.
type Decoder struct {
	// MaxMessage is the largest message, in payload bytes summed over its
	// frames; 0 means no limit. A frame header that would take the
	// message past it fails with 1009 at once, before its payload arrives.
	MaxMessage int64

	// Every connection holds a Decoder: the byte-sized fields are kept
	// together, where they pack (56 bytes on 64-bit platforms).

	// The data frame whose payload is being delivered.
	left    int64 // payload bytes of the frame not delivered yet
	off     int   // payload bytes of the frame unmasked so far, mod 4
	mask    [4]byte
	inFrame bool
	fin     bool

	// The data message in progress.
	inMsg bool
	op    ws.OpCode
	first bool // the next Data chunk is the message's first
	text  UTF8
	size  int64 // payload bytes announced by the message's frames so far

	err *CloseError // sticky: once failed, always failed
}

// Next decodes the next event out of p, the bytes received and not yet
// consumed. It returns the event and n, the number of bytes of p it
// consumed. The caller must discard exactly n bytes, whatever the kind of
// event, and must never pass them again: payloads are unmasked in place.
// Then it calls Next again with what is left (plus whatever arrived since),
// until Next returns NeedMore.
//
//   - Data payload is delivered as soon as it arrives, at most maxChunk bytes
//     per event (maxChunk <= 0: no limit), so a message of any size needs
//     no buffer beyond what the network layer already holds.
//   - Ping, Pong and Close are returned only when the whole frame is in p.
//   - NeedMore means nothing more can be decoded from p; n may still be
//     more than 0, for frame headers consumed on the way (a data frame
//     header whose payload has not arrived, an empty non-final data frame).
//     A frame header (2 to 14 bytes) or a control frame that is not whole
//     is not consumed.
//
// Errors are *CloseError, and once one is returned, every later call returns
// it again. n is 0 with an error. Codes:
//
//   - 1002: an unmasked frame, RSV bits set, a reserved opcode, a fragmented
//     control frame or one with more than 125 bytes (ws.CheckHeader), a
//     continuation frame with no message in progress, a text or binary
//     frame while a fragmented message is in progress, a 64-bit length
//     with the top bit set, a close frame with a 1-byte body or an invalid
//     code (see CloseCodeValid).
//   - 1007: a text message that is not valid UTF-8, detected chunk by chunk
//     (a code point split across chunks or frames is fine, one that cannot
//     become valid fails at its first bad byte, a message that ends inside
//     a code point fails on its final chunk); a close reason that is not
//     valid UTF-8 (1007 rather than 1002, as RFC 6455 section 8.1 says for
//     any invalid UTF-8).
//   - 1009: a message longer than MaxMessage.
//
// The Data event that a chunk of invalid text would have been is not
// returned: no invalid byte is ever delivered.
//
// Next does not allocate on the data path (Data and NeedMore); Close
// allocates its CloseReason, errors allocate the first time.
func (d *Decoder) Next(p []byte, maxChunk int) (ev Event, n int, err error) {
	if d.err != nil {
		return Event{}, 0, d.err
	}
	for {
		if d.inFrame {
			avail := int64(len(p) - n)
			k := min(d.left, avail)
			if maxChunk > 0 {
				k = min(k, int64(maxChunk))
			}
			if k == 0 && d.left > 0 {
				return Event{Kind: NeedMore}, n, nil
			}
			chunk := p[n : n+int(k)]
			ws.Cipher(chunk, d.mask, d.off)
			d.off = (d.off + int(k)) & 3
			d.left -= k
			done := d.left == 0
			if done {
				d.inFrame = false
			}
			if d.op == ws.OpText && !d.text.Write(chunk) {
				return d.fail(errInvalidText)
			}
			if done && !d.fin && k == 0 {
				continue // an empty non-final frame: nothing to say
			}
			ev = Event{Kind: Data, Op: d.op, Payload: chunk, First: d.first}
			d.first = false
			if done && d.fin {
				if d.op == ws.OpText && !d.text.Complete() {
					return d.fail(errInvalidText)
				}
				ev.Fin = true
				d.inMsg = false
			}
			return ev, n + int(k), nil
		}

		h, hl, e := d.header(p[n:])
		if e != nil {
			return d.fail(e)
		}
		if hl == 0 {
			return Event{Kind: NeedMore}, n, nil
		}

		if h.OpCode.IsControl() {
			end := hl + int(h.Length) // Length <= 125, checked
			if len(p)-n < end {
				return Event{Kind: NeedMore}, n, nil
			}
			payload := p[n+hl : n+end]
			ws.Cipher(payload, h.Mask, 0)
			ev, e = control(h.OpCode, payload)
			if e != nil {
				return d.fail(e)
			}
			return ev, n + end, nil
		}

		if !d.inMsg {
			d.inMsg, d.op, d.first, d.size = true, h.OpCode, true, 0
			d.text.Reset()
		}
		if d.MaxMessage > 0 && h.Length > d.MaxMessage-d.size {
			return d.fail(errTooBig)
		}
		d.size += h.Length
		d.inFrame, d.fin, d.mask, d.off, d.left = true, h.Fin, h.Mask, 0, h.Length
		n += hl
	}
}

func (d *Decoder) fail(err *CloseError) (Event, int, error) {
	d.err = err
	return Event{}, 0, err
}

// header parses the frame header at the start of p. It returns hl == 0 if p
// does not hold all of it yet. Errors that the first two bytes already show
// are reported without waiting for the rest.
func (d *Decoder) header(p []byte) (h ws.Header, hl int, err *CloseError) {
	if len(p) < 2 {
		return h, 0, nil
	}
	h.Fin = p[0]&0x80 != 0
	h.Rsv = (p[0] & 0x70) >> 4
	h.OpCode = ws.OpCode(p[0] & 0x0f)
	h.Masked = p[1]&0x80 != 0
	h.Length = int64(p[1] & 0x7f) // 126 and 127 are > 125 for the control frame check

	state := ws.StateServerSide
	if d.inMsg {
		state |= ws.StateFragmented
	}
	if e := ws.CheckHeader(h, state); e != nil {
		return h, 0, protocolError(e.Error())
	}

	hl = 2 + 4 // masked, checked above
	switch h.Length {
	case 126:
		hl += 2
	case 127:
		hl += 8
	}
	if len(p) < hl {
		return h, 0, nil
	}
	switch h.Length {
	case 126:
		h.Length = int64(binary.BigEndian.Uint16(p[2:4]))
	case 127:
		l := binary.BigEndian.Uint64(p[2:10])
		if l>>63 != 0 {
			return h, 0, errLength
		}
		h.Length = int64(l)
	}
	copy(h.Mask[:], p[hl-4:hl])
	return h, hl, nil
}

// control makes the event for a whole, unmasked control frame.
func control(op ws.OpCode, payload []byte) (Event, *CloseError) {
	switch op {
	case ws.OpPing:
		return Event{Kind: Ping, Payload: payload}, nil
	case ws.OpPong:
		return Event{Kind: Pong, Payload: payload}, nil
	}
	// ws.OpClose: CheckHeader let no other opcode through.
	ev := Event{Kind: Close, Payload: payload, CloseCode: ws.StatusNoStatusRcvd}
	switch len(payload) {
	case 0:
		return ev, nil
	case 1:
		return Event{}, errCloseBody
	}
	code := ws.StatusCode(binary.BigEndian.Uint16(payload))
	reason := payload[2:]
	if !CloseCodeValid(code) {
		return Event{}, errCloseCode
	}
	if !utf8.Valid(reason) {
		return Event{}, errInvalidClose
	}
	ev.CloseCode = code
	ev.CloseReason = string(reason)
	return ev, nil
}
