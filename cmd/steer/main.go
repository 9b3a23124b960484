// Command steer is steer's command line: one binary with subcommands for the
// whole loop. Each subcommand only parses flags and wires packages together.
//
//	steer demo                         the end-to-end demo: the whole loop on a simulated world
//	steer dns --config FILE            the authoritative GSLB DNS server
//	steer map validate|lookup|diff|stats ...
//	steer sim --out DIR | report DIR   a world built from real data
//	steer collect|ingest|probe|probe-target   real-user measurement
//	steer build|eval|publish|rollback          the latency map: build, score, roll out
//	steer control --config FILE                the control server a DNS fleet follows
//	steer pop drain|up|down|anycast LABEL | list, steer fleet status   operate it
//	steer plan --add K                         where the next PoPs should go
package main

import (
	"fmt"
	"io"
	"os"

	"github.com/steer-gslb/steer/internal/version"
)

type command struct {
	name, usage string
	run         func(args []string, stdout, stderr io.Writer) int
}

func commands() []command {
	return []command{
		{"demo", "the whole loop on a simulated world (world → collector → DNS tests → build → eval → publish → DNS answers); `demo dns`: the DNS server alone", runDemo},
		{"dns", "run the authoritative GSLB DNS server (--config FILE)", runDNS},
		{"sim", "build a simulated world from real data: --out DIR [flags] | report DIR", runSim},
		{"collect", "run the RUM collector: --store DIR [--listen ADDR] [--config FILE]", runCollect},
		{"ship", "ship a DNS server's query logs to the collector (tail -F, at least once): --query-log FILE --collector URL --state DIR", runShip},
		{"ingest", "bulk-load beacon and DNS-log NDJSON into a RUM store: --store DIR FILE...", runIngest},
		{"store", "the RUM store: stats | export --out DIR (Parquet) | prune --older-than D (retention)", runStore},
		{"probe", "measure every PoP, run the random-name DNS test and post one beacon (desktop/CLI agent)", runProbe},
		{"probe-target", "serve the /rum/probe endpoint alone: --pop LABEL --listen ADDR", runProbeTarget},
		{"build", "build a latency map from the RUM store: --store DIR --out MAP.json [--bgp FILE]... [--geoip FILE]", runBuild},
		{"eval", "score a map on held-out samples and/or a simulated world's truth, against geo and anycast", runEval},
		{"map", "route maps: validate MAP | lookup [--json] MAP ADDR|PREFIX | diff A B | stats MAP", runMap},
		{"publish", "publish a map as the next version of a map directory: --dir DIR [--store STORE] [--force] MAP.json", runPublish},
		{"rollback", "switch a map directory back to the version the current one replaced: --dir DIR", runRollback},
		{"versions", "list a map directory's versions, and remove old ones: --dir DIR [--keep N]", runVersions},
		{"control", "run the control server (PoP state, health, load moves, map versions) a DNS fleet follows: --config FILE", runControl},
		{"pop", "PoP admin state on the control server: drain|undrain|down|up|anycast LABEL | list --control URL", runPoP},
		{"fleet", "the DNS servers following the control server: status --control URL", runFleet},
		{"version", "print steer's version, commit, Go version and platform", runVersion},
		{"plan", "where the next PoPs should go: greedy exhaustive placement on s2 cells: [--add K] [--loss tcp|l1|l2] [--out DIR]", runPlan},
	}
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: steer COMMAND [ARGS]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "commands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-12s %s\n", c.name, c.usage)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run 'steer COMMAND --help' for a command's flags.")
}

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	switch args[0] {
	case "-h", "--help", "help":
		usage(stdout)
		return 0
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(args[1:], stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "steer: unknown command %q\n\n", args[0])
	usage(stderr)
	return 2
}

func runVersion(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		fmt.Fprintln(stderr, "usage: steer version")
		return 2
	}
	fmt.Fprintln(stdout, version.Get().String("steer"))
	return 0
}
