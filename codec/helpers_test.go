package codec

import (
	"encoding/binary"

	"github.com/gobwas/ws"
)

// clientFrame builds a frame as a client sends it: masked with mask, the
// masking done byte by byte here, independently of ws.Cipher.
func clientFrame(fin bool, op ws.OpCode, payload []byte, mask [4]byte) []byte {
	return rawFrame(fin, 0, op, true, uint64(len(payload)), payload, mask)
}

// rawFrame builds any frame, valid or not. length is the announced payload
// length, which may differ from len(payload).
func rawFrame(fin bool, rsv byte, op ws.OpCode, masked bool, length uint64, payload []byte, mask [4]byte) []byte {
	b0 := rsv<<4 | byte(op)&0x0f
	if fin {
		b0 |= 0x80
	}
	var b1 byte
	if masked {
		b1 = 0x80
	}
	p := []byte{b0, 0}
	switch {
	case length <= 125:
		p[1] = b1 | byte(length)
	case length <= 0xffff:
		p[1] = b1 | 126
		p = binary.BigEndian.AppendUint16(p, uint16(length))
	default:
		p[1] = b1 | 127
		p = binary.BigEndian.AppendUint64(p, length)
	}
	if masked {
		p = append(p, mask[:]...)
		for i, c := range payload {
			p = append(p, c^mask[i%4])
		}
	} else {
		p = append(p, payload...)
	}
	return p
}

var testMask = [4]byte{0x37, 0xfa, 0x21, 0x3d}

func cat(ps ...[]byte) []byte {
	var out []byte
	for _, p := range ps {
		out = append(out, p...)
	}
	return out
}

// event is an Event with the payload copied, for comparisons.
type event struct {
	Kind        EventKind
	Op          ws.OpCode
	Payload     string
	First, Fin  bool
	CloseCode   ws.StatusCode
	CloseReason string
}

func copyEvent(ev Event) event {
	return event{
		Kind:        ev.Kind,
		Op:          ev.Op,
		Payload:     string(ev.Payload),
		First:       ev.First,
		Fin:         ev.Fin,
		CloseCode:   ev.CloseCode,
		CloseReason: ev.CloseReason,
	}
}

// decodeAll feeds in to a fresh Decoder the way the engine does: pieces of
// the given sizes are appended to a buffer, and after each piece Next is
// called until NeedMore, discarding n each time. The last piece is whatever
// is left after sizes. It returns the events and the error.
func decodeAll(d *Decoder, in []byte, sizes []int, maxChunk int) ([]event, error) {
	var evs []event
	var buf []byte
	feed := func(piece []byte) error {
		buf = append(buf, piece...)
		for {
			ev, n, err := d.Next(buf, maxChunk)
			if err != nil {
				return err
			}
			if n < 0 || n > len(buf) {
				panic("n out of range")
			}
			buf = buf[n:]
			if ev.Kind == NeedMore {
				return nil
			}
			evs = append(evs, copyEvent(ev))
		}
	}
	for _, s := range sizes {
		s = min(s, len(in))
		if err := feed(in[:s]); err != nil {
			return evs, err
		}
		in = in[s:]
	}
	return evs, feed(in)
}
