package codec

import (
	"bytes"
	"strings"
	"testing"

	"github.com/gobwas/ws"
)

// benchDecode decodes tmpl, a copy of it each iteration since payloads are
// unmasked in place.
func benchDecode(b *testing.B, tmpl []byte, maxChunk int) {
	buf := make([]byte, len(tmpl))
	var d Decoder
	b.SetBytes(int64(len(tmpl)))
	b.ReportAllocs()
	for b.Loop() {
		copy(buf, tmpl)
		p := buf
		for {
			ev, n, err := d.Next(p, maxChunk)
			if err != nil {
				b.Fatal(err)
			}
			p = p[n:]
			if ev.Kind == NeedMore {
				break
			}
		}
	}
}

// BenchmarkDecoderSmallText is one short text message per iteration: the
// echo case.
func BenchmarkDecoderSmallText(b *testing.B) {
	benchDecode(b, clientFrame(true, ws.OpText, []byte("hello, world, κόσμε"), testMask), 0)
}

// BenchmarkDecoderLargeBinary is a 1 MiB binary message delivered in 64 KiB
// chunks.
func BenchmarkDecoderLargeBinary(b *testing.B) {
	benchDecode(b, clientFrame(true, ws.OpBinary, make([]byte, 1<<20), testMask), 64<<10)
}

// BenchmarkDecoderLargeText is a 1 MiB text message (mostly ASCII) in 64 KiB
// chunks: unmasking plus UTF-8 validation.
func BenchmarkDecoderLargeText(b *testing.B) {
	payload := []byte(strings.Repeat("the quick brown fox jumps over the lazy dog, κόσμε\n", 1<<20/53))
	benchDecode(b, clientFrame(true, ws.OpText, payload, testMask), 64<<10)
}

func BenchmarkParseHead(b *testing.B) {
	p := []byte(upgradeHead)
	b.SetBytes(int64(len(p)))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := ParseHead(p, 16<<10); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkUpgrade(b *testing.B) {
	p := []byte(upgradeHead)
	opt := UpgradeOptions{Header: []Header{{Name: "X-Server", Value: "wsplex"}}}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := Upgrade(p, opt); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendFrame(b *testing.B) {
	dst := make([]byte, 0, 256)
	payload := []byte("hello, world")
	b.ReportAllocs()
	for b.Loop() {
		dst = AppendFrame(dst[:0], true, ws.OpText, payload)
	}
}

func BenchmarkAppendStreamJSON(b *testing.B) {
	dst := make([]byte, 0, 256)
	line := []byte("2024-01-01 12:00:00 <info> processing item 42 of 100 & counting")
	b.SetBytes(int64(len(line)))
	b.ReportAllocs()
	for b.Loop() {
		dst = AppendStreamJSON(dst[:0], "stderr", line)
	}
}

func BenchmarkCutLine(b *testing.B) {
	p := bytes.Repeat([]byte("a line of child output\n"), 100)
	b.SetBytes(int64(len(p)))
	b.ReportAllocs()
	for b.Loop() {
		rest := p
		for {
			_, r, ok := CutLine(rest)
			if !ok {
				break
			}
			rest = r
		}
	}
}
