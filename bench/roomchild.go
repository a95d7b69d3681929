package bench

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"time"
)

// roomChildMain is `wsbench room-child`: the producer of the room
// scenarios. Run by wsplex --broadcast as the room's COMMAND it writes room
// lines (roomline.go) to stdout and reads control lines from stdin; with
// --connect it does the same over a TCP connection instead (the websocketd
// recipe: it is one more client of the chat relay). It ends when its input
// ends (the room's last client left, or the relay went away), or on
// SIGTERM (ctx).
//
// Lines are due at start + k/rate and are written in batches of all that
// are due, so a high rate costs one write per timer tick, not per line.
func roomChildMain(ctx context.Context, args []string) int {
	fs := flag.NewFlagSet("wsbench room-child", flag.ContinueOnError)
	rate := fs.Float64("rate", 10, "lines per second until a control line changes it (0: none)")
	size := fs.Int("size", 100, "bytes per line, without the newline (at least what the numbers need)")
	connect := fs.String("connect", "", "HOST:PORT: write to and read from this TCP server instead of stdout/stdin")
	if err := fs.Parse(args); err != nil {
		return ExitUsage
	}
	if !(*rate >= 0) || *rate > 1e7 {
		fmt.Fprintln(os.Stderr, "room-child: --rate must be between 0 and 1e7")
		return ExitUsage
	}
	var in io.Reader = os.Stdin
	var out io.Writer = os.Stdout
	if *connect != "" {
		c, err := net.Dial("tcp", *connect)
		if err != nil {
			fmt.Fprintln(os.Stderr, "room-child:", err)
			return ExitFatal
		}
		in, out = c, c
	}
	type control struct {
		phase int
		rate  float64
	}
	ctl := make(chan control, 16)
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(in)
		for sc.Scan() {
			if ph, r, ok := ParseRoomControl(sc.Bytes()); ok {
				ctl <- control{ph, r}
			}
		}
	}()
	const maxBatch = 1000 // lines per write when behind
	var (
		seq    uint64
		phase  int
		buf    []byte
		start  = time.Now()
		k      int64 // lines written since start at this rate
		period time.Duration
	)
	setRate := func(r float64) {
		start, k, period = time.Now(), 0, 0
		if r > 0 {
			period = time.Duration(float64(time.Second) / r)
		}
	}
	setRate(*rate)
	timer := time.NewTimer(time.Hour)
	for {
		var wait <-chan time.Time
		if period > 0 {
			due := start.Add(time.Duration(k) * period)
			if d := time.Until(due); d > 0 {
				timer.Reset(d)
				wait = timer.C
			} else {
				buf = buf[:0]
				for n := 0; n < maxBatch && !due.After(time.Now()); n++ {
					buf = AppendRoomLine(buf, seq, due.UnixNano(), phase, *size)
					buf = append(buf, '\n')
					seq++
					k++
					due = start.Add(time.Duration(k) * period)
				}
				if _, err := out.Write(buf); err != nil {
					return ExitOK // the reader is gone
				}
				continue
			}
		}
		select {
		case <-wait:
		case c := <-ctl:
			timer.Stop()
			phase = c.phase
			setRate(c.rate)
		case <-done:
			return ExitOK
		case <-ctx.Done():
			return ExitOK
		}
	}
}
