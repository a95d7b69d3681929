//go:build unix

package bench

import "golang.org/x/sys/unix"

// RaiseFileLimit lifts the soft open-files limit to the hard one and returns
// it: the tool's whole point is to hold as many sockets as allowed.
func RaiseFileLimit() uint64 {
	var r unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &r); err != nil {
		return 0
	}
	cur, max := uint64(r.Cur), uint64(r.Max)
	if cur < max {
		want := min(max, 1<<20) // RLIM_INFINITY is refused on macOS
		setRlim(&r.Cur, want)
		if unix.Setrlimit(unix.RLIMIT_NOFILE, &r) == nil {
			cur = want
		}
	}
	return cur
}

// setRlim hides that Rlimit fields are int64 on some BSDs, uint64 elsewhere.
func setRlim[T int64 | uint64](p *T, v uint64) { *p = T(v) }
