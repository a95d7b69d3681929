package engine

import (
	"testing"
	"unsafe"
)

// TestConnSize pins the size of what every idle connection holds in the
// engine: its conn, its socket and its child endpoint. Each is one heap
// object, rounded up to the allocator's size class (448, 144, 160), so a
// field added carelessly (or one that breaks the packing of the small
// fields) can cost a whole class per connection. Grow one on purpose:
// then change the figure here.
func TestConnSize(t *testing.T) {
	if unsafe.Sizeof(uintptr(0)) != 8 {
		t.Skip("the sizes are those of 64-bit platforms")
	}
	var (
		c  conn
		s  sock
		ce childEndpoint
	)
	for _, x := range []struct {
		name      string
		size, max uintptr
	}{
		{"conn", unsafe.Sizeof(c), 448},
		{"sock", unsafe.Sizeof(s), 144},
		{"childEndpoint", unsafe.Sizeof(ce), 160},
	} {
		if x.size > x.max {
			t.Errorf("%s is %d bytes, more than %d", x.name, x.size, x.max)
		}
	}
}
