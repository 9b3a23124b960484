package builder

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/steer-gslb/steer/popmap"
	"github.com/steer-gslb/steer/store"
	"github.com/steer-gslb/steer/store/duckstore"
	"github.com/steer-gslb/steer/store/storetest"
)

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
	var o Options
	o.defaults()
	if got := o.shiftTest(); got != (store.ShiftTest{Z: 3, MinMs: 2, MinRecent: 3}) {
		t.Errorf("default shift test %+v: not the one store's TestShiftedSeries checks", got)
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
		noisy := map[string]float64{}
		for _, p := range []string{"ams", "fra"} {
			noisy[p] = float64(float32(rtt[p] + 2*r.ExpFloat64()))
		}
		bs = append(bs, storetest.WebBeacon(pfx, at, noisy))
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
