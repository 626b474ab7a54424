package models

import (
	"syscall"
	"time"
)

// threadCPU returns the CPU time used by the calling OS thread, so that a
// benchmark locked to its thread can report CPU time per operation, which
// unlike wall time does not grow when other processes share the machine.
func threadCPU() (time.Duration, bool) {
	const rusageThread = 1 // RUSAGE_THREAD
	var ru syscall.Rusage
	if err := syscall.Getrusage(rusageThread, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
