package planner

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/steer-gslb/steer/data"
)

// TestCurveMatchesBruteForce: the thinning drops, at each stage, the PoP
// whose removal a brute-force loss says costs least, and the curve's new
// part is the plan's steps.
func TestCurveMatchesBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	for trial := range 20 {
		p := randomProblem(rng, 80, 30, 2+rng.IntN(6), []Kind{L1, L2, TCP}[trial%3])
		pl, err := p.Plan(2)
		if err != nil {
			t.Fatal(err)
		}
		curve := pl.Curve()
		n := len(p.Existing)
		if len(curve) != n+len(pl.Steps) {
			t.Fatalf("trial %d: %d points for %d PoPs + %d steps", trial, len(curve), n, len(pl.Steps))
		}
		// Replay the thinning by brute force, from all PoPs down.
		alive := slices.Clone(p.Existing)
		idx := make([]int, n)
		for i := range idx {
			idx[i] = i
		}
		if !near(curve[n-1].Loss, bruteLoss(p.Cells, alive, p.Loss)) {
			t.Errorf("trial %d: loss at %d PoPs %v, brute force %v", trial, n, curve[n-1].Loss, bruteLoss(p.Cells, alive, p.Loss))
		}
		for k := n; k > 1; k-- {
			drop, least := -1, math.Inf(1)
			for j := range alive {
				rest := slices.Delete(slices.Clone(alive), j, j+1)
				if l := bruteLoss(p.Cells, rest, p.Loss); l <= least {
					drop, least = j, l
				}
			}
			pt := curve[k-1]
			if pt.Site != idx[drop] || !near(curve[k-2].Loss, least) {
				t.Errorf("trial %d: going from %d to %d PoPs drops %d (then %v); brute force drops %d (then %v)",
					trial, k, k-1, pt.Site, curve[k-2].Loss, idx[drop], least)
				break
			}
			alive = slices.Delete(alive, drop, drop+1)
			idx = slices.Delete(idx, drop, drop+1)
		}
		if curve[0].PoPs != 1 || curve[0].Site != idx[0] {
			t.Errorf("trial %d: first point %+v, survivor %d", trial, curve[0], idx[0])
		}
		for i, st := range pl.Steps {
			if c := curve[n+i]; c.PoPs != n+i+1 || c.Loss != st.After || c.Site != n+i {
				t.Errorf("trial %d: point %+v for step %d (loss %v)", trial, c, i+1, st.After)
			}
		}
	}
}

// TestRegions: the regions partition the weight and the loss, and every
// country of the shipped cities has a continent.
func TestRegions(t *testing.T) {
	cities, err := data.Cities()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cities {
		if Continent(c.Country) == "" {
			t.Errorf("country %s (%s) has no continent", c.Country, c.Name)
		}
	}
	if Continent("de") != "Europe" || Continent("BR") != "South America" || Continent("XX") != "" {
		t.Error("Continent: wrong answers for de, BR, XX")
	}
	rng := rand.New(rand.NewPCG(9, 9))
	p := randomProblem(rng, 200, 50, 3, L1)
	for i := range p.Cells {
		p.Cells[i].Place.Country = []string{"FR", "DE", "NG", "", "BR"}[i%5]
	}
	for i := range p.Candidates {
		p.Candidates[i].Country = "NG"
	}
	pl, err := p.Plan(3)
	if err != nil {
		t.Fatal(err)
	}
	var w, before, after float64
	sites := 0
	regions := pl.Regions()
	for _, r := range regions {
		w += r.Weight
		before += r.Before
		after += r.After
		sites += r.Sites
	}
	if !near(w, pl.TotalWeight) || !near(before, pl.Initial) || !near(after, pl.Steps[len(pl.Steps)-1].After) || sites != len(pl.Steps) {
		t.Errorf("regions sum to weight %v, before %v, after %v, %d sites; plan: %v, %v, %v, %d",
			w, before, after, sites, pl.TotalWeight, pl.Initial, pl.Steps[len(pl.Steps)-1].After, len(pl.Steps))
	}
	names := []string{}
	for _, r := range regions {
		names = append(names, r.Region)
	}
	slices.Sort(names)
	if !slices.Equal(names, []string{"Africa", "Europe", "South America", Unknown}) {
		t.Errorf("regions %v", names)
	}
}
