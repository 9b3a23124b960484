package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/steer-gslb/steer/config"
	"github.com/steer-gslb/steer/data"
	"github.com/steer-gslb/steer/internal/cli"
	"github.com/steer-gslb/steer/planner"
	"github.com/steer-gslb/steer/sim"
)

const planUsage = `usage: steer plan [--add K] [--loss tcp|l1|l2] [--config FILE | --pops LIST] [--candidates FILE|all]
                  [--weights FILE | --store DIR --geoip FILE] [--min-distance KM] [--exclude CC,...] [--out DIR]

Where the next PoPs should go. Splits the Earth into s2 level-7 cells,
weights them by population (GeoNames cities of 15,000 or more, shipped) or
by a weights file, places the existing PoPs, and finds by exhaustive search
the candidate site whose new PoP most reduces the weighted loss; repeats K
times (greedy, each step exact). Prints the new sites best first with the
loss reduction each brings and why, the loss curve (the existing PoPs
thinned one at a time, then the new sites) and the gains per continent.

Losses (per unit of weight, at the distance d to the nearest PoP):
  tcp  expected time to fetch a typical object: RTT from d on a line fitted
       on the shipped WonderProxy matrix, handshakes + size / throughput
       (Mathis et al., capped at the access bandwidth)
  l1   d in km          l2   d² in km²

Real users (--store DIR --geoip FILE): every client network of the RUM store
is a point at its GeoIP location weighted by its beacons, and where it
measured the existing PoPs, its median RTT to the best one (not its
distance) is where its cell starts (--measured=false: distance only).

Files:
  --weights FILE     lines of lat,lon,weight (header and # comments allowed)
  --candidates FILE  lines of lat,lon[,name] or City[,CC] (GeoNames); "all"
                     tries every level-7 cell of the sphere (98,304);
                     default: every populated cell, at its largest city
  --out DIR          writes plan.geojson (cells, PoPs, sites), plan.png (map)
                     and loss.png (loss curve)

`

func runPlan(args []string, stdout, stderr io.Writer) int {
	fs := cli.New("steer plan", planUsage, planExample, stdout, stderr)
	add := fs.Int("add", 5, "new PoPs to place")
	lossName := fs.String("loss", "tcp", "loss function: tcp, l1 or l2")
	cfgFile := fs.String("config", "", "the DNS server config whose PoPs exist (instead of --pops)")
	pops := fs.String("pops", sim.FormatPoPs(sim.DefaultPoPs), `existing PoPs as label=City,... (WonderProxy or GeoNames cities); "none" for none`)
	candFile := fs.String("candidates", "", `candidate sites file, or "all" (default: every populated cell)`)
	weightFile := fs.String("weights", "", "weights file of lat,lon,weight (default: GeoNames population)")
	storeDir := fs.String("store", "", "RUM store: weights are measured users (beacons per client network, located by --geoip), and their measured RTT to the best existing PoP replaces the distance model")
	geoFile := fs.String("geoip", "", "MaxMind DB locating the RUM store's client networks (with --store)")
	measured := fs.Bool("measured", true, "with --store: use measured latency to the existing PoPs where it exists")
	minWeight := fs.Float64("min-weight", 0, "default candidates: only cells holding at least this weight (e.g. 1e6 people: metropolitan areas)")
	minKm := fs.Float64("min-distance", 0, "minimum distance in km between a new PoP and any other")
	exclude := fs.String("exclude", "", "countries (ISO codes, comma-separated) where no new PoP goes")
	out := fs.String("out", "", "directory for plan.geojson, plan.png and loss.png (created if missing)")
	workers := fs.Int("workers", 0, "goroutines per search step (0: GOMAXPROCS)")
	top := fs.Int("top", 3, "cells named in each site's explanation")
	tcp := planner.DefaultTCP
	objectKB := fs.Float64("object-kb", tcp.ObjectBytes/1000, "tcp loss: size of the typical object, kB")
	fs.Float64Var(&tcp.PacketLoss, "packet-loss", tcp.PacketLoss, "tcp loss: packet loss rate p for Mathis's throughput")
	fs.Float64Var(&tcp.AccessMbps, "access-mbps", tcp.AccessMbps, "tcp loss: access bandwidth cap, Mbit/s")
	fs.Float64Var(&tcp.Handshakes, "handshakes", tcp.Handshakes, "tcp loss: round trips before the first byte")
	if code, ok := fs.Parse(args); !ok {
		return code
	}
	usageErr := fs.Usagef
	if fs.NArg() > 0 {
		return usageErr("unexpected argument %q; see steer plan --help", fs.Arg(0))
	}
	if *add < 0 {
		return usageErr("--add %d: want ≥ 0", *add)
	}
	popsSet := false
	fs.Visit(func(f *flag.Flag) { popsSet = popsSet || f.Name == "pops" })
	if *cfgFile != "" && popsSet {
		return usageErr("--config and --pops both name the existing PoPs: give one")
	}
	kind, err := planner.ParseKind(*lossName)
	if err != nil {
		return usageErr("--loss: %v", err)
	}
	excluded, err := planner.ParseExclude(*exclude)
	if err != nil {
		return usageErr("--%v", err) // "--exclude: item 2 ..."
	}
	tcp.ObjectBytes = *objectKB * 1000

	t0 := time.Now()
	if (*storeDir == "") != (*geoFile == "") || (*storeDir != "" && *weightFile != "") {
		return usageErr("--store and --geoip go together (users located by GeoIP), and not with --weights")
	}
	in, err := loadPlanInputs(*weightFile, *storeDir, *geoFile, *candFile, *cfgFile, *pops, *minWeight)
	if err != nil {
		fmt.Fprintf(stderr, "steer plan: %v\n", err)
		return 1
	}
	loss := planner.Loss{Kind: kind}
	var fit planner.FibreFit
	if kind == planner.TCP {
		if fit, err = planner.FitFibre(in.matrix); err != nil {
			fmt.Fprintf(stderr, "steer plan: %v\n", err)
			return 1
		}
		loss.Fibre, loss.TCP = fit.Fibre, tcp
	}
	p := &planner.Problem{Cells: in.cells, Candidates: in.candidates, Existing: in.existing, Loss: loss,
		MinDistanceKm: *minKm, Exclude: excluded, Workers: *workers}
	if *storeDir != "" && *measured {
		if fit.Pairs == 0 {
			if fit, err = planner.FitFibre(in.matrix); err != nil {
				fmt.Fprintf(stderr, "steer plan: %v\n", err)
				return 1
			}
		}
		p.Measured = &fit.Fibre
	}
	pl, err := p.Plan(*add)
	if err != nil {
		fmt.Fprintf(stderr, "steer plan: %v\n", err)
		return 1
	}
	rep := planner.Report{WeightUnit: in.unit, Top: *top, Weights: in.weightSource, CandidateSource: in.candSource, PoPSource: in.popSource}
	if kind == planner.TCP {
		rep.Fit = &fit
	}
	rep.Write(stdout, pl)
	if *out != "" {
		if err := writePlanFiles(*out, pl, in.unit); err != nil {
			fmt.Fprintf(stderr, "steer plan: %v\n", err)
			return 1
		}
		fmt.Fprintf(stdout, "\nwrote %s, %s and %s\n", filepath.Join(*out, "plan.geojson"), filepath.Join(*out, "plan.png"), filepath.Join(*out, "loss.png"))
	}
	fmt.Fprintf(stderr, "plan: done in %v\n", time.Since(t0).Round(10*time.Millisecond))
	return 0
}

// planInputs are the cells, candidates and existing PoPs of a plan, with
// where each came from.
type planInputs struct {
	matrix                *data.Matrix
	cells                 []planner.Cell
	candidates, existing  []planner.Site
	unit, weightSource    string
	candSource, popSource string
}

func loadPlanInputs(weightFile, storeDir, geoFile, candFile, cfgFile, pops string, minWeight float64) (*planInputs, error) {
	cities, err := data.Cities()
	if err != nil {
		return nil, err
	}
	m, _, err := data.LoadMatrix()
	if err != nil {
		return nil, err
	}
	g := planner.NewGazetteer(cities)
	in := &planInputs{matrix: m}

	switch {
	case cfgFile != "":
		c, err := config.Load(cfgFile)
		if err != nil {
			return nil, err
		}
		in.existing, in.popSource = planner.ConfigSites(c, g), "from "+cfgFile
	case strings.TrimSpace(pops) == "none":
		in.popSource = "none"
	default:
		if in.existing, err = planner.ParsePoPs(pops, m, g); err != nil {
			return nil, err
		}
		in.popSource = "--pops"
		if pops == sim.FormatPoPs(sim.DefaultPoPs) {
			in.popSource = "the simulator's default footprint"
		}
	}

	var points []planner.Point
	switch {
	case storeDir != "":
		points, in.weightSource, err = rumPoints(storeDir, geoFile, in.existing)
		in.unit = "beacons"
	case weightFile != "":
		err = readFile(weightFile, func(r io.Reader) (err error) { points, err = planner.ParseWeights(r); return err })
		in.unit, in.weightSource = "users", weightFile
	default:
		points = planner.PopulationPoints(cities)
		in.unit, in.weightSource = "people", "GeoNames cities of 15,000 or more"
	}
	if err != nil {
		return nil, err
	}
	if in.cells, err = planner.Cells(points); err != nil {
		return nil, fmt.Errorf("weights: %w", err)
	}
	planner.NameCells(in.cells, g)

	switch candFile {
	case "":
		in.candidates, in.candSource = planner.CellCandidates(in.cells, minWeight), "every populated cell, at its largest city"
		if minWeight > 0 {
			in.candSource = fmt.Sprintf("every cell of %g %s or more, at its largest city", minWeight, in.unit)
		}
	case "all":
		in.candidates, in.candSource = planner.EveryCell(g), "every level-7 cell of the sphere, at its centre"
	default:
		err = readFile(candFile, func(r io.Reader) (err error) { in.candidates, err = planner.ParseCandidates(r, g); return err })
		in.candSource = "from " + candFile
	}
	if err != nil {
		return nil, err
	}

	return in, nil
}

// readFile opens path and hands it to parse; errors name the file.
func readFile(path string, parse func(io.Reader) error) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer func() { _ = f.Close() }() // read only
	if err := parse(f); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

func writePlanFiles(dir string, pl *planner.Plan, unit string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.Create(filepath.Join(dir, "plan.geojson"))
	if err != nil {
		return err
	}
	if err := pl.WriteGeoJSON(f); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	title := fmt.Sprintf("PoP plan: %d existing PoPs + %d new sites (%s loss)", len(pl.Problem.Existing), len(pl.Steps), pl.Problem.Loss.Kind)
	mc, err := pl.MapChart(title, unit)
	if err != nil {
		return err
	}
	if err := mc.SavePNG(filepath.Join(dir, "plan.png")); err != nil {
		return err
	}
	cc, err := pl.CurveChart("Loss against the number of PoPs")
	if err != nil {
		return err
	}
	return cc.SavePNG(filepath.Join(dir, "loss.png"))
}

const planExample = `steer plan --add 3 --out plan`
