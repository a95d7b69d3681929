package codec

import "unicode/utf8"

// UTF8 validates a UTF-8 stream written to it in pieces of any size: a code
// point may be split across Writes, so text frames and chunks can be
// checked as they arrive, without buffering the message.
//
// A bad byte is reported by the Write that contains it, not later: a
// sequence that can no longer become valid ("\xed\xa0", the start of a
// surrogate, or "\xf4\x90", past U+10FFFF) fails at once, as RFC 6455
// section 8.1 asks ("fail fast", Autobahn cases 6.x).
//
// The zero value is ready to use; Write and Complete do not allocate.
type UTF8 struct {
	need   uint8 // continuation bytes still expected in the current code point
	lo, hi uint8 // allowed range of the next continuation byte
	bad    bool
}

// Write validates p as the continuation of everything written since the last
// Reset. It returns false at the first invalid byte, and keeps returning
// false until Reset.
//
// Whole code points are checked by utf8.Valid, which has an ASCII fast path;
// only the at most three bytes of a code point cut by the end of p, and its
// rest at the start of the next p, go through the byte-by-byte state
// machine.
func (u *UTF8) Write(p []byte) bool {
	if u.bad {
		return false
	}
	i := 0
	for ; u.need > 0 && i < len(p); i++ {
		if !u.step(p[i]) {
			return false
		}
	}
	p = p[i:]
	cut := ValidPrefix(p)
	if !utf8.Valid(p[:cut]) {
		u.bad = true
		return false
	}
	for _, c := range p[cut:] {
		if !u.step(c) {
			return false
		}
	}
	return true
}

// Complete reports whether everything written since the last Reset is valid
// and ends on a code point boundary: a text message must, when its final
// frame ends.
func (u *UTF8) Complete() bool {
	return !u.bad && u.need == 0
}

// Reset forgets all state, for the next message.
func (u *UTF8) Reset() {
	*u = UTF8{}
}

// step feeds one byte through the state machine of RFC 3629 section 4 (the
// table of well-formed byte sequences).
func (u *UTF8) step(c byte) bool {
	if u.need > 0 {
		if c < u.lo || c > u.hi {
			u.bad = true
			return false
		}
		u.need--
		u.lo, u.hi = 0x80, 0xbf
		return true
	}
	switch {
	case c < 0x80:
		return true
	case 0xc2 <= c && c <= 0xdf:
		u.need, u.lo, u.hi = 1, 0x80, 0xbf
	case c == 0xe0:
		u.need, u.lo, u.hi = 2, 0xa0, 0xbf // no overlong forms
	case c == 0xed:
		u.need, u.lo, u.hi = 2, 0x80, 0x9f // no surrogates
	case 0xe1 <= c && c <= 0xef:
		u.need, u.lo, u.hi = 2, 0x80, 0xbf
	case c == 0xf0:
		u.need, u.lo, u.hi = 3, 0x90, 0xbf // no overlong forms
	case 0xf1 <= c && c <= 0xf3:
		u.need, u.lo, u.hi = 3, 0x80, 0xbf
	case c == 0xf4:
		u.need, u.lo, u.hi = 3, 0x80, 0x8f // nothing above U+10FFFF
	default:
		u.bad = true
		return false
	}
	return true
}

// ValidPrefix returns the length of the longest prefix of p that does not end
// inside a code point: it drops the at most three trailing bytes of a code
// point whose lead byte says it is longer than what p still holds. It looks
// at nothing else: invalid bytes elsewhere stay (AppendValidUTF8 is for
// those).
//
// It is for cutting outbound text: send p[:ValidPrefix(p)] now and keep the
// rest for the next read. At end of stream, what is left over is invalid
// and goes through AppendValidUTF8. It does not allocate.
func ValidPrefix(p []byte) int {
	n := len(p)
	for i := n - 1; i >= 0 && i >= n-3; i-- {
		c := p[i]
		if c < 0x80 {
			return n
		}
		if c >= 0xc0 {
			if n-i < seqLen(c) {
				return i
			}
			return n
		}
		// A continuation byte: the lead byte is further back.
	}
	return n
}

// seqLen is the length of the sequence that lead byte c starts; 1 for bytes
// that start no valid sequence.
func seqLen(c byte) int {
	switch {
	case c < 0xc0:
		return 1
	case c < 0xe0:
		return 2
	case c < 0xf0:
		return 3
	case c < 0xf5:
		return 4
	}
	return 1
}

// AppendValidUTF8 appends p to dst with every byte that does not start a
// valid UTF-8 sequence replaced by U+FFFD, the way utf8.DecodeRune (and a
// range loop over a string, and encoding/json) sees it: "\xe2\x82" (a cut
// three-byte code point) becomes two U+FFFD. It is for child output sent as
// a text message, which browsers refuse when it is not valid UTF-8.
//
// Valid input is appended with one copy and no other work.
func AppendValidUTF8(dst, p []byte) []byte {
	if utf8.Valid(p) {
		return append(dst, p...)
	}
	for len(p) > 0 {
		// Copy the run of valid bytes up to the next bad one.
		i := 0
		for i < len(p) {
			if p[i] < utf8.RuneSelf {
				i++
				continue
			}
			r, size := utf8.DecodeRune(p[i:])
			if r == utf8.RuneError && size == 1 {
				break
			}
			i += size
		}
		dst = append(dst, p[:i]...)
		if i == len(p) {
			break
		}
		dst = append(dst, "\uFFFD"...)
		p = p[i+1:]
	}
	return dst
}
