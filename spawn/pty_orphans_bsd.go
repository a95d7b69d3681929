//go:build darwin || freebsd || netbsd || openbsd || dragonfly

package spawn

// orphanSweep: off Linux there is no spawner process and the daemon is no
// subreaper, so orphans of PTY children go to init.
func (s *Spawner) orphanSweep() func() { return nil }
