package builder

import (
	"context"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/steer-gslb/steer/popmap"
	"github.com/steer-gslb/steer/rum"
	"github.com/steer-gslb/steer/store"
	"github.com/steer-gslb/steer/store/duckstore"
)

// series draws n RTTs of a path: base + jitter·Exp(1), as the simulator's
// truth model does, rounded to float32 as a store keeps them.
func series(r *rand.Rand, n int, base, jitter float64) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = float32(base + jitter*r.ExpFloat64())
	}
	return out
}

// TestShiftedSeries runs the detector on synthetic series: an older
// stretch of samples from one path and a recent stretch from the same
// path (noise) or another (a shift), many times each. It must find the
// shifts that matter and almost never call noise a shift.
func TestShiftedSeries(t *testing.T) {
	const q = 0.75
	var o Options
	o.defaults()
	test := o.shiftTest() // the defaults: z 3, 2 ms, 3 recent samples
	cases := []struct {
		name             string
		nOld, nRecent    int
		base, jit        float64 // the older path
		rBase, rJit      float64 // the recent path
		minRate, maxRate float64 // share of trials detected
	}{
		{"noise, short path", 40, 6, 12, 3, 12, 3, 0, 0.01},
		{"noise, long path", 40, 6, 180, 15, 180, 15, 0, 0.01},
		{"noise, few old samples", 4, 3, 25, 5, 25, 5, 0, 0.01},
		{"noise, many recent", 200, 60, 40, 6, 40, 6, 0, 0.01},
		// jitter twice the spread model's: noise the model underrates
		{"noise, jittery Wi-Fi", 40, 6, 20, 10, 20, 10, 0, 0.06},
		{"peering lost: +25 ms", 40, 6, 15, 3, 40, 4, 0.99, 1},
		// a shift as large as the old path's spread four times over: the
		// recent samples widen the whole window's spread too; about two in
		// three are found by one build (the next ones test more samples)
		{"peering lost: +12 ms", 40, 6, 15, 3, 27, 3, 0.6, 1},
		{"peering lost: +12 ms, 3 recent", 40, 3, 15, 3, 27, 3, 0.5, 0.8},
		{"peering added: -20 ms", 40, 6, 45, 5, 25, 4, 0.95, 1},
		{"reroute: +60 ms on a long path", 60, 5, 120, 10, 180, 12, 0.95, 1},
		{"shift under MinMs: +1.5 ms", 400, 200, 10, 0.5, 11.5, 0.5, 0, 0},
		{"too few recent (2)", 40, 2, 15, 3, 60, 3, 0, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(1, uint64(len(tc.name))))
			const trials = 2000
			hits := 0
			for range trials {
				old := series(r, tc.nOld, tc.base, tc.jit)
				rec := series(r, tc.nRecent, tc.rBase, tc.rJit)
				whole := append(slices.Clone(old), rec...)
				slices.Sort(whole)
				slices.Sort(rec)
				sigma := SampleSpread(store.Quantile(whole, q), store.Quantile(whole, q/3), q, q/3, len(whole))
				if Shifted(store.Quantile(whole, q), len(whole), store.Quantile(rec, q), len(rec), sigma, q, test) {
					hits++
				}
			}
			rate := float64(hits) / trials
			if rate < tc.minRate || rate > tc.maxRate {
				t.Errorf("detected in %.1f %% of %d trials, want %.1f–%.1f %%", 100*rate, trials, 100*tc.minRate, 100*tc.maxRate)
			}
		})
	}
}

func TestShiftedEdges(t *testing.T) {
	test := ShiftTest{Z: 3, MinMs: 2, MinRecent: 3}
	for _, tc := range []struct {
		name    string
		whole   float64
		nWhole  int
		recent  float64
		nRecent int
		want    bool
	}{
		{"every sample recent", 10, 5, 50, 5, false},
		{"NaN", 10, 50, 0 / zero, 5, false},
		{"zero whole", 0, 50, 30, 5, false},
		{"clear", 10, 50, 50, 5, true},
	} {
		if got := Shifted(tc.whole, tc.nWhole, tc.recent, tc.nRecent, store.Spread(tc.whole), 0.75, test); got != tc.want {
			t.Errorf("%s: Shifted = %v, want %v", tc.name, got, tc.want)
		}
	}
}

var zero float64

// TestBuildRecentShift builds from a week of beacons in which one
// network's best PoP got 30 ms slower a day ago (its peering was lost) and
// another's samples are noise around a fixed path: with Recent the first
// moves to its next PoP, the second does not, and the rule counts one
// network; without it, the week's old samples keep the first where it was.
func TestBuildRecentShift(t *testing.T) {
	st := shiftStore(t)
	for _, tc := range []struct {
		name    string
		opt     Options
		changed popmap.Label // the first PoP of 192.0.2.0/24
		shifts  int
	}{
		{"whole week", Options{}, "fra", 0},
		{"recent day", Options{Recent: 24 * time.Hour}, "ams", 1},
		// three days hold more of the new samples than the old: the window
		// alone moves it, and recent and whole agree (no shift)
		{"recent day, window of 3 days", Options{Recent: 24 * time.Hour, Window: 72 * time.Hour}, "ams", 0},
		// two samples in 12 h, under MinRecent: nothing to test
		{"recent 12 h", Options{Recent: 12 * time.Hour}, "fra", 0},
		{"recent 12 h, min-recent 2", Options{Recent: 12 * time.Hour, MinRecent: 2}, "ams", 1},
		{"rule skipped", Options{Recent: 24 * time.Hour, Skip: map[Rule]bool{RuleRecentShift: true}}, "fra", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.opt.Now = testRecv.Add(time.Minute)
			res := build(t, st, nil, tc.opt)
			if got := firstFor(res.Table, "192.0.2.0/24"); got != tc.changed {
				t.Errorf("the network that lost its peering: first %s, want %s", got, tc.changed)
			}
			if got := firstFor(res.Table, "198.51.100.0/24"); got != "fra" {
				t.Errorf("the unchanged network: first %s, want fra", got)
			}
			if got := ruleCount(t, res.Report, RuleRecentShift).Count; got != tc.shifts {
				t.Errorf("recent-shift counted %d networks, want %d", got, tc.shifts)
			}
		})
	}
	if err := (&Options{Recent: 48 * time.Hour, Window: 24 * time.Hour}).Validate(); err == nil {
		t.Error("a recent window longer than the window validated")
	}
}

// shiftStore is TestBuildRecentShift's week of beacons.
func shiftStore(t *testing.T) *duckstore.DB {
	st := openStore(t)
	now := testRecv
	r := rand.New(rand.NewPCG(3, 4))
	var bs []store.Beacon
	add := func(pfx string, at time.Time, rtt map[string]float64) {
		b := store.Beacon{Received: at, Source: "ingest"}
		b.V, b.ClientSubnet = 1, netip.MustParsePrefix(pfx)
		b.Agent = rum.Agent{Kind: rum.KindWeb, Platform: "linux", Timer: "performance"}
		for _, p := range []string{"ams", "fra"} {
			v := rtt[p] + 2*r.ExpFloat64()
			b.Samples = append(b.Samples, rum.Sample{TS: at.Add(-time.Second), Target: p, Probe: rum.ProbeHTTPS, RTTms: float64(float32(v))})
		}
		bs = append(bs, b)
	}
	for h := 168; h > 0; h -= 4 { // a beacon every 4 hours for a week
		at := now.Add(-time.Duration(h) * time.Hour)
		fra := 10.0
		if h <= 24 {
			fra = 40 // the peering with fra was lost a day ago
		}
		add("192.0.2.0/24", at, map[string]float64{"fra": fra, "ams": 20})
		add("198.51.100.0/24", at, map[string]float64{"fra": 10, "ams": 20})
	}
	if _, err := st.AddBeacons(context.Background(), bs); err != nil {
		t.Fatal(err)
	}
	return st
}
