// Command wsbench is wsplex's load generator for WebSocket servers. The
// library behind it is github.com/wsplex/wsplex/bench; start at its package
// documentation.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/wsplex/wsplex/bench"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := bench.Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
