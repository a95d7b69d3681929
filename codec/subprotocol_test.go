package codec

import (
	"slices"
	"testing"
)

func TestSubprotocols(t *testing.T) {
	req := &Request{Headers: []Header{
		{Name: "Host", Value: "x"},
		{Name: "sec-websocket-protocol", Value: " chat , ,v2.json"},
		{Name: "Sec-WebSocket-Protocol", Value: "ex1"},
	}}
	got := slices.Collect(req.Subprotocols)
	if want := []string{"chat", "v2.json", "ex1"}; !slices.Equal(got, want) {
		t.Fatalf("Subprotocols = %q, want %q", got, want)
	}
	n := 0
	req.Subprotocols(func(string) bool { n++; return false })
	if n != 1 {
		t.Errorf("yield called %d times after returning false, want 1", n)
	}
	if got := slices.Collect((&Request{}).Subprotocols); len(got) != 0 {
		t.Errorf("no header: got %q", got)
	}
	allocs := testing.AllocsPerRun(100, func() {
		req.Subprotocols(func(string) bool { return true })
	})
	if allocs != 0 {
		t.Errorf("walking the offer allocates %v times", allocs)
	}
}
