//go:build unix

package apiload

import (
	"syscall"
	"time"
)

// ProcessCPU returns the user and system CPU time this process has used
// (0 when the system does not say): next to the server's, it tells which
// side of a run was short of CPU.
func ProcessCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
