package storeopen

import (
	"context"
	"errors"
	"os"

	"github.com/steer-gslb/steer/store"
	"github.com/steer-gslb/steer/store/duckstore"
)

// Importer is `steer ingest`'s bulk load into the store a spec names. A
// directory is imported into directly (duckstore.ImportFile: the fast
// path that parses in parallel and appends in DuckDB's chunks). A
// ClickHouse store gets the files imported into a temporary DuckDB store
// by the same import, with the same checks and counts, and Finish copies
// them over (store.Copy).
type Importer struct {
	spec string
	db   *duckstore.DB
	dst  store.Store // nil for a directory
	tmp  string      // the temporary DuckDB store's directory, or ""
}

// NewImporter opens the store spec names for a bulk load; opt's
// MemoryLimit and Threads are the (temporary or not) DuckDB store's. An
// error opening a DuckDB directory is duckstore.Open's (a
// *duckstore.LockedError when another process holds it).
func NewImporter(ctx context.Context, spec string, opt Options) (*Importer, error) {
	im := &Importer{spec: spec}
	local := spec
	if IsURL(spec) {
		dst, err := Open(ctx, spec, opt)
		if err != nil {
			return nil, err
		}
		if local, err = os.MkdirTemp("", "steer-ingest-"); err != nil {
			return nil, errors.Join(err, dst.Close())
		}
		im.dst, im.tmp = dst, local
	}
	db, err := duckstore.Open(local, duckstore.Options{MemoryLimit: opt.MemoryLimit, Threads: opt.Threads})
	if err != nil {
		return nil, errors.Join(err, im.cleanup())
	}
	im.db = db
	return im, nil
}

// ImportFile imports one file (duckstore.ImportFile).
func (im *Importer) ImportFile(ctx context.Context, path string, opt duckstore.ImportOptions) (duckstore.ImportStats, error) {
	return duckstore.ImportFile(ctx, im.db, path, opt)
}

// Finish closes the import. For a ClickHouse store it first copies what
// was imported, when copyRows is true (false: an import failed, nothing is
// copied), and returns what the copy did; nil for a directory.
func (im *Importer) Finish(ctx context.Context, copyRows bool) (*store.CopyStats, error) {
	var cs *store.CopyStats
	var err error
	if im.dst != nil && copyRows {
		var st store.CopyStats
		st, err = store.Copy(ctx, im.dst, im.db, 0)
		cs = &st
	}
	err = errors.Join(err, im.db.Close(), im.cleanup())
	return cs, err
}

// cleanup closes the destination and removes the temporary store.
func (im *Importer) cleanup() error {
	var err error
	if im.dst != nil {
		err = im.dst.Close()
	}
	if im.tmp != "" {
		err = errors.Join(err, os.RemoveAll(im.tmp))
	}
	return err
}
