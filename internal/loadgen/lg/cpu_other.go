//go:build !unix

package lg

import "time"

// selfCPU is unknown on this system: CPU figures read zero.
func selfCPU() time.Duration { return 0 }
