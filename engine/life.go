package engine

// life is where a connection's child (endpoint_child.go) is in its life: one value
// instead of the flags it once was (starting, finished, laddering), so
// that every transition is one assignment and the impossible combinations
// cannot be written.
//
//	lifeNone         no child: before the upgrade, or none was started
//	                 (a --reverselookup start abandoned by a closed conn)
//	lifeStarting     asked for (spawn, the pool or the lookup first);
//	                 childStarted follows; the client's frames wait
//	lifeRunning      running, its output read and framed
//	lifeLaddering    the client has gone (or our close is out): the
//	                 termination ladder (spawn.Ladder) runs against it, its
//	                 output drained and dropped
//	lifeOrphans      it exited on its own while its client stays, and
//	                 what it started still runs: the ladder against its
//	                 process group waits for the client to go (hangup)
//	lifeGroupLadder  reaped, but what it started still runs: the ladder
//	                 goes on against its process group
//	lifeReaped       reaped and its output delivered, or it could not be
//	                 started: nothing of it is left
//
// The order is: None -> Starting -> Running -> (Laddering) -> Reaped, with
// GroupLadder between the last two when grandchildren outlive the child
// (Running -> Orphans -> GroupLadder when it exited first), and Starting
// -> Reaped when the start fails.
type life uint8

const (
	lifeNone life = iota
	lifeStarting
	lifeRunning
	lifeLaddering
	lifeOrphans
	lifeGroupLadder
	lifeReaped
)

// finished: the child is reaped and its output delivered (or it never ran).
func (l life) finished() bool { return l == lifeOrphans || l == lifeGroupLadder || l == lifeReaped }

// laddering: the termination ladder runs, against the child or its group.
func (l life) laddering() bool { return l == lifeLaddering || l == lifeGroupLadder }

func (l life) String() string {
	switch l {
	case lifeNone:
		return "none"
	case lifeStarting:
		return "starting"
	case lifeRunning:
		return "running"
	case lifeLaddering:
		return "laddering"
	case lifeOrphans:
		return "orphans"
	case lifeGroupLadder:
		return "group-ladder"
	case lifeReaped:
		return "reaped"
	}
	return "life?"
}
