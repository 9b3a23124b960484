//go:build cgo

package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/steer-gslb/steer/internal/cli"
	"github.com/steer-gslb/steer/ui"
)

const uiHelp = `usage: steer ui (--map MAP.json | --control URL [--token T]) [--against MAP.json] [--world DIR | --truth FILE]
                [--config FILE] [--geoip FILE] [--store DIR] [--plan plan.geojson] [--collector URL] [--listen ADDR]

Serves the map explorer, a web application with every asset embedded (it
works with no internet access):

  World       the map's networks in h3 hexagons, coloured by assigned PoP,
              p75 latency, sample count, gain over --against (or over geo)
              or source; PoPs with their state and traffic share; click a
              hexagon for its networks, a network for steer explain
  IPv4        the IPv4 space on a Hilbert curve (one pixel per /24 at zoom
              4), by PoP, by source or by change between the two maps
  Evaluation  with a simulated world's truth: the per-user gain
              distribution and p50/p75/p95 per continent and country for
              geo, anycast, the map and perfect; the planner's new sites
              (--plan)
  Debug       debug-page reports by ID, from --collector

Networks are placed where their users are with --world/--truth (weighted by
traffic), else by GeoIP (weighted by their size in /24s). Hexagons can be
exported for kepler.gl: /export/hexes.csv?res=N (an hex_id column) and
/export/hexes.geojson?res=N.`

func runUI(args []string, stdout, stderr io.Writer) int {
	fs := cli.New("steer ui", uiHelp, `steer ui --map demo/latency.json --world demo/world
steer ui --map new.json --against old.json --config steer.yaml --listen 127.0.0.1:8090`, stdout, stderr)
	var f ui.Files
	fs.StringVar(&f.Map, "map", "", "the map to look at")
	fs.StringVar(&f.Against, "against", "", "a second map to compare with (default: the geo baseline)")
	fs.StringVar(&f.World, "world", "", "a simulated world's directory: its truth, config and GeoIP database")
	fs.StringVar(&f.Truth, "truth", "", "a simulated world's truth.tsv.gz (placement, true latency, evaluation)")
	fs.StringVar(&f.Config, "config", "", "the DNS server's config (PoPs, states; explain)")
	fs.StringVar(&f.GeoIP, "geoip", "", "the GeoIP database (default: the config's)")
	fs.StringVar(&f.Sources, "sources", "", "the map's sources file (default: MAP.sources.tsv beside the map)")
	fs.StringVar(&f.RTTs, "rtts", "", "the map's RTT file (default: MAP.rtt.tsv beside the map)")
	fs.StringVar(&f.Plan, "plan", "", "a plan.geojson from steer plan --out")
	fs.StringVar(&f.Collector, "collector", "", "a collector's URL, to look debug reports up")
	fs.StringVar(&f.Control, "control", "", "a control server: its active map (without --map) and the fleet's PoP states")
	fs.StringVar(&f.ControlToken, "token", "", "with --control: a read token (default: $STEER_TOKEN)")
	storeDir := fs.String("store", "", "a RUM store: explain adds the samples and p75 per PoP of a network")
	listen := fs.String("listen", "127.0.0.1:8090", "address to serve on")
	if code, ok := fs.Parse(args); !ok {
		return code
	}
	if fs.NArg() != 0 {
		return fs.Usagef("unexpected argument %q", fs.Arg(0))
	}
	if f.Map == "" && f.Control == "" {
		return fs.Usagef("--map (or --control URL) is required")
	}
	f.ControlToken = cmp.Or(f.ControlToken, os.Getenv("STEER_TOKEN"))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := serveUI(ctx, f, *storeDir, *listen, stdout); err != nil {
		fmt.Fprintln(stderr, "steer ui:", err)
		return 1
	}
	return 0
}

// serveUI loads the explorer and serves it on listen until ctx is done.
func serveUI(ctx context.Context, f ui.Files, storeDir, listen string, stdout io.Writer) error {
	if f.Control != "" && f.Map == "" {
		tmp, err := os.MkdirTemp("", "steer-ui-")
		if err != nil {
			return err
		}
		defer func() { _ = os.RemoveAll(tmp) }()
		f.TempDir = tmp
	}
	o, closer, err := ui.Open(f)
	if err != nil {
		return err
	}
	if closer != nil {
		defer func() { _ = closer.Close() }()
	}
	if storeDir != "" && o.Explain != nil {
		est, closeStore, err := storeEstimator(storeDir)
		if err != nil {
			return err
		}
		defer func() { _ = closeStore() }()
		o.Explain.Estimator = est
	}
	m, err := ui.Load(o)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	s := m.Summary()
	fmt.Fprintf(stdout, "steer ui: http://%s/ (%d networks placed by %s, loaded in %.1fs)\n", ln.Addr(), s.Networks, s.Placement, s.LoadSeconds)
	return ui.Serve(ctx, ln, ui.NewServer(m, nil))
}

// serveDemoUI serves the map explorer on a demo directory's latency map
// and world until ctx is done.
func serveDemoUI(ctx context.Context, w io.Writer, dir, listen string) error {
	f := ui.Files{Map: filepath.Join(dir, "latency.json"), World: filepath.Join(dir, "world")}
	fmt.Fprintln(w, "map explorer (until interrupted):")
	// The store adds samples and p75 per PoP to explanations, when it can
	// be opened.
	storeDir := filepath.Join(dir, "store")
	if est, closeStore, err := storeEstimator(storeDir); err != nil {
		fmt.Fprintf(w, "  (explanations without the store's samples: %v)\n", err)
		storeDir = ""
	} else {
		_ = est
		_ = closeStore()
	}
	return serveUI(ctx, f, storeDir, listen, w)
}
