//go:build cgo

package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/steer-gslb/steer/collector"
	"github.com/steer-gslb/steer/internal/cli"
	"github.com/steer-gslb/steer/store/duckstore"
	"github.com/steer-gslb/steer/store/storeopen"
)

const ingestUsage = `usage: steer ingest --store DIR|URL FILE...

Bulk-loads beacon NDJSON, DNS query-log NDJSON and edge access-log NDJSON files
(docs/DESIGN.md formats) into the RUM store in DIR, created if missing. Each file's kind is told from
the keys of its first line; gzip-compressed files are recognized by their
magic bytes. This is a trusted import: beacons must carry client_subnet, and
a client_subnet or ecs finer than /24 (IPv4) or /56 (IPv6), or a bare
address, is truncated before anything is stored. Unknown beacon fields are
counted and skipped; bad lines are counted by reason, the first few printed
with their line numbers, and do not stop the import. Beacons already in the
store (received within the duplicate window) are counted, not stored again.
An edge access log's TCP RTTs are stored as samples of agent kind "edge" for
the PoP that served each request (steer build uses them with --edge-rtt);
its lines without TCP_INFO are counted and skipped. With a ClickHouse store
(--store clickhouse://host:8123/db[?cluster=NAME]) the files are imported
into a temporary DuckDB store, then copied.

`

func runIngest(args []string, stdout, stderr io.Writer) int {
	fs := cli.New("steer ingest", ingestUsage, ingestExample, stdout, stderr)
	dir := fs.String("store", "", "store directory, or a clickhouse:// URL (required)")
	var opt duckstore.ImportOptions
	fs.IntVar(&opt.Workers, "workers", 0, "parsing goroutines (0: one per core)")
	fs.IntVar(&opt.MaxLineErrors, "show-errors", 10, "bad lines to print per file")
	fs.IntVar(&opt.TxRows, "tx-rows", 4<<20, "samples and log lines per transaction")
	threads := fs.Int("threads", 1, "DuckDB threads (1 is fastest for a bulk load: a second one mostly spins)")
	memLimit := fs.String("memory-limit", "", "DuckDB memory_limit, e.g. 4GB (default: DuckDB's, 80% of RAM)")
	if code, ok := fs.Parse(args); !ok {
		return code
	}
	if *dir == "" || fs.NArg() == 0 {
		return fs.Usagef("--store DIR and at least one FILE are required")
	}
	// The import's batches are recycled; what the collector would collect
	// is the parser's dns_test strings. A lazier collector costs memory
	// the machine has and saves a few percent of the CPU.
	debug.SetGCPercent(400)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	// every file must be readable before the store is opened (and
	// perhaps created): a typo creates nothing and imports nothing
	if errs := unreadable(fs.Args()); len(errs) > 0 {
		for _, err := range errs {
			fmt.Fprintf(stderr, "steer ingest: %v\n", err)
		}
		return 1
	}
	// A ClickHouse store gets the files parsed into a temporary DuckDB
	// store by the same import, then copied (storeopen.Importer).
	im, err := storeopen.NewImporter(ctx, *dir, storeopen.Options{MemoryLimit: *memLimit, Threads: *threads})
	if err != nil {
		fmt.Fprintf(stderr, "steer ingest: %v\n", collector.StoreBusyError(*dir, err, "ingest"))
		return 1
	}
	start := time.Now()
	var total duckstore.ImportStats
	failed := 0
	for _, path := range fs.Args() {
		st, err := im.ImportFile(ctx, path, opt)
		printImport(stdout, path, &st)
		total.Add(&st, 0) // the total line lists no line errors: each file's did
		if err != nil {
			fmt.Fprintf(stderr, "steer ingest: %v\n", err)
			failed++
			if ctx.Err() != nil {
				break
			}
		}
	}
	t0 := time.Now()
	cs, err := im.Finish(ctx, failed == 0)
	if cs != nil {
		fmt.Fprintf(stdout, "%s: copied %d beacons (%d already there), %d DNS queries in %.2f s\n", storeopen.Redact(*dir),
			cs.Beacons.Added, cs.Beacons.Duplicates, cs.Queries.Added, time.Since(t0).Seconds())
	}
	if err != nil {
		fmt.Fprintf(stderr, "steer ingest: %v\n", err)
		failed++
	}
	total.Elapsed = time.Since(start)
	if fs.NArg() > 1 {
		printImport(stdout, "total", &total)
	}
	if failed > 0 {
		return 1
	}
	return 0
}

// unreadable returns an error for each path that cannot be opened for
// reading or is a directory.
func unreadable(paths []string) []error {
	var errs []error
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		fi, err := f.Stat()
		switch {
		case err != nil:
			errs = append(errs, err)
		case fi.IsDir():
			errs = append(errs, fmt.Errorf("%s is a directory, not an NDJSON file", p))
		}
		_ = f.Close() // read-only
	}
	return errs
}

// printImport prints one file's (or the total's) summary:
//
//	FILE: beacons (gzip), 1000 lines in 0.21 s: 990 beacons added, 5 duplicates, 19800 samples (94.3k samples/s); 5 rejected (samples[].rtt_ms 3, client_subnet 2); 12 unknown fields skipped; 7 client subnets truncated to /24 or /56
//	  line 17: samples[3].rtt_ms: not a number
//
// The total line (several files) has the beacon and the query counts.
func printImport(w io.Writer, name string, st *duckstore.ImportStats) {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: ", name)
	if st.Format != duckstore.FormatUnknown {
		b.WriteString(st.Format.String())
		if st.Gzip {
			b.WriteString(" (gzip)")
		}
		b.WriteString(", ")
	}
	secs := st.Elapsed.Seconds()
	fmt.Fprintf(&b, "%d lines in %.2f s: ", st.Lines, secs)
	if st.Format == duckstore.FormatEdgeLog {
		fmt.Fprintf(&b, "%d edge RTTs added, %d duplicates, %d without TCP_INFO", st.Beacons, st.Duplicates, st.NoTCP)
	} else if st.Format != duckstore.FormatDNSLog {
		fmt.Fprintf(&b, "%d beacons added, %d duplicates, %d samples (%s samples/s)", st.Beacons, st.Duplicates, st.Samples, rate(st.Samples, secs))
	}
	if st.Format == duckstore.FormatUnknown {
		b.WriteString(", ")
	}
	if st.Format != duckstore.FormatBeacons && st.Format != duckstore.FormatEdgeLog {
		fmt.Fprintf(&b, "%d queries added", st.Queries)
	}
	if n := st.RejectedTotal(); n > 0 {
		reasons := make([]string, 0, len(st.Rejected))
		for k := range st.Rejected {
			reasons = append(reasons, k)
		}
		slices.SortFunc(reasons, func(a, b string) int { return st.Rejected[b] - st.Rejected[a] })
		for i, k := range reasons {
			reasons[i] = fmt.Sprintf("%s %d", k, st.Rejected[k])
		}
		fmt.Fprintf(&b, "; %d rejected (%s)", n, strings.Join(reasons, ", "))
	} else {
		b.WriteString("; 0 rejected")
	}
	if st.Unknown > 0 {
		fmt.Fprintf(&b, "; %d unknown fields skipped", st.Unknown)
	}
	if st.Truncated > 0 {
		fmt.Fprintf(&b, "; %d client subnets truncated to /24 or /56", st.Truncated)
	}
	fmt.Fprintln(w, b.String())
	for _, e := range st.LineErrors {
		fmt.Fprintf(w, "  line %d: %s\n", e.Line, e.Err)
	}
}

func rate(n int, secs float64) string {
	if secs <= 0 {
		return "-"
	}
	r := float64(n) / secs
	switch {
	case r >= 1e6:
		return fmt.Sprintf("%.2fM", r/1e6)
	case r >= 1e3:
		return fmt.Sprintf("%.1fk", r/1e3)
	}
	return fmt.Sprintf("%.0f", r)
}

const ingestExample = `steer ingest --store rum world/beacons.ndjson world/dnslog.ndjson
steer ingest --store rum /var/log/steer/edge-access.ndjson`
