//go:build unix

package mapstore

import (
	"errors"
	"os"
	"syscall"
)

// lock takes an exclusive flock(2) on path, waiting for other holders, and
// returns its release. The lock belongs to this open file description, so
// two goroutines of one process exclude each other as two processes do.
func lock(path string) (unlock func() error, err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	// Closing the file releases the lock.
	return f.Close, nil
}
