//go:build unix

package proxy

import (
	"syscall"
	"time"
)

// cpuTime is the process's CPU time so far (user and system), for the
// benchmarks' cpu-ns/op.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
