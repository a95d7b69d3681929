package engine

import (
	"sync/atomic"

	"github.com/gobwas/ws"
)

// A room's output is one append-only linked list of immutable nodes, each
// one WebSocket frame encoded once (a whole message: a line, a read in
// --binary, an envelope's "data") and shared by every client of the room.
// The room's loop appends; each client holds a cursor, the last node it
// has written, on its own loop. Nothing is ever freed explicitly: a node
// is garbage once every cursor (and the list's head) has passed it, so the
// memory of a room is the frames between its slowest cursor and the tail,
// bounded by --broadcast-queue per client, never clients x messages.
//
// Publication is the atomic store of next (and of the room's tail): a
// node's fields are written before it is linked, and never after, which
// is what lets the clients' loops read it without a lock.

// ctlKind says what a node asks of the clients that reach it, other than
// writing its frame.
type ctlKind uint8

const (
	ctlNone  ctlKind = iota
	ctlClose         // --envelope=json {"close":...}: close the client named in to
	ctlEnd           // the child has ended: close every client with code/reason
)

type frameNode struct {
	frame []byte   // the encoded frame; nil for a control node
	end   uint64   // bytes of frames in the list up to and including this one
	born  int64    // when its line was read from the child (ns since Engine.started, monotonic)
	to    []string // nil: every client; else only these client ids
	ctl   ctlKind
	code  ws.StatusCode // ctlClose, ctlEnd
	cause string        // ctlClose, ctlEnd: the close frame's reason
	next  atomic.Pointer[frameNode]
}

// forClient reports whether the node concerns the client id.
func (n *frameNode) forClient(id string) bool {
	if n.to == nil {
		return true
	}
	for _, t := range n.to {
		if t == id {
			return true
		}
	}
	return false
}

// frameList is the list: push on the room's loop, tail read anywhere.
type frameList struct {
	last *frameNode // the room's loop's view of the tail
	tail atomic.Pointer[frameNode]
}

func newFrameList() *frameList {
	l := &frameList{last: &frameNode{}}
	l.tail.Store(l.last)
	return l
}

// push links n after the tail (room's loop only).
func (l *frameList) push(n *frameNode) {
	n.end = l.last.end + uint64(len(n.frame))
	l.last.next.Store(n)
	l.last = n
	l.tail.Store(n)
}

// Tail is the newest node: where a client that joins now starts (it gets
// what is appended after).
func (l *frameList) Tail() *frameNode { return l.tail.Load() }
