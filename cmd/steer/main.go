// Command steer is steer's command line: one binary with subcommands for the
// whole loop. Each subcommand only parses flags and wires packages together.
//
//	steer demo                         the end-to-end demo: the whole loop on a simulated world
//	steer dns --config FILE            the authoritative GSLB DNS server
//	steer edge --config FILE           a PoP's edge proxy (HTTPS, pinned upstream pools)
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

	"github.com/steer-gslb/steer/internal/cli"
	"github.com/steer-gslb/steer/internal/version"
)

type command struct {
	name, usage string
	run         func(args []string, stdout, stderr io.Writer) int
}

func commands() []command {
	return []command{
		{"demo", "the whole loop on a simulated world (world → collector → DNS tests → build → eval → publish → DNS answers); `demo serve DIR`: a kept world's map again; `demo dns`: the DNS server alone", runDemo},
		{"dns", "run the authoritative GSLB DNS server (--config FILE)", runDNS},
		{"edge", "run a PoP's edge proxy: TLS termination, pinned upstream pools, X-Edge-PoP, /rum/probe, drain (--config FILE)", runEdge},
		{"sim", "build a simulated world from real data: --out DIR [flags] | report DIR", runSim},
		{"learn", "run the learning loop (planner, continuous builds) on a timed world: --world DIR --out DIR", runLearn},
		{"collect", "run the RUM collector: --store DIR [--listen ADDR] [--config FILE]", runCollect},
		{"ship", "ship a DNS server's query logs to the collector (tail -F, at least once): --query-log FILE --collector URL --state DIR", runShip},
		{"ingest", "bulk-load beacon and DNS-log NDJSON into a RUM store: --store DIR FILE...", runIngest},
		{"store", "the RUM store: stats | export --out DIR (Parquet) | prune --older-than D (retention)", runStore},
		{"probe", "measure every PoP, run the random-name DNS test and post one beacon (desktop/CLI agent)", runProbe},
		{"probe-target", "serve the /rum/probe endpoint alone: --pop LABEL --listen ADDR", runProbeTarget},
		{"build", "build a latency map from the RUM store: --store DIR --out MAP.json [--bgp FILE]... [--geoip FILE]", runBuild},
		{"eval", "score a map on held-out samples and/or a simulated world's truth, against geo and anycast", runEval},
		{"map", "route maps: validate MAP | lookup [--json] MAP ADDR|PREFIX | diff A B | stats MAP", runMap},
		{"debug", "the debug page's reports: show ID --dir DIR | --collector URL [--config FILE --map MAP]", runDebug},
		{"explain", "why an address gets its PoP: the decision, the map entries and their origin, GeoIP, skipped PoPs: --config FILE [--map MAP] [--store DIR] ADDR | --server URL ADDR", runExplain},
		{"publish", "publish a map as the next version of a map directory: --dir DIR [--store STORE] [--force] MAP.json", runPublish},
		{"rollback", "switch a map directory back to the version the current one replaced: --dir DIR", runRollback},
		{"versions", "list a map directory's versions, and remove old ones: --dir DIR [--keep N]", runVersions},
		{"control", "run the control server (PoP state, health, load moves, map versions) a DNS fleet follows: --config FILE", runControl},
		{"pop", "PoP admin state on the control server: drain|undrain|down|up|anycast LABEL | list --control URL", runPoP},
		{"fleet", "the DNS servers following the control server: status --control URL", runFleet},
		{"version", "print steer's version, commit, Go version and platform", runVersion},
		{"completion", "print a bash or zsh completion script: bash | zsh", runCompletion},
		{"token", "signed steering tokens: sign | verify TOKEN | keygen | public (the PoPs' key set)", runToken},
		{"ui", "the map explorer in a browser: hexagons, the IPv4 Hilbert view, the evaluation: --map MAP [--world DIR] [--against MAP]", runUI},
		{"plan", "where the next PoPs should go: greedy exhaustive placement on s2 cells: [--add K] [--loss tcp|l1|l2] [--out DIR]", runPlan},
	}
}

// root is steer itself: a group of the commands.
func root() *cli.Group {
	g := &cli.Group{
		Name: "steer",
		Help: `usage: steer COMMAND [ARGS]

steer builds a latency map from real-user measurements, scores it, rolls it
out and serves it from an authoritative DNS server. docs/DESIGN.md explains
the loop; README.md has a section per command.`,
		Example: `steer demo
steer build --store rum --out map.json`,
	}
	for _, c := range commands() {
		g.Subs = append(g.Subs, cli.Sub{Name: c.name, Summary: c.usage})
	}
	return g
}

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	name, rest, code, ok := root().Dispatch(args, stdout, stderr)
	if !ok {
		return code
	}
	for _, c := range commands() {
		if c.name == name {
			return c.run(rest, stdout, stderr)
		}
	}
	panic("unreachable: Dispatch returned an unknown command " + name)
}

func runVersion(args []string, stdout, stderr io.Writer) int {
	fs := cli.New("steer version", "usage: steer version\n\nPrints steer's version, commit, Go version, build flags and platform.", "steer version", stdout, stderr)
	if code, ok := fs.Parse(args); !ok {
		return code
	}
	if fs.NArg() > 0 {
		return fs.Usagef("takes no arguments")
	}
	fmt.Fprintln(stdout, version.Get().String("steer"))
	return 0
}

func runCompletion(args []string, stdout, stderr io.Writer) int {
	g := &cli.Group{
		Name: "steer completion",
		Help: `usage: steer completion bash|zsh

Prints a shell completion script: commands, subcommands and flags, file
names for arguments.`,
		Subs: []cli.Sub{
			{Name: "bash", Summary: "bash: source <(steer completion bash), or save it as /etc/bash_completion.d/steer"},
			{Name: "zsh", Summary: "zsh: source <(steer completion zsh) after compinit, or save it as _steer in a directory of $fpath"},
		},
		Example: `source <(steer completion bash)`,
	}
	shell, rest, code, ok := g.Dispatch(args, stdout, stderr)
	if !ok {
		return code
	}
	fs := cli.New("steer completion "+shell, "usage: steer completion "+shell, "source <(steer completion "+shell+")", stdout, stderr)
	if code, ok := fs.Parse(rest); !ok {
		return code
	}
	if fs.NArg() > 0 {
		return fs.Usagef("takes no arguments")
	}
	nodes, err := cli.Walk(run)
	if err != nil {
		fmt.Fprintln(stderr, "steer completion:", err)
		return 1
	}
	if shell == "bash" {
		cli.Bash(stdout, "steer", nodes)
	} else {
		cli.Zsh(stdout, "steer", nodes)
	}
	return 0
}
