//go:build darwin || dragonfly || freebsd || netbsd || openbsd

package reactor

// WatchProcess tells h (Exited, once) when process pid exits, through an
// EVFILT_PROC/NOTE_EXIT filter: no descriptor. Reaping stays the parent's
// business. An error ESRCH means it was already gone. Close the watch
// when done.
func (l *Loop) WatchProcess(pid int, h Handler) (*Watch, error) {
	if l.stop {
		return nil, ErrClosed
	}
	w := &Watch{l: l, fd: pid, h: h, kind: kindProc}
	if err := l.add(w); err != nil {
		return nil, err
	}
	return w, nil
}
