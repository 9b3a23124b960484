package builder

import (
	"context"
	"math/rand/v2"
	"slices"
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

// TestBuildRecentShiftAS: an AS loses its peering with fra. Its two
// networks that beacon often show it in their recent samples and are
// re-estimated; its two light networks, with no sample since, move with
// their AS's median shift (rule recent-shift-as). A network of another AS
// with the same old samples stays; so does the AS when only one network
// shifted (too few to agree) — checked with MinAgree 3.
func TestBuildRecentShiftAS(t *testing.T) {
	st := openStore(t)
	now := testRecv
	r := rand.New(rand.NewPCG(7, 8))
	var bs []store.Beacon
	add := func(pfx string, at time.Time, fra, ams float64) {
		bs = append(bs, storetest.WebBeacon(pfx, at, map[string]float64{
			"fra": float64(float32(fra + 2*r.ExpFloat64())), "ams": float64(float32(ams + 2*r.ExpFloat64()))}))
	}
	for h := 168; h > 0; h -= 4 {
		at := now.Add(-time.Duration(h) * time.Hour)
		fra := 10.0
		if h <= 24 {
			fra = 40 // AS64500 lost its peering with fra a day ago
		}
		add("192.0.2.0/24", at, fra, 20)
		add("192.0.3.0/24", at, fra, 20)
		if h > 48 && h%24 == 0 { // light networks: a beacon a day, none in the last two days
			add("192.0.4.0/24", at, 10, 20)
			add("192.0.5.0/24", at, 10, 20)
			add("198.51.100.0/24", at, 10, 20) // another AS
		}
	}
	if _, err := st.AddBeacons(context.Background(), bs); err != nil {
		t.Fatal(err)
	}
	bgp := writePyASN(t, map[string]uint32{"192.0.2.0/23": 64500, "192.0.4.0/23": 64500, "198.51.100.0/24": 64501})
	for _, tc := range []struct {
		name  string
		opt   Options
		light popmap.Label // first PoP of the light networks of AS64500
		moved int
	}{
		{"no change detection", Options{}, "fra", 0},
		{"recent day", Options{Recent: 24 * time.Hour}, "ams", 2},
		{"rule skipped", Options{Recent: 24 * time.Hour, Skip: map[Rule]bool{RuleRecentShiftAS: true}}, "fra", 0},
		{"three networks must agree", Options{Recent: 24 * time.Hour, MinAgree: 3}, "fra", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.opt.Now = now.Add(time.Minute)
			res := build(t, st, []string{bgp}, tc.opt)
			for _, pfx := range []string{"192.0.4.0/24", "192.0.5.0/24"} {
				if got := firstFor(res.Table, pfx); got != tc.light {
					t.Errorf("%s (light, AS64500): first %s, want %s", pfx, got, tc.light)
				}
			}
			if got := firstFor(res.Table, "198.51.100.0/24"); got != "fra" {
				t.Errorf("the other AS's network: first %s, want fra", got)
			}
			if tc.opt.Recent > 0 {
				for _, pfx := range []string{"192.0.2.0/24", "192.0.3.0/24"} {
					if got := firstFor(res.Table, pfx); got != "ams" {
						t.Errorf("%s (shifted): first %s, want ams", pfx, got)
					}
				}
			}
			if got := ruleCount(t, res.Report, RuleRecentShiftAS).Count; got != tc.moved {
				t.Errorf("recent-shift-as counted %d networks, want %d", got, tc.moved)
			}
		})
	}
}

// TestBuildRecentShiftASPooled: an AS regains a peering. Each of its five
// networks has timed the PoP once since (too few to test one network), 25
// ms faster than its week said: pooled over the AS the shift is clear, and
// all five move to it. Another AS's five networks, timed the same way but
// with nothing changed, stay.
func TestBuildRecentShiftASPooled(t *testing.T) {
	st := openStore(t)
	now := testRecv
	r := rand.New(rand.NewPCG(9, 10))
	var bs []store.Beacon
	nets := []string{"192.0.2.0/24", "192.0.3.0/24", "192.0.4.0/24", "192.0.5.0/24", "192.0.6.0/24"}
	same := []string{"198.51.100.0/24", "198.51.101.0/24", "198.51.102.0/24", "198.51.103.0/24", "198.51.104.0/24"}
	for h := 168; h > 24; h -= 8 {
		for _, pfx := range append(slices.Clone(nets), same...) {
			bs = append(bs, storetest.WebBeacon(pfx, now.Add(-time.Duration(h)*time.Hour), map[string]float64{
				"fra": float64(float32(45 + 2*r.ExpFloat64())), "ams": float64(float32(30 + 2*r.ExpFloat64()))}))
		}
	}
	for i, pfx := range nets { // today: fra once each, 20 ms
		bs = append(bs, storetest.WebBeacon(pfx, now.Add(-time.Duration(i+1)*time.Hour), map[string]float64{
			"fra": float64(float32(20 + 2*r.ExpFloat64()))}))
	}
	for i, pfx := range same { // today: fra once each, as before
		bs = append(bs, storetest.WebBeacon(pfx, now.Add(-time.Duration(i+1)*time.Hour), map[string]float64{
			"fra": float64(float32(45 + 2*r.ExpFloat64()))}))
	}
	if _, err := st.AddBeacons(context.Background(), bs); err != nil {
		t.Fatal(err)
	}
	bgp := writePyASN(t, map[string]uint32{"192.0.0.0/21": 64500, "198.51.96.0/20": 64501})
	for _, tc := range []struct {
		name  string
		opt   Options
		first popmap.Label
		moved int
	}{
		{"no change detection", Options{}, "ams", 0},
		{"recent day", Options{Recent: 24 * time.Hour}, "fra", 5},
		{"six networks must agree", Options{Recent: 24 * time.Hour, MinAgree: 6}, "ams", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.opt.Now = now.Add(time.Minute)
			res := build(t, st, []string{bgp}, tc.opt)
			for _, pfx := range nets {
				if got := firstFor(res.Table, pfx); got != tc.first {
					t.Errorf("%s: first %s, want %s", pfx, got, tc.first)
				}
			}
			for _, pfx := range same {
				if got := firstFor(res.Table, pfx); got != "ams" {
					t.Errorf("%s (nothing changed): first %s, want ams", pfx, got)
				}
			}
			if tc.opt.Recent > 0 {
				if got := ruleCount(t, res.Report, RuleRecentShiftAS).Count; got != tc.moved {
					t.Errorf("recent-shift-as counted %d networks, want %d", got, tc.moved)
				}
			}
		})
	}
}
