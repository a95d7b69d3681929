package bench

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"time"
)

// echoBackendMain is `wsbench echo-backend`: the TCP echo server behind the
// backend scenarios (wsplex --backend=tcp://..., and websocketd running
// `nc HOST PORT` per client), in a process of its own so that neither
// daemon's figures include it and it has its own fd limit. It prints
// "listening <port>" once it listens and serves until its stdin ends (or
// SIGTERM).
//
// Bytes are echoed as they come, so a line comes back as the same line.
// One goroutine and a 4 KiB buffer per connection: it only has to be
// cheaper than what it serves, not the subject of the measurement.
func echoBackendMain(ctx context.Context, args []string) int {
	fs := flag.NewFlagSet("wsbench echo-backend", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:0", "address to listen on")
	if err := fs.Parse(args); err != nil {
		return ExitUsage
	}
	RaiseFileLimit()
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintln(os.Stderr, "echo-backend:", err)
		return ExitFatal
	}
	fmt.Printf("listening %d\n", ln.Addr().(*net.TCPAddr).Port)
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		os.Exit(0)
	}()
	go func() {
		<-ctx.Done() // SIGTERM
		os.Exit(0)
	}()
	for {
		c, err := ln.Accept()
		if err != nil {
			// EMFILE and the like: back off a little rather than spin;
			// the client sees a connection that is not answered.
			time.Sleep(10 * time.Millisecond)
			continue
		}
		go func() {
			defer c.Close()
			buf := make([]byte, 4096)
			for {
				n, err := c.Read(buf)
				if n > 0 {
					if _, werr := c.Write(buf[:n]); werr != nil {
						return
					}
				}
				if err != nil {
					return
				}
			}
		}()
	}
}
