//go:build !(linux || openbsd || dragonfly || solaris || darwin || freebsd || netbsd)

package dnsserver

import "os"

// sysFileID has no device, inode or ctime to offer on this system (Windows,
// Plan 9, …): a file's identity is its size and mtime alone.
func sysFileID(os.FileInfo) (dev, ino uint64, ctime int64) { return 0, 0, 0 }
