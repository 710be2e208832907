//go:build linux || darwin || freebsd

// Package childtest runs a test again in a child process under a lowered
// resource limit: a small disk (RLIMIT_FSIZE), few file descriptors
// (RLIMIT_NOFILE), without root or a tiny filesystem. The parent starts the
// child with Command; the child, finding its environment variable set,
// lowers its limit with Lower and does the work.
package childtest

import (
	"os"
	"os/exec"
	"syscall"
)

// Command is the running test binary again, running only the test named,
// with env (KEY=VALUE) added to this process's environment.
func Command(test string, env ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^"+test+"$")
	cmd.Env = append(os.Environ(), env...)
	return cmd
}

// Lower sets the soft limit of a resource (syscall.RLIMIT_FSIZE,
// syscall.RLIMIT_NOFILE) to cur; lowering it needs no privilege.
func Lower(resource int, cur uint64) error {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(resource, &rl); err != nil {
		return err
	}
	rl.Cur = cur
	return syscall.Setrlimit(resource, &rl)
}
