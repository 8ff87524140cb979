//go:build unix

package main

import (
	"os"
	"runtime"
	"syscall"
)

// peakRSSMiB is the peak resident set size of an exited process.
func peakRSSMiB(ps *os.ProcessState) (float64, bool) {
	ru, ok := ps.SysUsage().(*syscall.Rusage)
	if !ok {
		return 0, false
	}
	if runtime.GOOS == "darwin" || runtime.GOOS == "ios" {
		return float64(ru.Maxrss) / (1 << 20), true // bytes there
	}
	return float64(ru.Maxrss) / 1024, true // KiB on Linux and the BSDs
}
