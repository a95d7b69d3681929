//go:build !linux

package spawn

import (
	"errors"

	"github.com/wsplex/wsplex/reactor"
)

// newRemote: there is no spawner process off Linux; children are forked
// directly (EVFILT_PROC watches them without an fd each).
func newRemote(*reactor.Loop) (remote, error) {
	return nil, errors.New("spawn: no spawner process on this system")
}
