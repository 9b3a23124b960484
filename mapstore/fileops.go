package mapstore

import (
	"io/fs"
	"os"

	"github.com/steer-gslb/steer/internal/atomicfile"
)

// fileOps is the map directory's file layer: every call through which a
// writer (publish, rollback, activate, prune) creates, writes, syncs,
// renames, links or removes a file, or syncs a directory. Open uses osOps;
// the package's tests swap single functions to inject write and fsync
// errors and a full disk at each step in turn, and check that the current
// version stays whole and the next publish succeeds.
type fileOps struct {
	createTemp func(dir, pattern string) (*os.File, error)
	openFile   func(name string, flag int, perm fs.FileMode) (*os.File, error)
	write      func(f *os.File, b []byte) (int, error)
	sync       func(f *os.File) error
	truncate   func(f *os.File, size int64) error
	rename     func(oldpath, newpath string) error
	remove     func(name string) error
	symlink    func(oldname, newname string) error
	syncDir    func(dir string) error
}

// osOps is the file layer of the real file system.
var osOps = fileOps{
	createTemp: os.CreateTemp,
	openFile:   os.OpenFile,
	write:      (*os.File).Write,
	sync:       (*os.File).Sync,
	truncate:   (*os.File).Truncate,
	rename:     os.Rename,
	remove:     os.Remove,
	symlink:    os.Symlink,
	syncDir:    atomicfile.SyncDir,
}
