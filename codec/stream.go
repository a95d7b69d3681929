package codec

import "unicode/utf8"

// AppendStreamJSON appends the message --passstderr sends for one line of
// child output: {"stream":"stdout","data":"..."} (stream is "stdout" or
// "stderr").
//
// The bytes are those of encoding/json.Marshal of
//
//	struct {
//		Stream string `json:"stream"`
//		Data   string `json:"data"`
//	}{stream, string(data)}
//
// which is how a Go daemon builds such a message: the fields in that order,
// no spaces, and encoding/json's escaping, HTML-safe by default: `"` and `\`
// escaped, \b \f \n \r \t, other bytes below 0x20 as \u00XX, <, > and & as
// \u003c, \u003e and \u0026, U+2028 and U+2029 as \u2028 and \u2029, and
// every byte that does not start a valid UTF-8 sequence as \ufffd. DEL and
// all other valid UTF-8 pass unchanged. A test compares the output with
// encoding/json's for random input.
//
// It allocates only when dst must grow.
func AppendStreamJSON(dst []byte, stream string, data []byte) []byte {
	dst = append(dst, `{"stream":`...)
	dst = appendJSONString(dst, stream)
	dst = append(dst, `,"data":`...)
	dst = appendJSONString(dst, data)
	return append(dst, '}')
}

// appendJSONString is encoding/json's appendString with escapeHTML set.
func appendJSONString[S string | []byte](dst []byte, src S) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(src); {
		if c := src[i]; c < utf8.RuneSelf {
			if jsonSafe[c] {
				i++
				continue
			}
			dst = append(dst, src[start:i]...)
			switch c {
			case '\\', '"':
				dst = append(dst, '\\', c)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		// At most 4 bytes converted: the string stays on the stack.
		r, size := utf8.DecodeRuneInString(string(src[i:min(len(src), i+utf8.UTFMax)]))
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, src[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, src[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, src[start:]...)
	return append(dst, '"')
}

// jsonSafe marks the ASCII bytes encoding/json writes as they are when it
// escapes HTML (its htmlSafeSet).
var jsonSafe = func() (t [utf8.RuneSelf]bool) {
	for c := ' '; c < utf8.RuneSelf; c++ {
		t[c] = true
	}
	for _, c := range `"\<>&` {
		t[c] = false
	}
	return t
}()
