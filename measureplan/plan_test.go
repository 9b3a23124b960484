package measureplan

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/steer-gslb/steer/store"
)

var now = time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)

func fresh(count uint32, p75 float32) PoPState {
	return PoPState{Count: count, P75: p75, Spread: float32(SpreadBase + SpreadShare*float64(p75)), Last: now.Unix()}
}

func noExplore() Policy {
	p := DefaultPolicy()
	p.Explore = 0
	return p
}

func TestPlanTable(t *testing.T) {
	day := int64(86400)
	tests := []struct {
		name       string
		pops       []PoPState
		want       []int // the plan's PoPs, sorted (exploration off)
		afterRange [2]time.Duration
	}{
		{"clear winner, fresh", []PoPState{fresh(50, 20), fresh(50, 60), fresh(50, 90)}, []int{0}, [2]time.Duration{6 * time.Hour, 6 * time.Hour}},
		// 20 and 21 ms on 10 samples each contest; 40 and 200 do not
		{"two close", []PoPState{fresh(10, 40), fresh(10, 20), fresh(10, 21), fresh(10, 200)}, []int{1, 2}, [2]time.Duration{5 * time.Minute, 6 * time.Minute}},
		{"never measured first", []PoPState{fresh(50, 20), fresh(50, 60), {}}, []int{2}, [2]time.Duration{5 * time.Minute, 5 * time.Minute}},
		{"nothing known", []PoPState{{}, {}}, []int{0, 1}, [2]time.Duration{5 * time.Minute, 5 * time.Minute}},
		{"stale runner-up comes back", []PoPState{fresh(50, 20), {Count: 50, P75: 24, Spread: 5.6, Last: now.Unix() - 30*day}}, []int{0, 1}, [2]time.Duration{5 * time.Minute, 5 * time.Minute}},
		{"same runner-up fresh stays out", []PoPState{fresh(50, 20), fresh(50, 24)}, []int{0}, [2]time.Duration{6 * time.Hour, 6 * time.Hour}},
		// StaleAfter: a contender 7 ms behind, unmeasured for two days, is
		// timed with the best (its peering may be back); one 40 ms behind
		// is no contender however stale
		{"stale contender", []PoPState{fresh(50, 40), {Count: 50, P75: 47, Spread: 9, Last: now.Unix() - 2*day}, fresh(50, 90)}, []int{0, 1}, [2]time.Duration{5 * time.Minute, 6 * time.Hour}},
		{"stale non-contender", []PoPState{fresh(50, 20), {Count: 50, P75: 60, Spread: 11, Last: now.Unix() - 2*day}}, []int{0}, [2]time.Duration{6 * time.Hour, 6 * time.Hour}},
	}
	p := noExplore()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pl, err := p.Plan(make([]int, 0, 8), 42, tc.pops, now)
			if err != nil {
				t.Fatal(err)
			}
			if got := slices.Sorted(slices.Values(pl.PoPs)); !slices.Equal(got, tc.want) {
				t.Errorf("plan %v, want %v", pl.PoPs, tc.want)
			}
			if pl.After < tc.afterRange[0] || pl.After > tc.afterRange[1] {
				t.Errorf("after %v, want within %v", pl.After, tc.afterRange)
			}
		})
	}
}

func TestPlanEmpty(t *testing.T) {
	p := DefaultPolicy()
	if _, err := p.Plan(nil, 1, nil, now); !errors.Is(err, ErrNoPoPs) {
		t.Fatalf("err %v, want ErrNoPoPs", err)
	}
}

// A clear-winner network gets a smaller plan and a longer back-off than an
// uncertain one.
func TestPlanClearSmallerThanUncertain(t *testing.T) {
	p := noExplore()
	settled := []PoPState{fresh(40, 15), fresh(40, 45), fresh(40, 70), fresh(40, 80), fresh(40, 95)}
	unsure := []PoPState{fresh(3, 30), fresh(3, 31), fresh(3, 33), fresh(3, 34), fresh(3, 95)}
	pc, _ := p.Plan(nil, 7, settled, now)
	pu, _ := p.Plan(nil, 7, unsure, now)
	if len(pc.PoPs) >= len(pu.PoPs) || pc.After <= pu.After {
		t.Fatalf("clear: %v after %v; uncertain: %v after %v", pc.PoPs, pc.After, pu.PoPs, pu.After)
	}
	if slices.Contains(pu.PoPs, 4) {
		t.Errorf("uncertain plan %v times the hopeless PoP 4", pu.PoPs)
	}
}

// Budget property: whatever the input and policy, never more than MaxPoPs,
// at least one, no duplicates, indexes in range, After within bounds.
func TestPlanBudgetProperty(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for it := range 20000 {
		p := DefaultPolicy()
		p.MaxPoPs = 1 + r.IntN(8)
		p.Explore = r.Float64()
		p.MinInterval = time.Duration(1+r.IntN(600)) * time.Second
		p.MaxInterval = p.MinInterval * time.Duration(1+r.IntN(100))
		if err := p.Check(); err != nil {
			t.Fatal(err)
		}
		pops := make([]PoPState, 1+r.IntN(40))
		for i := range pops {
			if r.IntN(4) == 0 {
				continue // never measured
			}
			pops[i] = PoPState{Count: uint32(r.IntN(200)), P75: float32(r.Float64() * 300), Spread: float32(r.Float64() * 50),
				Last: now.Unix() - int64(r.IntN(90*86400))}
		}
		at := now.Add(time.Duration(r.Int64N(int64(30 * 24 * time.Hour))))
		pl, err := p.Plan(nil, r.Uint64(), pops, at)
		if err != nil {
			t.Fatal(err)
		}
		if len(pl.PoPs) < 1 || len(pl.PoPs) > p.MaxPoPs {
			t.Fatalf("#%d: %d PoPs planned, budget %d", it, len(pl.PoPs), p.MaxPoPs)
		}
		seen := map[int]bool{}
		for _, i := range pl.PoPs {
			if i < 0 || i >= len(pops) || seen[i] {
				t.Fatalf("#%d: bad plan %v over %d PoPs", it, pl.PoPs, len(pops))
			}
			seen[i] = true
		}
		if pl.After < p.MinInterval || pl.After > p.MaxInterval {
			t.Fatalf("#%d: after %v outside [%v, %v]", it, pl.After, p.MinInterval, p.MaxInterval)
		}
	}
}

// Exploration is reproducible per network and day, and close to its share.
func TestPlanExploration(t *testing.T) {
	p := DefaultPolicy()
	p.Explore = 0.2
	pops := []PoPState{fresh(50, 20), fresh(50, 60), fresh(50, 90), fresh(50, 120)}
	explored := 0
	const nets = 5000
	for net := range uint64(nets) {
		a, _ := p.Plan(nil, net, pops, now)
		b, _ := p.Plan(nil, net, pops, now)
		if !slices.Equal(a.PoPs, b.PoPs) || a.Explored != b.Explored {
			t.Fatalf("network %d: %v then %v", net, a.PoPs, b.PoPs)
		}
		if a.Explored >= 0 {
			explored++
			if a.Explored == 0 || len(a.PoPs) != 2 {
				t.Fatalf("network %d: explored %d, plan %v", net, a.Explored, a.PoPs)
			}
		}
	}
	if share := float64(explored) / nets; share < 0.17 || share > 0.23 {
		t.Errorf("explored share %.3f, want about 0.2", share)
	}
}

// A network the collector knows nothing about covers all PoPs in a few
// beacons: the tie-break rotates with the beacon slot.
func TestPlanColdStartRotates(t *testing.T) {
	p := noExplore()
	p.MaxPoPs = 2
	pops := make([]PoPState, 8)
	covered := map[int]bool{}
	for s := range 40 {
		pl, _ := p.Plan(nil, 99, pops, now.Add(time.Duration(s)*p.MinInterval))
		for _, i := range pl.PoPs {
			covered[i] = true
		}
	}
	if len(covered) != len(pops) {
		t.Fatalf("40 beacons covered %d of %d PoPs", len(covered), len(pops))
	}
}

func TestPolicyCheck(t *testing.T) {
	for _, tc := range []struct {
		mod  func(*Policy)
		want string
	}{
		{func(p *Policy) { p.MaxPoPs = 0 }, "max_pops"},
		{func(p *Policy) { p.MinInterval = 0 }, "min_interval"},
		{func(p *Policy) { p.MaxInterval = time.Second }, "max_interval"},
		{func(p *Policy) { p.Explore = 2 }, "explore"},
		{func(p *Policy) { p.HalfLife = -1 }, "half_life"},
		{func(p *Policy) { p.MinGain = 0 }, "min_gain_ms"},
		{func(p *Policy) { p.UrgentGain = 0.01 }, "urgent_gain_ms"},
	} {
		p := DefaultPolicy()
		tc.mod(&p)
		err := p.Check()
		if err == nil || err.Error()[:len(tc.want)] != tc.want {
			t.Errorf("Check = %v, want an error naming %s", err, tc.want)
		}
	}
	p := DefaultPolicy()
	if err := p.Check(); err != nil {
		t.Fatal(err)
	}
}

func TestKnowledgeUpdate(t *testing.T) {
	k := NewKnowledge([]string{"ams", "fra", "new"})
	agg := &store.Aggregate{Quantile: 0.75, PoPs: []string{"ams", "fra", "gone"}, Cells: []store.Cell{
		{Network: 10, PoP: 0, Count: 4, Lo: 20, Hi: 20},
		{Network: 10, PoP: 1, Count: 1, Lo: 30, Hi: 30},
		{Network: 10, PoP: 2, Count: 9, Lo: 5, Hi: 5},
		{Network: 10, PoP: store.AnycastPoP, Count: 9, Lo: 5, Hi: 5},
		{Network: 20, PoP: 2, Count: 9, Lo: 5, Hi: 5}, // only a PoP it does not know
	}}
	k1 := k.Update(agg, now)
	if k1.Networks() != 1 {
		t.Fatalf("%d networks, want 1", k1.Networks())
	}
	got := k1.Lookup(10, nil)
	if got[0].Count != 4 || got[0].P75 != 20 || got[1].Count != 1 || got[2].Count != 0 || got[0].Last != now.Unix() {
		t.Fatalf("lookup %+v", got)
	}
	if s := k1.Lookup(20, nil); s[0].Known() || s[1].Known() || s[2].Known() {
		t.Fatalf("unknown network: %+v", s)
	}
	// an hour later fra got a sample, ams did not
	agg.Cells[1].Count = 2
	later := now.Add(time.Hour)
	got = k1.Update(agg, later).Lookup(10, nil)
	if got[0].Last != now.Unix() || got[1].Last != later.Unix() {
		t.Fatalf("last: ams %d fra %d", got[0].Last, got[1].Last)
	}
	var zero Knowledge
	if s := zero.Update(agg, now).Lookup(10, nil); len(s) != 0 {
		t.Fatalf("zero knowledge: %+v", s)
	}
}

// expectedRegret's fast tail agrees with the exact formula.
func TestExpectedRegret(t *testing.T) {
	for d := -3.0; d <= 30; d += 0.01 {
		for _, sigma := range []float64{0.5, 1, 3, 10} {
			z := d / sigma
			exact := sigma*math.Exp(-z*z/2)/math.Sqrt(2*math.Pi) - d*0.5*math.Erfc(z/math.Sqrt2)
			if z > 5 {
				exact = 0 // cut off: below 6e-8·σ
			}
			if got := expectedRegret(d, sigma); math.Abs(got-max(0, exact)) > 1e-6*sigma {
				t.Fatalf("expectedRegret(%v, %v) = %v, want %v", d, sigma, got, exact)
			}
		}
	}
	if got := expectedRegret(2, 0); got != 0 {
		t.Errorf("no uncertainty, worse: %v", got)
	}
}

func BenchmarkPlan(b *testing.B) {
	for _, n := range []int{4, 16, 64} {
		pops := make([]PoPState, n)
		for i := range pops {
			pops[i] = fresh(uint32(5+i), float32(20+3*i))
		}
		pops[n/2] = PoPState{}
		p := DefaultPolicy()
		dst := make([]int, 0, MaxPoPs+1)
		b.Run(string(rune('0'+n/10))+string(rune('0'+n%10))+"pops", func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if _, err := p.Plan(dst, uint64(i), pops, now); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkLookupAndPlan(b *testing.B) {
	labels := make([]string, 16)
	for i := range labels {
		labels[i] = string(rune('a'+i)) + "x"
	}
	agg := &store.Aggregate{Quantile: 0.75, PoPs: labels}
	for net := range uint64(10000) {
		agg.Networks = append(agg.Networks, store.NetworkAgg{Network: net})
		for pop := range uint16(16) {
			agg.Cells = append(agg.Cells, store.Cell{Network: net, PoP: pop, Count: 5, Lo: float32(20 + pop), Hi: float32(21 + pop)})
		}
	}
	k := NewKnowledge(labels).Update(agg, now)
	p := DefaultPolicy()
	dst := make([]int, 0, MaxPoPs+1)
	var st []PoPState
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		st = k.Lookup(uint64(i%10000), st)
		if _, err := p.Plan(dst, uint64(i), st, now); err != nil {
			b.Fatal(err)
		}
	}
}
