package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/steer-gslb/steer/explain"
	"github.com/steer-gslb/steer/internal/cli"
	"github.com/steer-gslb/steer/web"
	"github.com/steer-gslb/steer/web/debugmap"
)

const debugUsage = `usage: steer debug show ID --dir DIR | --collector URL [--config FILE [--map MAP]] [--query-log FILE] [--json]

The debug page (/debug on the collector and on every edge with a debug
collector) measures every PoP from the user's browser, runs the DNS test
and stores a report under a short ID that the page shows. steer debug show
prints that report: the user's network (/24 or /56), each PoP's round
trips, X-Edge-PoP and request ID, the fastest PoP, which PoP the map gives
the network and the resolver, and whether they agree.

--dir reads the report from the collector's store directory (DIR/debug)
with no collector running; --collector asks a running collector
(GET /debug/report/ID), which also looks up the user's resolver in its
store. --config (the DNS server's config) and --map compute the map's
answer now; --query-log finds the resolver in a DNS query log file.
`

var debugGroup = &cli.Group{
	Name: "steer debug",
	Help: debugUsage,
	Subs: []cli.Sub{
		{Name: "show", Summary: "print a debug page report: show ID --dir DIR | --collector URL"},
	},
	Example: "steer debug show 7KQ2M9XD --dir rum",
}

func runDebug(args []string, stdout, stderr io.Writer) int {
	sub, args, code, ok := debugGroup.Dispatch(args, stdout, stderr)
	if !ok {
		return code
	}
	_ = sub // show is the only one
	fs := cli.New("steer debug show", debugUsage, `steer debug show 7KQ2M9XD --dir rum
steer debug show 7KQ2M9XD --collector http://127.0.0.1:8080 --config steer.yaml --map map.json`, stdout, stderr)
	dir := fs.String("dir", "", "the collector's store directory (reports in DIR/debug)")
	collectorURL := fs.String("collector", "", "ask the running collector at this URL instead")
	var files explain.Files
	fs.StringVar(&files.Config, "config", "", "the DNS server's config: compute the map's answer for the network and resolver")
	fs.StringVar(&files.Map, "map", "", "with --config: the map to use in place of the record's maps")
	fs.StringVar(&files.Record, "record", "", "with --config: the steered record (default: the config's first)")
	queryLog := fs.String("query-log", "", "a DNS query log (NDJSON) to find the DNS test's resolver in")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	timeout := fs.Duration("timeout", 10*time.Second, "with --collector: how long to wait for the answer")
	if code, ok := fs.Parse(args); !ok {
		return code
	}
	if fs.NArg() != 1 {
		return fs.Usagef("one report ID is required")
	}
	if (*dir == "") == (*collectorURL == "") {
		return fs.Usagef("give --dir DIR or --collector URL (one of them)")
	}
	if files.Config == "" && (files.Map != "" || files.Record != "") {
		return fs.Usagef("--map and --record need --config")
	}
	id, err := web.NormalizeDebugReportID(fs.Arg(0))
	if err != nil {
		return fs.Usagef("%v", err)
	}
	var rep *web.DebugReport
	if *dir != "" {
		d := *dir
		if fi, err := os.Stat(filepath.Join(d, "debug")); err == nil && fi.IsDir() {
			d = filepath.Join(d, "debug")
		}
		rep, err = web.ReadDebugReport(d, id)
	} else {
		ctx, cancel := context.WithTimeout(context.Background(), *timeout)
		defer cancel()
		rep, err = web.FetchDebugReport(ctx, *collectorURL, id)
	}
	if err == nil && *queryLog != "" && rep.DNSTest != "" {
		err = web.ResolverFromLog(rep, *queryLog)
	}
	if err == nil && files.Config != "" {
		var in explain.Inputs
		if in, err = explain.Load(files); err == nil {
			err = debugmap.Fill(rep, in)
		}
	}
	if err != nil {
		fmt.Fprintln(stderr, "steer debug show:", err)
		return 1
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			fmt.Fprintln(stderr, "steer debug show:", err)
			return 1
		}
		return 0
	}
	fmt.Fprint(stdout, rep.Text())
	return 0
}
