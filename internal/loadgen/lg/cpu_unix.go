//go:build unix

package lg

import (
	"syscall"
	"time"
)

// selfCPU is this process's user+system CPU time so far (the load
// generator may share the process with a test or an in-process gateway).
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
