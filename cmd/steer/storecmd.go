//go:build cgo

package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"time"

	"github.com/steer-gslb/steer/collector"
	"github.com/steer-gslb/steer/internal/cli"
	"github.com/steer-gslb/steer/store"
	"github.com/steer-gslb/steer/store/duckstore"
	"github.com/steer-gslb/steer/store/storeopen"
)

const storeUsage = `usage: steer store stats  --store DIR|URL | --collector URL
       steer store export --store DIR|URL --out DIR     samples, beacons and queries as Parquet
       steer store prune  --store DIR|URL --older-than DURATION   delete raw rows received before now-DURATION
       steer store copy   --store DIR|URL --to DIR|URL  copy every beacon and query into another store

The RUM store is the DuckDB database (a directory) that steer collect and
steer ingest write, or a ClickHouse server or cluster (--store
clickhouse://host:8123/db[?cluster=NAME]). DuckDB lets one process have it
open for writing. steer store stats
works while a collector runs: it asks that collector (found through
DIR/collector.json, or at --collector URL, its admin listener). export and
prune need the store to themselves: stop the collector first.
`

var storeGroup = &cli.Group{
	Name: "steer store",
	Help: storeUsage,
	Subs: []cli.Sub{
		{Name: "stats", Summary: "beacons, samples and DNS queries in the store, and the samples' time span"},
		{Name: "export", Summary: "samples, beacons and queries as Parquet files: --out DIR"},
		{Name: "prune", Summary: "delete raw rows received longer ago than --older-than (retention)"},
		{Name: "copy", Summary: "copy every beacon and DNS query into another store (--to), e.g. DuckDB into ClickHouse"},
	},
	Example: "steer store stats --store rum",
}

func runStore(args []string, stdout, stderr io.Writer) int {
	sub, args, code, ok := storeGroup.Dispatch(args, stdout, stderr)
	if !ok {
		return code
	}
	example := map[string]string{
		"stats":  "steer store stats --store rum",
		"export": "steer store export --store rum --out parquet",
		"prune":  "steer store prune --store rum --older-than 720h",
		"copy":   "steer store copy --store rum --to clickhouse://127.0.0.1:8123/steer",
	}[sub]
	fs := cli.New("steer store "+sub, storeUsage, example, stdout, stderr)
	dir := fs.String("store", "", "RUM store directory")
	var out *string
	var older *time.Duration
	collectorURL := new(string)
	switch sub {
	case "stats":
		collectorURL = fs.String("collector", "", "ask the collector at this URL (its admin listener) instead of the store directory's")
	case "export":
		out = fs.String("out", "", "directory for the Parquet files (required)")
	case "prune":
		older = fs.Duration("older-than", 0, "delete rows received more than this long ago (e.g. 720h; required)")
	case "copy":
		out = fs.String("to", "", "the destination store: a directory or a clickhouse:// URL (required)")
	}
	if code, ok := fs.Parse(args); !ok {
		return code
	}
	if (*dir == "" && *collectorURL == "") || fs.NArg() > 0 {
		return fs.Usagef("--store DIR (or, for stats, --collector URL) is required, and takes no arguments")
	}
	if sub == "export" && *out == "" {
		return fs.Usagef("--out DIR is required")
	}
	if sub == "copy" && *out == "" {
		return fs.Usagef("--to DIR|URL is required")
	}
	if sub == "prune" && *older <= 0 {
		return fs.Usagef("--older-than must be a positive duration")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	var err error
	switch sub {
	case "stats":
		err = storeStats(ctx, stdout, *dir, *collectorURL)
	case "export":
		err = storeExport(ctx, stdout, *dir, *out)
	case "prune":
		err = storePrune(ctx, stdout, *dir, *older)
	case "copy":
		err = storeCopy(ctx, stdout, *dir, *out)
	}
	if err != nil {
		fmt.Fprintf(stderr, "steer store %s: %v\n", sub, err)
		return 1
	}
	return 0
}

// storeStats prints the store's counts (collector.ReadStoreStats: read
// directly, or from the running collector that holds the store).
func storeStats(ctx context.Context, w io.Writer, dir, collectorURL string) error {
	if storeopen.IsURL(dir) && collectorURL == "" {
		st, err := storeopen.Open(ctx, dir, storeopen.Options{ReadOnly: true})
		if err != nil {
			return err
		}
		err = printStoreStatsOf(ctx, w, dir, st)
		if cerr := st.Close(); err == nil {
			err = cerr
		}
		return err
	}
	res, err := collector.ReadStoreStats(ctx, dir, collectorURL)
	if err != nil {
		return err
	}
	printStoreStats(w, cmp.Or(dir, res.Store, collectorURL), res.Stats, res.Backlog, res.From)
	return nil
}

// storeExport writes the store's rows as Parquet into out. A DuckDB
// store is read only, so it runs beside other readers, not beside a
// writer.
func storeExport(ctx context.Context, w io.Writer, dir, out string) error {
	st, err := storeopen.Open(ctx, dir, storeopen.Options{ReadOnly: true, MemoryLimit: readMemoryLimit})
	if err != nil {
		return collector.StoreBusyError(dir, err, "export")
	}
	err = duckstore.Export(ctx, st, out, "")
	if err == nil {
		fmt.Fprintf(w, "exported to %s\n", out)
		err = printStoreStatsOf(ctx, w, dir, st)
	}
	if cerr := st.Close(); err == nil {
		err = cerr
	}
	return err
}

// storeCopy copies every beacon and query of src into dst (store.Copy);
// beacons already in dst are counted, not stored again.
func storeCopy(ctx context.Context, w io.Writer, src, dst string) error {
	from, err := storeopen.Open(ctx, src, storeopen.Options{ReadOnly: true, MemoryLimit: readMemoryLimit})
	if err != nil {
		return collector.StoreBusyError(src, err, "copy")
	}
	defer func() { _ = from.Close() }()
	to, err := storeopen.Open(ctx, dst, storeopen.Options{})
	if err != nil {
		return collector.StoreBusyError(dst, err, "copy")
	}
	t0 := time.Now()
	cs, err := store.Copy(ctx, to, from, 0)
	if err == nil {
		fmt.Fprintf(w, "copied %d beacons (%d already there) and %d DNS queries in %.1f s\n",
			cs.Beacons.Added, cs.Beacons.Duplicates, cs.Queries.Added, time.Since(t0).Seconds())
		err = printStoreStatsOf(ctx, w, storeopen.Redact(dst), to)
	}
	if cerr := to.Close(); err == nil {
		err = cerr
	}
	return err
}

// storePrune deletes the rows received before now-older: it needs the
// store to itself.
func storePrune(ctx context.Context, w io.Writer, dir string, older time.Duration) error {
	if _, err := os.Stat(filepath.Join(dir, duckstore.DBFile)); err != nil && !storeopen.IsURL(dir) {
		return fmt.Errorf("no store in %s: %w", dir, err)
	}
	st, err := storeopen.Open(ctx, dir, storeopen.Options{})
	if err != nil {
		return collector.StoreBusyError(dir, err, "prune")
	}
	before := time.Now().Add(-older).UTC()
	n, err := st.DeleteBefore(ctx, before)
	if err == nil {
		fmt.Fprintf(w, "deleted %d rows received before %s\n", n, before.Format(time.RFC3339))
		err = printStoreStatsOf(ctx, w, dir, st)
	}
	if cerr := st.Close(); err == nil {
		err = cerr
	}
	return err
}

func printStoreStatsOf(ctx context.Context, w io.Writer, dir string, st store.Store) error {
	s, err := st.Stats(ctx)
	if err != nil {
		return err
	}
	printStoreStats(w, dir, s, 0, "")
	return nil
}

// printStoreStats prints one line:
//
//	DIR: 3 beacons, 6 samples, 0 DNS queries; samples from T to T[; N bytes spooled, not yet in the store][ (from …)]
func printStoreStats(w io.Writer, name string, s store.Stats, backlog int64, from string) {
	fmt.Fprintf(w, "%s: %d beacons, %d samples, %d DNS queries", name, s.Beacons, s.Samples, s.Queries)
	if !s.Oldest.IsZero() {
		fmt.Fprintf(w, "; samples from %s to %s", s.Oldest.Format(time.RFC3339), s.Newest.Format(time.RFC3339))
	}
	if backlog > 0 {
		fmt.Fprintf(w, "; %d bytes acknowledged in the collector's spool, not yet in the store", backlog)
	}
	if from != "" {
		fmt.Fprintf(w, " (%s)", from)
	}
	fmt.Fprintln(w)
}
