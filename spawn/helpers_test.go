package spawn

import (
	"bytes"
	"testing"
	"time"
)

// echo writes line to p's stdin and waits for it to come back on stdout.
func echo(t *testing.T, n chanNotifier, p *Process, line string) {
	t.Helper()
	if _, err := p.WriteStdin([]byte(line + "\n")); err != nil {
		t.Fatalf("pid %d: write: %v", p.Pid, err)
	}
	var got bytes.Buffer
	buf := make([]byte, 256)
	await(t, n, p, "echo of "+line, func(uint32) bool {
		for {
			k, err := p.ReadStdout(buf)
			got.Write(buf[:k])
			if err != nil {
				return got.String() == line+"\n"
			}
		}
	})
}

// waitTick is the pause between polls of a state that has no event.
func waitTick() { time.Sleep(time.Millisecond) }
