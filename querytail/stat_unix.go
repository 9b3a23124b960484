//go:build unix

package querytail

import (
	"os"
	"syscall"
)

func devIno(fi os.FileInfo) (dev, ino uint64) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Dev), uint64(st.Ino) //nolint:unconvert // not uint64 on every platform
	}
	return 0, 0
}

func fdIdentity(f *os.File) (dev, ino uint64) {
	fi, err := f.Stat()
	if err != nil {
		return 0, 0
	}
	return devIno(fi)
}
