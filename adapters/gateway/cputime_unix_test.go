//go:build unix

package gateway

import (
	"syscall"
	"time"
)

// cpuTime is the CPU time (user and system) this process has used: the
// machine is shared, so sessions/s alone says little; CPU per session says
// what a session costs the gateway (PostgreSQL's own processes excluded).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
