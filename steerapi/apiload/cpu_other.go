//go:build !unix

package apiload

import "time"

// ProcessCPU returns the CPU time this process has used; 0 here, where
// it is not measured.
func ProcessCPU() time.Duration { return 0 }
