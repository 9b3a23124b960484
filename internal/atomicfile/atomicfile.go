// Package atomicfile replaces files so that a crash leaves either the old
// or the new content, never a torn one, and makes the replacement durable:
// a temporary file in the same directory, fsync, rename over the target,
// fsync of the directory. The control server's state, a DNS server's
// control map and state, and the map directory use it. It exports no
// metrics.
package atomicfile

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Write replaces path with data (mode 0644 less the umask, as CreateTemp
// makes it 0600: the file is chmod'ed to perm).
func Write(path string, data []byte, perm os.FileMode) error {
	return WriteFunc(path, perm, func(w io.Writer) error { _, err := w.Write(data); return err })
}

// WriteFunc replaces path with what write writes (buffered), then chmods
// it to perm: for files too big to hold in memory twice, such as a map
// being built. The temporary file is removed when write fails.
func WriteFunc(path string, perm os.FileMode, write func(io.Writer) error) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	bw := bufio.NewWriterSize(f, 256<<10)
	err = write(bw)
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		err = fmt.Errorf("writing %s: %w", path, err)
	}
	if err == nil {
		err = f.Chmod(perm)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return err
	}
	return SyncDir(dir)
}

// SyncDir fsyncs a directory, making renames and creations in it durable.
func SyncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("fsync %s: %w", dir, err)
	}
	return nil
}
