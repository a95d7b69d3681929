package spawn

// orphanSweep is how the orphans of PTY children are reaped: where a
// spawner process is used the daemon is a subreaper, and the client's
// sweep adopts them (a pidfd each, reaped on the poller), at the PTY
// child's release and at each SIGCHLD. Without a
// spawner the daemon is no subreaper, orphans go to init, and there is
// nothing to do.
func (s *Spawner) orphanSweep() func() {
	if c, ok := s.remote.(*client); ok {
		return c.sweep
	}
	return nil
}
