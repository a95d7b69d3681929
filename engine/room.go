package engine

import (
	"errors"
	"os"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/gobwas/ws"

	"github.com/wsplex/wsplex/codec"
	"github.com/wsplex/wsplex/internal/logline"
	"github.com/wsplex/wsplex/reactor"
	"github.com/wsplex/wsplex/spawn"
)

// --broadcast: the clients of one route share one child, a room.
//
// A room is its child, on the loop of the client that made the room (its
// pipes and exit are watched there, as a connection's child is on its
// connection's loop), and its clients, each on its own loop: a room spans
// loops. What crosses from one loop to another goes by Loop.Post, and only
// in batches: the room posts one "deliver" task per loop that has clients
// of the room after a read of the child's output (coalesced by a flag, not
// one per client or per frame), and a client posts whole messages to the
// room's loop. The registry of rooms (by route) has a mutex: rooms are
// made and ended rarely, clients join and leave at most once each.
//
// Output: each line (each read with --binary; each envelope line) becomes
// one frame, encoded once, appended to the room's frame list
// (room_frames.go); every client writes from its own cursor in that list
// to its socket on its own loop, only what the socket takes (member.pump
// in endpoint_room.go). The child is never paused for a client: a client
// more than --broadcast-queue bytes behind is closed (1008 "slow
// consumer") or, with --slow=drop, skips to the newest message.
//
// Input: a client's message goes whole (copied) to a queue of the room
// that its loop writes to the child's stdin, so messages of several
// clients never interleave inside a line. The queue is bounded
// (roomStdinQueue): a client whose message fills it is paused (its
// endpoint's input reports more=false, TCP holds it back) until the child
// has read half of it.
//
// Life: the child starts with the first client, with the daemon-level
// environment plus ROOM (the URL path), SCRIPT_NAME and PATH_INFO, and no
// client's variables. When the last client leaves, after
// --broadcast-linger, the child's stdin is closed and the termination
// ladder runs; a client that comes during the linger keeps the room. If
// the child exits while clients are connected, each gets what it wrote and
// then the close frame with its exit status (exitClose), and the room is
// gone: the next client starts a new child.

// roomStdinQueue bounds the clients' messages a room holds for a child
// that is not reading them; over it, the clients that send are paused.
const roomStdinQueue = 1 << 20

// roomWriteBatch bounds what one client writes from the shared frames per
// writev. What the socket does not take stays in the shared list, but for
// the rest of a frame it took part of, copied into the socket's queue: a
// slow client holds at most one frame of its own.
const roomWriteBatch = 64 << 10

// maxRoomLine: a line of the child longer than this without a newline is
// sent as a message of its own (a room's messages are whole frames).
const maxRoomLine = 1 << 20

// DefaultBroadcastQueue is --broadcast-queue's default.
const DefaultBroadcastQueue = 1 << 20

// roomRegistry is the engine's rooms. byKey holds the rooms clients may
// join; all holds every room whose child is not released yet (those on
// their ladder too), for the shutdown's drain and sweep.
type roomRegistry struct {
	mu    sync.Mutex
	byKey map[string]*room
	all   map[*room]struct{}
}

func (g *roomRegistry) live() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.all)
}

// roomLoop is a room's presence on one loop: its clients there (touched on
// that loop only) and the flag that coalesces deliveries to them.
type roomLoop struct {
	loop    *reactor.Loop
	members map[*member]struct{}
	n       atomic.Int32 // len(members), for the room's loop
	posted  atomic.Bool  // a deliver task is queued on loop
	deliver func()
	e       *Engine
	count   int // messages written since the last flushCount
}

func (rl *roomLoop) run() {
	rl.posted.Store(false)
	for m := range rl.members {
		m.pumpFrames()
	}
	rl.flushCount()
}

// flushCount adds what this loop's clients of the room were written to the
// counters at once: one atomic add per delivery round, not per client.
func (rl *roomLoop) flushCount() {
	if rl.count > 0 {
		rl.e.metrics.roomDeliveries.Add(float64(rl.count))
		rl.e.metrics.msgsOut.Add(float64(rl.count))
		rl.count = 0
	}
}

type room struct {
	e      *Engine
	key    string
	path   string
	loop   *reactor.Loop
	fields logline.Fields
	frames *frameList
	loops  []roomLoop // by loop ID

	// Guarded by e.rooms.mu.
	clients int
	over    bool // no longer in byKey: nobody joins any more

	// The child's start, reported to clients that joined before it.
	startMu   sync.Mutex
	startDone bool
	startErr  error
	pid       int // the child's, for the clients' log lines
	waiting   []*member

	// Fan-in: whole messages for the child's stdin, guarded by inMu.
	inMu      sync.Mutex
	inQ       [][]byte
	inBytes   int  // queued here and in stdinQ, not yet taken by the pipe
	inPosted  bool // a flushIn task is queued on the room's loop
	inClosed  bool // the child takes no input any more: dropped
	inWaiters []*member

	// The room's loop only.
	ch       child // the room's process (child.go)
	stdinQ   [][]byte
	outLine  []byte
	errLine  []byte
	pushed   bool          // frames appended since the last schedule
	timer    reactor.Timer // the end of the linger
	timerSet bool
	lingerAt time.Time
}

// roomKey is the route of an upgrade: the program and the URL path (with
// --dir, the path names both the script and its PATH_INFO).
func roomKey(script, path string) string { return script + "\x00" + path }

// joinRoom finds the room of c's route, or makes it (and starts its
// child), and reserves c's place in it. It runs at the upgrade, on c's
// loop, before the 101: refusal is the log line of a 429 (the room is
// full, or a new room would pass --maxforks).
func (e *Engine) joinRoom(c *conn, rt *route, path string) (m *member, refusal string) {
	g := &e.rooms
	key := roomKey(rt.script, path)
	g.mu.Lock()
	r := g.byKey[key]
	if r != nil && e.cfg.RoomMax > 0 && r.clients >= e.cfg.RoomMax {
		g.mu.Unlock()
		return nil, "Room " + path + " is full (--room-max=" + itoa(e.cfg.RoomMax) + "), upgrade rejected"
	}
	created := r == nil
	if created {
		if e.cfg.MaxForks > 0 && e.children.Load() >= int64(e.cfg.MaxForks) {
			g.mu.Unlock()
			return nil, "Max of possible forks already active, upgrade rejected"
		}
		r = e.newRoom(c, rt.script, key, path)
		if g.byKey == nil {
			g.byKey, g.all = make(map[string]*room), make(map[*room]struct{})
		}
		g.byKey[key] = r
		g.all[r] = struct{}{}
		// The slot (--maxforks) and the fds are the child's from now on.
		r.ch.charge()
	}
	r.clients++
	e.metrics.roomClients.Observe(float64(r.clients))
	m = &member{r: r, c: c, at: r.frames.Tail(), rl: &r.loops[c.loop.ID()]}
	g.mu.Unlock()
	if created {
		e.metrics.rooms.Inc()
		r.start(rt)
	}
	return m, ""
}

func (e *Engine) newRoom(c *conn, script, key, path string) *room {
	r := &room{e: e, key: key, path: path, loop: c.loop, frames: newFrameList()}
	r.fields = logline.Fields{URL: c.fields.URL, Command: script}
	r.ch.init(e, c.loop, r, &r.fields)
	loops := e.group.Loops()
	r.loops = make([]roomLoop, len(loops))
	for i, l := range loops {
		rl := &r.loops[i]
		rl.loop, rl.members, rl.e = l, make(map[*member]struct{}), e
		rl.deliver = rl.run
	}
	return r
}

// start spawns the room's child, without the loop waiting for it
// (childStarted follows on the room's loop). Its environment is the
// daemon's, not a client's.
func (r *room) start(rt *route) {
	e := r.e
	env := []string{"SERVER_SOFTWARE=" + cleanValue(e.cfg.ServerSoftware)}
	for _, name := range e.cfg.PassEnv {
		if v := os.Getenv(name); v != "" {
			env = append(env, name+"="+cleanValue(v))
		}
	}
	env = append(env, "ROOM="+cleanValue(r.path), "SCRIPT_NAME="+rt.scriptName, "PATH_INFO="+cleanValue(rt.pathInfo))
	argv := append([]string{rt.script}, e.cfg.Args...)
	r.ch.spawnAsync(spawn.Spec{Path: rt.script, Args: argv, Env: env})
}

// childStarted: the child runs (or could not start); the clients that
// joined meanwhile are told.
func (r *room) childStarted(err error) {
	e := r.e
	if err != nil {
		e.log.Log(logline.LevelError, "process", &r.fields, "Room %s: could not launch process %s: %v", r.path, r.fields.Command, err)
		r.unlist()
		r.dropInput()
		r.reportStart(&endpointError{Code: ws.StatusInternalServerError, Reason: startReason(err)})
		r.release()
		return
	}
	e.log.Log(logline.LevelAccess, "session", &r.fields, "Room %s: process started", r.path)
	r.reportStart(nil)
	r.writeStdin()
	r.idle(false) // every client may have left while it started
}

func (r *room) reportStart(err error) {
	r.startMu.Lock()
	r.startDone, r.startErr = true, err
	if r.ch.proc != nil {
		r.pid = r.ch.proc.Pid
	}
	waiting := r.waiting
	r.waiting = nil
	r.startMu.Unlock()
	for _, m := range waiting {
		m.c.loop.Post(func() { m.begin(err) })
	}
}

// childOutput: the child's output becomes frames for the room, then one
// deliver task per loop with clients. The child is never paused.
func (r *room) childOutput(st stream, data []byte) bool {
	if st == streamOut {
		r.fromStdout(data)
	} else {
		r.fromStderr(data)
	}
	r.schedule()
	return false
}

func (r *room) childStdin()    { r.writeStdin() }
func (r *room) childReleased() { r.release() }

func (r *room) now() int64 { return int64(time.Since(r.e.started)) }

func (r *room) fromStdout(data []byte) {
	cfg := &r.e.cfg
	if cfg.Binary {
		r.push(&frameNode{frame: codec.AppendFrame(nil, true, ws.OpBinary, data)})
		return
	}
	r.outLine = cutLines(r.outLine, data, func(line []byte, _ bool) { r.stdoutLine(line) })
	if len(r.outLine) >= maxRoomLine {
		r.stdoutLine(r.outLine)
		r.outLine = nil
	}
}

// stdoutLine is one line of the child's stdout, by mode.
func (r *room) stdoutLine(line []byte) {
	cfg := &r.e.cfg
	switch {
	case cfg.Envelope != "":
		r.envelopeLine(line)
	case cfg.PassStderr:
		r.push(&frameNode{frame: codec.AppendFrame(nil, true, ws.OpText, codec.AppendStreamJSON(nil, "stdout", line))})
	default:
		r.pushText(nil, line)
	}
}

func (r *room) pushText(to []string, line []byte) {
	if !utf8.Valid(line) {
		line = codec.AppendValidUTF8(nil, line)
	}
	r.push(&frameNode{to: to, frame: codec.AppendFrame(make([]byte, 0, len(line)+10), true, ws.OpText, line)})
}

// envelopeLine is one output line of an --envelope=json child: a message
// for all, a message for some, or a close order. A line that is none of
// them is logged with the room and skipped.
func (r *room) envelopeLine(line []byte) {
	out, err := parseEnvelope(line)
	switch {
	case err != nil:
		r.e.metrics.envelopeInvalid.Inc()
		if len(line) > 200 {
			line = append(line[:200:200], "..."...)
		}
		r.e.log.Log(logline.LevelError, "process", &r.fields, "Room %s: invalid envelope line skipped (%v): %s", r.path, err, line)
	case out.closeID != "":
		r.push(&frameNode{to: []string{out.closeID}, ctl: ctlClose, code: out.code, cause: out.reason})
	case out.op == ws.OpBinary:
		r.push(&frameNode{to: out.to, frame: codec.AppendFrame(nil, true, ws.OpBinary, out.data)})
	default:
		r.pushText(out.to, out.data)
	}
}

func (r *room) fromStderr(data []byte) {
	cfg := &r.e.cfg
	toClients := cfg.PassStderr && !cfg.Binary && cfg.Envelope == ""
	r.errLine = cutLines(r.errLine, data, func(line []byte, _ bool) { r.stderrLine(line, toClients) })
	if len(r.errLine) >= maxLogLine {
		r.stderrLine(r.errLine, toClients)
		r.errLine = r.errLine[:0]
	}
}

func (r *room) stderrLine(line []byte, toClients bool) {
	r.e.log.Log(logline.LevelError, "stderr", &r.fields, "%s", line)
	if toClients {
		r.push(&frameNode{frame: codec.AppendFrame(nil, true, ws.OpText, codec.AppendStreamJSON(nil, "stderr", line))})
	}
}

func (r *room) push(n *frameNode) {
	n.born = r.now()
	r.frames.push(n)
	r.pushed = true
}

// schedule posts one deliver task to every loop that has clients of the
// room and none queued yet.
func (r *room) schedule() {
	if !r.pushed {
		return
	}
	r.pushed = false
	for i := range r.loops {
		rl := &r.loops[i]
		if rl.n.Load() > 0 && !rl.posted.Swap(true) {
			rl.loop.Post(rl.deliver)
		}
	}
}

// childExited: the child is reaped and its output read: the last partial
// line goes out, then every client gets the close frame with the exit
// status, and the room is no longer joined.
func (r *room) childExited(code ws.StatusCode, reason string) {
	if len(r.outLine) > 0 {
		r.stdoutLine(r.outLine)
	}
	if len(r.errLine) > 0 {
		r.stderrLine(r.errLine, false)
	}
	r.outLine, r.errLine = nil, nil
	r.dropInput()
	r.e.log.Log(logline.LevelAccess, "process", &r.fields, "Room %s: process %s", r.path, reason)
	// Unlisted before the end node is pushed: a client that joined before
	// has its cursor before the node; none joins after.
	r.unlist()
	r.push(&frameNode{ctl: ctlEnd, code: code, cause: reason})
	r.schedule()
}

// unlist takes the room out of byKey: the next client of the route makes
// a new room.
func (r *room) unlist() {
	g := &r.e.rooms
	g.mu.Lock()
	r.over = true
	if g.byKey[r.key] == r {
		delete(g.byKey, r.key)
	}
	g.mu.Unlock()
}

// release: nothing of the room's child is left.
func (r *room) release() {
	g := &r.e.rooms
	g.mu.Lock()
	_, had := g.all[r]
	delete(g.all, r)
	g.mu.Unlock()
	if !had {
		return
	}
	r.lingerAt = time.Time{}
	if r.timerSet {
		r.timer.Stop()
	}
	r.e.metrics.rooms.Dec()
	r.e.roomGone()
}

// left: a client of the room has gone (on the room's loop).
func (r *room) left(last bool) {
	if last {
		r.idle(false)
	}
}

// idle ends a room that has no clients: at once, or after
// --broadcast-linger (fromTimer: the linger is over). A client that joins
// meanwhile keeps it.
func (r *room) idle(fromTimer bool) {
	if r.ch.life != lifeRunning {
		return // starting (childStarted calls again), or ending already
	}
	e := r.e
	linger := e.cfg.BroadcastLinger
	if e.isShutting() {
		linger = 0
	}
	g := &e.rooms
	g.mu.Lock()
	if r.clients > 0 || r.over {
		g.mu.Unlock()
		r.lingerAt = time.Time{} // a client came during the linger: the room stays
		return
	}
	now := time.Now()
	if linger > 0 {
		if !fromTimer {
			r.lingerAt = now.Add(linger)
		}
		if now.Before(r.lingerAt) {
			g.mu.Unlock()
			r.arm()
			return
		}
	}
	r.over = true
	if g.byKey[r.key] == r {
		delete(g.byKey, r.key)
	}
	g.mu.Unlock()
	r.lingerAt = time.Time{}
	e.log.Log(logline.LevelDebug, "process", &r.fields, "Room %s: no clients left, ending its process", r.path)
	r.dropInput()
	r.ch.hangup()
}

// arm sets the room's timer to the end of the linger.
func (r *room) arm() {
	if !r.timerSet {
		if r.lingerAt.IsZero() {
			return
		}
		r.loop.InitTimer(&r.timer, r.onTimer)
		r.timerSet = true
	}
	if r.lingerAt.IsZero() {
		r.timer.Stop()
		return
	}
	r.timer.ResetAt(r.lingerAt)
}

// onTimer: the linger is over. The deadline is cleared before it is acted
// on, so that the timer is never re-armed at a past deadline.
func (r *room) onTimer() {
	if !r.lingerAt.IsZero() && !time.Now().Before(r.lingerAt) {
		r.lingerAt = time.Time{}
		r.idle(true)
	}
	r.arm()
}

// enqueue queues one whole message (or envelope line) for the child's
// stdin, on the client's loop. more=false: the queue is full, and m (when
// not nil) is told with inputResumed once the child has read half of it.
func (r *room) enqueue(m *member, line []byte) (more bool) {
	r.inMu.Lock()
	if r.inClosed {
		r.inMu.Unlock()
		return true // the child reads nothing more: dropped, as websocketd drops it
	}
	r.inQ = append(r.inQ, line)
	r.inBytes += len(line)
	full := r.inBytes >= roomStdinQueue
	if full && m != nil {
		r.inWaiters = append(r.inWaiters, m)
		r.e.metrics.roomInputPauses.Inc()
	}
	post := !r.inPosted
	r.inPosted = true
	r.inMu.Unlock()
	if post {
		r.loop.Post(r.flushIn)
	}
	return !full
}

// flushIn takes the queued messages to the room's loop and writes them.
func (r *room) flushIn() {
	r.inMu.Lock()
	q := r.inQ
	r.inQ = nil
	r.inPosted = false
	r.inMu.Unlock()
	r.stdinQ = append(r.stdinQ, q...)
	r.writeStdin()
}

// writeStdin writes what the pipe takes of the queue; EvStdin follows when
// it takes more.
func (r *room) writeStdin() {
	if r.ch.proc == nil || r.ch.life != lifeRunning || len(r.stdinQ) == 0 {
		return
	}
	written := 0
	for len(r.stdinQ) > 0 {
		iov := r.stdinQ[:min(len(r.stdinQ), maxIOV)]
		total := 0
		for _, b := range iov {
			total += len(b)
		}
		n, err := r.ch.proc.WriteStdin(iov...)
		if n > 0 {
			written += n
			r.stdinQ = dropFront(r.stdinQ, n)
		}
		if err != nil && !errors.Is(err, spawn.ErrWouldBlock) {
			r.e.log.Log(logline.LevelDebug, "process", &r.fields, "Room %s: input dropped: %v", r.path, err)
			r.dropInput()
			return
		}
		if n < total {
			break
		}
	}
	r.taken(written)
}

// dropFront drops the first n bytes of q.
func dropFront(q [][]byte, n int) [][]byte {
	for n > 0 && len(q) > 0 {
		if n < len(q[0]) {
			q[0] = q[0][n:]
			break
		}
		n -= len(q[0])
		q[0] = nil
		q = q[1:]
	}
	if len(q) == 0 {
		return nil
	}
	return q
}

// taken: the pipe took n bytes; paused clients resume once the queue is
// down to half.
func (r *room) taken(n int) {
	r.inMu.Lock()
	r.inBytes -= n
	var resume []*member
	if r.inBytes <= roomStdinQueue/2 {
		resume, r.inWaiters = r.inWaiters, nil
	}
	r.inMu.Unlock()
	resumeAll(resume)
}

// dropInput: the child takes no more input (its stdin closed, it ended).
func (r *room) dropInput() {
	r.inMu.Lock()
	r.inClosed = true
	r.inQ, r.inBytes = nil, 0
	resume := r.inWaiters
	r.inWaiters = nil
	r.inMu.Unlock()
	r.stdinQ = nil
	resumeAll(resume)
}

func resumeAll(ms []*member) {
	for _, m := range ms {
		m.c.loop.Post(m.inputResumed)
	}
}

// isShutting: the daemon is shutting down (rooms then do not linger).
func (e *Engine) isShutting() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.shutting
}

// roomGone: a room's child is released; shutdown may be waiting for it.
func (e *Engine) roomGone() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.checkDrained()
}

// sweepRooms: after the loops have stopped, the children rooms still hold
// are killed, reaped and released (a room with no clients left is in no
// connection's hands).
func (e *Engine) sweepRooms() []*spawn.Process {
	g := &e.rooms
	g.mu.Lock()
	defer g.mu.Unlock()
	var procs []*spawn.Process
	for r := range g.all {
		procs = r.ch.sweep(procs)
	}
	clear(g.all)
	clear(g.byKey)
	return procs
}
