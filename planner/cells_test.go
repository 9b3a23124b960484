package planner

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/golang/geo/s2"

	"github.com/steer-gslb/steer/data"
	"github.com/steer-gslb/steer/geoip"
)

// TestCellsSumPopulation: the shipped population, summed into cells, keeps
// every person: cell weights add up to the cities' populations exactly
// (integers below 2⁵³ add exactly in float64), and each cell's weight is
// the sum of the cities inside it.
func TestCellsSumPopulation(t *testing.T) {
	cities, err := data.Cities()
	if err != nil {
		t.Fatal(err)
	}
	cells, err := Cells(PopulationPoints(cities))
	if err != nil {
		t.Fatal(err)
	}
	want := 0
	perCell := map[s2.CellID]int{}
	for _, c := range cities {
		want += c.Population
		perCell[s2.CellIDFromLatLng(s2.LatLngFromDegrees(c.Lat, c.Lon)).Parent(Level)] += c.Population
	}
	got, points := 0.0, 0
	for i, c := range cells {
		got += c.Weight
		points += c.Points
		if c.ID.Level() != Level || float64(perCell[c.ID]) != c.Weight {
			t.Fatalf("cell %d %s (level %d): weight %v, its cities hold %d", i, c.ID.ToToken(), c.ID.Level(), c.Weight, perCell[c.ID])
		}
		if i > 0 && cells[i-1].ID >= c.ID {
			t.Fatalf("cells not sorted at %d", i)
		}
		if CellOf(c.Lat, c.Lon) != c.ID {
			t.Errorf("cell %s: centroid %v,%v falls outside it", c.ID.ToToken(), c.Lat, c.Lon)
		}
	}
	if got != float64(want) || points != len(cities) || len(cells) != len(perCell) {
		t.Errorf("cells hold %v people from %d points in %d cells; the cities %d people, %d cities, %d cells",
			got, points, len(cells), want, len(cities), len(perCell))
	}
	if len(cells) != 8791 {
		t.Errorf("%d populated cells; the docs say 8,791", len(cells))
	}
}

// TestCellsRandomWeights: weights sum per cell on random points too, with
// zero weights dropped and the heaviest named point naming the cell.
func TestCellsRandomWeights(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	var pts []Point
	total := 0.0
	for range 5000 {
		p := Point{Lat: rng.Float64()*180 - 90, Lon: rng.Float64()*360 - 180, Weight: math.Floor(rng.Float64() * 1000)}
		total += p.Weight
		pts = append(pts, p)
	}
	cells, err := Cells(pts)
	if err != nil {
		t.Fatal(err)
	}
	got := 0.0
	for _, c := range cells {
		got += c.Weight
		if c.Weight <= 0 {
			t.Fatalf("cell %s of weight %v kept", c.ID.ToToken(), c.Weight)
		}
	}
	if got != total {
		t.Errorf("cells sum to %v, points to %v", got, total)
	}

	// One cell: a centroid between two points, named after the heavier
	// named point.
	two := []Point{
		{Lat: 10, Lon: 20, Weight: 1, Name: "small"},
		{Lat: 10.1, Lon: 20.1, Weight: 3, Name: "big", Country: "FR"},
		{Lat: 10.05, Lon: 20.05, Weight: 5}, // heavier but unnamed
		{Lat: 10.02, Lon: 20.02, Weight: 0, Name: "empty"},
	}
	cells, err = Cells(two)
	if err != nil || len(cells) != 1 {
		t.Fatalf("Cells = %v, %v", cells, err)
	}
	c := cells[0]
	if c.Weight != 9 || c.Points != 3 || c.Place.Name != "big" || c.Place.Country != "FR" || c.Name() != "big" {
		t.Errorf("cell %+v", c)
	}
	if d := geoip.Distance(c.Lat, c.Lon, 10.0611, 20.0611); d > 0.5 {
		t.Errorf("centroid %v,%v is %.2f km from the weighted mean", c.Lat, c.Lon, d)
	}
	if s := CellCandidates(cells, 0); len(s) != 1 || s[0].Lat != 10.1 || s[0].Name != "big" {
		t.Errorf("CellCandidates = %+v, want the site at big", s)
	}
	if s := CellCandidates(cells, 10); len(s) != 0 {
		t.Errorf("CellCandidates(min 10) = %+v, want none", s)
	}
}

func TestCellsErrors(t *testing.T) {
	for _, tc := range []struct {
		p    Point
		want string
	}{
		{Point{Lat: 91}, "point 1: latitude 91 outside"},
		{Point{Lon: -180.5}, "point 1: longitude -180.5 outside"},
		{Point{Lat: math.NaN()}, "latitude NaN"},
		{Point{Weight: -1}, "point 1: weight -1"},
		{Point{Weight: math.Inf(1)}, "weight +Inf"},
	} {
		if _, err := Cells([]Point{{Weight: 1}, tc.p}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Cells(%+v): %v, want %q", tc.p, err, tc.want)
		}
	}
}

// TestEveryCell: one candidate per cell of the sphere, each in its cell.
func TestEveryCell(t *testing.T) {
	if testing.Short() {
		t.Skip("98,304 nearest-city lookups")
	}
	cities, err := data.Cities()
	if err != nil {
		t.Fatal(err)
	}
	sites := EveryCell(NewGazetteer(cities))
	if len(sites) != NumCells || NumCells != 98304 {
		t.Fatalf("%d sites, NumCells %d", len(sites), NumCells)
	}
	seen := map[s2.CellID]bool{}
	for _, s := range sites {
		seen[CellOf(s.Lat, s.Lon)] = true
		if s.Country == "" {
			t.Fatalf("site %+v has no country", s)
		}
	}
	if len(seen) != NumCells {
		t.Errorf("sites fall in %d distinct cells", len(seen))
	}
}

// TestUnitKm: the chord distance agrees with haversine, near and far.
func TestUnitKm(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	for range 2000 {
		lat1, lon1 := rng.Float64()*180-90, rng.Float64()*360-180
		scale := math.Pow(10, rng.Float64()*4-3) // 0.001° to 10°, and far pairs below
		lat2, lon2 := math.Max(-90, math.Min(90, lat1+rng.NormFloat64()*scale)), lon1+rng.NormFloat64()*scale
		if rng.IntN(4) == 0 {
			lat2, lon2 = rng.Float64()*180-90, rng.Float64()*360-180
		}
		got := unitOf(lat1, lon1).km(unitOf(lat2, lon2))
		want := geoip.Distance(lat1, lon1, lat2, lon2)
		if math.Abs(got-want) > 1e-6*math.Max(1, want) {
			t.Fatalf("km(%v,%v → %v,%v) = %v, haversine %v", lat1, lon1, lat2, lon2, got, want)
		}
	}
}
