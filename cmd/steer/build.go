//go:build cgo

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	"github.com/steer-gslb/steer/builder"
	"github.com/steer-gslb/steer/geoip"
	"github.com/steer-gslb/steer/internal/cli"
	"github.com/steer-gslb/steer/popmap"
	"github.com/steer-gslb/steer/store"
	"github.com/steer-gslb/steer/store/duckstore"
	"github.com/steer-gslb/steer/store/storeopen"
)

const buildUsage = `usage: steer build --store DIR --out MAP.json [--bgp FILE]... [--geoip FILE.mmdb] [--percentile 75] [--previous MAP.json]

Builds a latency map from the RUM store: cleans the samples (each rule named
and counted in the report), joins DNS test names with the query log
(resolver ↔ client networks), takes a percentile of RTT per (network, PoP),
pools sparse networks with their announced prefix and AS, ranks the PoPs per
client network and per resolver (for its whole client population), keeps
the previous map's choice unless the new one is better by a margin, applies
PoP capacity caps, and extrapolates to unmeasured address space by AS, by
announced prefix and (with --geoip) by the AS's measured preferences at the
GeoIP location. Writes MAP.json (NS1 route-map format) and the report next
to it as MAP.report.json and MAP.report.txt (also printed), and
MAP.sources.tsv: each network of the map with where it came from (measured,
resolver, extrapolate-as, extrapolate-prefix, extrapolate-geo), which steer
eval uses to score each kind apart, and MAP.rtt.tsv: each network's traffic
weight and the expected RTT (the estimate it was ranked on) at each ranked
PoP, which load feedback (package loadctl) reads.

Continuous builds: --window reads only the last stretch of the store, and
--recent turns on change detection: a network whose samples of that last
window differ from the whole window's estimate by more than noise explains
(a lost peering, a re-route) is re-estimated from them (rule recent-shift);
the stability margin keeps every other network where it is.

A share of beacons (--holdout) is left out for steer eval and steer publish
to score maps on.
`

const buildExample = `steer build --store rum --out map.json --bgp bgp.mrt --geoip geoip.mmdb`

func runBuild(args []string, stdout, stderr io.Writer) int {
	fs := cli.New("steer build", buildUsage, buildExample, stdout, stderr)
	dir := fs.String("store", "", "RUM store: a directory, or a clickhouse:// URL (required)")
	out := fs.String("out", "", "map file to write (required)")
	var bgpFiles, skip, capacity listFlag
	fs.Var(&bgpFiles, "bgp", "BGP origin data: pyasn text or MRT TABLE_DUMP_V2, gzip/bzip2 or not (repeatable)")
	geoFile := fs.String("geoip", "", "MaxMind DB for the GeoIP model of extrapolation")
	prevFile := fs.String("previous", "", "the map live now: stability (keep near-equal choices) and the diff")
	var opt builder.Options
	fs.Float64Var(&opt.Percentile, "percentile", 75, "percentile of RTT per (network, PoP)")
	fs.IntVar(&opt.MinSamples, "min-samples", 3, "samples per (network, PoP) to be trusted alone")
	fs.Float64Var(&opt.Prior, "pool", 0.5, "pooling strength toward the prefix/AS, in samples (-1: off)")
	fs.IntVar(&opt.Labels, "labels", 3, "ranked PoPs per entry")
	fs.Float64Var(&opt.HoldOut, "holdout", 0.1, "share of beacons held out for evaluation (-1: none)")
	fs.Float64Var(&opt.MarginMs, "margin-ms", 2, "stability: a new first choice must be better by this many ms")
	fs.Float64Var(&opt.MarginPct, "margin-pct", 3, "... and by this many percent")
	fs.IntVar(&opt.MinAgree, "min-agree", 2, "measured networks an AS or prefix needs for the agreement rules")
	fs.DurationVar(&opt.MaxRTT, "max-rtt", 0, "impossible-rtt ceiling (default 30s)")
	fs.BoolVar(&opt.EdgeRTT, "edge-rtt", false, "use edge access logs' TCP RTTs (steer ingest) as samples of the PoP that served each connection")
	fs.DurationVar(&opt.Window, "window", 0, "read only the beacons received in this window before --now (0: the whole store)")
	fs.DurationVar(&opt.Recent, "recent", 0, "change detection: re-estimate networks whose samples of this last window shifted beyond noise (0: off)")
	fs.Float64Var(&opt.ShiftZ, "shift-z", 3, "change detection: a shift exceeds this many standard errors...")
	fs.Float64Var(&opt.ShiftMs, "shift-ms", 2, "... and this many ms")
	fs.IntVar(&opt.MinRecent, "min-recent", 0, "change detection: recent samples of a (network, PoP) to test it (default: --min-samples)")
	now := fs.String("now", "", "the build's time for --window and --recent, RFC 3339 (default: the clock)")
	fs.Var(&capacity, "capacity", "cap a PoP's share of traffic: LABEL=SHARE, e.g. fra=0.2 (repeatable)")
	fs.Var(&skip, "skip", "switch a rule off, to measure it (repeatable): "+ruleNames())
	quiet := fs.Bool("q", false, "do not print the report")
	fs.StringVar(&readMemoryLimit, "memory-limit", readMemoryLimit, "DuckDB memory_limit while reading the store (its buffer pool otherwise keeps the whole file)")
	if code, ok := fs.Parse(args); !ok {
		return code
	}
	if *dir == "" || *out == "" || fs.NArg() != 0 {
		return fs.Usagef("--store DIR and --out MAP.json are required, and nothing else")
	}
	var err error
	if *now != "" {
		if opt.Now, err = time.Parse(time.RFC3339, *now); err != nil {
			return fs.Usagef("--now: %v", err)
		}
	}
	if opt.Skip, err = builder.ParseRules(skip); err != nil {
		return fs.Usagef("--skip: %v", err)
	}
	if opt.Capacity, err = builder.ParseCapacity(capacity); err != nil {
		return fs.Usagef("--capacity: %v", err)
	}
	if err := opt.Validate(); err != nil {
		return fs.Usagef("%v", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	res, err := buildMap(ctx, *dir, bgpFiles, *geoFile, *prevFile, opt)
	if err != nil {
		fmt.Fprintln(stderr, "steer build:", err)
		return 1
	}
	if err := writeBuild(*out, res); err != nil {
		fmt.Fprintln(stderr, "steer build:", err)
		return 1
	}
	if !*quiet {
		_ = res.Report.WriteText(stdout)
	}
	fmt.Fprintf(stdout, "wrote %s (%d entries), %s, %s, %s, %s\n", *out, len(res.Map.Entries), reportPath(*out, "json"), reportPath(*out, "txt"), sourcesPath(*out), rttPath(*out))
	return 0
}

func ruleNames() string {
	return strings.Join(builder.Rules, ", ")
}

// buildMap opens the inputs and builds.
func buildMap(ctx context.Context, dir string, bgpFiles []string, geoFile, prevFile string, opt builder.Options) (*builder.Result, error) {
	if _, err := os.Stat(filepath.Join(dir, duckstore.DBFile)); err != nil && !storeopen.IsURL(dir) {
		if _, err2 := os.Stat(dir); err2 != nil {
			return nil, fmt.Errorf("store %s: %w", dir, err2)
		}
	}
	st, err := openForReading(dir)
	if err != nil {
		return nil, err
	}
	defer func() { _ = st.Close() }()
	in := builder.Input{Store: st, StoreDir: storeopen.Redact(dir), BGP: bgpFiles, GeoFile: geoFile, PrevFile: prevFile, Options: opt}
	if geoFile != "" {
		db, err := geoip.Open(geoFile)
		if err != nil {
			return nil, err
		}
		defer func() { _ = db.Close() }()
		in.GeoIP = db
	}
	if prevFile != "" {
		_, tab, err := popmap.Load(prevFile)
		if err != nil {
			return nil, fmt.Errorf("previous map: %w", err)
		}
		in.Previous = tab
	}
	return builder.Build(ctx, in)
}

func reportPath(mapPath, ext string) string {
	return strings.TrimSuffix(mapPath, filepath.Ext(mapPath)) + ".report." + ext
}

// sourcesPath is where steer build writes, and steer eval looks for, the
// map's sources: MAP.sources.tsv.
func sourcesPath(mapPath string) string {
	return strings.TrimSuffix(mapPath, filepath.Ext(mapPath)) + ".sources.tsv"
}

// rttPath is where steer build writes each network's weight and expected
// RTT per ranked PoP: MAP.rtt.tsv.
func rttPath(mapPath string) string {
	return strings.TrimSuffix(mapPath, filepath.Ext(mapPath)) + ".rtt.tsv"
}

// writeBuild writes the map atomically, then the reports, the sources and
// the RTTs.
func writeBuild(out string, res *builder.Result) error {
	if err := writeFileAtomic(out, func(w io.Writer) error { return res.Map.Encode(w) }); err != nil {
		return err
	}
	if err := writeFileAtomic(reportPath(out, "json"), res.Report.WriteJSON); err != nil {
		return err
	}
	if err := writeFileAtomic(sourcesPath(out), res.Sources.WriteTSV); err != nil {
		return err
	}
	if err := writeFileAtomic(rttPath(out), res.RTT.WriteTSV); err != nil {
		return err
	}
	return writeFileAtomic(reportPath(out, "txt"), res.Report.WriteText)
}

// readMemoryLimit caps DuckDB's memory when the analytics commands read the
// store: without it DuckDB's buffer pool (default: 80 % of RAM) keeps every
// block it read, 1.2 GB of a 100M-sample store, and its join's hash tables
// come on top (bench/build.sh measured 4.2–4.5 GiB peak RSS for 100M samples
// before this, 1.2 GiB of it the buffer pool).
var readMemoryLimit = "1GB"

// openForReading opens a store read-only for build, eval and the publish
// gate, with DuckDB's memory capped and, unless GOMEMLIMIT says otherwise,
// a soft limit on the Go heap, which holds 8 bytes a sample while reading.
func openForReading(dir string) (store.Store, error) {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(2 << 30)
	}
	st, err := storeopen.Open(context.Background(), dir, storeopen.Options{ReadOnly: true, MemoryLimit: readMemoryLimit})
	if le := (*duckstore.LockedError)(nil); errors.As(err, &le) {
		holder := "another process"
		if le.PID > 0 {
			holder = fmt.Sprintf("process %d (%s)", le.PID, le.Program)
		}
		return nil, fmt.Errorf("store %s is held by %s: DuckDB lets one process write a store or several read it; stop it, or build inside the collector (steer collect --build-every 1h --build-out MAP.json)", dir, holder)
	}
	return st, err
}
