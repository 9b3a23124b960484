//go:build cgo

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/signal"
	"sync"

	"github.com/steer-gslb/steer/builder"
	"github.com/steer-gslb/steer/config"
	"github.com/steer-gslb/steer/geoip"
	"github.com/steer-gslb/steer/internal/cli"
	"github.com/steer-gslb/steer/mapeval"
	"github.com/steer-gslb/steer/popmap"
	"github.com/steer-gslb/steer/sim"
)

const evalUsage = `usage: steer eval --map MAP.json [--store DIR] [--truth FILE] [--geoip FILE.mmdb --pops CONFIG] [--against MAP.json]

Scores a map, and compares it with a geo map (GeoIP → nearest PoP), with
anycast and with --against (e.g. the published map):
  --store: on the held-out beacons the build did not use (same --holdout),
           anycast from their served_by samples;
  --truth: on a simulated world's ground truth (steer sim's truth.tsv.gz),
           with the perfect map (every network at its latency-best PoP).
Two views: per client network (its own entry), and as DNS serves it (each
client through its resolver: the ECS entry when the resolver sends ECS, else
the resolver's entry, else GeoIP, else anycast). Writes the numbers as JSON
(--json) and the per-network gain over geo as a PNG (--png, with --truth).

`

// evalRow is one strategy's scores in the report.
type evalRow struct {
	Name     string          `json:"name"`
	HeldOut  *builder.Scores `json:"held_out,omitempty"`
	Truth    *builder.Scores `json:"truth,omitempty"`
	Extrapol *mapeval.Score  `json:"truth_extrapolated,omitempty"`
	Measured *mapeval.Score  `json:"truth_measured,omitempty"`
	// Classes: the per-network view on the truth by where the answer came
	// from (measured; the map's sources; no entry), each also as the geo
	// map and the per-block oracle would serve it.
	Classes []mapeval.Class `json:"truth_classes,omitempty"`
	// Extrapolation: the networks without beacons a map entry answers,
	// against the block oracles on the same networks.
	Extrapolation *mapeval.Extrapolation `json:"truth_extrapolation,omitempty"`
}

func runEval(args []string, stdout, stderr io.Writer) int {
	fs := cli.New("steer eval", evalUsage, evalExample, stdout, stderr)
	dir := fs.String("store", "", "RUM store (a directory or a clickhouse:// URL): score on its held-out beacons")
	mapFile := fs.String("map", "", "the map to score (required)")
	truth := fs.String("truth", "", "a simulated world's truth.tsv.gz: score on the ground truth")
	geoFile := fs.String("geoip", "", "MaxMind DB: the geo fallback and the geo map")
	popsFile := fs.String("pops", "", "DNS server config whose pops give the PoP locations (the geo map; --truth has its own)")
	against := fs.String("against", "", "another map to compare with (e.g. the published one)")
	holdout := fs.Float64("holdout", 0.1, "the build's --holdout")
	quantile := fs.Float64("quantile", 0.5, "with --truth: the per-network latency statistic (the true quantile of RTT)")
	jsonOut := fs.String("json", "", "write the scores as JSON here")
	pngOut := fs.String("png", "", "with --truth: write the per-network gain distribution (vs geo, vs anycast) as a PNG")
	sources := fs.String("sources", "", "the map's sources (steer build's MAP.sources.tsv; default: next to --map, when there): with --truth, score each kind of entry apart")
	if code, ok := fs.Parse(args); !ok {
		return code
	}
	if *mapFile == "" || (*dir == "" && *truth == "") || fs.NArg() != 0 {
		return fs.Usagef("--map and at least one of --store and --truth are required")
	}
	if *geoFile == "" {
		return fs.Usagef("--geoip is required: the geo map (GeoIP → nearest PoP) is the baseline and the fallback")
	}
	if *dir != "" && *popsFile == "" && *truth == "" {
		return fs.Usagef("with --store, --pops CONFIG (or --truth) is required: the PoPs' locations make the geo map")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	rows, err := evaluate(ctx, evalArgs{dir: *dir, mapFile: *mapFile, truth: *truth, geoFile: *geoFile, popsFile: *popsFile,
		against: *against, holdout: *holdout, quantile: *quantile, png: *pngOut, sources: *sources}, stdout)
	if err != nil {
		fmt.Fprintln(stderr, "steer eval:", err)
		return 1
	}
	if *jsonOut != "" {
		if err := writeFileAtomic(*jsonOut, func(w io.Writer) error {
			enc := json.NewEncoder(w)
			enc.SetIndent("", "  ")
			return enc.Encode(map[string]any{"map": *mapFile, "strategies": rows})
		}); err != nil {
			fmt.Fprintln(stderr, "steer eval:", err)
			return 1
		}
	}
	return 0
}

type evalArgs struct {
	dir, mapFile, truth, geoFile, popsFile, against, png, sources string
	holdout, quantile                                             float64
}

// loadSources reads the candidate map's sources: --sources, else
// MAP.sources.tsv when it exists, else none (nil).
func loadSources(a evalArgs) (func(netip.Prefix) string, error) {
	path := a.sources
	if path == "" {
		path = sourcesPath(a.mapFile)
		if _, err := os.Stat(path); err != nil {
			return nil, nil
		}
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }()
	t, err := builder.ReadSources(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return func(p netip.Prefix) string {
		if from, ok := t.Lookup(p.Addr()); ok {
			return from
		}
		return "map"
	}, nil
}

func evaluate(ctx context.Context, a evalArgs, w io.Writer) ([]*evalRow, error) {
	_, cand, err := popmap.Load(a.mapFile)
	if err != nil {
		return nil, err
	}
	var other *popmap.Table
	if a.against != "" {
		if _, other, err = popmap.Load(a.against); err != nil {
			return nil, fmt.Errorf("--against: %w", err)
		}
	}
	var geo *geoip.DB
	if a.geoFile != "" {
		if geo, err = geoip.Open(a.geoFile); err != nil {
			return nil, err
		}
		defer func() { _ = geo.Close() }()
	}
	rows := []*evalRow{{Name: "latency map"}, {Name: "geo"}, {Name: "anycast"}}
	tabs := []*popmap.Table{cand, nil, nil}
	geos := []*geoip.DB{geo, geo, nil}
	if other != nil {
		rows = append(rows, &evalRow{Name: "against"})
		tabs = append(tabs, other)
		geos = append(geos, geo)
	}
	if a.dir != "" {
		sites, err := popSites(a.popsFile, a.truth)
		if err != nil {
			return nil, err
		}
		st, err := openForReading(a.dir)
		if err != nil {
			return nil, err
		}
		h, err := builder.LoadHeldOut(ctx, st, builder.Options{HoldOut: a.holdout})
		_ = st.Close()
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(w, "held-out data: %d beacons; %d networks measured every PoP and are scored\n", h.Beacons, h.Networks)
		if h.Networks == 0 {
			return nil, errors.New("no held-out network measured every PoP: nothing to score on (is --holdout the build's?)")
		}
		for i, r := range rows {
			s := h.Score(&builder.Strategy{Map: tabs[i], Geo: geos[i], Sites: sites})
			r.HeldOut = &s
		}
		printScores(w, "on held-out beacons (latency = each network's median RTT; traffic = beacons)", rows,
			func(r *evalRow) *builder.Scores { return r.HeldOut })
	}
	if a.truth != "" {
		if rows, err = evalTruth(a, rows, tabs, geos, w); err != nil {
			return nil, err
		}
	}
	return rows, nil
}

// popSites returns PoP locations for the geo map: from the DNS config, or
// from the truth file's header.
func popSites(popsFile, truth string) ([]geoip.Site, error) {
	var sites []geoip.Site
	switch {
	case popsFile != "":
		cfg, err := config.Load(popsFile)
		if err != nil {
			return nil, err
		}
		for _, p := range cfg.PoPs {
			sites = append(sites, geoip.Site{Label: p.Label, Lat: p.Lat, Lon: p.Lon})
		}
	case truth != "":
		errStop := errors.New("stop")
		if _, err := sim.ReadTruth(truth, func(h *sim.TruthHeader, _ *sim.TruthRecord) error {
			for _, p := range h.PoPs {
				sites = append(sites, geoip.Site{Label: p.Label, Lat: p.Lat, Lon: p.Lon})
			}
			return errStop
		}); err != nil && !errors.Is(err, errStop) {
			return nil, err
		}
	}
	return sites, nil
}

// printScores prints both views of each row's scores (those pick gives).
func printScores(w io.Writer, title string, rows []*evalRow, pick func(*evalRow) *builder.Scores) {
	fmt.Fprintf(w, "\n%s\n", title)
	fmt.Fprintf(w, "%-14s %-12s %8s %8s %8s %8s %9s %9s\n", "strategy", "view", "p50 ms", "p75 ms", "p95 ms", "at best", "regret ms", "coverage")
	for _, r := range rows {
		sc := pick(r)
		for _, v := range []struct {
			name string
			s    builder.Score
		}{{"per network", sc.PerNetwork}, {"as served", sc.Served}} {
			fmt.Fprintf(w, "%-14s %-12s %8.1f %8.1f %8.1f %7.1f%% %9.2f %8.1f%%\n", r.Name, v.name, v.s.P50, v.s.P75, v.s.P95,
				100*v.s.AtBest, v.s.Regret, 100*v.s.Coverage)
		}
	}
}

// evalTruth scores every strategy on the truth and appends the perfect map.
func evalTruth(a evalArgs, rows []*evalRow, tabs []*popmap.Table, geos []*geoip.DB, w io.Writer) ([]*evalRow, error) {
	source, err := loadSources(a)
	if err != nil {
		return nil, err
	}
	// the strategies are scored side by side: each streams the truth file
	// on its own (maps, GeoIP and sources are read-only)
	results := make([]*mapeval.Result, len(rows))
	errs := make([]error, len(rows))
	var wg sync.WaitGroup
	for i := range rows {
		in := mapeval.Input{Truth: a.truth, Map: tabs[i], Geo: geos[i], Quantile: a.quantile, KeepPerNetwork: a.png != ""}
		if i == 0 {
			in.Source = source
		}
		wg.Go(func() { results[i], errs[i] = mapeval.Evaluate(in) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	var perfect *mapeval.Result
	var lats [][]float32
	var weights []float32
	for i, r := range rows {
		res := results[i]
		r.Truth = &builder.Scores{PerNetwork: res.PerNetwork, Served: res.Served}
		if i == 0 {
			r.Measured, r.Extrapol, r.Classes = &res.Measured, &res.Extrapolated, res.Classes
			if x := mapeval.Extrapolated(res.Classes); x.Networks > 0 {
				r.Extrapolation = &x
			}
			perfect = res
		}
		lats = append(lats, res.Latency)
		weights = res.Weight
	}
	rows = append(rows, &evalRow{Name: "perfect", Truth: &builder.Scores{PerNetwork: perfect.BestPerNetwork, Served: perfect.BestServed}})
	printScores(w, fmt.Sprintf("on the ground truth (latency = each network's true p%g RTT; traffic = the world's weights)", 100*a.quantile), rows,
		func(r *evalRow) *builder.Scores { return r.Truth })
	c, g, p := rows[0].Truth, rows[1].Truth, rows[len(rows)-1].Truth
	for _, v := range []struct {
		name          string
		cand, geo, pf mapeval.Score
	}{{"per network", c.PerNetwork, g.PerNetwork, p.PerNetwork}, {"as served", c.Served, g.Served, p.Served}} {
		gain := "-"
		if d := v.geo.P75 - v.pf.P75; d > 0 {
			gain = fmt.Sprintf("%.1f%%", 100*(v.geo.P75-v.cand.P75)/d)
		}
		fmt.Fprintf(w, "%-12s p75 %+.2f%% against perfect, %+.1f%% against geo; %s of the perfect map's p75 gain over geo\n",
			v.name, 100*(v.cand.P75/v.pf.P75-1), 100*(v.cand.P75/v.geo.P75-1), gain)
	}
	printClasses(w, rows[0])
	if a.png != "" {
		if err := gainPlot(a.png, lats, weights); err != nil {
			return nil, err
		}
		fmt.Fprintf(w, "wrote %s\n", a.png)
	}
	return rows, nil
}

// printClasses prints the candidate's per-network view by where each
// answer came from, next to what the geo map and the block oracles give the
// same networks, and the regret of networks without beacons against that of
// networks with them.
func printClasses(w io.Writer, r *evalRow) {
	fmt.Fprintf(w, "\nper network, by where the answer came from; regret in ms of the map, the geo map, and one PoP per GeoIP block\n"+
		"chosen knowing every network's true latency (oracle: and its traffic; equal: each network counted once)\n")
	fmt.Fprintf(w, "%-22s %9s %8s %8s %8s %8s %8s %8s\n", "networks", "count", "traffic", "at best", "map", "geo", "oracle", "equal")
	var total float64
	for _, c := range r.Classes {
		total += c.Map.Traffic
	}
	for _, c := range r.Classes {
		fmt.Fprintf(w, "%-22s %9d %7.1f%% %7.1f%% %8.2f %8.2f %8.2f %8.2f\n", c.Name, c.Map.Networks, 100*c.Map.Traffic/total,
			100*c.Map.AtBest, c.Map.Regret, c.Geo.Regret, c.Oracle.Regret, c.OracleEqual.Regret)
	}
	m, e, x := r.Measured, r.Extrapol, mapeval.Extrapolated(r.Classes)
	if m.Regret > 0 && x.Traffic > 0 {
		fmt.Fprintf(w, "networks with beacons: mean regret %.2f ms; without beacons, answered by the map: %.2f ms (%.1f× measured; oracles %.2f and %.2f ms)\n",
			m.Regret, e.Regret, e.Regret/m.Regret, x.Oracle, x.OracleEqual)
	}
	switch rw, ro, ok := x.Ratio(); {
	case ok:
		fmt.Fprintf(w, "without beacons, answered by the map, against the equal oracle: %.2f / %.2f ms = %.2f× traffic-weighted (bar: 1.2×); %.2f / %.2f ms = %.2f× each network counted once\n",
			x.Regret, x.OracleEqual, rw, x.RegretOnce, x.OracleEqualOnce, ro)
	case x.Networks > 0:
		fmt.Fprintf(w, "without beacons, answered by the map, against the equal oracle: %.2f / %.2f ms traffic-weighted, %.2f / %.2f ms each network counted once (no ratio: the oracle leaves next to nothing)\n",
			x.Regret, x.OracleEqual, x.RegretOnce, x.OracleEqualOnce)
	}
}

// gainPlot draws the distribution of per-network latency gain of the
// candidate over geo and over anycast, weighted by traffic (Dropbox's PDF
// of per-user gain): lats[0] is the candidate, lats[1] geo, lats[2] anycast.
func gainPlot(path string, lats [][]float32, weights []float32) error {
	ch, err := mapeval.GainChart(lats, weights)
	if err != nil {
		return err
	}
	return ch.SavePNG(path)
}

const evalExample = `steer eval --map map.json --store rum --truth world/truth.tsv.gz --geoip world/geoip.mmdb --pops world/steer.yaml`
