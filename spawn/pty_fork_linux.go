package spawn

import "syscall"

// ptyForkExec starts the child as a session leader (setsid) with tty as its
// controlling terminal and stdio, and with CLONE_PIDFD for its exit, as
// forkExec does for pipe children. setsid makes the child its own process
// group too, so the ladder's signals to -pid reach what it starts.
func ptyForkExec(spec Spec, tty int) (pid, exitFD int, err error) {
	pidfd := -1
	pid, err = syscall.ForkExec(spec.Path, spec.Args, &syscall.ProcAttr{
		Dir:   spec.Dir,
		Env:   spec.Env,
		Files: []uintptr{uintptr(tty), uintptr(tty), uintptr(tty)},
		Sys:   &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0, PidFD: &pidfd},
	})
	return pid, pidfd, err
}
