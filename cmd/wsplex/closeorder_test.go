package main

// RFC 6455 5.5.1: once an endpoint has sent a close frame it sends no more
// data frames. The child's output can arrive at any moment, including just
// after our close frame, so these tests replay the cases that used to race
// many times, in every output mode, and parse every frame the daemon sends.

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"
)

// closeOrderRounds is how many times each case is replayed per mode. The
// race this guards against lost one round in a hundred or so.
const closeOrderRounds = 200

// TestCloseNothingAfterClose: `cat` behind the daemon, and a client that
// writes, in one write, data that cat echoes together with what ends the
// connection: a close frame, or a protocol error (answered with 1002). Cat's
// echo is written after our close frame is out; it must never reach the
// client after that frame (the policy in engine/doc.go: it is dropped).
func TestCloseNothingAfterClose(t *testing.T) {
	skipUnlessWsplex(t, "the close policy for late child output")
	modes := []struct {
		name string
		args []string
		op   byte // the opcode of the client's data messages
	}{
		{"text", nil, 0x1},
		{"binary", []string{"--binary"}, 0x2},
		{"passstderr", []string{"--passstderr"}, 0x1},
		{"pty", []string{"--pty"}, 0x2},
	}
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			d := startDaemon(t, append(m.args, lookPath(t, "cat"))...)
			closeFrame := rawFrame(true, 0, 0x8, true, closeBody(1000, ""))
			cases := []struct {
				name   string
				frames []byte
				want   ws.StatusCode
			}{
				{"message then close", cat(rawFrame(true, 0, m.op, true, []byte("Hello World")), closeFrame), ws.StatusNormalClosure},
				{"fragment then close", cat(rawFrame(false, 0, m.op, true, []byte("fragment1")), closeFrame), ws.StatusNormalClosure},
				{"fragment then new message", cat(rawFrame(false, 0, m.op, true, []byte("fragment1")), rawFrame(true, 0, m.op, true, []byte("x"))), ws.StatusProtocolError},
			}
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					var (
						wg   sync.WaitGroup
						mu   sync.Mutex
						errs []error
						work = make(chan int)
					)
					for range 8 {
						wg.Go(func() {
							for i := range work {
								if err := closeOrderRound(d, tc.frames, tc.want); err != nil {
									mu.Lock()
									errs = append(errs, fmt.Errorf("round %d: %w", i, err))
									mu.Unlock()
								}
							}
						})
					}
					for i := range closeOrderRounds {
						work <- i
					}
					close(work)
					wg.Wait()
					for i, err := range errs {
						if i == 5 {
							t.Errorf("... and %d more", len(errs)-5)
							break
						}
						t.Error(err)
					}
					if len(errs) > 0 {
						t.Errorf("%d of %d rounds broke the close order", len(errs), closeOrderRounds)
					}
				})
			}
		})
	}
}

func cat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// closeOrderRound upgrades, writes frames in one write, and reads every
// frame until the daemon closes the TCP connection. Any frame after the
// close frame is an error, and so is a close code other than want.
func closeOrderRound(d *daemon, frames []byte, want ws.StatusCode) error {
	conn, err := net.DialTimeout("tcp", d.addr, waitTimeout)
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(waitTimeout))
	if _, err := conn.Write([]byte(upgradeRequest("/", d.addr, ""))); err != nil {
		return fmt.Errorf("write the handshake: %v", err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return fmt.Errorf("read the handshake answer: %v", err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		return fmt.Errorf("handshake: HTTP %d", resp.StatusCode)
	}
	c := &wsClient{conn: conn, br: br}
	if _, err := conn.Write(frames); err != nil {
		return fmt.Errorf("write: %v", err)
	}
	deadline := time.Now().Add(waitTimeout)
	var closed *ws.Frame
	for {
		f, err := c.readFrame(time.Until(deadline))
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return fmt.Errorf("connection still open after %v", waitTimeout)
			}
			if closed == nil {
				return fmt.Errorf("connection ended without a close frame: %v", err)
			}
			return nil
		}
		if closed != nil {
			code, _ := ws.ParseCloseFrameData(closed.Payload)
			return fmt.Errorf("after close %d: frame op %#x fin=%v %q", code, f.Header.OpCode, f.Header.Fin, f.Payload)
		}
		if f.Header.OpCode == ws.OpClose {
			closed = &f
			if code, reason := ws.ParseCloseFrameData(f.Payload); code != want {
				return fmt.Errorf("close %d %q, want %d", code, reason, want)
			}
		}
	}
}
