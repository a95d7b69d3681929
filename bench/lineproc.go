package bench

import (
	"bufio"
	"io"
	"os/exec"
)

// lineProc is a helper process of the suite's (a connection holder, an
// echo backend, a room producer): its stdin is its lifeline, closed to end
// it, and its first line on stdout says it is ready ("held <n>",
// "listening <port>"); the rest of its stdout is discarded.
type lineProc struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	done  chan struct{} // closed once it has exited (and after has run)
}

// start starts p.cmd. The channel gets its first stdout line ("" if it
// ends without one); after, if not nil, runs once it has exited.
func (p *lineProc) start(after func()) (<-chan string, error) {
	var err error
	if p.stdin, err = p.cmd.StdinPipe(); err != nil {
		return nil, err
	}
	out, err := p.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := p.cmd.Start(); err != nil {
		return nil, err
	}
	p.done = make(chan struct{})
	first := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(out).ReadString('\n')
		first <- line
		_, _ = io.Copy(io.Discard, out)
		_ = p.cmd.Wait()
		if after != nil {
			after()
		}
		close(p.done)
	}()
	return first, nil
}
