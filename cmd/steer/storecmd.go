//go:build cgo

package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"time"

	"github.com/steer-gslb/steer/collector"
	"github.com/steer-gslb/steer/internal/cli"
	"github.com/steer-gslb/steer/store"
)

const storeUsage = `usage: steer store stats  --store DIR | --collector URL
       steer store export --store DIR --out DIR     samples, beacons and queries as Parquet
       steer store prune  --store DIR --older-than DURATION   delete raw rows received before now-DURATION

The RUM store is the DuckDB database that steer collect and steer ingest
write; DuckDB lets one process have it open for writing. steer store stats
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
	}
	if err != nil {
		fmt.Fprintf(stderr, "steer store %s: %v\n", sub, err)
		return 1
	}
	return 0
}

// storeStats prints the store's counts. It opens the store read-only
// (beside other readers, such as a build); when a running collector holds
// it (DuckDB then keeps every other process out, readers too), it asks
// that collector, found through its announcement in the store directory,
// or the one at collectorURL.
func storeStats(ctx context.Context, w io.Writer, dir, collectorURL string) error {
	if collectorURL != "" {
		st, err := fetchStoreStats(ctx, collectorURL, "")
		if err != nil {
			return fmt.Errorf("asking the collector: %w", err)
		}
		name := cmp.Or(dir, st.Store, collectorURL)
		printStoreStats(w, name, st.Stats, st.SpoolBacklog, fmt.Sprintf("from the collector at %s, pid %d", collectorURL, st.PID))
		return nil
	}
	st, err := store.Open(dir, store.Options{ReadOnly: true})
	if err == nil {
		s, err := st.Stats(ctx)
		if cerr := st.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
		printStoreStats(w, dir, s, 0, "")
		return nil
	}
	a, herr := storeHolder(dir, err)
	if herr != nil {
		return herr
	}
	if a == nil {
		return errStoreLocked(dir, err, "stop it, or give --collector URL of the collector that holds it")
	}
	s, err := fetchStoreStats(ctx, a.URL, a.TLSCert)
	if err == nil && s.PID != a.PID {
		err = fmt.Errorf("%s answers as pid %d", a.URL, s.PID)
	}
	if err != nil {
		return fmt.Errorf("store %s is held by the running collector (pid %d), but asking it failed: %w; check that collector, or give --collector URL of its admin listener", dir, a.PID, err)
	}
	printStoreStats(w, dir, s.Stats, s.SpoolBacklog, fmt.Sprintf("from the running collector, pid %d", a.PID))
	return nil
}

// storeExport writes the store's rows as Parquet into out. It reads
// only, so it runs beside other readers, not beside a writer.
func storeExport(ctx context.Context, w io.Writer, dir, out string) error {
	st, err := store.Open(dir, store.Options{ReadOnly: true})
	if err != nil {
		return storeBusy(dir, err, "export")
	}
	err = st.ExportParquet(ctx, out)
	if err == nil {
		fmt.Fprintf(w, "exported to %s\n", out)
		err = printStoreStatsOf(ctx, w, dir, st)
	}
	if cerr := st.Close(); err == nil {
		err = cerr
	}
	return err
}

// storePrune deletes the rows received before now-older: it needs the
// store to itself.
func storePrune(ctx context.Context, w io.Writer, dir string, older time.Duration) error {
	if _, err := os.Stat(filepath.Join(dir, store.DBFile)); err != nil {
		return fmt.Errorf("no store in %s: %w", dir, err)
	}
	st, err := store.Open(dir, store.Options{})
	if err != nil {
		return storeBusy(dir, err, "prune")
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

// storeBusy is the error of a command that cannot open the store: when
// another process holds it, one line naming that process and the fix.
func storeBusy(dir string, openErr error, cmd string) error {
	a, err := storeHolder(dir, openErr)
	switch {
	case err != nil:
		return err
	case a == nil:
		return errStoreLocked(dir, openErr, "stop it first: "+cmd+" needs the store to itself")
	}
	fix := "stop the collector first"
	if cmd == "prune" {
		fix = "stop the collector first, or let it prune (steer collect --retention 720h)"
	}
	return fmt.Errorf("store %s is held by the running collector (pid %d, %s): %s needs the store to itself: %s", dir, a.PID, a.URL, cmd, fix)
}

// storeHolder tells who holds the store when opening it failed with
// openErr: the running collector announced in dir, or nil when the lock
// holder is another process (or a collector that did not announce
// itself). It returns openErr when the store is not locked.
func storeHolder(dir string, openErr error) (*collector.Announcement, error) {
	var le *store.LockedError
	if !errors.As(openErr, &le) {
		return nil, openErr
	}
	a, err := collector.ReadAnnouncement(dir)
	if err != nil || !a.Alive() || (le.PID != 0 && le.PID != a.PID) {
		return nil, nil // no announcement, or a stale one (a killed collector, or one older than the lock's holder)
	}
	return &a, nil
}

// errStoreLocked is the one-line error for a store another process
// holds: store DIR is locked by another process (pid N, PROGRAM): FIX.
func errStoreLocked(dir string, openErr error, fix string) error {
	var le *store.LockedError
	errors.As(openErr, &le)
	who := "another process"
	switch {
	case le != nil && le.PID > 0 && le.Program != "":
		who += fmt.Sprintf(" (pid %d, %s)", le.PID, le.Program)
	case le != nil && le.PID > 0:
		who += fmt.Sprintf(" (pid %d)", le.PID)
	}
	return fmt.Errorf("store %s is locked by %s: %s", dir, who, fix)
}

// fetchStoreStats asks a collector, for at most 30 s.
func fetchStoreStats(ctx context.Context, url, tlsCert string) (collector.StoreStats, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return collector.FetchStoreStats(ctx, url, tlsCert)
}

func printStoreStatsOf(ctx context.Context, w io.Writer, dir string, st *store.DuckDB) error {
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
