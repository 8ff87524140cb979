//go:build !unix

package gateway

import "time"

// cpuTime is not measured here: the benchmarks then report no CPU figure.
func cpuTime() time.Duration { return 0 }
