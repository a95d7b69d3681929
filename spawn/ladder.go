package spawn

import (
	"time"

	"golang.org/x/sys/unix"
)

// Ladder is websocketd's termination sequence for a child whose client has
// gone, applied to the child's process group: close stdin, wait 100 ms,
// SIGINT, wait 250 ms, SIGTERM, wait 500 ms, SIGKILL; CloseExtra is added to
// every wait. A well-behaved child exits at end of input and never sees a
// signal.
//
// Ladder holds no timer: the owner calls Step when the previous wait is
// over (or at once, to begin) and arms its own timer for the returned wait,
// stopping as soon as Reap reports the child gone. That keeps the ladder
// testable without a clock and lets thousands of ladders share the owner's
// timers.
type Ladder struct {
	CloseExtra time.Duration
	rung       int
}

// Rungs, for the record of what a step did.
const (
	RungStdin = iota
	RungInt
	RungTerm
	RungKill
	RungDone
)

var ladderWaits = [...]time.Duration{100 * time.Millisecond, 250 * time.Millisecond, 500 * time.Millisecond}

// Step performs the next rung on p and returns how long to wait before the
// next one. done is true once SIGKILL has been sent: then only the exit
// event is left to wait for.
func (l *Ladder) Step(p *Process) (wait time.Duration, done bool) {
	switch l.rung {
	case RungStdin:
		p.CloseStdin()
	case RungInt:
		_ = p.Signal(unix.SIGINT)
	case RungTerm:
		_ = p.Signal(unix.SIGTERM)
	case RungKill:
		_ = p.Signal(unix.SIGKILL)
		l.rung = RungDone
		return 0, true
	default:
		return 0, true
	}
	wait = ladderWaits[l.rung] + l.CloseExtra
	l.rung++
	return wait, false
}

// Rung is the next rung Step will perform.
func (l *Ladder) Rung() int { return l.rung }
