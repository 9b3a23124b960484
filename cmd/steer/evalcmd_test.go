//go:build cgo

package main

import (
	"strings"
	"testing"

	"github.com/steer-gslb/steer/mapeval"
)

// TestPrintClassesExtrapolation: steer eval prints the networks without
// beacons against the equal oracle in one line, both ways of counting, and
// keeps the line scripts read before it; without networks the map answers
// from extrapolation, neither line.
func TestPrintClassesExtrapolation(t *testing.T) {
	sc := func(n int, traffic, regret float64) mapeval.Score {
		return mapeval.Score{Networks: n, Traffic: traffic, Regret: regret}
	}
	measured := sc(10, 30, 0.2)
	classes := []mapeval.Class{
		{Name: mapeval.ClassMeasured, Map: measured, Geo: sc(10, 30, 20), Oracle: sc(10, 30, 1), OracleEqual: sc(10, 30, 1.5)},
		// 1.0 ms against an equal oracle's 0.5 over traffic 20; 3.0 / 1.0 counted once
		{Name: "extrapolate-as", Map: sc(4, 20, 1), Geo: sc(4, 20, 30), Oracle: sc(4, 20, 0.25), OracleEqual: sc(4, 20, 0.5), MapOnce: 3, OracleEqualOnce: 1},
		// 4.0 against 2.0 over traffic 60; 1.0 / 1.0 counted once
		{Name: "extrapolate-geo", Map: sc(12, 60, 4), Geo: sc(12, 60, 40), Oracle: sc(12, 60, 1.25), OracleEqual: sc(12, 60, 2), MapOnce: 1, OracleEqualOnce: 1},
		{Name: mapeval.ClassFallback, Map: sc(2, 10, 50), Geo: sc(2, 10, 50), Oracle: sc(2, 10, 9), OracleEqual: sc(2, 10, 9), MapOnce: 50, OracleEqualOnce: 9},
	}
	extra := sc(16, 80, (1*20+4*60)/80.0)
	var b strings.Builder
	printClasses(&b, &evalRow{Name: "latency map", Measured: &measured, Extrapol: &extra, Classes: classes})
	out := b.String()
	// traffic-weighted: (20+240)/80 = 3.25 against (10+120)/80 = 1.625;
	// counted once: (12+12)/16 = 1.5 against (4+12)/16 = 1
	for _, want := range []string{
		"networks with beacons: mean regret 0.20 ms; without beacons, answered by the map: 3.25 ms (16.2× measured; oracles 1.00 and 1.62 ms)\n",
		"without beacons, answered by the map, against the equal oracle: 3.25 / 1.62 ms = 2.00× traffic-weighted (bar: 1.2×); 1.50 / 1.00 ms = 1.50× each network counted once\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	// an oracle at (next to) zero: the regrets, no ratio
	b.Reset()
	exact := []mapeval.Class{classes[0], classes[1], classes[3]}
	exact[1].OracleEqual.Regret, exact[1].OracleEqualOnce = 0.001, 0
	printClasses(&b, &evalRow{Name: "latency map", Measured: &measured, Extrapol: &extra, Classes: exact})
	if want := "against the equal oracle: 1.00 / 0.00 ms traffic-weighted, 3.00 / 0.00 ms each network counted once (no ratio: the oracle leaves next to nothing)\n"; !strings.Contains(b.String(), want) {
		t.Errorf("output lacks %q:\n%s", want, b.String())
	}
	b.Reset()
	printClasses(&b, &evalRow{Name: "latency map", Measured: &measured, Extrapol: &mapeval.Score{}, Classes: []mapeval.Class{classes[0], classes[3]}})
	if out := b.String(); strings.Contains(out, "without beacons") {
		t.Errorf("no extrapolated networks, yet:\n%s", out)
	}
}
