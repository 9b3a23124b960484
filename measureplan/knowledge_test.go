package measureplan

import (
	"context"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/steer-gslb/steer/store"
	"github.com/steer-gslb/steer/store/duckstore"
	"github.com/steer-gslb/steer/store/storetest"
)

// TestRefreshRecentShift: a week of beacons from two networks timing ams
// and fra; one network's ams got 15 ms faster today (a peering added) and
// one beacon has timed it since. Refresh with a recent window gives that
// cell the recent sample's state (one sample, the new p75), which the
// policy then re-measures first; the other network's cells, noise around
// fixed paths, stay the whole week's. Without a recent window nothing
// changes.
func TestRefreshRecentShift(t *testing.T) {
	st, err := duckstore.Open(t.TempDir(), duckstore.Options{Threads: 2, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = st.Close() }()
	r := rand.New(rand.NewPCG(5, 6))
	var bs []store.Beacon
	add := func(pfx string, at time.Time, rtt map[string]float64) {
		noisy := map[string]float64{}
		for _, p := range []string{"ams", "fra"} {
			if v, ok := rtt[p]; ok {
				noisy[p] = float64(float32(v + 0.5*r.ExpFloat64()))
			}
		}
		bs = append(bs, storetest.WebBeacon(pfx, at, noisy))
	}
	for h := 168; h > 24; h -= 6 {
		at := now.Add(-time.Duration(h) * time.Hour)
		add("192.0.2.0/24", at, map[string]float64{"ams": 35, "fra": 30})
		add("198.51.100.0/24", at, map[string]float64{"ams": 35, "fra": 30})
	}
	for h := 20; h > 0; h -= 6 { // today: the first network times fra, and ams once
		at := now.Add(-time.Duration(h) * time.Hour)
		add("198.51.100.0/24", at, map[string]float64{"ams": 35, "fra": 30})
		if h == 8 {
			add("192.0.2.0/24", at, map[string]float64{"ams": 20, "fra": 30})
		} else {
			add("192.0.2.0/24", at, map[string]float64{"fra": 30})
		}
	}
	if _, err := st.AddBeacons(context.Background(), bs); err != nil {
		t.Fatal(err)
	}
	key := func(s string) uint64 {
		k, err := store.NetworkKey(netip.MustParsePrefix(s))
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	k0 := NewKnowledge([]string{"ams", "fra"})
	ctx := context.Background()
	plain, n, err := k0.Refresh(ctx, st, now, 0)
	if err != nil || n != 0 {
		t.Fatalf("Refresh without a recent window: %d shifts, %v", n, err)
	}
	k, n, err := k0.Refresh(ctx, st, now, 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Errorf("Refresh found %d shifted cells, want 1", n)
	}
	changed, before := k.Lookup(key("192.0.2.0/24"), nil), plain.Lookup(key("192.0.2.0/24"), nil)
	if changed[0].Count != 1 || !(changed[0].P75 < 21) || before[0].Count != 25 || !(before[0].P75 > 34) {
		t.Errorf("ams of the changed network: %+v after the refresh, %+v without the recent window; want 1 sample at about 20 ms, and 25 at about 35", changed[0], before[0])
	}
	if changed[1] != before[1] {
		t.Errorf("fra of the changed network changed: %+v, was %+v", changed[1], before[1])
	}
	if a, b := k.Lookup(key("198.51.100.0/24"), nil), plain.Lookup(key("198.51.100.0/24"), nil); a[0] != b[0] || a[1] != b[1] {
		t.Errorf("the unchanged network: %+v, want %+v", a, b)
	}
	// the policy now times ams for the changed network: the one sample
	// says it is the best, and it is uncertain
	pol := noExplore()
	pl, err := pol.Plan(nil, key("192.0.2.0/24"), changed, now)
	if err != nil || len(pl.PoPs) == 0 || pl.PoPs[0] != 0 {
		t.Errorf("plan after the shift: %+v (%v), want ams first", pl, err)
	}
	if pl, err := pol.Plan(nil, key("192.0.2.0/24"), before, now); err != nil || slices.Contains(pl.PoPs, 0) {
		t.Errorf("plan without the shift: %+v (%v), want no ams: the week says it is 5 ms worse", pl, err)
	}
}
