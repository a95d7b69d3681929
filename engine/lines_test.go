package engine

import (
	"fmt"
	"testing"
)

// TestCutLinesEverySplit: whatever the reads' boundaries (a "\r\n" cut in
// two included), cutLines yields the lines the whole stream has, and the
// unterminated end stays pending.
func TestCutLinesEverySplit(t *testing.T) {
	const stream = "a\n\nb\r\nc\rd\n\r\n\rx\r\nlong-" + "0123456789abcdef" + "\r\ntail\r"
	want := []string{"a", "", "b", "c\rd", "", "\rx", "long-0123456789abcdef"}
	for i := 0; i <= len(stream); i++ {
		for j := i; j <= len(stream); j++ {
			var got []string
			var pend []byte
			for _, part := range []string{stream[:i], stream[i:j], stream[j:]} {
				pend = cutLines(pend, []byte(part), func(line []byte, _ bool) {
					got = append(got, string(line)) // copied before pend is reused
				})
			}
			if fmt.Sprintf("%q", got) != fmt.Sprintf("%q", want) || string(pend) != "tail\r" {
				t.Fatalf("split at %d, %d: lines %q, pending %q; want %q, %q", i, j, got, pend, want, "tail\r")
			}
		}
	}
}
