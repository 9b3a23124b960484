package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"sort"
	"strings"

	"github.com/steer-gslb/steer/config"
	"github.com/steer-gslb/steer/internal/cli"
	"github.com/steer-gslb/steer/popmap"
)

var mapGroup = &cli.Group{
	Name: "steer map",
	Help: `usage: steer map validate [--config FILE] MAP
       steer map lookup [--json] MAP ADDR|PREFIX
       steer map diff [--limit N] A B
       steer map stats MAP

Works on route maps (NS1 route-map JSON, the builder's output and the DNS
server's ecs_map and resolver_map).`,
	Subs: []cli.Sub{
		{Name: "validate", Summary: "parse and compile a map; with --config, check its labels name PoPs"},
		{Name: "lookup", Summary: "the ranked PoPs and ECS scope a map gives an address or prefix"},
		{Name: "diff", Summary: "the address space whose answer changes from map A to map B"},
		{Name: "stats", Summary: "entries, networks, prefix lengths and first choices of a map"},
	},
	Example: `steer map lookup examples/map.json 203.0.113.7`,
}

func runMap(args []string, stdout, stderr io.Writer) int {
	sub, args, code, ok := mapGroup.Dispatch(args, stdout, stderr)
	if !ok {
		return code
	}
	help := map[string][2]string{
		"validate": {"usage: steer map validate [--config FILE] MAP\n\nParses and compiles MAP, as the DNS server does on load; with --config,\nalso checks that every label names a PoP of that DNS config.", "steer map validate --config examples/steer.yaml examples/map.json"},
		"lookup":   {"usage: steer map lookup [--json] MAP ADDR|PREFIX\n\nPrints the ranked PoP labels MAP gives the address or prefix and the ECS\nscope an answer would carry.", "steer map lookup examples/map.json 203.0.113.7\nsteer map lookup --json examples/map.json 2001:db8:10::/56"},
		"diff":     {"usage: steer map diff [--limit N] A B\n\nLists the CIDR blocks whose ranked labels differ from map A to map B and\nsums the changed address space.", "steer map diff --limit 20 old.json new.json"},
		"stats":    {"usage: steer map stats MAP\n\nPrints MAP's entries, networks, compiled table size, prefix lengths and the\naddress space per first choice.", "steer map stats examples/map.json"},
	}[sub]
	fs := cli.New("steer map "+sub, help[0], help[1], stdout, stderr)
	switch sub {
	case "validate":
		cfgPath := fs.String("config", "", "also check that every label names a PoP of this DNS config")
		if code, ok := fs.Parse(args); !ok {
			return code
		}
		if fs.NArg() != 1 {
			return fs.Usagef("one MAP is required")
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
		if code, ok := fs.Parse(args); !ok {
			return code
		}
		if fs.NArg() != 2 {
			return fs.Usagef("MAP and one ADDR or PREFIX are required")
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
				return fs.Usagef("bad prefix %q: %v", in, err)
			}
			labels, scope = t.LookupPrefix(p.Masked())
		} else {
			a, err := netip.ParseAddr(in)
			if err != nil {
				return fs.Usagef("bad address %q: %v", in, err)
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
		if code, ok := fs.Parse(args); !ok {
			return code
		}
		if fs.NArg() != 2 {
			return fs.Usagef("two maps A and B are required")
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
		if code, ok := fs.Parse(args); !ok {
			return code
		}
		if fs.NArg() != 1 {
			return fs.Usagef("one MAP is required")
		}
		m, t, err := popmap.Load(fs.Arg(0))
		if err != nil {
			fmt.Fprintln(stderr, "steer map stats:", err)
			return 1
		}
		printStats(stdout, fs.Arg(0), t.Stats(m))
		return 0
	}
	panic("unreachable: mapGroup dispatched " + sub)
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
