//go:build !linux

package bench

import "errors"

func readProc(pid int, withPSS bool) (ProcSample, error) {
	return ProcSample{}, errors.New("server sampling reads /proc and works on Linux only")
}

// joinCgroup: cgroups are Linux-only.
func joinCgroup(string, int) {}

// descendants is not known here: callers treat an empty answer as "cannot wait".
func descendants(int) []int { return nil }

// cgroupCPU: cgroups are Linux-only.
func cgroupCPU(string) float64 { return -1 }
