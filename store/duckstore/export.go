package duckstore

import (
	"context"
	"fmt"
	"os"

	"github.com/steer-gslb/steer/rum"
	"github.com/steer-gslb/steer/store"
)

// Export writes any store's rows as this package's Parquet files
// (ExportParquet: samples.parquet, beacons.parquet, queries.parquet). A
// DuckDB store exports itself; another engine's rows are streamed
// (ScanSamples, ScanQueries) into a temporary DuckDB store in tmpDir and
// exported from there, so both engines export the same columns. Rows of
// one beacon must come together from ScanSamples (every engine's scan does:
// see store.Store), or a beacon is exported as several.
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
	const batch = 10000
	var bs []store.Beacon
	var cur *store.Beacon
	var curID uint64
	flush := func() error {
		if len(bs) == 0 {
			return nil
		}
		_, err := db.AddBeacons(ctx, bs)
		bs, cur = bs[:0], nil
		return err
	}
	err = src.ScanSamples(ctx, func(r *store.SampleRow) error {
		if cur == nil || r.BeaconID != curID {
			if len(bs) == batch {
				if err := flush(); err != nil {
					return err
				}
			}
			bs = append(bs, store.Beacon{Beacon: rum.Beacon{V: 1, ClientSubnet: r.Network, Agent: r.Agent, DNSTest: r.DNSTest},
				Received: r.Received, Source: "export"})
			cur, curID = &bs[len(bs)-1], r.BeaconID
		}
		cur.Samples = append(cur.Samples, r.Sample)
		return nil
	})
	if err == nil {
		err = flush()
	}
	if err != nil {
		return fmt.Errorf("exporting: copying samples: %w", err)
	}
	var qs []rum.LogEntry
	err = src.ScanQueries(ctx, func(e *rum.LogEntry) error {
		qs = append(qs, *e)
		if len(qs) == batch {
			_, err := db.AddQueries(ctx, qs)
			qs = qs[:0]
			return err
		}
		return nil
	})
	if err == nil && len(qs) > 0 {
		_, err = db.AddQueries(ctx, qs)
	}
	if err != nil {
		return fmt.Errorf("exporting: copying queries: %w", err)
	}
	return db.ExportParquet(ctx, dir)
}
