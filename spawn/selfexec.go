package spawn

import (
	"os"
	"sync/atomic"
)

// SpawnerArg is the hidden first argument with which the daemon re-executes
// its own binary as the spawner process.
const SpawnerArg = "__wsplex-spawner"

// ForkerArg is the hidden first argument with which the spawner re-executes
// the binary as its forker (forker_linux.go).
const ForkerArg = "__wsplex-forker"

// selfServes records that this binary answers to SpawnerArg, i.e. that its
// main called MaybeRunSpawner. Only then can New re-execute it as the
// spawner; any other binary that links spawn (a test of another package)
// gets the direct fork path.
var selfServes atomic.Bool

// MaybeRunSpawner must be the first statement of main. If the process was
// started as the spawner (or its forker) it serves and exits, never returning;
// otherwise it marks the binary as able to serve and returns at once. It
// runs before flag parsing because the spawner has no flags of its own.
func MaybeRunSpawner() {
	if len(os.Args) > 1 && os.Args[1] == SpawnerArg {
		os.Exit(runSpawner())
	}
	if len(os.Args) > 1 && os.Args[1] == ForkerArg {
		os.Exit(runForker())
	}
	selfServes.Store(true)
}
