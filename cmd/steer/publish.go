package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/steer-gslb/steer/config"
	"github.com/steer-gslb/steer/internal/cli"
	"github.com/steer-gslb/steer/mapstore"
	"github.com/steer-gslb/steer/popmap"
)

// gateFor opens the gate of steer publish --store; tests replace it.
var gateFor = heldOutGate

const publishUsage = `usage: steer publish --dir DIR [--store STORE] [--force] [--config FILE] MAP.json
       steer publish --control URL [--token T] [--force] MAP.json

Publishes MAP.json as the next version of the map directory DIR:
DIR/versions/NNNNNN.json (read-only, meta.version = N), then switches the
symlink DIR/current.json, the path DNS configs name as ecs_map/resolver_map.
The map must parse and compile; when a version is current, the candidate is
scored against it on STORE's held-out samples and refused if worse, unless
--force. A map equal to the current version publishes nothing.

`

func runPublish(args []string, stdout, stderr io.Writer) int {
	fs := cli.New("steer publish", publishUsage, publishExample, stdout, stderr)
	dir := fs.String("dir", "", "map directory (required; created when absent)")
	store := fs.String("store", "", "RUM store whose held-out samples score the candidate against the current version")
	force := fs.Bool("force", false, "publish even if the candidate scores worse than the current version, or unscored")
	cfgPath := fs.String("config", "", "also check that every label names a PoP of this DNS config")
	ctl := fs.String("control", "", "publish through this control server instead of --dir (it gates with its own store; the map's .rtt.tsv goes along)")
	token := fs.String("token", "", "with --control: API token of role publish (default $STEER_TOKEN)")
	if code, ok := fs.Parse(args); !ok {
		return code
	}
	pos := fs.Args()
	if (*dir == "") == (*ctl == "") || len(pos) != 1 {
		return fs.Usagef("one of --dir DIR and --control URL, and one MAP.json, are required")
	}
	candidate := pos[0]
	if *ctl != "" {
		return publishToControl(*ctl, *token, candidate, *force, stdout, stderr)
	}
	opt := mapstore.PublishOptions{Force: *force}
	if *cfgPath != "" {
		cfg, err := config.Load(*cfgPath)
		if err != nil {
			fmt.Fprintln(stderr, "steer publish:", err)
			return 1
		}
		opt.Check = func(m *popmap.Map) error {
			return m.CheckLabels(func(l popmap.Label) bool { _, ok := cfg.PoP(l); return ok })
		}
	}
	d, err := mapstore.Open(*dir)
	if err != nil {
		fmt.Fprintln(stderr, "steer publish:", err)
		return 1
	}
	// The store is opened only when there is something to score against:
	// not for a first version, nor for a map equal to the current one.
	var release func() error
	if *store != "" {
		var inner mapstore.Gate
		opt.Gate = func(cand, cur *popmap.Table) (mapstore.GateVerdict, error) {
			if inner == nil {
				g, rel, err := gateFor(*store)
				if err != nil {
					return mapstore.GateVerdict{}, fmt.Errorf("store %s: %w", *store, err)
				}
				if g == nil {
					return mapstore.GateVerdict{}, fmt.Errorf("store %s: no gate", *store)
				}
				inner, release = g, rel
			}
			return inner(cand, cur)
		}
	}
	res, err := d.Publish(candidate, opt)
	if release != nil {
		if rerr := release(); rerr != nil {
			fmt.Fprintf(stderr, "steer publish: closing store %s: %v\n", *store, rerr)
		}
	}
	switch {
	case errors.Is(err, mapstore.ErrNoGate):
		cur, _, _ := d.Current()
		fmt.Fprintf(stderr, "steer publish: %s: version %d is current in %s and the candidate is unscored: give --store STORE (held-out samples to score it against version %d) or --force to publish it unscored\n",
			candidate, cur, d.Path(), cur)
		return 1
	case err != nil:
		fmt.Fprintln(stderr, "steer publish:", err)
		return 1
	case res.Unchanged:
		fmt.Fprintf(stdout, "%s is identical to current version %d (%s): nothing published\n", candidate, res.Version, res.Path)
		return 0
	}
	fmt.Fprintf(stdout, "published version %d (%s) from %s: %s\n", res.Version, res.Path, candidate, describe(res))
	return 0
}

// describe is the tail of publish's line: what was replaced, forced, scored.
func describe(res mapstore.Result) string {
	if res.Previous == 0 {
		return "first version, no gate"
	}
	gate := "not scored"
	if res.Gate != nil {
		gate = res.Gate.String()
		if res.Gate.Worse {
			gate += ", worse"
		}
	}
	return fmt.Sprintf("replaces version %d, forced %v, gate: %s", res.Previous, res.Forced, gate)
}

const rollbackUsage = `usage: steer rollback --dir DIR | --control URL [--token T]

Switches a map directory (or the control server's active map) back to the
version the current one replaced, and records it in the history; the DNS
servers that follow it load that version within their debounce.
`

func runRollback(args []string, stdout, stderr io.Writer) int {
	fs := cli.New("steer rollback", rollbackUsage, "steer rollback --dir maps\nsteer rollback --control http://127.0.0.1:8480", stdout, stderr)
	dir := fs.String("dir", "", "map directory (this or --control required)")
	ctl := fs.String("control", "", "roll back the control server's active map instead (token of role publish: --token or $STEER_TOKEN)")
	token := fs.String("token", "", "with --control: API token (default $STEER_TOKEN)")
	if code, ok := fs.Parse(args); !ok {
		return code
	}
	if (*dir == "") == (*ctl == "") || fs.NArg() > 0 {
		return fs.Usagef("one of --dir DIR and --control URL is required, and nothing else")
	}
	if *ctl != "" {
		c, err := controlClient(*ctl, *token)
		if err != nil {
			return fs.Usagef("%v", err)
		}
		res, err := c.Rollback(context.Background())
		if err != nil {
			fmt.Fprintln(stderr, "steer rollback:", err)
			return 1
		}
		fmt.Fprintf(stdout, "rolled back to version %d on %s: replaces version %d\n", res.Version, *ctl, res.Previous)
		return 0
	}
	d, err := mapstore.Open(*dir)
	if err != nil {
		fmt.Fprintln(stderr, "steer rollback:", err)
		return 1
	}
	res, err := d.Rollback()
	if err != nil {
		fmt.Fprintln(stderr, "steer rollback:", err)
		return 1
	}
	fmt.Fprintf(stdout, "rolled back to version %d (%s): replaces version %d\n", res.Version, res.Path, res.Previous)
	return 0
}

const versionsUsage = `usage: steer versions --dir DIR [--keep N]

Lists the versions of the map directory DIR, oldest first: when each was
published, whether forced, the gate's scores, the file it came from, and
which is current (*). With --keep N, removes the version files older than
the newest N, except the current version and those the next N rollbacks
would return to; history.ndjson keeps their lines.

`

func runVersions(args []string, stdout, stderr io.Writer) int {
	fs := cli.New("steer versions", versionsUsage, versionsExample, stdout, stderr)
	dir := fs.String("dir", "", "map directory (required)")
	keep := fs.Int("keep", 0, "remove versions older than the newest N (keeping the current one and the rollback chain)")
	if code, ok := fs.Parse(args); !ok {
		return code
	}
	if *dir == "" || fs.NArg() > 0 || *keep < 0 {
		return fs.Usagef("--dir DIR is required, --keep N >= 0, and nothing else")
	}
	if _, err := os.Stat(*dir); err != nil {
		fmt.Fprintln(stderr, "steer versions:", err)
		return 1
	}
	d, err := mapstore.Open(*dir)
	if err != nil {
		fmt.Fprintln(stderr, "steer versions:", err)
		return 1
	}
	if *keep > 0 {
		removed, err := d.Prune(*keep)
		if err != nil {
			fmt.Fprintln(stderr, "steer versions:", err)
			return 1
		}
		fmt.Fprintf(stdout, "removed %d old versions %v\n", len(removed), removed)
	}
	vs, err := d.Versions()
	if err != nil {
		fmt.Fprintln(stderr, "steer versions:", err)
		return 1
	}
	if len(vs) == 0 {
		fmt.Fprintf(stdout, "%s: no version published\n", d.Path())
		return 0
	}
	fmt.Fprintf(stdout, "  %7s  %-20s  %-6s  %-44s  %s\n", "version", "published (UTC)", "forced", "gate (candidate vs current)", "from")
	for _, v := range vs {
		mark := " "
		if v.Current {
			mark = "*"
		}
		when, forced, gate, from := "-", "-", "-", "(no publish line: left by a crash)"
		rollbacks := 0
		for _, r := range v.History {
			switch r.Action {
			case mapstore.ActionPublish:
				when, forced, from = r.Time.Format("2006-01-02 15:04:05"), fmt.Sprint(r.Forced), r.Source
				switch {
				case r.Gate != nil:
					gate = fmt.Sprintf("%s %.4g vs %.4g", r.Gate.Metric, r.Gate.Candidate, r.Gate.Current)
					if r.Gate.Worse {
						gate += " (worse)"
					}
				case r.Previous == 0:
					gate = "first version"
				default:
					gate = "not scored"
				}
			case mapstore.ActionRollback:
				rollbacks++
			}
		}
		if rollbacks > 0 {
			from += fmt.Sprintf(" (current again after %d rollback(s))", rollbacks)
		}
		fmt.Fprintf(stdout, "%s %7d  %-20s  %-6s  %-44s  %s\n", mark, v.Version, when, forced, gate, from)
	}
	return 0
}

const publishExample = `steer publish --dir maps --store rum map.json
steer publish --control http://127.0.0.1:8480 map.json`

const versionsExample = `steer versions --dir maps --keep 10`
