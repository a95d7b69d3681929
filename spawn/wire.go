package spawn

import (
	"encoding/binary"
	"errors"
	"slices"
)

// The spawner protocol: one SOCK_SEQPACKET message per request or event, so
// message boundaries come from the kernel and concurrent senders never
// interleave. Integers are little-endian; strings are a uint32 length and
// the bytes.
//
//	daemon -> spawner  msgChannel k u32; SCM_RIGHTS the far end of channel k (on channel 0 only)
//	daemon -> spawner  msgStart   id u64, path, dir, argc u32, argv..., envc u32, env...
//	spawner -> daemon  msgStarted id u64, pid i32, errno i32; SCM_RIGHTS stdin(w), stdout(r), stderr(r) when errno == 0
//	spawner -> daemon  msgExit    pid i32, wait status u32
//
//	forker -> spawner  msgChannel k u32; SCM_RIGHTS channel k (forwarded)
//	forker -> spawner  msgChild   pid i32, errno u32, channel u32; SCM_RIGHTS pidfd when errno == 0
//
// The daemon talks to a spawner over channels: channel 0, made when the
// spawner is launched, is its lifeline (its end means the spawner died) and
// carries msgChannel; channel k > 0 is one event loop's (opened by Prepare,
// or at the loop's first start), and carries that loop's msgStart, and
// their msgStarted and msgExit back. Each channel has two processes at the other
// end: the forker reads msgStart and sends msgStarted, the spawner sends
// msgExit (and never reads). The forker sends a child's msgStarted before
// its msgChild, which names the channel, and the spawner watches the pidfd
// only once it has that, so a child's msgExit always follows its msgStarted
// on the same channel; the forker forwards msgChannel to the spawner before
// it reads channel k, so the spawner knows k before any msgChild names it.
const (
	msgStart   = 1
	msgStarted = 2
	msgExit    = 3
	msgChild   = 4
	msgChannel = 5
)

var errShort = errors.New("spawn: short spawner message")

func appendStr(b []byte, s string) []byte {
	b = binary.LittleEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}

func appendStrs(b []byte, ss []string) []byte {
	b = binary.LittleEndian.AppendUint32(b, uint32(len(ss)))
	for _, s := range ss {
		b = appendStr(b, s)
	}
	return b
}

// encodeStart appends the start message to b (a caller's buffer, reused:
// the message is about a KiB, mostly the environment, and one per child).
func encodeStart(b []byte, id uint64, spec Spec) []byte {
	n := 32 + len(spec.Path) + len(spec.Dir)
	for _, s := range spec.Args {
		n += 4 + len(s)
	}
	for _, s := range spec.Env {
		n += 4 + len(s)
	}
	b = slices.Grow(b, n)
	b = append(b, msgStart)
	b = binary.LittleEndian.AppendUint64(b, id)
	b = appendStr(b, spec.Path)
	b = appendStr(b, spec.Dir)
	b = appendStrs(b, spec.Args)
	return appendStrs(b, spec.Env)
}

// reader walks a received message; the first short read sets err.
type reader struct {
	b   []byte
	err error
}

func (r *reader) u32() uint32 {
	if len(r.b) < 4 {
		r.err, r.b = errShort, nil
		return 0
	}
	v := binary.LittleEndian.Uint32(r.b)
	r.b = r.b[4:]
	return v
}

func (r *reader) u64() uint64 {
	if len(r.b) < 8 {
		r.err, r.b = errShort, nil
		return 0
	}
	v := binary.LittleEndian.Uint64(r.b)
	r.b = r.b[8:]
	return v
}

func (r *reader) str() string {
	n := int(r.u32())
	if n > len(r.b) {
		r.err, r.b = errShort, nil
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

func (r *reader) strs() []string {
	n := int(r.u32())
	if n > len(r.b)/4 {
		r.err, r.b = errShort, nil
		return nil
	}
	ss := make([]string, 0, n)
	for i := 0; i < n && r.err == nil; i++ {
		ss = append(ss, r.str())
	}
	return ss
}

// decodeStart parses a msgStart (the type byte already checked).
func decodeStart(b []byte) (id uint64, spec Spec, err error) {
	r := reader{b: b[1:]}
	id = r.u64()
	spec.Path = r.str()
	spec.Dir = r.str()
	spec.Args = r.strs()
	spec.Env = r.strs()
	return id, spec, r.err
}

func encodeStarted(id uint64, pid int, errno uint32) []byte {
	b := make([]byte, 0, 17)
	b = append(b, msgStarted)
	b = binary.LittleEndian.AppendUint64(b, id)
	b = binary.LittleEndian.AppendUint32(b, uint32(int32(pid)))
	return binary.LittleEndian.AppendUint32(b, errno)
}

func decodeStarted(b []byte) (id uint64, pid int, errno uint32, err error) {
	r := reader{b: b[1:]}
	id = r.u64()
	pid = int(int32(r.u32()))
	errno = r.u32()
	return id, pid, errno, r.err
}

func encodeExit(pid int, status uint32) []byte {
	b := make([]byte, 0, 9)
	b = append(b, msgExit)
	b = binary.LittleEndian.AppendUint32(b, uint32(int32(pid)))
	return binary.LittleEndian.AppendUint32(b, status)
}

func decodeExit(b []byte) (pid int, status uint32, err error) {
	r := reader{b: b[1:]}
	pid = int(int32(r.u32()))
	status = r.u32()
	return pid, status, r.err
}

func encodeChild(pid int, errno, ch uint32) []byte {
	b := make([]byte, 0, 13)
	b = append(b, msgChild)
	b = binary.LittleEndian.AppendUint32(b, uint32(int32(pid)))
	b = binary.LittleEndian.AppendUint32(b, errno)
	return binary.LittleEndian.AppendUint32(b, ch)
}

func decodeChild(b []byte) (pid int, errno, ch uint32, err error) {
	r := reader{b: b[1:]}
	pid = int(int32(r.u32()))
	errno = r.u32()
	ch = r.u32()
	return pid, errno, ch, r.err
}

func encodeChannel(k uint32) []byte {
	b := make([]byte, 0, 5)
	b = append(b, msgChannel)
	return binary.LittleEndian.AppendUint32(b, k)
}

func decodeChannel(b []byte) (k uint32, err error) {
	r := reader{b: b[1:]}
	k = r.u32()
	return k, r.err
}

// putID sets the id of an encoded msgStart, so the message can be built
// before the id is taken.
func putID(msg []byte, id uint64) { binary.LittleEndian.PutUint64(msg[1:], id) }
