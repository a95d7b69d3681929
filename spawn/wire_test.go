package spawn

import (
	"reflect"
	"testing"
)

func TestWireRoundTrip(t *testing.T) {
	spec := Spec{Path: "/bin/x", Dir: "/tmp", Args: []string{"x", "", "a b"}, Env: []string{"A=1", "B="}}
	msg := encodeStart(nil, 0, spec)
	putID(msg, 42)
	id, got, err := decodeStart(msg)
	if err != nil || id != 42 || !reflect.DeepEqual(got, spec) {
		t.Fatalf("start: id %d spec %+v err %v", id, got, err)
	}
	id, pid, errno, err := decodeStarted(encodeStarted(7, 1234, 2))
	if err != nil || id != 7 || pid != 1234 || errno != 2 {
		t.Fatalf("started: %d %d %d %v", id, pid, errno, err)
	}
	pid, st, err := decodeExit(encodeExit(99, 0x0900))
	if err != nil || pid != 99 || st != 0x0900 {
		t.Fatalf("exit: %d %x %v", pid, st, err)
	}
	pid, errno, ch, err := decodeChild(encodeChild(4321, 0, 3))
	if err != nil || pid != 4321 || errno != 0 || ch != 3 {
		t.Fatalf("child: %d %d %d %v", pid, errno, ch, err)
	}
	if k, err := decodeChannel(encodeChannel(5)); err != nil || k != 5 {
		t.Fatalf("channel: %d %v", k, err)
	}
	for i := 1; i < len(msg); i++ {
		if _, _, err := decodeStart(msg[:i]); err == nil {
			t.Fatalf("truncated start message (%d of %d bytes) accepted", i, len(msg))
		}
	}
}
