// Command wsplex is a drop-in replacement for websocketd ("CGI for
// WebSockets"): same flags, same child environment, same log lines, same
// exit codes, served from a few epoll/kqueue event loops instead of a
// goroutine per connection and per pipe.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/wsplex/wsplex/engine"
	"github.com/wsplex/wsplex/internal/logline"
	"github.com/wsplex/wsplex/spawn"
)

func main() {
	spawn.MaybeRunSpawner() // the spawner process is this binary with a hidden first argument
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is main without os.Exit, so that deferred cleanup (the log flush)
// happens before the process ends.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "sign" {
		return runSign(args[1:], stdout, stderr)
	}
	cfg, code := parseArgs(args, stdout, stderr)
	if code != continueRun {
		return code
	}

	// The log goes to stdout. If stdout is a pipe whose reader went away,
	// a write to fd 1 raises SIGPIPE, which by default kills a Go program
	// (see os/signal). Asking for SIGPIPE turns that into an EPIPE error,
	// which the logger counts and survives. Notify, not Ignore: an ignored
	// signal stays ignored across exec, and the children must get the
	// default SIGPIPE behaviour (`yes | head` in a script must still end).
	signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)

	log := logline.NewLogger(stdout, cfg.LogLevel)
	defer func() {
		if err := log.Close(); err != nil {
			fmt.Fprintf(stderr, "wsplex: %v\n", err)
		}
	}()
	cfg.Log = log

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	err := engine.Run(ctx, cfg)
	if err == nil {
		return exitOK
	}
	var le *engine.ListenError
	if errors.As(err, &le) {
		// websocketd: log.Fatal("server", "Can't start server: %s", err);
		// os.Exit(3) -- a FATAL log line on stdout.
		log.Log(logline.LevelFatal, "server", nil, "Can't start server: %s", le.Err)
		return exitListen
	}
	fmt.Fprintf(stderr, "wsplex: %v\n", err)
	return exitInvalid
}
