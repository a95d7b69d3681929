package bench

import (
	"bytes"
	"fmt"
	"strconv"
)

// Room lines are what the room child (roomchild.go) writes and what the
// room scenario's clients receive, one line per message:
//
//	"<seq> <sendtime-ns> <phase> <padding>"
//
// exactly size bytes before the '\n' (longer if the numbers do not fit).
// The send time is wall-clock (CLOCK_REALTIME) nanoseconds, since the child
// is another process, and it is the line's due time, not the moment it was
// written: a child held up by a full pipe or socket shows as delivery
// latency instead of quietly sending later (as in the open-loop latency
// scenario). The phase is the rate step the line belongs to, set by the
// control lines below, so a client can keep one histogram per step without
// knowing when the child changed its rate. Padding is derived from seq, as
// for echo payloads, so corruption is caught.
//
// Control lines go the other way, from one client to the child (wsplex
// --broadcast writes a client's message to the child's stdin; the chat
// relay of the websocketd recipe relays it to every other connection, the
// producer included):
//
//	"rate <phase> <lines-per-second>"
//
// A rate of 0 stops the output (the end of a run).

// AppendRoomLine appends a room line (without its '\n') to dst.
func AppendRoomLine(dst []byte, seq uint64, ns int64, phase int, size int) []byte {
	start := len(dst)
	dst = strconv.AppendUint(dst, seq, 10)
	dst = append(dst, ' ')
	dst = strconv.AppendInt(dst, ns, 10)
	dst = append(dst, ' ')
	dst = strconv.AppendInt(dst, int64(phase), 10)
	dst = append(dst, ' ')
	for i := 0; len(dst)-start < size || i == 0; i++ {
		dst = append(dst, padChar(seq, i))
	}
	return dst
}

// ParseRoomLine decodes a room line (a trailing "\n" or "\r\n" is allowed).
// ok is false when it is not one or its padding does not match its seq.
func ParseRoomLine(p []byte) (seq uint64, ns int64, phase int, ok bool) {
	p = bytes.TrimRight(p, "\r\n")
	var f [3][]byte
	rest := p
	for i := range f {
		j := bytes.IndexByte(rest, ' ')
		if j <= 0 {
			return 0, 0, 0, false
		}
		f[i], rest = rest[:j], rest[j+1:]
	}
	var err error
	if seq, err = strconv.ParseUint(string(f[0]), 10, 64); err != nil {
		return 0, 0, 0, false
	}
	if ns, err = strconv.ParseInt(string(f[1]), 10, 64); err != nil {
		return 0, 0, 0, false
	}
	ph, err := strconv.Atoi(string(f[2]))
	if err != nil || ph < 0 {
		return 0, 0, 0, false
	}
	if len(rest) == 0 {
		return 0, 0, 0, false
	}
	for i, c := range rest {
		if c != padChar(seq, i) {
			return seq, ns, ph, false
		}
	}
	return seq, ns, ph, true
}

// AppendRoomControl appends the control line setting phase and rate
// (without '\n': a WebSocket message becomes one line).
func AppendRoomControl(dst []byte, phase int, rate float64) []byte {
	return fmt.Appendf(dst, "rate %d %s", phase, strconv.FormatFloat(rate, 'g', -1, 64))
}

// ParseRoomControl decodes a control line; ok is false for anything else.
func ParseRoomControl(p []byte) (phase int, rate float64, ok bool) {
	f := bytes.Fields(p)
	if len(f) != 3 || string(f[0]) != "rate" {
		return 0, 0, false
	}
	phase, err := strconv.Atoi(string(f[1]))
	if err != nil || phase < 0 {
		return 0, 0, false
	}
	rate, err = strconv.ParseFloat(string(f[2]), 64)
	if err != nil || !(rate >= 0 && rate <= 1e7) {
		return 0, 0, false
	}
	return phase, rate, true
}
