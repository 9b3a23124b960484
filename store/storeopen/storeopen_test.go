package storeopen

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/steer-gslb/steer/internal/chtest"
	"github.com/steer-gslb/steer/rum"
	"github.com/steer-gslb/steer/store"
	"github.com/steer-gslb/steer/store/duckstore"
	"github.com/steer-gslb/steer/store/storetest"
)

func TestRedact(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"/var/lib/steer/rum", "/var/lib/steer/rum"},
		{"clickhouse://127.0.0.1:8123/steer", "clickhouse://127.0.0.1:8123/steer"},
		{"clickhouse://u:secret@h:8123/db?cluster=c", "clickhouse://u:xxxxx@h:8123/db?cluster=c"},
		{"clickhouse://h:8123/db?cluster=c&password=secret", "clickhouse://h:8123/db?cluster=c&password=xxxxx"},
	} {
		if got := Redact(c.in); got != c.want {
			t.Errorf("Redact(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// TestOpenPicksTheEngine: a directory opens DuckDB; a clickhouse:// URL
// goes to ClickHouse (here unreachable: the error names the problem and
// never the password).
func TestOpenPicksTheEngine(t *testing.T) {
	st, err := Open(context.Background(), t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = Open(ctx, "clickhouse://127.0.0.1:1/db?password=secret", Options{})
	if err == nil || strings.Contains(err.Error(), "secret") {
		t.Errorf("Open of an unreachable ClickHouse: %v", err)
	}
}

// TestImporter: the same NDJSON imported into a directory and, through a
// temporary DuckDB store, into ClickHouse gives the same rows; the
// temporary store is removed.
func TestImporter(t *testing.T) {
	ctx := context.Background()
	file := filepath.Join(t.TempDir(), "beacons.ndjson")
	var b []byte
	for _, bc := range storetest.GenBeacons(4, 50, 3, storetest.Start) {
		b = rum.AppendBeacon(b, &bc.Beacon)
		b = append(b, '\n')
	}
	if err := os.WriteFile(file, b, 0o600); err != nil {
		t.Fatal(err)
	}
	load := func(spec string) store.Stats {
		im, err := NewImporter(ctx, spec, Options{})
		if err != nil {
			t.Fatal(err)
		}
		st, err := im.ImportFile(ctx, file, duckstore.ImportOptions{})
		if err != nil || st.Beacons != 50 {
			t.Fatalf("ImportFile = %+v, %v; want 50 beacons", st, err)
		}
		cs, err := im.Finish(ctx, true)
		if err != nil {
			t.Fatal(err)
		}
		if IsURL(spec) != (cs != nil) || (cs != nil && cs.Beacons.Added != 50) {
			t.Errorf("%s: Finish copied %+v", Redact(spec), cs)
		}
		s, err := Open(ctx, spec, Options{ReadOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = s.Close() }()
		stats, err := s.Stats(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return stats
	}
	dir := load(t.TempDir())
	before, _ := filepath.Glob(filepath.Join(os.TempDir(), "steer-ingest-*"))
	cl := chtest.Start(t, chtest.Options{})
	ch := load(cl.NodeURL(0, "importer"))
	after, _ := filepath.Glob(filepath.Join(os.TempDir(), "steer-ingest-*"))
	if dir != ch || dir.Beacons != 50 || dir.Samples != 150 {
		t.Errorf("directory %+v, ClickHouse %+v; want the same 50 beacons, 150 samples", dir, ch)
	}
	if len(after) > len(before) {
		t.Errorf("temporary stores left behind: %v", after)
	}
}
