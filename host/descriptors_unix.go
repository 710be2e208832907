//go:build unix

package host

import (
	"os"
	"runtime"
	"syscall"
)

// descriptors reports the soft RLIMIT_NOFILE and how many file descriptors
// the process has open; ok is false when either is unknown (no such limit, or
// no directory listing the descriptors).
func descriptors() (limit, open int, ok bool) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil || rl.Cur == 0 || rl.Cur >= 1<<31 {
		return 0, 0, false // an unlimited (or absurd) limit leaves nothing to share
	}
	dir := "/dev/fd"
	if runtime.GOOS == "linux" {
		dir = "/proc/self/fd"
	}
	fds, err := os.ReadDir(dir)
	if err != nil {
		return 0, 0, false
	}
	// The listing counts the descriptor it was read through, closed since.
	return int(rl.Cur), len(fds) - 1, true
}
