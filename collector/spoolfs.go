package collector

import (
	"fmt"
	"io/fs"
	"os"

	"github.com/steer-gslb/steer/internal/atomicfile"
)

// fileOps is the spool's file layer: every call through which the spool
// creates, writes, syncs, renames or removes a file, or syncs its
// directory. The spool uses osOps; tests replace single functions to
// inject write errors, failed syncs and a full disk, and check what was
// acknowledged against what survives.
type fileOps struct {
	openFile func(name string, flag int, perm fs.FileMode) (*os.File, error)
	writeAt  func(f *os.File, b []byte, off int64) (int, error)
	datasync func(f *os.File) error // fdatasync: data and size
	truncate func(f *os.File, size int64) error
	rename   func(oldpath, newpath string) error
	remove   func(name string) error
	syncDir  func(dir string) error
}

// osOps is the file layer of the real file system.
var osOps = fileOps{
	openFile: os.OpenFile,
	writeAt:  (*os.File).WriteAt,
	datasync: fdatasync,
	truncate: (*os.File).Truncate,
	rename:   os.Rename,
	remove:   os.Remove,
	syncDir:  syncDir,
}

// withDefaults fills the functions a test left nil with the os ones.
func (o fileOps) withDefaults() fileOps {
	if o.openFile == nil {
		o.openFile = osOps.openFile
	}
	if o.writeAt == nil {
		o.writeAt = osOps.writeAt
	}
	if o.datasync == nil {
		o.datasync = osOps.datasync
	}
	if o.truncate == nil {
		o.truncate = osOps.truncate
	}
	if o.rename == nil {
		o.rename = osOps.rename
	}
	if o.remove == nil {
		o.remove = osOps.remove
	}
	if o.syncDir == nil {
		o.syncDir = osOps.syncDir
	}
	return o
}

// syncDir makes a directory's entries durable (new, renamed and removed
// files).
func syncDir(dir string) error {
	if err := atomicfile.SyncDir(dir); err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	return nil
}
