//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package platform

import "golang.org/x/sys/unix"

// RaiseNoFile raises the soft RLIMIT_NOFILE to the hard limit, because a
// daemon that holds a socket and three pipes per connection runs out of the
// usual soft limit (1024) long before it runs out of memory. It returns the
// limit now in force.
func RaiseNoFile() (uint64, error) {
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		return 0, err
	}
	if lim.Cur < lim.Max {
		want := lim
		want.Cur = lim.Max
		if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &want); err == nil {
			lim = want
		}
	}
	return uint64(lim.Cur), nil
}

// NoFile returns the soft RLIMIT_NOFILE.
func NoFile() uint64 {
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		return 1024
	}
	return uint64(lim.Cur)
}
