//go:build linux

package reactor

import "golang.org/x/sys/unix"

// WatchProcess tells h (Exited, once) when process pid exits, through a pidfd
// (Linux 5.3+) registered like any descriptor. The process need not be a
// child of this one; reaping it stays the parent's business. An error
// wrapping ESRCH means it was already gone. Close the watch when done.
func (l *Loop) WatchProcess(pid int, h Handler) (*Watch, error) {
	if l.stop {
		return nil, ErrClosed
	}
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return nil, err
	}
	unix.CloseOnExec(fd)
	w := &Watch{l: l, fd: fd, h: h, interest: Read, kind: kindPidfd}
	if err := l.add(w); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return w, nil
}
