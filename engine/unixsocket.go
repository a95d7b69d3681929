package engine

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"time"
)

// liveProbe bounds the dial that tells a live socket from a stale one.
const liveProbe = time.Second

// listenUnix listens on a Unix socket at path (--unixsocket).
//
// A socket file left behind by a daemon that was killed would make bind
// fail with "address already in use" forever, so a socket file nobody
// answers on is removed first. One a server still answers on (a dial
// succeeds within a second) is left alone and refused: taking it over would
// silently cut that server off from its clients.
//
// The listener removes the file when it is closed (Go's default for a
// socket it created), so shutdown leaves nothing behind.
//
// Flow control is the same as for TCP: the read pause takes the socket out
// of the loop's poller (Watch.PauseRead), which AF_UNIX honours; SO_RCVLOWAT,
// which AF_UNIX ignores, plays no part in it.
func listenUnix(path string) (net.Listener, error) {
	if st, err := os.Lstat(path); err == nil && st.Mode().Type() == fs.ModeSocket {
		if c, err := net.DialTimeout("unix", path, liveProbe); err == nil {
			_ = c.Close()
			return nil, fmt.Errorf("socket %s is already in use by a running server", path)
		}
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
	}
	return net.Listen("unix", path)
}
