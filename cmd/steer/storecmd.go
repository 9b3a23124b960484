//go:build cgo

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/steer-gslb/steer/store"
)

const storeUsage = `usage: steer store stats  --store DIR
       steer store export --store DIR --out DIR     samples, beacons and queries as Parquet
       steer store prune  --store DIR --older-than DURATION   delete raw rows received before now-DURATION

The RUM store is the DuckDB database that steer collect and steer ingest
write. Only one process may have it open: stop the collector first.
`

func runStore(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		fmt.Fprint(stderr, storeUsage)
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			return 0
		}
		return 2
	}
	sub := args[0]
	fs := flag.NewFlagSet("steer store "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(fs.Output(), storeUsage) }
	dir := fs.String("store", "", "RUM store directory")
	out := fs.String("out", "", "export: directory for the Parquet files")
	older := fs.Duration("older-than", 0, "prune: delete rows received more than this long ago (e.g. 720h)")
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *dir == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "steer store: --store DIR is required (and takes no arguments)")
		return 2
	}
	switch sub {
	case "stats", "export", "prune":
	default:
		fmt.Fprintf(stderr, "steer store: unknown subcommand %q\n\n%s", sub, storeUsage)
		return 2
	}
	if sub == "export" && *out == "" {
		fmt.Fprintln(stderr, "steer store export: --out DIR is required")
		return 2
	}
	if sub == "prune" && *older <= 0 {
		fmt.Fprintln(stderr, "steer store prune: --older-than must be a positive duration")
		return 2
	}
	st, err := store.Open(*dir, store.Options{})
	if err != nil {
		fmt.Fprintf(stderr, "steer store: %v\n", err)
		return 1
	}
	ctx := context.Background()
	err = func() error {
		switch sub {
		case "export":
			if err := st.ExportParquet(ctx, *out); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "exported to %s\n", *out)
		case "prune":
			before := time.Now().Add(-*older).UTC()
			n, err := st.DeleteBefore(ctx, before)
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "deleted %d rows received before %s\n", n, before.Format(time.RFC3339))
		}
		s, err := st.Stats(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s: %d beacons, %d samples, %d DNS queries", *dir, s.Beacons, s.Samples, s.Queries)
		if !s.Oldest.IsZero() {
			fmt.Fprintf(stdout, "; samples from %s to %s", s.Oldest.Format(time.RFC3339), s.Newest.Format(time.RFC3339))
		}
		fmt.Fprintln(stdout)
		return nil
	}()
	if cerr := st.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		fmt.Fprintf(stderr, "steer store %s: %v\n", sub, err)
		return 1
	}
	return 0
}
