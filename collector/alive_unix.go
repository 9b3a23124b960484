//go:build unix

package collector

import (
	"errors"
	"syscall"
)

// processAlive reports whether process pid exists: signal 0 checks
// without sending anything (EPERM: it exists, as another user's).
func processAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
