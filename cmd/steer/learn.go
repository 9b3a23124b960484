//go:build cgo

package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/steer-gslb/steer/builder"
	"github.com/steer-gslb/steer/internal/cli"
	"github.com/steer-gslb/steer/learnsim"
	"github.com/steer-gslb/steer/measureplan"
)

const learnUsage = `usage: steer learn --world DIR --out DIR [--arm planned,random] [--beacons-per-day N] [--build-every 12h] [--recent 24h]
       steer learn --replot --out DIR [--arm planned,random]

Runs the learning loop on a timed simulated world (steer sim --days N), in
one process with the real parts (package learnsim): clients of the world's
measured networks arrive in proportion to their traffic over the diurnal
cycle; each times the PoPs its network's probe plan names (--arm planned:
the collector's planner, from knowledge refreshed from the store at every
build, honouring its back-off) or --max-pops open PoPs at random (--arm
random); the samples come from the world's truth of the moment and go into
a DuckDB store; every --build-every a map is built (with the previous map,
--window and --recent change detection) and scored against the truth of
its period. Prints a line per build and a summary, and writes under --out
NAME.json (a JSON object per build), NAME.store and learn.png (the runs'
charts). The world's events (a peering lost, a new PoP) are what change
detection and the planner are judged on: see docs/BENCHMARKS.md.
`

const learnExample = `steer sim --days 14 --out world --beacons-per-day 1 --event 'day=6,kind=pop-open,pop=waw'
steer learn --world world --arm planned,random --beacons-per-day 50000 --build-every 12h --out learn`

func runLearn(args []string, stdout, stderr io.Writer) int {
	fs := cli.New("steer learn", learnUsage, learnExample, stdout, stderr)
	world := fs.String("world", "", "a timed world directory (steer sim --days N) (required)")
	out := fs.String("out", "", "directory for the runs' stores, JSON and chart (required)")
	armList := fs.String("arm", "planned", "comma-separated arms to run: planned, random")
	name := fs.String("name", "", "prefix of the runs' names and files")
	title := fs.String("title", "learning loop", "the chart's title")
	replot := fs.Bool("replot", false, "run nothing: read the arms' NAME.json under --out and redraw the chart and summary")
	var c learnsim.Config
	fs.IntVar(&c.BeaconsPerDay, "beacons-per-day", 50_000, "client arrivals a day over the measured networks")
	fs.DurationVar(&c.BuildEvery, "build-every", 12*time.Hour, "simulated time between builds")
	fs.DurationVar(&c.Build.Window, "window", 0, "builder --window (0: the whole store)")
	fs.DurationVar(&c.Build.Recent, "recent", 0, "builder --recent: change detection (0: off)")
	fs.IntVar(&c.Build.MinRecent, "min-recent", 0, "builder --min-recent: recent samples of a (network, PoP) to test it (default: 3)")
	fs.DurationVar(&c.Refresh, "refresh", 0, "how often the planner's knowledge is re-read from the store (the collector's plan.refresh; default: at every build)")
	fs.DurationVar(&c.PlanRecent, "plan-recent", 0, "the planner's change test window (the collector's plan.recent; 0: off)")
	fs.Uint64Var(&c.Seed, "seed", 1, "arrivals and samples")
	c.Policy = measureplan.DefaultPolicy()
	fs.IntVar(&c.Policy.MaxPoPs, "max-pops", c.Policy.MaxPoPs, "PoPs a beacon times at most (the random arm: exactly)")
	fs.Float64Var(&c.Policy.Explore, "explore", c.Policy.Explore, "planner: share of plans that add a random PoP")
	fs.DurationVar(&c.Policy.StaleAfter, "stale-after", c.Policy.StaleAfter, "planner: time a contender again after this long unmeasured (0: never)")
	if code, ok := fs.Parse(args); !ok {
		return code
	}
	if (*world == "" && !*replot) || *out == "" || fs.NArg() != 0 {
		return fs.Usagef("--world DIR and --out DIR are required, and nothing else")
	}
	if err := c.Policy.Check(); err != nil {
		return fs.Usagef("%v", err)
	}
	if err := (&builder.Options{Window: c.Build.Window, Recent: c.Build.Recent, MinRecent: c.Build.MinRecent}).Validate(); err != nil {
		return fs.Usagef("%v", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	c.World, c.Progress = *world, stdout
	arms := learnsim.Arms{Dir: *out, Prefix: *name, Replot: *replot}
	for a := range strings.SplitSeq(*armList, ",") {
		arms.Arms = append(arms.Arms, learnsim.Arm(strings.TrimSpace(a)))
	}
	runs, err := arms.Run(ctx, c)
	if err == nil {
		for _, line := range learnsim.Summary(runs) {
			fmt.Fprintln(stdout, line)
		}
		err = arms.SaveChart(*title, runs)
	}
	if err != nil {
		fmt.Fprintln(stderr, "steer learn:", err)
		return 1
	}
	return 0
}
