package codec

import (
	"bytes"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"
)

var utf8Samples = []string{
	"",
	"hello",
	"κόσμε",
	"\xf0\x9f\x98\x80 smile",
	"\u0080\u07ff\u0800\ufffd\uffff\U00010000\U0010ffff",
	"\xef\xbb\xbfBOM",
	"\xed\x9f\xbf\xee\x80\x80", // U+D7FF U+E000, around the surrogates
	// Invalid.
	"\xff",
	"\xfe\xff",
	"\x80",
	"a\xbfb",
	"\xc0\x80",
	"\xc1\xbf",
	"\xe0\x80\x80",
	"\xe0\x9f\xbf",
	"\xed\xa0\x80",
	"\xed\xbf\xbf",
	"\xf0\x80\x80\x80",
	"\xf0\x8f\xbf\xbf",
	"\xf4\x90\x80\x80",
	"\xf5\x80\x80\x80",
	"\xf8\x88\x80\x80\x80",
	"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited",
	// Cut off.
	"\xc2",
	"ab\xe2\x82",
	"\xf0\x9f\x98",
}

// feedUTF8 writes p in the given pieces and returns the result of every
// Write and of Complete.
func feedUTF8(p []byte, cuts []int) (valid, complete bool) {
	var u UTF8
	valid = true
	last := 0
	for _, c := range append(cuts, len(p)) {
		if !u.Write(p[last:c]) {
			valid = false
		}
		last = c
	}
	return valid, u.Complete()
}

func TestUTF8Splits(t *testing.T) {
	for _, s := range utf8Samples {
		p := []byte(s)
		want := utf8.Valid(p)
		// Every way to cut it in two and in three.
		for i := 0; i <= len(p); i++ {
			for j := i; j <= len(p); j++ {
				valid, complete := feedUTF8(p, []int{i, j})
				if complete != want {
					t.Fatalf(
						"%q cut at %d, %d: Complete() = %v; want %v",
						s, i, j, complete, want,
					)
				}
				// A valid stream, or one only cut off, has no bad byte.
				prefixOK := validPrefixOfUTF8(p)
				if valid != prefixOK {
					t.Fatalf(
						"%q cut at %d, %d: Write() valid = %v; want %v",
						s, i, j, valid, prefixOK,
					)
				}
			}
		}
	}
}

// validPrefixOfUTF8 reports whether p can be extended into valid UTF-8: the
// reference for Write, by brute force.
func validPrefixOfUTF8(p []byte) bool {
	if utf8.Valid(p) {
		return true
	}
	for n := 1; n <= 3; n++ {
		for _, tail := range []string{"\x80", "\x80\x80", "\x80\x80\x80", "\xa0", "\xa0\x80", "\xa0\x80\x80", "\x90\x80\x80", "\x9f\x80"} {
			if len(tail) == n && utf8.Valid(append(bytes.Clone(p), tail...)) {
				return true
			}
		}
	}
	return false
}

func TestUTF8Random(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	alphabet := []byte{'a', 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc2, 0xdf, 0xe0, 0xe1, 0xed, 0xef, 0xf0, 0xf3, 0xf4, 0xf5, 0xff}
	for range 20000 {
		p := make([]byte, rng.IntN(12))
		for i := range p {
			p[i] = alphabet[rng.IntN(len(alphabet))]
		}
		var cuts []int
		for c := 0; c < len(p); c += rng.IntN(4) + 1 {
			cuts = append(cuts, c)
		}
		valid, complete := feedUTF8(p, cuts)
		if complete != utf8.Valid(p) {
			t.Fatalf(
				"%q cut at %v: Complete() = %v",
				p, cuts, complete,
			)
		}
		if valid != validPrefixOfUTF8(p) {
			t.Fatalf(
				"%q cut at %v: Write() = %v",
				p, cuts, valid,
			)
		}
	}
}

func TestUTF8FailFast(t *testing.T) {
	for _, s := range []string{"\xed\xa0", "\xf4\x90", "\xe0\x80", "\xf0\x80", "\xc0", "\xc1", "\xf5", "\xff", "a\x80"} {
		var u UTF8
		if u.Write([]byte(s)) {
			t.Errorf(
				"Write(%q) = true; want false at once",
				s,
			)
		}
		if u.Write([]byte("valid")) || u.Complete() {
			t.Errorf(
				"after %q: not sticky",
				s,
			)
		}
		u.Reset()
		if !u.Write([]byte("valid")) || !u.Complete() {
			t.Errorf("Reset does not reset")
		}
	}
	var u UTF8
	if !u.Write([]byte("\xf0\x9f")) || u.Complete() {
		t.Errorf("a cut code point is not incomplete")
	}
}

func TestValidPrefix(t *testing.T) {
	for _, test := range []struct {
		in   string
		want int
	}{
		{
			in:   "",
			want: 0,
		},
		{
			in:   "abc",
			want: 3,
		},
		{
			in:   "ab\xc3",
			want: 2,
		},
		{
			in:   "ab\xc3\xa9",
			want: 4,
		},
		{
			in:   "\xe2\x82",
			want: 0,
		},
		{
			in:   "a\xe2\x82\xac",
			want: 4,
		},
		{
			in:   "a\xf0\x9f\x98",
			want: 1,
		},
		{
			in:   "a\xf0\x9f\x98\x80",
			want: 5,
		},
		// no lead byte in reach: not our business
		{
			in:   "\x80\x80\x80",
			want: 3,
		},
		// stray continuation bytes stay
		{
			in:   "a\xf0\x80\x80\x80\x80",
			want: 6,
		},
		// starts nothing
		{
			in:   "a\xff",
			want: 2,
		},
		{
			in:   "a\xc0",
			want: 1,
		},
	} {
		if got := ValidPrefix([]byte(test.in)); got != test.want {
			t.Errorf(
				"ValidPrefix(%q) = %d; want %d",
				test.in, got, test.want,
			)
		}
	}
	// Text cut anywhere, the pieces joined at their valid prefixes, gives
	// the text back, and every piece sent is valid.
	text := []byte(strings.Repeat("aé€😀", 20))
	rng := rand.New(rand.NewPCG(1, 2))
	for range 1000 {
		var out, carry []byte
		rest := text
		for len(rest) > 0 {
			k := min(rng.IntN(8), len(rest))
			carry = append(carry, rest[:k]...)
			rest = rest[k:]
			n := ValidPrefix(carry)
			if !utf8.Valid(carry[:n]) {
				t.Fatalf(
					"piece %q not valid",
					carry[:n],
				)
			}
			out = append(out, carry[:n]...)
			carry = append(carry[:0], carry[n:]...)
		}
		if !bytes.Equal(out, text) || len(carry) != 0 {
			t.Fatalf(
				"pieces joined: %q",
				out,
			)
		}
	}
}

func TestAppendValidUTF8(t *testing.T) {
	ref := func(p []byte) []byte {
		var out []byte
		for _, r := range string(p) {
			out = utf8.AppendRune(out, r)
		}
		return out
	}
	for _, s := range append(utf8Samples, "a\xffb\xe2\x82c\xe2\x82\xac", "\uFFFD", strings.Repeat("x\x80", 100)) {
		got := AppendValidUTF8([]byte("pre"), []byte(s))
		if want := append([]byte("pre"), ref([]byte(s))...); !bytes.Equal(got, want) {
			t.Errorf(
				"AppendValidUTF8(%q) = %q; want %q",
				s, got, want,
			)
		}
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for range 10000 {
		p := make([]byte, rng.IntN(16))
		for i := range p {
			p[i] = byte(rng.IntN(256))
		}
		got := AppendValidUTF8(nil, p)
		if !bytes.Equal(got, ref(p)) || !utf8.Valid(got) {
			t.Fatalf(
				"AppendValidUTF8(%q) = %q",
				p, got,
			)
		}
	}
}

func TestUTF8Allocs(t *testing.T) {
	p := []byte(strings.Repeat("κόσμε hello ", 100))
	var u UTF8
	allocs := testing.AllocsPerRun(100, func() {
		u.Reset()
		u.Write(p[:7])
		u.Write(p[7:500])
		u.Write(p[500:])
		_ = ValidPrefix(p[:501])
	})
	if allocs != 0 {
		t.Errorf(
			"UTF8 allocates %v times",
			allocs,
		)
	}
}
