package codec

import (
	"unicode/utf8"

	"github.com/gobwas/ws"
)

// Server frames are never masked (RFC 6455 section 5.1), so a frame is a
// header of 2, 4 or 10 bytes followed by the payload as is. The functions
// below append to dst and allocate only when dst must grow.

// maxCloseReason is the largest close reason: a control frame carries at most
// 125 bytes, two of them the status code.
const maxCloseReason = ws.MaxControlFramePayloadSize - 2

// AppendHeader appends the header of an unmasked frame with the given FIN
// bit, opcode and payload length: 2 bytes up to 125, 4 up to 65535, else 10.
// It panics if length is negative.
func AppendHeader(dst []byte, fin bool, op ws.OpCode, length int) []byte {
	b0 := byte(op) & 0x0f
	if fin {
		b0 |= 0x80
	}
	switch {
	case length < 0:
		panic("codec: negative frame length")
	case length <= 125:
		return append(dst, b0, byte(length))
	case length <= 0xffff:
		return append(dst, b0, 126, byte(length>>8), byte(length))
	}
	l := uint64(length)
	return append(dst, b0, 127,
		byte(l>>56), byte(l>>48), byte(l>>40), byte(l>>32),
		byte(l>>24), byte(l>>16), byte(l>>8), byte(l))
}

// AppendFrame appends a whole unmasked frame: header and payload.
func AppendFrame(dst []byte, fin bool, op ws.OpCode, payload []byte) []byte {
	dst = AppendHeader(dst, fin, op, len(payload))
	return append(dst, payload...)
}

// AppendClose appends a whole close frame.
//
// A code of 0 or 1005 (ws.StatusNoStatusRcvd, what Decoder reports for a
// close frame without a body) gives a close frame with an empty body: that
// is the echo RFC 6455 section 5.5.1 asks for, and 1005 itself must never be
// sent. Any other code is written as given: check it with CloseCodeValid
// first. The reason is made valid UTF-8 (AppendValidUTF8) and cut to 123
// bytes at a code point boundary, so the frame always fits in a control
// frame.
func AppendClose(dst []byte, code ws.StatusCode, reason string) []byte {
	if code == 0 || code == ws.StatusNoStatusRcvd {
		return append(dst, 0x80|byte(ws.OpClose), 0)
	}
	start := len(dst)
	dst = append(dst, 0x80|byte(ws.OpClose), 0, byte(code>>8), byte(code))
	body := len(dst)
	if utf8.ValidString(reason) {
		dst = append(dst, reason...)
	} else {
		dst = AppendValidUTF8(dst, []byte(reason))
	}
	if len(dst)-body > maxCloseReason {
		dst = dst[:body+ValidPrefix(dst[body:body+maxCloseReason])]
	}
	dst[start+1] = byte(len(dst) - body + 2)
	return dst
}

// CloseCodeValid reports whether code may be put in a close frame, that is
// sent by wsplex or echoed back to a client: 1000-1003, 1007-1011 (the codes
// RFC 6455 defines for the wire), 1012-1014 (registered with IANA since:
// service restart, try again later, bad gateway; wsplex sends 1014 for an
// unreachable --backend, and a client echoes it), 3000-4999 (registered
// and private use).
//
// Decoder accepts exactly these codes from clients too. That is
// ws.CheckCloseFrameData, plus 1012-1014, which it does not know yet, and
// the upper bound it lacks (5000 and above are not valid close codes).
func CloseCodeValid(code ws.StatusCode) bool {
	switch {
	case 1000 <= code && code <= 1003, 1007 <= code && code <= 1014:
		return true
	case 3000 <= code && code <= 4999:
		return true
	}
	return false
}
