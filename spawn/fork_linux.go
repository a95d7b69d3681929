package spawn

import "syscall"

// forkExec starts the child with CLONE_PIDFD, so the exit fd refers to
// exactly this child: there is no window in which the pid could be reused.
func forkExec(spec Spec, stdio [3]int) (pid, exitFD int, err error) {
	pidfd := -1
	pid, err = syscall.ForkExec(spec.Path, spec.Args, &syscall.ProcAttr{
		Dir:   spec.Dir,
		Env:   spec.Env,
		Files: []uintptr{uintptr(stdio[0]), uintptr(stdio[1]), uintptr(stdio[2])},
		Sys:   &syscall.SysProcAttr{Setpgid: true, PidFD: &pidfd},
	})
	return pid, pidfd, err
}
