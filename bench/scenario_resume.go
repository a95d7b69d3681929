package bench

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gobwas/ws"
	"golang.org/x/sys/unix"
)

func init() { register(func() Scenario { return &ResumeScenario{} }) }

// ResumeScenario measures how soon a server resumes a child it paused for a
// slow client, once the client drains. The server must run the child
// `wsbench resume-child` (or anything writing the same lines).
//
// Method. The child (resumeChildMain) writes lines as fast as its stdout
// takes them, each "<seq> <t> <pid> <padding>" where t is CLOCK_MONOTONIC in
// nanoseconds read just before the write(2): the line after a write that
// blocked carries the time the child got going again. The client reads the
// first line (to learn the child's pid), then stops reading. Every buffer on
// the way fills (the client's SO_RCVBUF, kept small with --rcvbuf, the
// server's socket buffer and its own outbound queue, the pipe), and a server
// with flow control stops reading the child, whose write(2) then blocks. The
// client sees that in /proc/<pid>/io: the child's write counter (wchar)
// unchanged for --still; it notes /proc/<pid>/task/*/wchan (pipe_write for
// a blocked pipe write). Then, on its loop, it reads the clock (t0) and
// resumes reading as fast as it can. The first line stamped after t0 is the
// child's first write after the drain began: resume = its stamp - t0, on the
// one clock both processes share. Server and child run on this machine
// (loopback targets only), so the child's pid and clock are ours to read.
//
// What the figure includes: the client reading the backlog the server had
// queued (bounded by the buffers above; backlog_kib says how much came
// before the first new line), the server noticing its socket drained and
// reading the pipe again, and the child's wake-up. A server that resumes on
// the socket's writable event starts the child while the backlog is still
// in the kernel, so resume can be shorter than the backlog's read time
// (arrival); a server that polls for the drain adds its polling period. The
// client then pauses again and the cycle repeats --cycles times.
type ResumeScenario struct {
	Cycles int
	Quiet  time.Duration
	RcvBuf int
}

func (s *ResumeScenario) Name() string { return "resume" }
func (s *ResumeScenario) Summary() string {
	return "a child paused by a slow client: time from the client draining to the child's next write (child: wsbench resume-child)"
}
func (s *ResumeScenario) Flags(fs *flag.FlagSet) {
	fs.IntVar(&s.Cycles, "cycles", 20, "pause/drain cycles")
	fs.DurationVar(&s.Quiet, "still", 100*time.Millisecond, "the child's write counter unchanged this long counts as paused")
	fs.IntVar(&s.RcvBuf, "rcvbuf", 64<<10, "client SO_RCVBUF, so the backlog the client must read first is small")
}
func (s *ResumeScenario) Validate() error {
	if s.Cycles < 1 {
		return fmt.Errorf("--cycles %d: at least 1", s.Cycles)
	}
	if s.Quiet <= 0 {
		return fmt.Errorf("--still %v: must be positive", s.Quiet)
	}
	return nil
}
func (s *ResumeScenario) Split(i, n int) {}

// resumeChildLine is the length of a child's line, newline included.
const resumeChildLine = 256

// resumeChildMain is `wsbench resume-child`: write stamped lines to stdout
// as fast as it takes them, until it fails (the server closed the pipe).
// It writes with write(2) directly so a full pipe blocks right there.
func resumeChildMain() int {
	pid := os.Getpid()
	buf := make([]byte, 0, resumeChildLine)
	fds := []unix.PollFd{{Fd: 1, Events: unix.POLLOUT}}
	for seq := uint64(0); ; seq++ {
		buf = strconv.AppendUint(buf[:0], seq, 10)
		buf = append(buf, ' ')
		buf = strconv.AppendInt(buf, monoClock(), 10)
		buf = append(buf, ' ')
		buf = strconv.AppendInt(buf, int64(pid), 10)
		buf = append(buf, ' ')
		for len(buf) < resumeChildLine-1 {
			buf = append(buf, 'x')
		}
		buf = append(buf, '\n')
		for off := 0; off < len(buf); {
			n, err := unix.Write(1, buf[off:])
			switch {
			case errors.Is(err, unix.EINTR):
			case errors.Is(err, unix.EAGAIN): // a non-blocking stdout: wait for room
				unix.Poll(fds, -1)
			case err != nil:
				return 0
			default:
				off += n
			}
		}
	}
}

// monoClock is CLOCK_MONOTONIC in nanoseconds: the clock the child stamps
// its lines with, shared by every process on the machine.
func monoClock() int64 {
	var ts unix.Timespec
	if unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts) != nil {
		return 0
	}
	return ts.Nano()
}

// parseResumeLine decodes "<seq> <t> <pid> ...".
func parseResumeLine(b []byte) (seq uint64, t int64, pid int, ok bool) {
	f := bytes.SplitN(b, []byte{' '}, 4)
	if len(f) < 4 {
		return 0, 0, 0, false
	}
	seq, err1 := strconv.ParseUint(string(f[0]), 10, 64)
	t, err2 := strconv.ParseInt(string(f[1]), 10, 64)
	p, err3 := strconv.Atoi(string(f[2]))
	return seq, t, p, err1 == nil && err2 == nil && err3 == nil
}

type resumeConn struct {
	base
	pid     chan int      // the child's pid, from its first line
	resumed chan struct{} // a cycle's first new line arrived
	c       *Conn
	next    uint64 // next expected seq
	started bool
	// A cycle, on the loop: draining from t0 until a line stamped after t0.
	draining bool
	t0       int64
	backlog  int64
	backlogs []float64 // KiB before the first new line, per cycle (read after resumed)
}

func (h *resumeConn) OnOpen(c *Conn) {
	h.open(c)
	h.c = c
	h.settle()
}

func (h *resumeConn) OnMessage(c *Conn, op ws.OpCode, data []byte) {
	h.r.NoteReceived()
	seq, t, pid, ok := parseResumeLine(data)
	if !ok {
		h.r.Corrupt.Add(1)
		return
	}
	switch {
	case seq > h.next:
		h.r.Lost.Add(int64(seq - h.next))
	case seq < h.next:
		h.r.Reordered.Add(1)
	}
	h.next = seq + 1
	if !h.started {
		h.started = true
		c.PauseRead()
		h.pid <- pid
		return
	}
	if !h.draining {
		return
	}
	if t <= h.t0 {
		h.backlog += int64(len(data)) + 1
		return
	}
	now := monoClock()
	h.draining = false
	c.PauseRead()
	at := time.Now()
	h.r.Rec("resume", c.loop).Record(at, time.Duration(t-h.t0))
	h.r.Rec("arrival", c.loop).Record(at, time.Duration(now-h.t0))
	h.backlogs = append(h.backlogs, float64(h.backlog)/1024)
	h.resumed <- struct{}{}
}

func (h *resumeConn) OnClose(c *Conn, err error) { h.closed(c, err) }

// drain starts a cycle on the connection's loop.
func (h *resumeConn) drain() {
	h.c.Loop().Post(func() {
		if !h.c.IsOpen() {
			return
		}
		h.draining, h.backlog = true, 0
		h.t0 = monoClock()
		h.c.ResumeRead()
	})
}

// procWchar reads a process's write counter (bytes passed to write(2)).
func procWchar(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/io", pid))
	if err != nil {
		return 0, err
	}
	for _, ln := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(ln, "wchar:"); ok {
			return strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		}
	}
	return 0, fmt.Errorf("no wchar in /proc/%d/io", pid)
}

// taskWchans lists where pid's threads sleep (/proc/<pid>/task/*/wchan):
// a child blocked on a full pipe shows pipe_write.
func taskWchans(pid int) string {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/wchan", pid))
	seen := map[string]bool{}
	var out []string
	for _, t := range tasks {
		if b, err := os.ReadFile(t); err == nil {
			if w := strings.TrimSpace(string(b)); !seen[w] {
				seen[w] = true
				out = append(out, w)
			}
		}
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}

// waitQuiet waits until pid's write counter has not moved for quiet,
// sampling every millisecond; false on timeout or when ctx ends.
func waitQuiet(ctx context.Context, pid int, quiet, timeout time.Duration) (bool, error) {
	deadline := time.Now().Add(timeout)
	last, err := procWchar(pid)
	if err != nil {
		return false, err
	}
	since := time.Now()
	for ctx.Err() == nil && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
		v, err := procWchar(pid)
		if err != nil {
			return false, err
		}
		if v != last {
			last, since = v, time.Now()
		} else if time.Since(since) >= quiet {
			return true, nil
		}
	}
	return false, ctx.Err()
}

func (s *ResumeScenario) Run(ctx context.Context, o *Options) (*Result, error) {
	o2 := *o
	o2.RcvBuf = s.RcvBuf
	o2.Loops = 1
	r, err := NewRun(s.Name(), &o2, map[string]any{"cycles": s.Cycles, "still": s.Quiet.String(), "rcvbuf": s.RcvBuf})
	if err != nil {
		return nil, err
	}
	r.Latency("resume", "arrival")
	h := &resumeConn{pid: make(chan int, 1), resumed: make(chan struct{}, 1)}
	r.openAll(ctx, 1, 1, func(b base) Handler { h.base = b; return h })
	if r.Opened.Load() == 0 {
		return fatal(r, r.FirstError())
	}
	var pid int
	select {
	case pid = <-h.pid:
	case <-time.After(10 * time.Second):
		return fatal(r, errors.New("resume: no line from the child in 10s (is the server running wsbench resume-child?)"))
	case <-ctx.Done():
		return fatal(r, ctx.Err())
	}
	if _, err := procWchar(pid); err != nil {
		return fatal(r, fmt.Errorf("resume: the child's write counter: %v (the server must run on this machine, on Linux)", err))
	}
	done, failed := 0, false
	for done < s.Cycles && !failed && ctx.Err() == nil {
		paused, err := waitQuiet(ctx, pid, s.Quiet, 10*time.Second)
		if err != nil || !paused {
			r.Note("cycle %d: the child was not paused within 10s (%v): the server buffers without bound or stopped", done+1, err)
			break
		}
		if done == 0 {
			r.Note("paused child's threads wait in: %s", taskWchans(pid))
		}
		h.drain()
		select {
		case <-h.resumed:
			done++
		case <-time.After(10 * time.Second):
			r.Note("cycle %d: no new line from the child 10s after the client drained", done+1)
			failed = true
		case <-ctx.Done():
		}
	}
	r.SetExtra("cycles_done", float64(done))
	r.end = time.Now()
	r.CloseAll(true, 2*time.Second)
	res := r.Finish()
	if len(h.backlogs) > 0 { // the loop has stopped: its slice is ours
		med, _, hi := median(h.backlogs)
		res.Extra["backlog_kib_median"] = med
		res.Extra["backlog_kib_max"] = hi
	}
	if done < s.Cycles {
		res.OK = false
	}
	return res, nil
}
