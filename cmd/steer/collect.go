//go:build cgo

package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"runtime/pprof"
	"sync"
	"syscall"
	"time"

	"github.com/steer-gslb/steer/builder"
	"github.com/steer-gslb/steer/collector"
	"github.com/steer-gslb/steer/geoip"
	"github.com/steer-gslb/steer/internal/cli"
	"github.com/steer-gslb/steer/mapstore"
	"github.com/steer-gslb/steer/popmap"
	"github.com/steer-gslb/steer/querytail"
	"github.com/steer-gslb/steer/rum"
	"github.com/steer-gslb/steer/store"
	"github.com/steer-gslb/steer/store/storeopen"
)

const collectUsage = `usage: steer collect --store DIR [--listen ADDR] [--config FILE]

Runs the RUM collector: accepts beacons over HTTP(S) at /beacon (JSON,
text/plain as navigator.sendBeacon sends, or NDJSON batches), validates
them, truncates the client address to /24 or /56 before anything is written
or logged, and answers 2xx only once the beacon is durable in the store.
Also serves /rum.js (the JavaScript beacon), /rum/probe (the probe
endpoint), /rum/pops.json (the PoP list for agents) and /healthz. /metrics
and /querylog (query logs shipped by steer ship) are on the admin listener
(--admin, or the config's admin); without one, /querylog is on the public
listener and /metrics answers only this host.
Desktop and CLI agents authenticate with a token (Authorization: Bearer);
web pages may send anonymous beacons only from the configured origins.
SIGINT or SIGTERM stops it gracefully.

The collector holds the store's write lock (DuckDB: one writing process), so
DNS query logs are loaded by it (--query-log FILE, followed like tail -F, its
position kept in DIR) and maps are built inside it: --build-every 1h --build-out MAP.json [--build-bgp
FILE] [--build-geoip FILE] [--publish-dir DIR] builds from its own handle and
publishes each map into a versioned map directory, gated on held-out data.

`

func runCollect(args []string, stdout, stderr io.Writer) int {
	fs := cli.New("steer collect", collectUsage, collectExample, stdout, stderr)
	dir := fs.String("store", "", "RUM store: a directory (DuckDB, created if missing) or clickhouse://host:8123[,host2:8123]/db[?cluster=NAME]")
	spool := fs.String("spool", "", "this collector's own directory (durable spool, query-log positions, debug reports); default the --store directory, required with a clickhouse:// store")
	listen := fs.String("listen", "", "address to listen on (default: the config's, else 127.0.0.1:8080)")
	admin := fs.String("admin", "", "admin listener for /metrics, /querylog and /healthz, e.g. 127.0.0.1:9101 (default: the config's admin, else none)")
	cfgPath := fs.String("config", "", "collector config file (YAML; see the collector package doc)")
	level := fs.String("log-level", "info", "debug, info, warn or error")
	retention := fs.Duration("retention", 0, "delete raw rows received longer ago than this, checked hourly (e.g. 720h; 0 keeps everything)")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile to this file until exit (for benchmarks)")
	var pb loopJobs
	fs.DurationVar(&pb.every, "build-every", 0, "build a map from the store this often, inside this process (DuckDB lets one process open the store for writing), e.g. 1h; 0: never")
	fs.StringVar(&pb.out, "build-out", "", "with --build-every: the map file to write (and its .report.json/.txt)")
	fs.Var((*listFlag)(&pb.bgp), "build-bgp", "with --build-every: BGP origin data for extrapolation (repeatable)")
	fs.StringVar(&pb.geo, "build-geoip", "", "with --build-every: MaxMind DB for the GeoIP model")
	fs.DurationVar(&pb.window, "build-window", 0, "with --build-every: build from the beacons of this last window only (steer build --window); 0: the whole store")
	fs.DurationVar(&pb.recent, "build-recent", 0, "with --build-every: change detection over this last window (steer build --recent), e.g. 24h; 0: off")
	fs.StringVar(&pb.publish, "publish-dir", "", "with --build-every: publish each map into this versioned map directory, gated on held-out data")
	fs.IntVar(&pb.keep, "publish-keep", 0, "with --publish-dir: after each publish, remove versions older than the newest N (as steer versions --keep N); 0 keeps all")
	var qlogs []string
	fs.Var((*listFlag)(&qlogs), "query-log", "follow this DNS query log (the DNS server's query_log NDJSON) into the store, checked every second (repeatable)")
	if code, ok := fs.Parse(args); !ok {
		return code
	}
	if *dir == "" || fs.NArg() > 0 {
		return fs.Usagef("--store DIR is required (and takes no arguments); see steer collect --help")
	}
	if storeopen.IsURL(*dir) && *spool == "" {
		return fs.Usagef("--spool DIR is required with a clickhouse:// store: every collector keeps its own durable spool")
	}
	if (pb.every > 0) != (pb.out != "") {
		return fs.Usagef("--build-every and --build-out go together")
	}
	if pb.keep < 0 || (pb.keep > 0 && pb.publish == "") {
		return fs.Usagef("--publish-keep N needs --publish-dir and N >= 0")
	}
	if err := (&builder.Options{Window: pb.window, Recent: pb.recent}).Validate(); err != nil {
		return fs.Usagef("--build-window, --build-recent: %v", err)
	}
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(*level)); err != nil {
		return fs.Usagef("--log-level: %v", err)
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			return fs.Usagef("--cpuprofile: %v", err)
		}
		defer pprof.StopCPUProfile()
	}
	cfg := collector.Defaults()
	if *cfgPath != "" {
		c, err := collector.LoadConfig(*cfgPath)
		if err != nil {
			fmt.Fprintf(stderr, "steer collect: %v\n", err)
			return 1
		}
		cfg = c
	}
	if *listen != "" {
		cfg.Listen = *listen
	}
	if *admin != "" {
		cfg.Admin = *admin
	}
	if os.Getenv("GOGC") == "" {
		// The collector's heap is small (requests in flight, the spool's
		// buffers); trading a few MB for a quarter of the GC work is cheap.
		debug.SetGCPercent(400)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	pb.queryLogs = qlogs
	return collect(ctx, *dir, cmp.Or(*spool, *dir), cfg, lv, *retention, stdout, stderr, nil, pb)
}

// collect runs the collector until ctx is done; ready (when not nil) gets
// the listening address. spec names the store (storeopen); dir is this
// collector's own directory (spool, query-log positions, debug reports,
// its announcement): the store's directory for DuckDB.
func collect(ctx context.Context, spec, dir string, cfg *collector.Config, lv slog.Level, retention time.Duration, stdout, stderr io.Writer, ready func(net.Addr), pb loopJobs) int {
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: lv}))
	st, err := storeopen.Open(ctx, spec, storeopen.Options{})
	if err != nil {
		fmt.Fprintf(stderr, "steer collect: %v\n", err)
		return 1
	}
	defer func() {
		if err := st.Close(); err != nil {
			logger.Error("closing the store", "error", err)
		}
	}()
	srv, err := collector.New(cfg, st, collector.Options{Logger: logger, SpoolDir: filepath.Join(dir, "spool"), StoreDir: dir,
		DebugDir: filepath.Join(dir, "debug")})
	if err != nil {
		fmt.Fprintf(stderr, "steer collect: %v\n", err)
		return 1
	}
	l, admin, err := srv.Listen()
	if err != nil {
		fmt.Fprintf(stderr, "steer collect: %v\n", errors.Join(err, srv.Close()))
		return 1
	}
	scheme := "http"
	if cfg.TLSCert != "" {
		scheme = "https"
	}
	fmt.Fprintf(stdout, "steer collect: listening on %s://%s (store %s)\n", scheme, l.Addr(), storeopen.Redact(spec))
	if admin != nil {
		fmt.Fprintf(stdout, "steer collect: admin (/metrics, /querylog, /healthz) on %s://%s\n", scheme, admin.Addr())
	}
	if ready != nil {
		ready(l.Addr())
	}
	// the background jobs stop, and are waited for, before the store closes
	var jobs sync.WaitGroup
	defer jobs.Wait()
	jctx, stopJobs := context.WithCancel(ctx)
	defer stopJobs()
	if retention > 0 {
		jobs.Go(func() { prune(jctx, st, retention, logger) })
	}
	if len(pb.queryLogs) > 0 {
		qt := &querytail.Tail{Files: pb.queryLogs, Every: time.Second, Dir: dir, Log: logger,
			Add: func(ctx context.Context, qs []rum.LogEntry) error { _, err := st.AddQueries(ctx, qs); return err }}
		if pb.tailEvery > 0 {
			qt.Every = pb.tailEvery
		}
		jobs.Go(func() { qt.Run(jctx) })
	}
	if pb.every > 0 {
		jobs.Go(func() { pb.run(jctx, st, dir, logger) })
	}
	if err := srv.Serve(ctx, l, admin); err != nil {
		fmt.Fprintf(stderr, "steer collect: %v\n", err)
		return 1
	}
	return 0
}

// prune applies the retention now and then every hour until ctx is done.
func prune(ctx context.Context, st store.Store, retention time.Duration, log *slog.Logger) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		before := time.Now().Add(-retention)
		n, err := st.DeleteBefore(ctx, before)
		switch {
		case err != nil && ctx.Err() == nil:
			log.Error("retention", "error", err)
		case n > 0:
			log.Info("retention", "deleted_rows", n, "before", before.UTC().Format(time.RFC3339))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// loopJobs is what the collector runs besides collecting, with its own
// store handle: a running collector holds DuckDB's write lock, so no other
// process can open the store to load DNS query logs or to build. It
// follows query logs into the store, and builds (and optionally
// publishes) a map now and then.
type loopJobs struct {
	every    time.Duration
	out, geo string
	bgp      []string
	publish  string
	keep     int           // prune the map directory to this many versions after a publish; 0: never
	window   time.Duration // builder.Options.Window
	recent   time.Duration // builder.Options.Recent

	queryLogs []string      // DNS query logs to follow into the store
	tailEvery time.Duration // how often (default 1 s)
}

func (pb loopJobs) run(ctx context.Context, st store.Store, dir string, log *slog.Logger) {
	t := time.NewTicker(pb.every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := pb.once(ctx, st, dir, log); err != nil && ctx.Err() == nil {
			log.Error("periodic build", "error", err)
		}
	}
}

func (pb loopJobs) once(ctx context.Context, st store.Store, dir string, log *slog.Logger) error {
	in := builder.Input{Store: st, StoreDir: dir, BGP: pb.bgp, GeoFile: pb.geo,
		Options: builder.Options{Window: pb.window, Recent: pb.recent}}
	if pb.geo != "" {
		db, err := geoip.Open(pb.geo)
		if err != nil {
			return err
		}
		defer func() { _ = db.Close() }()
		in.GeoIP = db
	}
	var md *mapstore.Dir
	if pb.publish != "" {
		var err error
		if md, err = mapstore.Open(pb.publish); err != nil {
			return err
		}
		if _, cur, err := md.Current(); err == nil && cur != "" {
			if _, tab, err := popmap.Load(cur); err == nil {
				in.Previous, in.PrevFile = tab, cur
			}
		}
	} else if _, tab, err := popmap.Load(pb.out); err == nil {
		in.Previous, in.PrevFile = tab, pb.out // the last build: stability between builds
	}
	res, err := builder.Build(ctx, in)
	if err != nil {
		return err
	}
	if err := writeBuild(pb.out, res); err != nil {
		return err
	}
	r := res.Report
	log.Info("built a map", "file", pb.out, "networks", r.Entries.Networks, "resolvers", r.Entries.Resolvers,
		"extrapolated", r.Entries.Extrap, "seconds", r.Timing.Total)
	if md == nil {
		return nil
	}
	gate, err := storeGate(ctx, st)
	if err != nil {
		return err
	}
	pr, err := md.Publish(pb.out, mapstore.PublishOptions{Gate: gate})
	if err != nil {
		return err
	}
	log.Info("published", "dir", pb.publish, "version", pr.Version, "unchanged", pr.Unchanged)
	if pb.keep > 0 && !pr.Unchanged {
		removed, err := md.Prune(pb.keep)
		if err != nil {
			return err
		}
		if len(removed) > 0 {
			log.Info("pruned old map versions", "dir", pb.publish, "removed", removed)
		}
	}
	return nil
}

const collectExample = `steer collect --store rum --listen 127.0.0.1:8080 --admin 127.0.0.1:9101`
