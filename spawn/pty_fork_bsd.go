//go:build darwin || freebsd || netbsd || openbsd || dragonfly

package spawn

import "syscall"

// ptyForkExec starts the child as a session leader (setsid) with tty as its
// controlling terminal and stdio; its exit comes through the poller's
// EVFILT_PROC queue, as for forkExec's children.
func ptyForkExec(spec Spec, tty int) (pid, exitFD int, err error) {
	pid, err = syscall.ForkExec(spec.Path, spec.Args, &syscall.ProcAttr{
		Dir:   spec.Dir,
		Env:   spec.Env,
		Files: []uintptr{uintptr(tty), uintptr(tty), uintptr(tty)},
		Sys:   &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0},
	})
	return pid, -1, err
}
