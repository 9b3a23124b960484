package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"sort"
	"strings"

	"github.com/steer-gslb/steer/config"
	"github.com/steer-gslb/steer/popmap"
)

func runMap(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage: steer map validate [--config FILE] MAP | lookup [--json] MAP ADDR|PREFIX | diff [--limit N] A B | stats MAP")
		return 2
	}
	sub, args := args[0], args[1:]
	fs := flag.NewFlagSet("steer map "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	switch sub {
	case "validate":
		cfgPath := fs.String("config", "", "also check that every label names a PoP of this DNS config")
		if err := fs.Parse(args); err != nil || fs.NArg() != 1 {
			fmt.Fprintln(stderr, "usage: steer map validate [--config FILE] MAP")
			return 2
		}
		m, t, err := popmap.Load(fs.Arg(0))
		if err != nil {
			fmt.Fprintln(stderr, "steer map validate:", err)
			return 1
		}
		if *cfgPath != "" {
			cfg, err := config.Load(*cfgPath)
			if err != nil {
				fmt.Fprintln(stderr, "steer map validate:", err)
				return 1
			}
			if err := m.CheckLabels(func(l popmap.Label) bool { _, ok := cfg.PoP(l); return ok }); err != nil {
				fmt.Fprintf(stderr, "steer map validate: map %s: %v\n", fs.Arg(0), err)
				return 1
			}
		}
		fmt.Fprintf(stdout, "%s: ok: %s\n", fs.Arg(0), t)
		return 0
	case "lookup":
		asJSON := fs.Bool("json", false, `print {"labels":[...],"scope":N}`)
		if err := fs.Parse(args); err != nil || fs.NArg() != 2 {
			fmt.Fprintln(stderr, "usage: steer map lookup [--json] MAP ADDR|PREFIX")
			return 2
		}
		_, t, err := popmap.Load(fs.Arg(0))
		if err != nil {
			fmt.Fprintln(stderr, "steer map lookup:", err)
			return 1
		}
		in := fs.Arg(1)
		var labels []popmap.Label
		var scope int
		if strings.Contains(in, "/") {
			p, err := netip.ParsePrefix(in)
			if err != nil {
				fmt.Fprintf(stderr, "steer map lookup: bad prefix %q: %v\n", in, err)
				return 2
			}
			labels, scope = t.LookupPrefix(p.Masked())
		} else {
			a, err := netip.ParseAddr(in)
			if err != nil {
				fmt.Fprintf(stderr, "steer map lookup: bad address %q: %v\n", in, err)
				return 2
			}
			labels, scope = t.Lookup(a)
		}
		if *asJSON {
			out := struct {
				Labels []popmap.Label `json:"labels"`
				Scope  int            `json:"scope"`
			}{Labels: labels, Scope: scope}
			if out.Labels == nil {
				out.Labels = []popmap.Label{}
			}
			b, _ := json.Marshal(out)
			fmt.Fprintln(stdout, string(b))
			return 0
		}
		if len(labels) == 0 {
			fmt.Fprintf(stdout, "%s: no entry, scope /%d\n", in, scope)
			return 0
		}
		fmt.Fprintf(stdout, "%s: %s, scope /%d\n", in, popmap.FormatLabels(labels), scope)
		return 0
	case "diff":
		limit := fs.Int("limit", 50, "print at most this many changed blocks (0 = all)")
		if err := fs.Parse(args); err != nil || fs.NArg() != 2 {
			fmt.Fprintln(stderr, "usage: steer map diff [--limit N] A B")
			return 2
		}
		_, a, err := popmap.Load(fs.Arg(0))
		if err != nil {
			fmt.Fprintln(stderr, "steer map diff:", err)
			return 1
		}
		_, b, err := popmap.Load(fs.Arg(1))
		if err != nil {
			fmt.Fprintln(stderr, "steer map diff:", err)
			return 1
		}
		changes, sum := popmap.Diff(a, b, *limit)
		for _, c := range changes {
			fmt.Fprintf(stdout, "%-22s %s -> %s\n", c.Prefix, popmap.FormatLabels(c.Old), popmap.FormatLabels(c.New))
		}
		if sum.Blocks > len(changes) {
			fmt.Fprintf(stdout, "… %d more blocks (--limit 0 for all)\n", sum.Blocks-len(changes))
		}
		fmt.Fprintf(stdout, "changed: %.0f IPv4 /24s, %.4g IPv6 /56s in %d CIDR blocks\n", sum.Changed24, sum.Changed56, sum.Blocks)
		return 0
	case "stats":
		if err := fs.Parse(args); err != nil || fs.NArg() != 1 {
			fmt.Fprintln(stderr, "usage: steer map stats MAP")
			return 2
		}
		m, t, err := popmap.Load(fs.Arg(0))
		if err != nil {
			fmt.Fprintln(stderr, "steer map stats:", err)
			return 1
		}
		printStats(stdout, fs.Arg(0), t.Stats(m))
		return 0
	}
	fmt.Fprintf(stderr, "steer map: unknown subcommand %q (want validate, lookup, diff or stats)\n", sub)
	return 2
}

func printStats(w io.Writer, path string, s popmap.Stats) {
	fmt.Fprintf(w, "map %s\n", path)
	fmt.Fprintf(w, "  version      %d\n", s.Version)
	fmt.Fprintf(w, "  entries      %d (%d distinct ranked label lists)\n", s.Entries, s.Answers)
	fmt.Fprintf(w, "  networks     %d IPv4, %d IPv6\n", s.Networks4, s.Networks6)
	fmt.Fprintf(w, "  cells        %d IPv4, %d IPv6 (maximal same-answer runs)\n", s.Runs4, s.Runs6)
	fmt.Fprintf(w, "  table        %d bytes\n", s.TableBytes)
	fmt.Fprintf(w, "  covered      %.0f IPv4 /24s, %.4g IPv6 /56s\n", s.Covered24, s.Covered56)
	lengths := func(name string, m map[int]int) {
		var ks []int
		for k := range m {
			ks = append(ks, k)
		}
		sort.Ints(ks)
		var parts []string
		for _, k := range ks {
			parts = append(parts, fmt.Sprintf("/%d:%d", k, m[k]))
		}
		if len(parts) > 0 {
			fmt.Fprintf(w, "  %-12s %s\n", name, strings.Join(parts, " "))
		}
	}
	lengths("IPv4 lengths", s.PrefixLengths4)
	lengths("IPv6 lengths", s.PrefixLengths6)
	fmt.Fprintf(w, "  first choice  %-8s %10s %14s %14s\n", "label", "networks", "IPv4 /24s", "IPv6 /56s")
	for _, l := range s.ByFirst {
		fmt.Fprintf(w, "                %-8s %10d %14.0f %14.4g\n", l.Label, l.Networks, l.Space24, l.Space56)
	}
}
