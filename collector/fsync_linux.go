package collector

import (
	"os"

	"golang.org/x/sys/unix"
)

// fdatasync flushes a file's data (not its metadata beyond the size).
func fdatasync(f *os.File) error { return unix.Fdatasync(int(f.Fd())) }
