package duckstore

import (
	"context"
	"fmt"
	"os"

	"github.com/steer-gslb/steer/store"
)

// Export writes any store's rows as this package's Parquet files
// (ExportParquet: samples.parquet, beacons.parquet, queries.parquet). A
// DuckDB store exports itself; another engine's rows are copied
// (store.Copy) into a temporary DuckDB store in tmpDir ("": the system's
// temporary directory) and exported from there, so that both engines
// export the same columns.
func Export(ctx context.Context, src store.Store, dir, tmpDir string) error {
	if db, ok := src.(*DB); ok {
		return db.ExportParquet(ctx, dir)
	}
	tmp, err := os.MkdirTemp(tmpDir, "steer-export-")
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(tmp) }()
	db, err := Open(tmp, Options{})
	if err != nil {
		return err
	}
	defer func() { _ = db.Close() }()
	if _, err := store.Copy(ctx, db, src, 0); err != nil {
		return fmt.Errorf("exporting: %w", err)
	}
	return db.ExportParquet(ctx, dir)
}
