package codec_test

import (
	"errors"
	"fmt"

	"github.com/gobwas/ws"
	"github.com/wsplex/wsplex/codec"
)

// The loop an event handler runs over the bytes a connection has received:
// head first, then frames, discarding exactly what each call consumed.
func Example() {
	in := []byte("GET /echo HTTP/1.1\r\n" +
		"Host: localhost\r\n" +
		"Upgrade: websocket\r\n" +
		"Connection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
		"Sec-WebSocket-Version: 13\r\n" +
		"\r\n" +
		// A masked text frame "Hello" sent right behind the head.
		"\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58")

	req, n, err := codec.ParseHead(in, 16<<10)
	if err != nil {
		return // ErrIncomplete: wait for more; otherwise answer and close
	}
	resp, _, err := codec.Upgrade(in[:n], codec.UpgradeOptions{})
	fmt.Printf("%s %s upgrade=%v: %q, %v\n", req.Method, req.Path, req.IsUpgrade(), resp[:32], err)
	in = in[n:] // the frame bytes stay

	d := codec.Decoder{MaxMessage: 1 << 20}
	for {
		ev, n, err := d.Next(in, 4096)
		var cerr *codec.CloseError
		if errors.As(err, &cerr) {
			fmt.Printf("close with %q\n", codec.AppendClose(nil, cerr.Code, cerr.Reason))
			return
		}
		in = in[n:] // always, whatever ev.Kind is
		if ev.Kind == codec.NeedMore {
			break
		}
		fmt.Printf("%v first=%v fin=%v %q\n", ev.Kind, ev.First, ev.Fin, ev.Payload)
	}

	fmt.Printf("%q\n", codec.AppendFrame(nil, true, ws.OpText, []byte("Hello")))
	// Output:
	// GET /echo upgrade=true: "HTTP/1.1 101 Switching Protocols", <nil>
	// Data first=true fin=true "Hello"
	// "\x81\x05Hello"
}

func ExampleAppendStreamJSON() {
	fmt.Printf("%s\n", codec.AppendStreamJSON(nil, "stderr", []byte("<b>oops</b> \xff")))
	// Output:
	// {"stream":"stderr","data":"\u003cb\u003eoops\u003c/b\u003e \ufffd"}
}
