package codec

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gobwas/ws"
)

var writeSeeds = flag.Bool("codec.writeseeds", false, "write the fuzz seed corpus into testdata/fuzz")

// TestFuzzSeeds keeps testdata/fuzz in step with the seeds listed here.
// Run `go test -run TestFuzzSeeds ./codec/ -args -codec.writeseeds` after a
// change to the lists; files the fuzzer adds there itself are left alone.
func TestFuzzSeeds(t *testing.T) {
	for target, seeds := range map[string]map[string][]any{
		"FuzzParseHead": headSeeds(),
		"FuzzDecoder":   frameSeeds(),
	} {
		dir := filepath.Join("testdata", "fuzz", target)
		for name, args := range seeds {
			var b strings.Builder
			b.WriteString("go test fuzz v1\n")
			for _, a := range args {
				switch a := a.(type) {
				case []byte:
					fmt.Fprintf(&b, "[]byte(%q)\n", a)
				default:
					fmt.Fprintf(&b, "%T(%v)\n", a, a)
				}
			}
			path := filepath.Join(dir, name)
			if *writeSeeds {
				if err := os.MkdirAll(dir, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
					t.Fatal(err)
				}
				continue
			}
			got, err := os.ReadFile(path)
			if err != nil || string(got) != b.String() {
				t.Errorf(
					"seed %s is missing or stale (%v): run with -args -codec.writeseeds",
					path, err,
				)
			}
		}
	}
}

// headSeeds are the FuzzParseHead seeds: head bytes and the limit.
func headSeeds() map[string][]any {
	const max = uint16(16 << 10)
	lf := strings.ReplaceAll(upgradeHead, "\r\n", "\n")
	cookie := "Cookie: " + strings.Repeat("c", 17<<10) + "\r\n"
	return map[string][]any{
		"upgrade":            {[]byte(upgradeHead), max},
		"upgrade-lf":         {[]byte(lf), max},
		"upgrade-frames":     {[]byte(upgradeHead + "\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58"), max},
		"upgrade-nolimit":    {[]byte(upgradeHead), uint16(0)},
		"upgrade-tight":      {[]byte(upgradeHead), uint16(len(upgradeHead))},
		"upgrade-short":      {[]byte(upgradeHead), uint16(len(upgradeHead) - 1)},
		"upgrade-incomplete": {[]byte(upgradeHead[:len(upgradeHead)-3]), max},
		"upgrade-v8":         {[]byte(strings.Replace(upgradeHead, "Version: 13", "Version: 8", 1)), max},
		"upgrade-http10":     {[]byte(strings.Replace(upgradeHead, "HTTP/1.1", "HTTP/1.0", 1)), max},
		"leading-crlf":       {[]byte("\r\n\n" + upgradeHead), max},
		"huge-header":        {[]byte("GET / HTTP/1.1\r\nHost: h\r\n" + cookie + "\r\n"), max},
		"huge-header-nolim":  {[]byte("GET / HTTP/1.1\r\nHost: h\r\n" + cookie + "\r\n"), uint16(0)},
		"absolute":           {[]byte("GET http://h:1/p/q?x=1#f HTTP/1.1\r\nHost: h\r\n\r\n"), max},
		"absolute-nopath":    {[]byte("GET https://h?x HTTP/1.1\r\n\r\n"), max},
		"asterisk":           {[]byte("OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n"), max},
		"post-body":          {[]byte("POST /cgi HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\nhello"), max},
		"repeated":           {[]byte("GET / HTTP/1.1\r\nA: 1\r\na: 2\r\nA:\t3 \r\nempty:\r\n\r\n"), max},
		"obs-fold":           {[]byte("GET / HTTP/1.1\r\nX: a\r\n  b\r\n\r\n"), max},
		"no-colon":           {[]byte("GET / HTTP/1.1\r\nHost h\r\n\r\n"), max},
		"space-before-colon": {[]byte("GET / HTTP/1.1\r\nHost : h\r\n\r\n"), max},
		"ctl-value":          {[]byte("GET / HTTP/1.1\r\nX: a\x01\r\n\r\n"), max},
		"bare-cr":            {[]byte("GET / HTTP/1.1\rHost: h\r\n\r\n"), max},
		"h2-preface":         {[]byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), max},
		"tls-hello":          {[]byte("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"), max},
		"empty":              {[]byte(""), max},
	}
}

// frameSeeds are the FuzzDecoder seeds: client bytes, the split seed, the
// chunk limit and MaxMessage.
func frameSeeds() map[string][]any {
	text := func(fin bool, s string) []byte {
		return clientFrame(fin, ws.OpText, []byte(s), testMask)
	}
	cont := func(fin bool, s string) []byte {
		return clientFrame(fin, ws.OpContinuation, []byte(s), testMask)
	}
	closeFrame := func(s string) []byte {
		return clientFrame(true, ws.OpClose, []byte(s), testMask)
	}
	bin := func(n int) []byte {
		return clientFrame(true, ws.OpBinary, bytes.Repeat([]byte{0xa5}, n), [4]byte{1, 2, 3, 4})
	}
	seed := func(in []byte, chunk, maxMessage uint16) []any {
		return []any{in, uint64(len(in)), chunk, maxMessage}
	}
	return map[string][]any{
		"text":                seed(text(true, "Hello, world"), 0, 0),
		"text-chunked":        seed(text(true, "Hello, world"), 5, 0),
		"empty-text":          seed(text(true, ""), 0, 0),
		"binary-16bit":        seed(bin(300), 7, 0),
		"binary-64bit":        seed(bin(66000)[:300], 100, 0), // the header, a little payload
		"fragmented":          seed(cat(text(false, "He"), clientFrame(true, ws.OpPing, []byte("p"), testMask), cont(false, "ll"), cont(false, ""), cont(true, "o")), 1, 0),
		"empty-fragments":     seed(cat(clientFrame(false, ws.OpBinary, nil, testMask), cont(false, ""), cont(true, "")), 0, 0),
		"control":             seed(cat(clientFrame(true, ws.OpPing, []byte("ping"), testMask), clientFrame(true, ws.OpPong, nil, testMask), closeFrame("\x03\xe8bye")), 0, 0),
		"close-empty":         seed(closeFrame(""), 0, 0),
		"close-1byte":         seed(closeFrame("\x03"), 0, 0),
		"close-1005":          seed(closeFrame("\x03\xed"), 0, 0),
		"close-999":           seed(closeFrame("\x03\xe7"), 0, 0),
		"close-5000":          seed(closeFrame("\x13\x88"), 0, 0),
		"close-4999":          seed(closeFrame("\x13\x87private"), 0, 0),
		"close-bad-utf8":      seed(closeFrame("\x03\xe8\xed\xa0\x80"), 0, 0),
		"utf8-split-frames":   seed(cat(text(false, "\xf0\x9f"), cont(false, "\x98"), cont(true, "\x80")), 1, 0),
		"utf8-bad-split":      seed(cat(text(false, "\xce\xba\xf4"), cont(true, "\x90\x80\x80")), 2, 0),
		"utf8-bad-fragment":   seed(cat(text(false, "\xce\xba\xe1\xbd\xb9"), cont(false, "\xed\xa0\x80"), cont(true, "x")), 0, 0),
		"utf8-cut-at-end":     seed(text(true, "ab\xe2\x82"), 0, 0),
		"unmasked":            seed(rawFrame(true, 0, ws.OpText, false, 2, []byte("hi"), testMask), 0, 0),
		"rsv":                 seed(rawFrame(true, 4, ws.OpText, true, 2, []byte("hi"), testMask), 0, 0),
		"reserved-opcode":     seed(rawFrame(true, 0, 0xb, true, 0, nil, testMask), 0, 0),
		"ping-126":            seed(clientFrame(true, ws.OpPing, make([]byte, 126), testMask), 0, 0),
		"ping-fragmented":     seed(rawFrame(false, 0, ws.OpPing, true, 0, nil, testMask), 0, 0),
		"continuation-alone":  seed(cont(true, "x"), 0, 0),
		"text-in-fragmented":  seed(cat(text(false, "a"), text(true, "b")), 0, 0),
		"length-top-bit":      seed(rawFrame(true, 0, ws.OpBinary, true, 1<<63, nil, testMask), 0, 0),
		"too-big-header":      seed(rawFrame(true, 0, ws.OpBinary, true, 1<<40, nil, testMask), 0, 1000),
		"too-big-fragments":   seed(cat(text(false, "12345"), cont(false, "12345"), cont(true, "1")), 3, 10),
		"truncated":           seed(bin(300)[:150], 0, 0),
		"many-messages":       seed(cat(text(true, "one"), bin(3), text(true, "three"), closeFrame("\x03\xe8")), 2, 16),
		"text-after-close-ok": seed(cat(closeFrame(""), text(true, "late")), 0, 0),
	}
}
