//go:build !linux

package subpost

import "time"

// threadCPU is not available here: only wall-clock times are recorded.
func threadCPU() (time.Duration, bool) { return 0, false }
