package builder

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/steer-gslb/steer/popmap"
)

// Report says what a build read, what each rule did, and what it made.
type Report struct {
	Inputs struct {
		Store     string     `json:"store"`
		Beacons   int        `json:"beacons"`  // beacons used (training split, after cleaning)
		Samples   int        `json:"samples"`  // samples used
		Networks  int        `json:"networks"` // client networks with samples
		Queries   int        `json:"queries"`  // DNS query log lines
		Resolvers int        `json:"resolvers"`
		BGP       []BGPInput `json:"bgp"`
		GeoIP     string     `json:"geoip,omitempty"`
		Previous  string     `json:"previous,omitempty"`
	} `json:"inputs"`
	Options Options        `json:"options"`
	PoPs    []popmap.Label `json:"pops"`
	Rules   []RuleCount    `json:"rules"`

	Entries struct {
		Networks  int `json:"networks"`  // client networks mapped from their own samples
		Resolvers int `json:"resolvers"` // resolver addresses mapped for their clients
		ECS       int `json:"ecs_resolvers"`
		Extrap    int `json:"extrapolated"` // extrapolated prefixes
		Total     int `json:"total_networks"`
	} `json:"entries"`
	Coverage struct {
		Measured24, Measured56 float64             // /24s and /56s mapped from own samples
		After24, After56       float64             // with extrapolation (after longest-prefix resolution)
		ByRule                 map[Rule]*RuleSpace // before longest-prefix resolution
	} `json:"coverage"`
	PerPoP  []PoPShare `json:"per_pop"`
	Changes *Changes   `json:"changes,omitempty"`
	Timing  struct {
		Load, Join, Estimate, Select, Total float64 // seconds
	} `json:"timing_s"`
}

// RuleSpace is the address space an extrapolation rule's entries cover, in
// IPv4 /24s and IPv6 /56s, counted before longest-prefix resolution (an
// entry overridden by a more specific one still counts).
type RuleSpace struct {
	Space24 float64 `json:"space_24"`
	Space56 float64 `json:"space_56"`
}

// BGPInput describes one BGP file read.
type BGPInput struct {
	File      string `json:"file"`
	Format    string `json:"format"`
	Routes    int    `json:"routes"`
	Repeated  int    `json:"repeated"` // routes for a prefix already seen (first origin kept)
	Truncated bool   `json:"truncated"`
}

// RuleCount is one rule's count.
type RuleCount struct {
	Rule  Rule   `json:"rule"`
	Count int    `json:"count"`
	Unit  string `json:"unit"`
	Off   bool   `json:"off,omitempty"`
}

// PoPShare is one PoP's share of the map.
type PoPShare struct {
	Label     popmap.Label `json:"label"`
	Networks  int          `json:"networks"`  // measured networks whose first choice it is
	Traffic   float64      `json:"traffic"`   // their share of measured traffic (beacons)
	Resolvers int          `json:"resolvers"` // resolvers whose first choice it is
}

// Changes compares the map with the previous one.
type Changes struct {
	Changed24, Changed56 float64
	Blocks               int
	Examples             []string
}

var ruleUnits = map[Rule]string{
	RuleDuplicateBeacon: "beacons", RuleBadNetwork: "beacons", RuleHTTPSOnly: "samples",
	RuleImpossibleRTT: "samples", RuleBadClock: "samples", RuleTickTimer: "samples", RuleTickDetected: "samples",
	RuleEdgeOnly: "samples", RuleDNSDuplicate: "queries", RuleDNSUnjoined: "beacons", RuleSparsePooled: "network-PoP estimates",
	RuleStability: "networks", RuleRecentShift: "networks", RuleRecentShiftAS: "networks", RuleCapacity: "moves", RuleExtrapolateAS: "prefixes",
	RuleExtrapolatePfx: "prefixes", RuleExtrapolateGeo: "blocks",
}

func (r *Report) fill(b *mapBuilder, m *popmap.Map, tab *popmap.Table, prev *popmap.Table, cnt Counts) {
	for _, rule := range Rules {
		r.Rules = append(r.Rules, RuleCount{Rule: rule, Count: cnt[rule], Unit: ruleUnits[rule], Off: b.opt.Skip[rule]})
	}
	per := map[int32]*PoPShare{}
	get := func(p int32) *PoPShare {
		if per[p] == nil {
			per[p] = &PoPShare{Label: b.d.PoPs[p]}
		}
		return per[p]
	}
	total := 0.0
	for i, rk := range b.ranked {
		if len(rk) == 0 {
			continue
		}
		r.Entries.Networks++
		s := get(rk[0])
		s.Networks++
		s.Traffic += b.weight[i]
		total += b.weight[i]
		if b.d.Networks[i].Prefix.Addr().Is4() {
			r.Coverage.Measured24++
		} else {
			r.Coverage.Measured56++
		}
	}
	for _, res := range b.res {
		r.Entries.Resolvers++
		if res.ecs {
			r.Entries.ECS++
		}
		get(res.ranked[0]).Resolvers++
	}
	for p := range b.d.PoPs {
		if s := per[int32(p)]; s != nil {
			if total > 0 {
				s.Traffic /= total
			}
			r.PerPoP = append(r.PerPoP, *s)
		}
	}
	r.Entries.Extrap = len(b.entries)
	st := tab.Stats(m)
	r.Entries.Total = st.Networks4 + st.Networks6
	r.Coverage.After24, r.Coverage.After56 = st.Covered24, st.Covered56
	r.Coverage.ByRule = b.ruleSpace
	if prev != nil {
		ch, sum := popmap.Diff(prev, tab, 10)
		r.Changes = &Changes{Changed24: sum.Changed24, Changed56: sum.Changed56, Blocks: sum.Blocks}
		for _, c := range ch {
			r.Changes.Examples = append(r.Changes.Examples, fmt.Sprintf("%s: %s → %s", c.Prefix,
				orNone(c.Old), orNone(c.New)))
		}
	}
}

func orNone(ls []popmap.Label) string {
	if len(ls) == 0 {
		return "(none)"
	}
	return popmap.FormatLabels(ls)
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteText writes the report for a person.
func (r *Report) WriteText(w io.Writer) error {
	var sb strings.Builder
	in := &r.Inputs
	fmt.Fprintf(&sb, "inputs: %d beacons, %d samples from %d client networks (store %s); %d DNS log lines, %d resolvers\n",
		in.Beacons, in.Samples, in.Networks, in.Store, in.Queries, in.Resolvers)
	for _, b := range in.BGP {
		tr := ""
		if b.Truncated {
			tr = ", cut short"
		}
		fmt.Fprintf(&sb, "        bgp %s: %s, %d routes (%d repeated%s)\n", b.File, b.Format, b.Routes, b.Repeated, tr)
	}
	if in.GeoIP != "" {
		fmt.Fprintf(&sb, "        geoip %s\n", in.GeoIP)
	}
	if in.Previous != "" {
		fmt.Fprintf(&sb, "        previous map %s\n", in.Previous)
	}
	o := &r.Options
	fmt.Fprintf(&sb, "options: p%g of RTT, pooling %g samples (min %d alone), %d labels an entry, hold-out %g%% of beacons, stability margin %g ms and %g%%\n",
		o.Percentile, o.Prior, o.MinSamples, o.Labels, o.HoldOut*100, o.MarginMs, o.MarginPct)
	sb.WriteString("\nrules\n")
	for _, rc := range r.Rules {
		off := ""
		if rc.Off {
			off = "  (off)"
		}
		fmt.Fprintf(&sb, "  %-20s %10d %s%s\n", rc.Rule, rc.Count, rc.Unit, off)
	}
	e := &r.Entries
	fmt.Fprintf(&sb, "\nmap: %d networks in all: %d client networks from their own samples, %d resolvers (%d sending ECS), %d extrapolated prefixes\n",
		e.Total, e.Networks, e.Resolvers, e.ECS, e.Extrap)
	c := &r.Coverage
	ratio := func(a, b float64) string {
		if b == 0 {
			return "-"
		}
		return fmt.Sprintf("×%.1f", a/b)
	}
	fmt.Fprintf(&sb, "coverage: measured %.0f /24s and %.0f /56s; with extrapolation %.0f /24s (%s) and %.0f /56s (%s)\n",
		c.Measured24, c.Measured56, c.After24, ratio(c.After24, c.Measured24), c.After56, ratio(c.After56, c.Measured56))
	rules := make([]string, 0, len(c.ByRule))
	for rule := range c.ByRule {
		rules = append(rules, rule)
	}
	sort.Strings(rules)
	for _, rule := range rules {
		rs := c.ByRule[rule]
		fmt.Fprintf(&sb, "  %-20s %10.0f /24s and %.3g /56s (entries' space, before longest-prefix resolution)\n", rule, rs.Space24, rs.Space56)
	}
	sb.WriteString("\nPoP     networks   traffic  resolvers\n")
	for _, p := range r.PerPoP {
		fmt.Fprintf(&sb, "%-6s %9d %8.1f%% %10d\n", p.Label, p.Networks, 100*p.Traffic, p.Resolvers)
	}
	if ch := r.Changes; ch != nil {
		fmt.Fprintf(&sb, "\nagainst the previous map: %.0f /24s and %.0f /56s changed, in %d blocks\n", ch.Changed24, ch.Changed56, ch.Blocks)
		for _, ex := range ch.Examples {
			fmt.Fprintf(&sb, "  %s\n", ex)
		}
	}
	t := &r.Timing
	fmt.Fprintf(&sb, "\ntime: %.2f s (read and clean %.2f, join %.2f, estimate %.2f, select and extrapolate %.2f)\n",
		t.Total, t.Load, t.Join, t.Estimate, t.Select)
	_, err := io.WriteString(w, sb.String())
	return err
}
