//go:build darwin || freebsd || netbsd

package dnsserver

import (
	"os"
	"syscall"
)

// sysFileID returns the device, inode and ctime (ns) of a stat result.
func sysFileID(fi os.FileInfo) (dev, ino uint64, ctime int64) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Dev), uint64(st.Ino), st.Ctimespec.Nano() //nolint:unconvert // not uint64 on every platform
	}
	return 0, 0, 0
}
