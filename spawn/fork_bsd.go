//go:build darwin || dragonfly || freebsd || netbsd || openbsd

package spawn

import "syscall"

// forkExec starts the child in its own process group. Its exit is watched
// with EVFILT_PROC on the loop it is attached to (exit_bsd.go).
func forkExec(spec Spec, stdio [3]int) (pid, exitFD int, err error) {
	pid, err = syscall.ForkExec(spec.Path, spec.Args, &syscall.ProcAttr{
		Dir:   spec.Dir,
		Env:   spec.Env,
		Files: []uintptr{uintptr(stdio[0]), uintptr(stdio[1]), uintptr(stdio[2])},
		Sys:   &syscall.SysProcAttr{Setpgid: true},
	})
	return pid, -1, err
}
