package duckstore

import (
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/steer-gslb/steer/store"
)

// otherEngine hides a *DB behind the interface, as another engine would
// be: Export then takes the copying path.
type otherEngine struct{ store.Store }

// TestCopyKeepsBeaconsAndAggregates: store.Copy into a second store gives
// the same beacon IDs, stats, cells and DNS join; a second Copy adds
// nothing (every beacon is a duplicate).
func TestCopyKeepsBeaconsAndAggregates(t *testing.T) {
	src := openTest(t, t.TempDir())
	bs := genBeacons(3, 300, 6, testStart.Add(2*time.Hour))
	if _, err := src.AddBeacons(ctx, bs); err != nil {
		t.Fatal(err)
	}
	if _, err := src.AddQueries(ctx, genQueries(50)); err != nil {
		t.Fatal(err)
	}
	dst := openTest(t, t.TempDir())
	cs, err := store.Copy(ctx, dst, src, 64)
	if err != nil || cs.Beacons.Added != 300 || cs.Queries.Added != 50 {
		t.Fatalf("Copy = %+v, %v; want 300 beacons and 50 queries added", cs, err)
	}
	ids := func(s *DB) map[uint64]bool {
		m := map[uint64]bool{}
		if err := s.ScanSamples(ctx, func(r *store.SampleRow) error { m[r.BeaconID] = true; return nil }); err != nil {
			t.Fatal(err)
		}
		return m
	}
	if a, b := ids(src), ids(dst); !reflect.DeepEqual(a, b) {
		t.Errorf("beacon IDs differ after the copy: %d vs %d", len(a), len(b))
	}
	sa, _ := src.Stats(ctx)
	sb, _ := dst.Stats(ctx)
	if sa != sb {
		t.Errorf("stats: source %+v, copy %+v", sa, sb)
	}
	for _, c := range []store.Clean{{HoldOut: 0.1, Split: store.TrainBeacons}, {HoldOut: 0.1, Split: store.HoldoutBeacons}} {
		a, err := src.Aggregate(ctx, c, 0.75)
		if err != nil {
			t.Fatal(err)
		}
		b, err := dst.Aggregate(ctx, c, 0.75)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(a, b) {
			t.Errorf("split %d: aggregates differ after the copy", c.Split)
		}
		ja, _ := src.JoinDNS(ctx, c)
		jb, _ := dst.JoinDNS(ctx, c)
		if !reflect.DeepEqual(ja, jb) {
			t.Errorf("split %d: DNS joins differ after the copy: %+v vs %+v", c.Split, ja, jb)
		}
	}
	if cs, err := store.Copy(ctx, dst, src, 0); err != nil || cs.Beacons.Added != 0 || cs.Beacons.Duplicates != 300 {
		t.Errorf("second Copy = %+v, %v; want 300 duplicates, none added", cs, err)
	}
}

// TestExportThroughCopy: a store that is not a *DB is exported through a
// temporary DuckDB store, with the same rows.
func TestExportThroughCopy(t *testing.T) {
	s := openTest(t, t.TempDir())
	if _, err := s.AddBeacons(ctx, genBeacons(1, 40, 5, time.Now())); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AddQueries(ctx, genQueries(12)); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "export")
	if err := Export(ctx, otherEngine{s}, out, t.TempDir()); err != nil {
		t.Fatal(err)
	}
	for file, want := range map[string]int{"samples.parquet": 200, "beacons.parquet": 40, "queries.parquet": 12} {
		var n int
		p := filepath.Join(out, file)
		if err := s.DB().QueryRow(`SELECT count(*) FROM read_parquet(` + sqlString(p) + `)`).Scan(&n); err != nil {
			t.Fatalf("reading %s back: %v", p, err)
		}
		if n != want {
			t.Errorf("%s has %d rows, want %d", file, n, want)
		}
	}
}
