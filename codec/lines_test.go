package codec

import (
	"testing"
)

func TestCutLine(t *testing.T) {
	for _, test := range []struct {
		in         string
		line, rest string
		ok         bool
	}{
		{
			in:   "",
			line: "",
			rest: "",
			ok:   false,
		},
		{
			in:   "abc",
			line: "abc",
			rest: "",
			ok:   false,
		},
		{
			in:   "abc\r",
			line: "abc\r",
			rest: "",
			ok:   false,
		},
		{
			in:   "\n",
			line: "",
			rest: "",
			ok:   true,
		},
		{
			in:   "\r\n",
			line: "",
			rest: "",
			ok:   true,
		},
		{
			in:   "abc\ndef\n",
			line: "abc",
			rest: "def\n",
			ok:   true,
		},
		{
			in:   "abc\r\ndef",
			line: "abc",
			rest: "def",
			ok:   true,
		},
		{
			in:   "a\rb\r\r\nc",
			line: "a\rb\r",
			rest: "c",
			ok:   true,
		},
		{
			in:   "\r\r\n",
			line: "\r",
			rest: "",
			ok:   true,
		},
		{
			in:   "\n\n",
			line: "",
			rest: "\n",
			ok:   true,
		},
	} {
		line, rest, ok := CutLine([]byte(test.in))
		if string(line) != test.line || string(rest) != test.rest || ok != test.ok {
			t.Errorf(
				"CutLine(%q) = %q, %q, %v; want %q, %q, %v",
				test.in, line, rest, ok, test.line, test.rest, test.ok,
			)
		}
	}
	in := []byte("no newline")
	if line, rest, _ := CutLine(in); &line[0] != &in[0] || rest != nil {
		t.Errorf("CutLine without a newline: not p, nil")
	}
}

func TestTrimEOL(t *testing.T) {
	for in, want := range map[string]string{
		"":        "",
		"a":       "a",
		"a\n":     "a",
		"a\r\n":   "a",
		"a\r":     "a\r",
		"a\n\n":   "a\n",
		"a\r\r\n": "a\r",
		"\n":      "",
		"\r\n":    "",
		"a\n\r\n": "a\n",
	} {
		if got := string(TrimEOL([]byte(in))); got != want {
			t.Errorf(
				"TrimEOL(%q) = %q; want %q",
				in, got, want,
			)
		}
	}
}

func TestLinesAllocs(t *testing.T) {
	p := []byte("one\r\ntwo\nthree")
	allocs := testing.AllocsPerRun(100, func() {
		rest := p
		for {
			line, r, ok := CutLine(rest)
			_ = TrimEOL(line)
			if !ok {
				break
			}
			rest = r
		}
	})
	if allocs != 0 {
		t.Errorf(
			"CutLine allocates %v times",
			allocs,
		)
	}
}
