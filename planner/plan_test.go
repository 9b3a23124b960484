package planner

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/steer-gslb/steer/geoip"
)

// randomProblem is a small instance: cells and candidates scattered over a
// region (clustered, so that PoPs compete), a few existing PoPs, countries
// from a short list.
func randomProblem(rng *rand.Rand, nCells, nCands, nPoPs int, kind Kind) *Problem {
	countries := []string{"AA", "BB", "CC", "DD"}
	lat0, lon0 := rng.Float64()*140-70, rng.Float64()*360-180
	spread := 5 + rng.Float64()*60
	pos := func() (float64, float64) {
		lat := math.Max(-90, math.Min(90, lat0+(rng.Float64()-0.5)*spread))
		lon := lon0 + (rng.Float64()-0.5)*2*spread
		if lon > 180 {
			lon -= 360
		}
		if lon < -180 {
			lon += 360
		}
		return lat, lon
	}
	p := &Problem{Loss: Loss{Kind: kind, Fibre: Fibre{InterceptMs: 5 + 10*rng.Float64(), MsPerKm: 0.015 + 0.01*rng.Float64()}, TCP: DefaultTCP}}
	for i := range nCells {
		lat, lon := pos()
		p.Cells = append(p.Cells, Cell{Lat: lat, Lon: lon, Weight: math.Exp(rng.NormFloat64() * 2), Place: Place{Name: fmt.Sprint("c", i)}})
	}
	for i := range nCands {
		lat, lon := pos()
		p.Candidates = append(p.Candidates, Site{Name: fmt.Sprint("s", i), Country: countries[rng.IntN(len(countries))], Lat: lat, Lon: lon})
	}
	for i := range nPoPs {
		lat, lon := pos()
		p.Existing = append(p.Existing, Site{Label: fmt.Sprint("p", i), Lat: lat, Lon: lon})
	}
	return p
}

// bruteLoss is Σ w·f(distance to the nearest site), by haversine, in plain
// loops: the reference the greedy search is checked against.
func bruteLoss(cells []Cell, sites []Site, loss Loss) float64 {
	total := 0.0
	for _, c := range cells {
		best := math.Inf(1)
		for _, s := range sites {
			best = math.Min(best, geoip.Distance(c.Lat, c.Lon, s.Lat, s.Lon))
		}
		total += c.Weight * loss.Of(best)
	}
	return total
}

// bruteStep returns the allowed candidate whose addition gives the lowest
// loss (the first on ties), and that loss; −1 when none is allowed or none
// lowers the loss.
func bruteStep(p *Problem, sites []Site) (int, float64) {
	best, bestLoss := -1, math.Inf(1)
	for i, c := range p.Candidates {
		if slices.Contains(p.Exclude, c.Country) {
			continue
		}
		near := false
		for _, s := range sites {
			if geoip.Distance(c.Lat, c.Lon, s.Lat, s.Lon) < p.MinDistanceKm {
				near = true
			}
		}
		if near {
			continue
		}
		if l := bruteLoss(p.Cells, append(slices.Clone(sites), c), p.Loss); l < bestLoss {
			best, bestLoss = i, l
		}
	}
	if len(sites) > 0 && best >= 0 && !(bestLoss < bruteLoss(p.Cells, sites, p.Loss)) {
		return -1, 0
	}
	return best, bestLoss
}

func near(a, b float64) bool {
	return math.Abs(a-b) <= 1e-9*math.Max(1, math.Max(math.Abs(a), math.Abs(b)))
}

// TestPlanMatchesBruteForce: on small random instances, every greedy step
// picks the candidate a brute-force search (all candidates, all cells,
// haversine, recomputed from scratch) picks, with the same loss.
func TestPlanMatchesBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(6, 1))
	for trial := range 60 {
		kind := []Kind{L1, L2, TCP}[trial%3]
		p := randomProblem(rng, 20+rng.IntN(60), 5+rng.IntN(40), rng.IntN(4), kind)
		if trial%4 == 1 {
			p.Exclude = []string{"BB", "DD"}
		}
		if trial%5 == 2 {
			p.MinDistanceKm = 50 + rng.Float64()*500
		}
		p.Workers = 1 + trial%3
		k := 1 + rng.IntN(6)
		pl, err := p.Plan(k)
		if err != nil {
			t.Fatal(err)
		}
		name := fmt.Sprintf("trial %d (%s, %d cells, %d candidates, %d PoPs, min %.0f km, exclude %v)",
			trial, kind, len(p.Cells), len(p.Candidates), len(p.Existing), p.MinDistanceKm, p.Exclude)
		sites := slices.Clone(p.Existing)
		if len(sites) > 0 && !near(pl.Initial, bruteLoss(p.Cells, sites, p.Loss)) {
			t.Errorf("%s: initial loss %v, brute force %v", name, pl.Initial, bruteLoss(p.Cells, sites, p.Loss))
		}
		for step := range k {
			want, wantLoss := bruteStep(p, sites)
			if step >= len(pl.Steps) {
				if want >= 0 {
					t.Errorf("%s: stopped after %d steps (%s); brute force step %d picks candidate %d", name, step, pl.Stopped, step+1, want)
				}
				break
			}
			got := pl.Steps[step]
			if got.Candidate != want || !near(got.After, wantLoss) {
				t.Errorf("%s: step %d = candidate %d, loss %v; brute force: candidate %d, loss %v", name, step+1, got.Candidate, got.After, want, wantLoss)
				break
			}
			if step > 0 && !near(got.Before, pl.Steps[step-1].After) {
				t.Errorf("%s: step %d starts at %v, the previous ended at %v", name, step+1, got.Before, pl.Steps[step-1].After)
			}
			sites = append(sites, p.Candidates[want])
		}
		// The final assignment is each cell's nearest site.
		for i, c := range p.Cells {
			d := geoip.Distance(c.Lat, c.Lon, pl.Sites[pl.After[i].Site].Lat, pl.Sites[pl.After[i].Site].Lon)
			if math.Abs(d-pl.After[i].Km) > 1e-6 {
				t.Errorf("%s: cell %d: After.Km %v, haversine to its site %v", name, i, pl.After[i].Km, d)
				break
			}
		}
	}
}

// TestPlanWorkersAgree: the result does not depend on the number of
// goroutines.
func TestPlanWorkersAgree(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 9))
	p := randomProblem(rng, 300, 200, 3, TCP)
	var first *Plan
	for _, w := range []int{1, 2, 3, 8} {
		p.Workers = w
		pl, err := p.Plan(6)
		if err != nil {
			t.Fatal(err)
		}
		if first == nil {
			first = pl
			continue
		}
		for i := range pl.Steps {
			if pl.Steps[i].Candidate != first.Steps[i].Candidate || pl.Steps[i].After != first.Steps[i].After {
				t.Errorf("workers %d: step %d = %d (%v), workers 1: %d (%v)", w, i+1,
					pl.Steps[i].Candidate, pl.Steps[i].After, first.Steps[i].Candidate, first.Steps[i].After)
			}
		}
	}
}

// TestPlanFromNothing: with no PoPs the first step is the best single site
// (the weighted 1-median for L1).
func TestPlanFromNothing(t *testing.T) {
	cells := []Cell{
		{Lat: 0, Lon: 0, Weight: 1}, {Lat: 0, Lon: 10, Weight: 1}, {Lat: 0, Lon: 20, Weight: 5},
	}
	cands := []Site{{Name: "a", Lon: 0}, {Name: "b", Lon: 10}, {Name: "c", Lon: 20}}
	pl, err := (&Problem{Cells: cells, Candidates: cands, Loss: Loss{Kind: L1}}).Plan(3)
	if err != nil {
		t.Fatal(err)
	}
	if len(pl.Steps) != 3 || pl.Steps[0].Site.Name != "c" || !math.IsInf(pl.Steps[0].Before, 1) || !math.IsInf(pl.Initial, 1) {
		t.Fatalf("steps %+v, initial %v", pl.Steps, pl.Initial)
	}
	deg := 2 * math.Pi * geoip.EarthRadiusKm / 360
	if want := 1*20*deg + 1*10*deg; math.Abs(pl.Steps[0].After-want) > 1e-6 {
		t.Errorf("first step loss %v, want %v", pl.Steps[0].After, want)
	}
	// Then the heavier remaining cell (b is as heavy as a but nearer c…
	// both gain their distance × 1: a gains 20°, b 10°).
	if pl.Steps[1].Site.Name != "a" || pl.Steps[2].Site.Name != "b" || pl.Steps[2].After > 1e-9 {
		t.Errorf("steps 2, 3: %s, %s (loss %v); want a, b, 0", pl.Steps[1].Site.Name, pl.Steps[2].Site.Name, pl.Steps[2].After)
	}
}

// TestPlanStops: when the candidates run out or none helps, the plan says so.
func TestPlanStops(t *testing.T) {
	cells := []Cell{{Lat: 0, Lon: 0, Weight: 1}, {Lat: 0, Lon: 30, Weight: 1}}
	pops := []Site{{Label: "x", Lat: 0, Lon: 0}}
	for _, tc := range []struct {
		name  string
		p     Problem
		steps int
		why   string
	}{
		{"excluded", Problem{Candidates: []Site{{Country: "FR", Lon: 30}}, Exclude: []string{"fr"}}, 0, "no candidate left"},
		{"too near", Problem{Candidates: []Site{{Lon: 1}, {Lon: 30}}, MinDistanceKm: 3400}, 0, "no candidate left"},
		{"no gain", Problem{Candidates: []Site{{Lon: 0}, {Lon: -1}}}, 0, "no candidate reduces"},
		{"one then done", Problem{Candidates: []Site{{Lon: 30}, {Lon: 29}}}, 1, "no candidate reduces"},
	} {
		p := tc.p
		p.Cells, p.Existing, p.Loss = cells, pops, Loss{Kind: L2}
		pl, err := p.Plan(3)
		if err != nil {
			t.Fatal(err)
		}
		if len(pl.Steps) != tc.steps || !strings.Contains(pl.Stopped, tc.why) {
			t.Errorf("%s: %d steps, stopped %q; want %d, %q", tc.name, len(pl.Steps), pl.Stopped, tc.steps, tc.why)
		}
	}
}

func TestProblemValidate(t *testing.T) {
	good := func() Problem {
		return Problem{Cells: []Cell{{Weight: 1}}, Candidates: []Site{{}}, Loss: Loss{Kind: L1}}
	}
	for _, tc := range []struct {
		edit func(*Problem)
		want string
	}{
		{func(p *Problem) { p.Cells = nil }, "no weighted cells"},
		{func(p *Problem) { p.Candidates = nil }, "no candidate sites"},
		{func(p *Problem) { p.Cells[0].Lat = 91 }, "cell 0: latitude 91"},
		{func(p *Problem) { p.Cells[0].Weight = math.NaN() }, "cell 0: weight NaN"},
		{func(p *Problem) { p.Existing = []Site{{Label: "x", Lon: 200}} }, "existing PoP 0 (x): longitude 200"},
		{func(p *Problem) { p.MinDistanceKm = -1 }, "min distance -1"},
		{func(p *Problem) { p.Loss.Kind = "l3" }, `loss "l3"`},
		{func(p *Problem) { p.Loss = Loss{Kind: TCP, TCP: DefaultTCP} }, "fibre line"},
		{func(p *Problem) { p.Loss = Loss{Kind: TCP, Fibre: Fibre{1, 0.02}} }, "tcp model"},
	} {
		p := good()
		tc.edit(&p)
		if _, err := p.Plan(1); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Plan() error %v, want %q", err, tc.want)
		}
	}
	p := good()
	if _, err := p.Plan(-1); err == nil {
		t.Error("Plan(-1): no error")
	}
}

// TestGainMatchesBruteForce: the inner loop's gain of every candidate, at
// every step, is the brute-force loss before minus the loss with it.
func TestGainMatchesBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	for trial := range 12 {
		kind := []Kind{L1, L2, TCP}[trial%3]
		p := randomProblem(rng, 50, 30, 1+rng.IntN(3), kind)
		s := newState(p)
		sites := slices.Clone(p.Existing)
		for step := range 3 {
			before := bruteLoss(p.Cells, sites, p.Loss)
			if !near(s.total(), before) {
				t.Fatalf("trial %d step %d: state total %v, brute force %v", trial, step, s.total(), before)
			}
			for i, c := range p.Candidates {
				want := before - bruteLoss(p.Cells, append(slices.Clone(sites), c), p.Loss)
				if got := s.gain(unitOf(c.Lat, c.Lon)); math.Abs(got-want) > 1e-9*before {
					t.Fatalf("trial %d (%s) step %d: gain of candidate %d = %v, brute force %v", trial, kind, step, i, got, want)
				}
			}
			pick := rng.IntN(len(p.Candidates))
			s.apply(unitOf(p.Candidates[pick].Lat, p.Candidates[pick].Lon), len(sites))
			sites = append(sites, p.Candidates[pick])
		}
	}
}

// TestMeasuredLatency: where real users measured their RTT to the best
// existing PoP, that (not the distance model) is the cell's current loss.
func TestMeasuredLatency(t *testing.T) {
	// two cells at the same distance (about 2,000 km) from one PoP; a
	// candidate on each
	pop := Site{Label: "p", Lat: 0, Lon: 0}
	cells := []Cell{
		{Weight: 1, Lat: 0, Lon: 18},
		{Weight: 1, Lat: 0, Lon: -18},
	}
	cands := []Site{{Name: "east", Lat: 0, Lon: 18}, {Name: "west", Lat: 0, Lon: -18}}
	plan := func(measured *Fibre, rtts ...float64) *Plan {
		t.Helper()
		cs := slices.Clone(cells)
		for i, r := range rtts {
			cs[i].MeasuredRTT = r
		}
		p := &Problem{Cells: cs, Candidates: cands, Existing: []Site{pop}, Loss: Loss{Kind: L1}, Measured: measured}
		pl, err := p.Plan(1)
		if err != nil {
			t.Fatal(err)
		}
		return pl
	}
	line := &Fibre{InterceptMs: 10, MsPerKm: 0.02}
	// by distance alone: a tie, the first candidate
	if pl := plan(nil); pl.Steps[0].Site.Name != "east" {
		t.Errorf("by distance: %s, want east (the tie's first)", pl.Steps[0].Site.Name)
	}
	// the west cell's users measure 110 ms (5,000 km at 0.02 ms/km + 10):
	// a detour the map does not show; west gains 5,000 km, east 2,000
	pl := plan(line, 0, 110)
	if got := pl.Steps[0].Site.Name; got != "west" {
		t.Fatalf("measured: %s, want west", got)
	}
	if g := pl.Steps[0].Before - pl.Steps[0].After; math.Abs(g-5000) > 1 {
		t.Errorf("gain %.1f km, want 5000 (the measured equivalent distance to 0)", g)
	}
	if pl.Initial < 5000+2000-1 || pl.Initial > 5000+2001+1 {
		t.Errorf("initial loss %.1f, want the measured 5000 + the modelled ~2001", pl.Initial)
	}
	// users that measure 10 ms (0 km) cannot be helped
	pl = plan(line, 10, 10)
	if len(pl.Steps) != 0 {
		t.Errorf("cells measured at the line's intercept: %d steps, want none (no gain)", len(pl.Steps))
	}
	// a bad line is refused
	if _, err := (&Problem{Cells: cells, Candidates: cands, Loss: Loss{Kind: L1}, Measured: &Fibre{}}).Plan(1); err == nil {
		t.Error("a zero fibre line accepted")
	}
}
