//go:build !linux

package collector

import "os"

func fdatasync(f *os.File) error { return f.Sync() }
