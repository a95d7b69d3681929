package bench

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// holder is a `wsbench hold --announce` process keeping connections open
// for the suite's capacity phase.
//
// Why a process of its own: the open rate at each level is probed from the
// suite's process, and it must measure the daemon, not the prober. Holding
// thousands of connections in the prober made it slower as the level rose
// (its heap, its GC, its epoll set), whichever daemon it faced; from a
// separate process the holding costs the prober nothing.
type holder struct {
	lineProc
	stderr bytes.Buffer
}

// startHolder opens n connections to url from a new holder process and
// returns once they are open, with how many are.
func startHolder(ctx context.Context, url string, n int) (*holder, int, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, 0, err
	}
	h := &holder{}
	h.cmd = exec.Command(exe, "hold", "--conns", strconv.Itoa(n), "--concurrency", "100",
		"--duration", "30m", "--check=false", "--quiet", "--announce", url)
	h.cmd.Stderr = &h.stderr
	held, err := h.start(nil)
	if err != nil {
		return nil, 0, err
	}
	select {
	case line := <-held:
		if k, ok := strings.CutPrefix(strings.TrimSpace(line), "held "); ok {
			if v, err := strconv.Atoi(k); err == nil {
				return h, v, nil
			}
		}
		<-h.done
		return nil, 0, fmt.Errorf("holder: %s", strings.TrimSpace(h.stderr.String()))
	case <-ctx.Done():
		h.stop()
		return nil, 0, ctx.Err()
	}
}

// stop releases the connections: the holder ends when its stdin does.
func (h *holder) stop() {
	_ = h.stdin.Close()
	select {
	case <-h.done:
	case <-time.After(20 * time.Second):
		_ = h.cmd.Process.Kill()
		<-h.done
	}
}
