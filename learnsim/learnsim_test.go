package learnsim

import (
	"context"
	"encoding/json"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/steer-gslb/steer/measureplan"
	"github.com/steer-gslb/steer/sim"
)

// TestRunSmallWorld runs both arms over a small three-day world in which
// waw opens on day 1: the per-beacon budget holds, the maps learn, the
// planner finds the new PoP for the networks it wins, and every figure is
// a number.
func TestRunSmallWorld(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a world and 12 maps")
	}
	o := sim.DefaultOptions()
	o.Networks, o.Days, o.BeaconsPerDay = 4000, 3, 1
	o.Events = []sim.Event{{Day: 1, Kind: sim.PoPOpen, PoP: "waw"}}
	w, err := sim.Plan(o)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if _, err := sim.Generate(w, dir, nil); err != nil {
		t.Fatal(err)
	}
	arms := Arms{Dir: t.TempDir(), Prefix: "t-", Arms: []Arm{Planned, Random}}
	series, err := arms.Run(context.Background(), Config{
		World: dir, Policy: measureplan.DefaultPolicy(), BeaconsPerDay: 4000, BuildEvery: 12 * time.Hour, Seed: 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	// the steps written read back the same (NaN as null and back)
	arms.Replot = true
	again, err := arms.Run(context.Background(), Config{})
	if err != nil {
		t.Fatal(err)
	}
	if a, b := mustJSON(t, series), mustJSON(t, again); a != b {
		t.Errorf("the steps read back differ:\n%s\n%s", a, b)
	}
	if err := arms.SaveChart("test", series); err != nil {
		t.Fatal(err)
	}
	runs := map[Arm][]Step{}
	for i, arm := range arms.Arms {
		steps := series[i].Steps
		if series[i].Name != "t-"+string(arm) {
			t.Errorf("run %d named %q", i, series[i].Name)
		}
		if len(steps) != 6 {
			t.Fatalf("%s: %d steps, want 6 (3 days, every 12 h)", arm, len(steps))
		}
		for _, s := range steps {
			for name, v := range map[string]float64{"gap": s.GapPerNetwork, "served gap": s.GapServed, "regret": s.Regret, "measured regret": s.MeasuredRegret} {
				if math.IsNaN(v) || math.IsInf(v, 0) {
					t.Errorf("%s day %.1f: %s is %v", arm, s.Day, name, v)
				}
			}
			if s.NeedlessFlips > s.Flips {
				t.Errorf("%s day %.1f: %.2f %% needless flips of %.2f %% flips", arm, s.Day, s.NeedlessFlips, s.Flips)
			}
			if s.Samples > int64(measureplan.DefaultPolicy().MaxPoPs)*s.Beacons {
				t.Errorf("%s day %.1f: %d samples in %d beacons: over %d PoPs a beacon", arm, s.Day, s.Samples, s.Beacons, measureplan.DefaultPolicy().MaxPoPs)
			}
		}
		first, last := steps[0], steps[len(steps)-1]
		if !(last.MeasuredRegret < first.MeasuredRegret) {
			t.Errorf("%s: measured regret %.2f ms after 12 h, %.2f ms at the end: nothing learned", arm, first.MeasuredRegret, last.MeasuredRegret)
		}
		if len(last.NewPoPs) != 1 || last.NewPoPs[0].Label != "waw" || last.NewPoPs[0].Wins == 0 {
			t.Fatalf("%s: new PoPs at the end %+v, want waw winning some networks", arm, last.NewPoPs)
		}
		if len(first.NewPoPs) != 0 {
			t.Errorf("%s: waw reported on day 0.5, before it opens", arm)
		}
		runs[arm] = steps
	}
	p, r := runs[Planned], runs[Random]
	if p[len(p)-1].Beacons > r[len(r)-1].Beacons {
		t.Errorf("the planned arm sent %d beacons, more than the random arm's %d from the same arrivals", p[len(p)-1].Beacons, r[len(r)-1].Beacons)
	}
	if r[len(r)-1].Samples != 4*r[len(r)-1].Beacons {
		t.Errorf("random arm: %d samples in %d beacons, want 4 each", r[len(r)-1].Samples, r[len(r)-1].Beacons)
	}
	// the planner times a PoP never measured at a network's next beacon;
	// the random arm at one in five
	if np, nr := p[len(p)-1].NewPoPs[0], r[len(r)-1].NewPoPs[0]; np.Measured <= nr.Measured || np.Measured < 40 {
		t.Errorf("%.1f %% (planned) and %.1f %% (random) of the %d measured networks waw wins timed it in the two days after it opened: want planned ahead, and 40 %% at least",
			np.Measured, nr.Measured, np.Wins)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestRecovery: one line per event (period after the first) with its
// first two builds' affected regret and flips.
func TestRecovery(t *testing.T) {
	r := Series{Name: "planned", Steps: []Step{
		{Day: 0.5, Period: 0, Flips: 9},
		{Day: 4.5, Period: 1, Affected: 283, AffectedRegret: 6.4, Flips: 1.4, NeedlessFlips: 0.5},
		{Day: 5, Period: 1, Affected: 283, AffectedRegret: 0.89, Flips: 1.21, NeedlessFlips: 0.55},
		{Day: 5.5, Period: 1, Affected: 283, AffectedRegret: 0.7, Flips: 7},
		{Day: 10.5, Period: 2, Affected: 195, AffectedRegret: 0.39, Flips: 0.41, NeedlessFlips: 0.16},
	}}
	got := Recovery(r, 2)
	want := []string{
		"planned: event 1 (283 networks changed), builds at days 4.50, 5.00: their regret 6.40 → 0.89 ms; unaffected networks' answers flipped 1.40 % (needless 0.50 %), 1.21 % (needless 0.55 %)",
		"planned: event 2 (195 networks changed), builds at days 10.50: their regret 0.39 ms; unaffected networks' answers flipped 0.41 % (needless 0.16 %)",
	}
	if !slices.Equal(got, want) {
		t.Errorf("Recovery:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
