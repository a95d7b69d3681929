//go:build darwin || freebsd || netbsd || openbsd || dragonfly

package platform

import "golang.org/x/sys/unix"

// PauseInPoller disables the read filter of fd in the kqueue pollFD; the
// write filter, which gnet adds and deletes itself, is left alone. Unlike
// on Linux, a client's FIN is not seen while the read filter is disabled:
// it is noticed when reading resumes.
func PauseInPoller(pollFD, fd int, _ bool) error {
	return readFilter(pollFD, fd, unix.EV_DISABLE)
}

// ResumeInPoller enables the read filter again.
func ResumeInPoller(pollFD, fd int, _ bool) error {
	return readFilter(pollFD, fd, unix.EV_ENABLE)
}

func readFilter(pollFD, fd int, flags int) error {
	var ev unix.Kevent_t
	unix.SetKevent(&ev, fd, unix.EVFILT_READ, flags)
	_, err := unix.Kevent(pollFD, []unix.Kevent_t{ev}, nil, nil)
	return err
}
