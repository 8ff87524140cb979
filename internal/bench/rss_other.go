//go:build !unix

package main

import "os"

// peakRSSMiB is not measured on this OS.
func peakRSSMiB(*os.ProcessState) (float64, bool) { return 0, false }
