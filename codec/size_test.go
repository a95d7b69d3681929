package codec

import (
	"testing"
	"unsafe"
)

// TestDecoderSize pins a Decoder at 56 bytes: every connection embeds one,
// and its byte-sized fields are ordered to pack.
func TestDecoderSize(t *testing.T) {
	if unsafe.Sizeof(uintptr(0)) != 8 {
		t.Skip("the size is that of 64-bit platforms")
	}
	var d Decoder
	if n := unsafe.Sizeof(d); n > 56 {
		t.Errorf("Decoder is %d bytes, more than 56", n)
	}
}
