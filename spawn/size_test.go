package spawn

import (
	"testing"
	"unsafe"
)

// TestProcessSize pins a Process at 144 bytes (a size class; the fields in
// another order would take 152, and the class 160): a connection's child
// holds one for its life.
func TestProcessSize(t *testing.T) {
	if unsafe.Sizeof(uintptr(0)) != 8 {
		t.Skip("the size is that of 64-bit platforms")
	}
	var p Process
	if n := unsafe.Sizeof(p); n > 144 {
		t.Errorf("Process is %d bytes, more than 144", n)
	}
}
