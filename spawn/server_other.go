//go:build !linux

package spawn

import (
	"fmt"
	"os"
)

// runSpawner: the spawner process is Linux-only (it relies on child
// subreapers and pidfds); elsewhere New never starts one.
func runSpawner() int {
	fmt.Fprintln(os.Stderr, "wsplex: the spawner process is not supported on this system")
	return 1
}

// runForker: see runSpawner.
func runForker() int { return runSpawner() }
