package chstore

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/steer-gslb/steer/rum"
	"github.com/steer-gslb/steer/store"
)

// The hand-built world of TestAggregateRules: every cleaning rule has a
// beacon or a sample that it applies to.
const (
	n1 = "10.1.1.0/24"
	n2 = "10.2.2.0/24"
	n3 = "2001:db8:1::/56"
	n4 = "10.4.4.0/24" // only an edge log's RTT
	n5 = "10.5.5.0/24" // only a declared tick timer
)

func ruleWorld() []store.Beacon {
	return []store.Beacon{
		// B1: kept ams 10, 20, fra 30, anycast 11; https-only 2 (http,
		// tcp — the tcp one's RTT of 0 is not counted as impossible);
		// impossible 2; bad-clock 1 (25 h ahead)
		beacon(n1, "web", "performance",
			https("ams", 10), https("ams", 20), https("fra", 30),
			smp("fra", rum.ProbeHTTP, 12, -time.Second, ""),
			https("ams", -1), https("ams", 40000),
			smp("fra", rum.ProbeHTTPS, 15, 25*time.Hour, ""),
			smp(rum.Anycast, rum.ProbeHTTPS, 11, -time.Second, "ams"),
			smp("ams", rum.ProbeTCP, 0, -time.Second, "")),
		// B2: kept ams 30, 40; bad-clock 1 (31 days old)
		beacon(n1, "web", "performance", https("ams", 30), https("ams", 40),
			smp("lhr", rum.ProbeHTTPS, 50, -31*24*time.Hour, "")),
		// B3: a declared tick timer (any case): tick-timer 2
		beacon(n2, "desktop", "GetTickCount64", https("ams", 10), https("fra", 20)),
		// B4: five values within 1 ms of 15.625 ms steps: tick-detected 5
		beacon(n2, "desktop", "qpc", https("ams", 15), https("ams", 31), https("fra", 47), https("fra", 62), https("ams", 78)),
		// B5: four of five on 16 ms steps (need 5): kept
		beacon(n2, "desktop", "qpc", https("ams", 16), https("ams", 32), https("fra", 48), https("fra", 64), https("lhr", 70.3)),
		// B6: four on 16 ms steps and an anycast one: five, tick-detected 5
		beacon(n3, "web", "performance", https("ams", 16), https("fra", 32), https("ams", 48), https("lhr", 64),
			smp(rum.Anycast, rum.ProbeHTTPS, 80, -time.Second, "fra")),
		// B7: kept ams 25.5, anycast 12; https-only 1
		beacon(n3, "web", "performance", https("ams", 25.5), smp(rum.Anycast, rum.ProbeHTTPS, 12, -time.Second, ""),
			smp("ams", rum.ProbeHTTP, 9, -time.Second, "")),
		// B8..B10: edge logs: ams 8 for n1; edg 9 for n4 (a PoP only edge
		// logs name); fra served by ams (not counted anywhere)
		edgeBeacon(n1, "ams", "ams", 8),
		edgeBeacon(n4, "edg", "edg", 9),
		edgeBeacon(n1, "fra", "ams", 7),
		// B11: a declared tick timer: tick-timer 1, n5 a network with no beacon kept
		beacon(n5, "web", "date", https("ams", 10)),
	}
}

// TestAggregateRules checks Aggregate on the hand-built world against
// cells and counts worked out by hand, on the two-shard cluster and on a
// single node, with the world stored twice (a second collector).
func TestAggregateRules(t *testing.T) {
	k1, k2, k3, k4, k5 := key(t, n1), key(t, n2), key(t, n3), key(t, n4), key(t, n5)
	const ams, edg0, fra0, lhr0 = 0, 1, 2, 3 // PoP indices with EdgeRTT (edg is a PoP)
	const fra, lhr = 1, 2                    // without
	ac := uint16(store.AnycastPoP)
	f := func(v float64) float32 { return float32(v) }
	baseCounts := map[store.Rule]int{
		store.RuleHTTPSOnly: 3, store.RuleImpossibleRTT: 2, store.RuleBadClock: 2,
		store.RuleTickTimer: 3, store.RuleTickDetected: 10,
	}
	tests := []struct {
		name     string
		clean    store.Clean
		q        float64
		pops     []string
		networks []store.NetworkAgg
		cells    []store.Cell
		counts   map[store.Rule]int
	}{{
		name: "defaults", q: 0.5,
		pops: []string{"ams", "fra", "lhr"},
		networks: []store.NetworkAgg{
			{Network: k1, Beacons: 2, RUMSamples: 5},
			{Network: k2, Beacons: 1, RUMSamples: 5},
			{Network: k5},
			{Network: k3, Beacons: 1, RUMSamples: 1},
		},
		cells: []store.Cell{
			cl(k1, ams, 4, 20, 30), cl(k1, fra, 1, 30, 30), cl(k1, ac, 1, 11, 11),
			cl(k2, ams, 2, 16, 32), cl(k2, fra, 2, 48, 64), cl(k2, lhr, 1, f(70.3), f(70.3)),
			cl(k3, ams, 1, 25.5, 25.5), cl(k3, ac, 1, 12, 12),
		},
		counts: baseCounts,
	}, {
		name: "edge RTTs", clean: store.Clean{EdgeRTT: true}, q: 0.75,
		pops: []string{"ams", "edg", "fra", "lhr"},
		networks: []store.NetworkAgg{
			{Network: k1, Beacons: 3, RUMSamples: 5, EdgeSamples: 1},
			{Network: k2, Beacons: 1, RUMSamples: 5},
			{Network: k4, Beacons: 1, EdgeSamples: 1},
			{Network: k5},
			{Network: k3, Beacons: 1, RUMSamples: 1},
		},
		cells: []store.Cell{
			// ams 8, 10, 20, 30, 40 at 0.75: rank 3
			cl(k1, ams, 5, 30, 40), cl(k1, fra0, 1, 30, 30), cl(k1, ac, 1, 11, 11),
			cl(k2, ams, 2, 16, 32), cl(k2, fra0, 2, 48, 64), cl(k2, lhr0, 1, f(70.3), f(70.3)),
			cl(k4, edg0, 1, 9, 9),
			cl(k3, ams, 1, 25.5, 25.5), cl(k3, ac, 1, 12, 12),
		},
		counts: baseCounts,
	}, {
		name: "rules off", q: 0.5,
		clean: store.Clean{Skip: map[store.Rule]bool{
			store.RuleHTTPSOnly: true, store.RuleBadClock: true, store.RuleTickTimer: true, store.RuleTickDetected: true}},
		pops: []string{"ams", "fra", "lhr"},
		// https-only off: the tcp sample's 0 ms is impossible now
		networks: []store.NetworkAgg{
			{Network: k1, Beacons: 2, RUMSamples: 8},
			{Network: k2, Beacons: 3, RUMSamples: 12},
			{Network: k5, Beacons: 1, RUMSamples: 1},
			{Network: k3, Beacons: 2, RUMSamples: 6},
		},
		cells: []store.Cell{
			cl(k1, ams, 4, 20, 30), cl(k1, fra, 3, 15, 30), cl(k1, lhr, 1, 50, 50), cl(k1, ac, 1, 11, 11),
			// ams 10 15 16 31 32 78; fra 20 47 48 62 64; lhr 70.3
			cl(k2, ams, 6, 16, 31), cl(k2, fra, 5, 48, 62), cl(k2, lhr, 1, f(70.3), f(70.3)),
			cl(k5, ams, 1, 10, 10),
			// ams 9 16 25.5 48; fra 32; lhr 64; anycast 12 80
			cl(k3, ams, 4, 16, 25.5), cl(k3, fra, 1, 32, 32), cl(k3, lhr, 1, 64, 64), cl(k3, ac, 2, 12, 80),
		},
		counts: map[store.Rule]int{store.RuleImpossibleRTT: 3},
	}, {
		name: "tighter limits", q: 0.5,
		clean: store.Clean{MaxRTT: 35 * time.Millisecond, MaxAge: time.Hour, MaxClockAhead: time.Hour},
		pops:  []string{"ams", "fra", "lhr"},
		// impossible: B1 -1, 40000; B2 40, 50 (before its bad clock);
		// B4 47 62 78; B5 48 64 70.3; B6 48 64 80. B4 keeps 15 31 and B6
		// 16 32: under five values, not tick-detected
		networks: []store.NetworkAgg{
			{Network: k1, Beacons: 2, RUMSamples: 4},
			{Network: k2, Beacons: 2, RUMSamples: 4},
			{Network: k5},
			{Network: k3, Beacons: 2, RUMSamples: 3},
		},
		cells: []store.Cell{
			cl(k1, ams, 3, 20, 30), cl(k1, fra, 1, 30, 30), cl(k1, ac, 1, 11, 11),
			cl(k2, ams, 4, 16, 31),
			cl(k3, ams, 2, 16, 25.5), cl(k3, fra, 1, 32, 32), cl(k3, ac, 1, 12, 12),
		},
		counts: map[store.Rule]int{store.RuleHTTPSOnly: 3, store.RuleImpossibleRTT: 13, store.RuleBadClock: 1, store.RuleTickTimer: 3},
	}}

	world := ruleWorld()
	for _, mode := range []string{"cluster", "single"} {
		t.Run(mode, func(t *testing.T) {
			var st, st2 *Store
			if mode == "cluster" {
				var u string
				st, u = openCluster(t)
				st2 = mustOpen(t, u)
			} else {
				var u string
				st, u = openSingle(t)
				st2 = mustOpen(t, u)
			}
			ctx := ctxT(t)
			if _, err := st.AddBeacons(ctx, world); err != nil {
				t.Fatal(err)
			}
			// the same beacons again, later, through a second handle
			again := slices.Clone(world)
			for i := range again {
				again[i].Received = base.Add(time.Hour)
			}
			if _, err := insertRaw(ctx, st2, again); err != nil {
				t.Fatal(err)
			}
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					agg, err := st.Aggregate(ctx, tc.clean, tc.q)
					if err != nil {
						t.Fatal(err)
					}
					if !slices.Equal(agg.PoPs, tc.pops) {
						t.Errorf("PoPs %v, want %v", agg.PoPs, tc.pops)
					}
					sortNets(tc.networks)
					if !slices.Equal(agg.Networks, tc.networks) {
						t.Errorf("networks\n%+v\nwant\n%+v", agg.Networks, tc.networks)
					}
					sortCells(tc.cells)
					if !slices.Equal(agg.Cells, tc.cells) {
						t.Errorf("cells\n%+v\nwant\n%+v", agg.Cells, tc.cells)
					}
					if !maps.Equal(agg.Counts, tc.counts) {
						t.Errorf("counts %v, want %v", agg.Counts, tc.counts)
					}
					if agg.Quantile != tc.q {
						t.Errorf("quantile %v", agg.Quantile)
					}
					// the reference model agrees (it sees each beacon once)
					if ref := refAggregate(world, tc.clean, tc.q); !reflect.DeepEqual(agg, ref) {
						t.Errorf("reference model differs:\n%+v\n%+v", agg, ref)
					}
				})
			}
		})
	}
}

// insertRaw inserts beacons without the duplicate lookup: what two
// collectors racing on one beacon, or a replayed spool, leave behind.
func insertRaw(ctx context.Context, s *Store, bs []store.Beacon) (int, error) {
	var data []byte
	for i := range bs {
		k, err := validBeacon(&bs[i].Beacon)
		if err != nil {
			return 0, err
		}
		data = appendBeacon(data, &bs[i], k, store.BeaconID(&bs[i].Beacon), bs[i].Received.UnixMicro())
	}
	return len(bs), s.c.insert(ctx, s.first(), `INSERT INTO `+s.beacons+` (`+columnNames(beaconColumns)+`) FORMAT RowBinary`, data, s.distSettings()...)
}

func cl(net uint64, pop uint16, n uint32, lo, hi float32) store.Cell {
	return store.Cell{Network: net, PoP: pop, Count: n, Lo: lo, Hi: hi}
}

func sortNets(ns []store.NetworkAgg) {
	slices.SortFunc(ns, func(a, b store.NetworkAgg) int {
		switch {
		case a.Network < b.Network:
			return -1
		case a.Network > b.Network:
			return 1
		}
		return 0
	})
}

func sortCells(cs []store.Cell) {
	slices.SortFunc(cs, func(a, b store.Cell) int {
		switch {
		case a.Network != b.Network:
			if a.Network < b.Network {
				return -1
			}
			return 1
		case a.PoP < b.PoP:
			return -1
		case a.PoP > b.PoP:
			return 1
		}
		return 0
	})
}

// TestQuantileRanks checks the order statistics for n = 1..6 samples at
// q = 0.5 and 0.75, worked out by hand from ranks ⌊q·(n−1)⌋: values
// 10, 20, ... sent in shuffled order over several beacons.
func TestQuantileRanks(t *testing.T) {
	st, _ := openCluster(t)
	ctx := ctxT(t)
	rng := rand.New(rand.NewPCG(1, 2))
	var bs []store.Beacon
	for n := 1; n <= 6; n++ {
		vals := make([]float64, n)
		for i := range vals {
			vals[i] = float64(10 * (i + 1))
		}
		rng.Shuffle(n, func(i, j int) { vals[i], vals[j] = vals[j], vals[i] })
		// one or two samples a beacon (under 5: never tick-detected)
		for i := 0; i < n; i += 2 {
			var ss []rum.Sample
			for _, v := range vals[i:min(i+2, n)] {
				ss = append(ss, https("fra", v+0.5)) // off the 16 ms steps
			}
			bs = append(bs, beacon(fmt.Sprintf("10.0.%d.0/24", n), "web", "performance", ss...))
		}
	}
	if _, err := st.AddBeacons(ctx, bs); err != nil {
		t.Fatal(err)
	}
	want := map[float64][][2]float32{ // by n-1: Lo, Hi
		0.5:  {{10, 10}, {10, 20}, {20, 30}, {20, 30}, {30, 40}, {30, 40}},
		0.75: {{10, 10}, {10, 20}, {20, 30}, {30, 40}, {40, 50}, {40, 50}},
	}
	for _, q := range []float64{0.5, 0.75} {
		agg, err := st.Aggregate(ctx, store.Clean{}, q)
		if err != nil {
			t.Fatal(err)
		}
		if len(agg.Cells) != 6 {
			t.Fatalf("q=%v: %d cells, want 6", q, len(agg.Cells))
		}
		for _, c := range agg.Cells {
			n := int(c.Count)
			if c.Network != key(t, fmt.Sprintf("10.0.%d.0/24", n)) {
				t.Errorf("q=%v: cell of %d samples in network %x", q, n, c.Network)
				continue
			}
			w := want[q][n-1]
			if c.Lo != w[0]+0.5 || c.Hi != w[1]+0.5 {
				t.Errorf("q=%v n=%d: Lo, Hi = %v, %v; want %v, %v", q, n, c.Lo, c.Hi, w[0]+0.5, w[1]+0.5)
			}
			sorted := make([]float32, n)
			for i := range sorted {
				sorted[i] = float32(10*(i+1)) + 0.5
			}
			if got, want := c.Value(q), store.Quantile(sorted, q); got != want {
				t.Errorf("q=%v n=%d: Value %v, Quantile %v", q, n, got, want)
			}
		}
	}
}

// TestAggregateRandomWorlds compares Aggregate with the reference model on
// random worlds: networks of both families, PoPs, anycast, edge logs,
// probes, RTTs across the limits, clocks off, tick timers and quantized
// beacons, duplicates, under every split and rule switch.
func TestAggregateRandomWorlds(t *testing.T) {
	st, u := openCluster(t)
	ctx := ctxT(t)
	rng := rand.New(rand.NewPCG(7, 11))
	world := randomWorld(rng, 600)
	if _, err := st.AddBeacons(ctx, world); err != nil {
		t.Fatal(err)
	}
	// a fifth of them delivered again later: stored twice
	var again []store.Beacon
	for i := 0; i < len(world); i += 5 {
		b := world[i]
		b.Received = b.Received.Add(time.Minute)
		again = append(again, b)
	}
	if _, err := insertRaw(ctx, st, again); err != nil {
		t.Fatal(err)
	}
	cleans := []store.Clean{
		{},
		{Split: store.TrainBeacons, HoldOut: 0.3},
		{Split: store.HoldoutBeacons, HoldOut: 0.3, EdgeRTT: true},
		{Split: store.TrainBeacons, HoldOut: 0.3, EdgeRTT: true},
		{EdgeRTT: true, MaxRTT: 400 * time.Millisecond, MaxAge: 48 * time.Hour, MaxClockAhead: 10 * time.Minute},
		{Skip: map[store.Rule]bool{store.RuleTickDetected: true, store.RuleImpossibleRTT: true}},
		{Skip: map[store.Rule]bool{store.RuleHTTPSOnly: true, store.RuleTickTimer: true, store.RuleBadClock: true}},
		{Split: store.HoldoutBeacons}, // nothing held out
		// windows (Since): some beacons' first receipt is before it and
		// their second delivery after it: neither is read
		{Since: base.Add(30 * time.Minute)},
		{Split: store.TrainBeacons, HoldOut: 0.3, EdgeRTT: true, Since: base.Add(50*time.Minute + 30*time.Second)},
	}
	// the same with the grouping spilled to disk at once
	spill, err := Open(ctx, u, Options{GroupByMemory: 1, Settings: map[string]string{"group_by_two_level_threshold": "1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = spill.Close() }()
	spilled := func() int {
		n := 0
		for _, nd := range st.nodes {
			var v int
			_, _ = fmt.Sscan(sql(t, nd.addr, `SELECT sum(value) FROM system.events WHERE event = 'ExternalAggregationMerge'`), &v)
			n += v
		}
		return n
	}
	spilled0 := spilled()
	for i, c := range cleans {
		for _, q := range []float64{0, 0.5, 0.75, 1} {
			s := st
			if q == 0.75 {
				s = spill
			}
			got, err := s.Aggregate(ctx, c, q)
			if err != nil {
				t.Fatal(err)
			}
			want := refAggregate(world, c, q)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("clean %d (%+v) q=%v: differs from the reference:\n%s", i, c, q, aggDiff(got, want))
			}
		}
	}
	if spilled() == spilled0 {
		t.Error("the servers never spilled an aggregation to disk (ExternalAggregationMerge)")
	}
}

func aggDiff(a, b *store.Aggregate) string {
	switch {
	case !slices.Equal(a.PoPs, b.PoPs):
		return fmt.Sprintf("PoPs %v / %v", a.PoPs, b.PoPs)
	case !maps.Equal(a.Counts, b.Counts):
		return fmt.Sprintf("counts %v / %v", a.Counts, b.Counts)
	case len(a.Networks) != len(b.Networks):
		return fmt.Sprintf("%d / %d networks", len(a.Networks), len(b.Networks))
	case len(a.Cells) != len(b.Cells):
		return fmt.Sprintf("%d / %d cells", len(a.Cells), len(b.Cells))
	}
	for i := range a.Networks {
		if a.Networks[i] != b.Networks[i] {
			return fmt.Sprintf("network %+v / %+v", a.Networks[i], b.Networks[i])
		}
	}
	for i := range a.Cells {
		if a.Cells[i] != b.Cells[i] {
			return fmt.Sprintf("cell %+v / %+v", a.Cells[i], b.Cells[i])
		}
	}
	return fmt.Sprintf("%+v / %+v", a, b)
}

// randomWorld makes n beacons that hit every rule now and then.
func randomWorld(rng *rand.Rand, n int) []store.Beacon {
	pops := []string{"ams", "fra", "lhr", "nyc", "sin"}
	timers := []string{"performance", "qpc", "monotonic", "GetTickCount", "timeGetTime", "Date", ""}
	var bs []store.Beacon
	for range n {
		var net string
		if rng.IntN(4) == 0 {
			net = fmt.Sprintf("2001:db8:%x:%x00::/56", rng.IntN(6), rng.IntN(4))
		} else {
			net = fmt.Sprintf("10.%d.%d.0/24", rng.IntN(3), rng.IntN(12))
		}
		recv := base.Add(time.Duration(rng.IntN(3600)) * time.Second)
		if rng.IntN(10) == 0 {
			p := pops[rng.IntN(len(pops))]
			if rng.IntN(6) == 0 {
				p = "edgeonly"
			}
			served := p
			if rng.IntN(4) == 0 {
				served = pops[rng.IntN(len(pops))]
			}
			b := edgeBeacon(net, p, served, 1+rng.Float64()*80)
			b.Received = recv
			bs = append(bs, b)
			continue
		}
		quant := rng.IntN(6) == 0
		var ss []rum.Sample
		for range 1 + rng.IntN(9) {
			target := pops[rng.IntN(len(pops))]
			served := ""
			if rng.IntN(6) == 0 {
				target, served = rum.Anycast, pops[rng.IntN(len(pops))]
			}
			probe := rum.ProbeHTTPS
			if rng.IntN(12) == 0 {
				probe = rum.Probe(2 + rng.IntN(2))
			}
			v := 1 + rng.Float64()*300
			switch {
			case quant:
				v = float64(16*(1+rng.IntN(10))) + rng.Float64()*0.9
			case rng.IntN(25) == 0:
				v = -rng.Float64()
			case rng.IntN(24) == 0:
				v = 31000
			case rng.IntN(30) == 0:
				v = 0.0005
			case rng.IntN(8) == 0:
				v = float64(rng.IntN(40)) // repeated values
			}
			dt := -time.Duration(rng.IntN(600)) * time.Second
			if rng.IntN(20) == 0 {
				dt = 25 * time.Hour
			} else if rng.IntN(20) == 0 {
				dt = -40 * 24 * time.Hour
			}
			ss = append(ss, rum.Sample{TS: recv.Add(dt), Target: target, Probe: probe, RTTms: v, ServedBy: served})
		}
		b := beacon(net, "web", timers[rng.IntN(len(timers))], ss...)
		b.Received = recv
		bs = append(bs, b)
	}
	return bs
}
