package builder

import (
	"context"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/steer-gslb/steer/popmap"
	"github.com/steer-gslb/steer/rum"
)

// addNet adds n beacons for a network, each with one sample per PoP at
// the given RTTs (plus a small per-beacon wobble), and a DNS test name per
// beacon when resolver is set (returned for the query log).
func addNet(s *beaconSet, pfx string, n int, rtts map[string]float64, resolver string) []rum.LogEntry {
	var qs []rum.LogEntry
	for i := range n {
		var ss []smp
		for _, pop := range []string{"ams", "fra", "syd"} {
			if v, ok := rtts[pop]; ok {
				ss = append(ss, smp{pop: pop, rtt: v + 0.01*float64(i)})
			}
		}
		name := ""
		if resolver != "" {
			name = fmt.Sprintf("t%d-%d.rum.example.net", s.n, i)
			qs = append(qs, query(name, resolver, time.Duration(s.n)*time.Second))
		}
		s.add(pfx, "qpc", name, ss...)
	}
	return qs
}

func TestStability(t *testing.T) {
	st := openStore(t)
	var s beaconSet
	addNet(&s, "192.0.2.0/24", 3, map[string]float64{"fra": 20, "ams": 20.8}, "")
	addNet(&s, "198.51.100.0/24", 3, map[string]float64{"fra": 10, "ams": 20}, "")
	s.store(t, st)
	prev, err := popmap.Compile(&popmap.Map{Entries: []popmap.Entry{
		{Networks: mustPrefixes("192.0.2.0/24", "198.51.100.0/24"), Labels: []popmap.Label{"ams", "fra"}}}})
	if err != nil {
		t.Fatal(err)
	}
	opt := Options{HoldOut: holdNone}
	res, err := Build(context.Background(), Input{Store: st, Previous: prev, Options: opt})
	if err != nil {
		t.Fatal(err)
	}
	if got := firstFor(res.Table, "192.0.2.0/24"); got != "ams" {
		t.Errorf("near-equal (20 vs 20.8 ms): first %s, want the previous ams kept", got)
	}
	if got := firstFor(res.Table, "198.51.100.0/24"); got != "fra" {
		t.Errorf("clearly better (10 vs 20 ms): first %s, want fra", got)
	}
	if c := ruleCount(t, res.Report, RuleStability); c.Count != 1 {
		t.Errorf("stability-kept %d, want 1", c.Count)
	}
	if res.Report.Changes == nil || res.Report.Changes.Changed24 != 1 {
		t.Errorf("changes against the previous map: %+v, want one /24", res.Report.Changes)
	}
	// without a previous map the faster PoP wins
	res = build(t, st, nil, Options{})
	if got := firstFor(res.Table, "192.0.2.0/24"); got != "fra" {
		t.Errorf("no previous map: first %s, want fra", got)
	}
}

func TestCapacity(t *testing.T) {
	st := openStore(t)
	var s beaconSet
	// every network is fastest at fra; the detour to ams costs 2, 3, 10, 20 ms
	for i, amsRTT := range []float64{12, 13, 20, 30} {
		addNet(&s, fmt.Sprintf("10.0.%d.0/24", i), 2, map[string]float64{"fra": 10, "ams": amsRTT, "syd": 300}, "")
	}
	s.store(t, st)
	res := build(t, st, nil, Options{Capacity: map[popmap.Label]float64{"fra": 0.5}})
	want := []popmap.Label{"ams", "ams", "fra", "fra"} // cheapest detours move
	for i, w := range want {
		if got := firstFor(res.Table, fmt.Sprintf("10.0.%d.0/24", i)); got != w {
			t.Errorf("10.0.%d.0/24: first %s, want %s", i, got, w)
		}
	}
	if c := ruleCount(t, res.Report, RuleCapacity); c.Count != 2 {
		t.Errorf("capacity-moved %d, want 2", c.Count)
	}
	res = build(t, st, nil, Options{Skip: map[Rule]bool{RuleCapacity: true}, Capacity: map[popmap.Label]float64{"fra": 0.5}})
	for i := range want {
		if got := firstFor(res.Table, fmt.Sprintf("10.0.%d.0/24", i)); got != "fra" {
			t.Errorf("capacity off: 10.0.%d.0/24 first %s, want fra", i, got)
		}
	}
}

func TestExtrapolation(t *testing.T) {
	st := openStore(t)
	var s beaconSet
	fra := map[string]float64{"fra": 10, "syd": 200}
	syd := map[string]float64{"fra": 200, "syd": 10}
	addNet(&s, "10.0.1.0/24", 2, fra, "") // AS 100, agrees: fra
	addNet(&s, "10.0.2.0/24", 2, fra, "")
	addNet(&s, "10.2.1.0/24", 2, fra, "") // AS 200: 10.2/16 says fra, 10.3/16 says syd
	addNet(&s, "10.2.2.0/24", 2, fra, "")
	addNet(&s, "10.3.1.0/24", 2, syd, "")
	addNet(&s, "10.3.2.0/24", 2, syd, "")
	addNet(&s, "10.4.1.0/24", 2, syd, "") // AS 300: one network, below min-agree
	s.store(t, st)
	bgp := writePyASN(t, map[string]uint32{"10.0.0.0/16": 100, "10.1.0.0/16": 100, "10.2.0.0/16": 200, "10.3.0.0/16": 200, "10.4.0.0/16": 300})
	res := build(t, st, []string{bgp}, Options{})
	for pfx, want := range map[string]popmap.Label{
		"10.1.5.0/24": "fra", // AS rule: another prefix of AS 100
		"10.0.9.0/24": "fra",
		"10.2.9.0/24": "fra", // prefix rule
		"10.3.9.0/24": "syd",
		"10.4.9.0/24": "", // one measured network is not agreement
	} {
		if got := firstFor(res.Table, pfx); got != want {
			t.Errorf("%s: first %q, want %q", pfx, got, want)
		}
	}
	if c := ruleCount(t, res.Report, RuleExtrapolateAS); c.Count != 2 {
		t.Errorf("extrapolate-as %d prefixes, want 2", c.Count)
	}
	if c := ruleCount(t, res.Report, RuleExtrapolatePfx); c.Count != 2 {
		t.Errorf("extrapolate-prefix %d prefixes, want 2", c.Count)
	}
	if cov := res.Report.Coverage; cov.After24 < 4*256 || cov.Measured24 != 7 {
		t.Errorf("coverage %+v", cov)
	}
}

func TestResolverForItsPopulation(t *testing.T) {
	st := openStore(t)
	var s beaconSet
	// the resolver's clients: three beacons' worth of a network fast at
	// fra, one of a network fast at ams; mean latency picks fra
	qs := addNet(&s, "10.0.1.0/24", 3, map[string]float64{"fra": 10, "ams": 30}, "198.51.100.53")
	qs = append(qs, addNet(&s, "10.0.2.0/24", 1, map[string]float64{"fra": 50, "ams": 20}, "198.51.100.53")...)
	// another resolver whose clients are mostly the ams network
	qs = append(qs, addNet(&s, "10.0.3.0/24", 4, map[string]float64{"fra": 60, "ams": 15}, "203.0.113.53")...)
	qs = append(qs, addNet(&s, "10.0.4.0/24", 1, map[string]float64{"fra": 10, "ams": 25}, "203.0.113.53")...)
	s.store(t, st)
	if _, err := st.AddQueries(context.Background(), qs); err != nil {
		t.Fatal(err)
	}
	res := build(t, st, nil, Options{})
	if got := firstForResolver(res.Table, "198.51.100.53"); got != "fra" {
		t.Errorf("resolver 198.51.100.53: %s, want fra (80 vs 110 ms summed)", got)
	}
	if got := firstForResolver(res.Table, "203.0.113.53"); got != "ams" {
		t.Errorf("resolver 203.0.113.53: %s, want ams", got)
	}
	if res.Report.Entries.Resolvers != 2 {
		t.Errorf("%d resolver entries, want 2", res.Report.Entries.Resolvers)
	}
}

func mustPrefixes(ss ...string) []netip.Prefix {
	out := make([]netip.Prefix, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParsePrefix(s)
	}
	return out
}
