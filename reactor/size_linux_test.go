package reactor

import (
	"testing"
	"unsafe"
)

// TestWatchSize pins a Watch at 48 bytes on Linux (a size class; 56 would
// be 64): a connection holds four (its socket and its child's pipes).
func TestWatchSize(t *testing.T) {
	if unsafe.Sizeof(uintptr(0)) != 8 {
		t.Skip("the size is that of 64-bit platforms")
	}
	var w Watch
	if n := unsafe.Sizeof(w); n > 48 {
		t.Errorf("Watch is %d bytes, more than 48", n)
	}
}
