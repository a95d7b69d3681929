package bench

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strconv"
)

// Echo payloads carry their own sequence number and send time, so one
// received message is enough to check order, detect loss and measure latency
// without a table of in-flight messages.
//
// Text:   "<seq> <sendtime-ns> <padding>" exactly size bytes long (longer if
//         the numbers do not fit), padding derived from seq so corruption is
//         caught, and never a '\n': line-based servers split on it.
// Binary: fixed-size records [seq uint64][sendtime int64][pattern], so that
//         a byte-stream echo (which does not keep message boundaries) can be
//         re-cut into records and checked the same way.

// minTextSize is the smallest text payload that holds both numbers.
const minTextSize = 24

// AppendText appends a text echo payload to dst.
func AppendText(dst []byte, seq uint64, ns int64, size int) []byte {
	start := len(dst)
	dst = strconv.AppendUint(dst, seq, 10)
	dst = append(dst, ' ')
	dst = strconv.AppendInt(dst, ns, 10)
	dst = append(dst, ' ')
	for i := 0; len(dst)-start < size || i == 0; i++ {
		dst = append(dst, padChar(seq, i))
	}
	return dst
}

func padChar(seq uint64, i int) byte { return 'a' + byte((seq+uint64(i))%26) }

// ParseText decodes a text echo payload. ok is false when the payload is not
// one of ours or its padding does not match its sequence number (corrupt).
func ParseText(p []byte, size int) (seq uint64, ns int64, ok bool) {
	a := bytes.IndexByte(p, ' ')
	if a <= 0 {
		return 0, 0, false
	}
	b := bytes.IndexByte(p[a+1:], ' ')
	if b <= 0 {
		return 0, 0, false
	}
	b += a + 1
	var err error
	if seq, err = strconv.ParseUint(string(p[:a]), 10, 64); err != nil {
		return 0, 0, false
	}
	if ns, err = strconv.ParseInt(string(p[a+1:b]), 10, 64); err != nil {
		return 0, 0, false
	}
	pad := p[b+1:]
	if len(pad) == 0 || (size > 0 && len(p) != max(size, b+2)) {
		return seq, ns, false
	}
	for i, c := range pad {
		if c != padChar(seq, i) {
			return seq, ns, false
		}
	}
	return seq, ns, true
}

// minRecord is the smallest binary record: the two numbers.
const minRecord = 16

// AppendRecord appends a binary echo record of size bytes (at least 16).
func AppendRecord(dst []byte, seq uint64, ns int64, size int) []byte {
	size = max(size, minRecord)
	dst = binary.BigEndian.AppendUint64(dst, seq)
	dst = binary.BigEndian.AppendUint64(dst, uint64(ns))
	for i := minRecord; i < size; i++ {
		dst = append(dst, recordByte(seq, i))
	}
	return dst
}

func recordByte(seq uint64, i int) byte { return byte(seq*7 + uint64(i)) }

// SeqChecker checks that sequence numbers arrive in order, once each.
// A number that skips ahead marks the skipped ones missing; a missing one that
// shows up later is counted as reordered, one seen twice as a duplicate.
// Whatever is still missing at the end, and everything sent but never seen, is
// lost.
type SeqChecker struct {
	next       uint64
	missing    map[uint64]struct{}
	Received   int64 // every message observed
	Reordered  int64
	Duplicates int64
	Corrupt    int64
}

// maxMissing bounds the bookkeeping for gaps: past it, gaps are only counted.
const maxMissing = 1 << 20

// Observe records seq; it reports whether seq was the one expected next.
func (s *SeqChecker) Observe(seq uint64) bool {
	s.Received++
	switch {
	case seq == s.next:
		s.next++
		return true
	case seq > s.next:
		if s.missing == nil {
			s.missing = make(map[uint64]struct{})
		}
		for x := s.next; x < seq && len(s.missing) < maxMissing; x++ {
			s.missing[x] = struct{}{}
		}
		s.next = seq + 1
		return false
	default:
		if _, ok := s.missing[seq]; ok {
			delete(s.missing, seq)
			s.Reordered++
		} else {
			s.Duplicates++
		}
		return false
	}
}

// Unique is the number of distinct sequence numbers seen.
func (s *SeqChecker) Unique() int64 { return s.Received - s.Duplicates }

// Gaps is the number of skipped sequence numbers not (yet) seen.
func (s *SeqChecker) Gaps() int64 { return int64(len(s.missing)) }

// Lost is what never arrived out of sent messages numbered 0..sent-1.
func (s *SeqChecker) Lost(sent int64) int64 {
	return max(sent-s.Unique(), 0)
}

// StreamChecker re-cuts a byte-stream echo into fixed-size records and checks
// them: sequence order, content, and the send time for latency. A record whose
// content does not match means the stream lost or gained bytes; alignment is
// then gone, so checking stops and the offset is reported.
type StreamChecker struct {
	Size     int
	Seq      SeqChecker
	buf      []byte
	offset   int64
	BrokenAt int64 // byte offset of the first bad record, -1 if none
}

// NewStreamChecker checks records of size bytes.
func NewStreamChecker(size int) *StreamChecker {
	return &StreamChecker{Size: max(size, minRecord), BrokenAt: -1}
}

// Write feeds received bytes; fn is called for every good record.
func (s *StreamChecker) Write(p []byte, fn func(seq uint64, ns int64)) {
	if s.BrokenAt >= 0 {
		return
	}
	data := p
	if len(s.buf) > 0 {
		s.buf = append(s.buf, p...)
		data = s.buf
	}
	for len(data) >= s.Size {
		rec := data[:s.Size]
		seq := binary.BigEndian.Uint64(rec)
		ns := int64(binary.BigEndian.Uint64(rec[8:]))
		for i := minRecord; i < s.Size; i++ {
			if rec[i] != recordByte(seq, i) {
				s.Seq.Corrupt++
				s.BrokenAt = s.offset
				s.buf = nil
				return
			}
		}
		s.Seq.Observe(seq)
		s.offset += int64(s.Size)
		fn(seq, ns)
		data = data[s.Size:]
	}
	if len(s.buf) > 0 {
		s.buf = s.buf[:copy(s.buf, data)]
	} else {
		s.buf = append(s.buf, data...)
	}
}

// Pending is the number of bytes of an incomplete record held.
func (s *StreamChecker) Pending() int { return len(s.buf) }

// Err describes a broken stream, nil if it is fine.
func (s *StreamChecker) Err() error {
	if s.BrokenAt < 0 {
		return nil
	}
	return fmt.Errorf("binary echo stream corrupt at byte %d (bytes lost, added or reordered)", s.BrokenAt)
}
