package bench

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/gobwas/ws"
)

// maxFrame bounds what the client accepts in one frame or one reassembled
// message: a load generator must not be made to buffer without limit either.
const maxFrame = 64 << 20

// appendFrame appends one client frame (always masked, as RFC 6455 requires
// of clients) carrying payload to dst. The mask is applied to the copy in dst,
// so payload is left untouched and can be reused by the caller.
func appendFrame(dst []byte, op ws.OpCode, payload []byte, mask [4]byte) []byte {
	h := ws.Header{Fin: true, OpCode: op, Masked: true, Mask: mask, Length: int64(len(payload))}
	dst = appendHeader(dst, h)
	start := len(dst)
	dst = append(dst, payload...)
	ws.Cipher(dst[start:], mask, 0)
	return dst
}

// appendHeader encodes h in wire format. ws.WriteHeader wants an io.Writer;
// this is the same encoding on a byte slice, without an allocation.
func appendHeader(dst []byte, h ws.Header) []byte {
	b0 := byte(h.OpCode) | h.Rsv<<4
	if h.Fin {
		b0 |= 0x80
	}
	var b1 byte
	if h.Masked {
		b1 = 0x80
	}
	switch {
	case h.Length < 126:
		dst = append(dst, b0, b1|byte(h.Length))
	case h.Length <= 0xffff:
		dst = append(dst, b0, b1|126, byte(h.Length>>8), byte(h.Length))
	default:
		dst = append(dst, b0, b1|127)
		dst = binary.BigEndian.AppendUint64(dst, uint64(h.Length))
	}
	if h.Masked {
		dst = append(dst, h.Mask[:]...)
	}
	return dst
}

// errNeedMore means the buffer holds only part of a frame.
var errNeedMore = errors.New("need more bytes")

// parseHeader decodes a frame header from the start of b without blocking:
// it returns errNeedMore when b is too short, and the header's size otherwise.
// Protocol checks are ws.CheckHeader's, run for the client side.
func parseHeader(b []byte, fragmented bool) (h ws.Header, n int, err error) {
	if len(b) < 2 {
		return h, 0, errNeedMore
	}
	h.Fin = b[0]&0x80 != 0
	h.Rsv = (b[0] >> 4) & 0x7
	h.OpCode = ws.OpCode(b[0] & 0x0f)
	h.Masked = b[1]&0x80 != 0
	n = 2
	l := int64(b[1] & 0x7f)
	switch l {
	case 126:
		if len(b) < 4 {
			return h, 0, errNeedMore
		}
		l = int64(binary.BigEndian.Uint16(b[2:4]))
		n = 4
	case 127:
		if len(b) < 10 {
			return h, 0, errNeedMore
		}
		u := binary.BigEndian.Uint64(b[2:10])
		if u > maxFrame {
			return h, 0, fmt.Errorf("frame of %d bytes exceeds the client's limit of %d", u, maxFrame)
		}
		l = int64(u)
		n = 10
	}
	h.Length = l
	if h.Masked {
		if len(b) < n+4 {
			return h, 0, errNeedMore
		}
		copy(h.Mask[:], b[n:n+4])
		n += 4
	}
	st := ws.StateClientSide
	if fragmented {
		st = st.Set(ws.StateFragmented)
	}
	if err := ws.CheckHeader(h, st); err != nil {
		return h, 0, err
	}
	return h, n, nil
}
