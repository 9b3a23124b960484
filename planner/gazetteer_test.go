package planner

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/steer-gslb/steer/data"
	"github.com/steer-gslb/steer/geoip"
)

func shippedGazetteer(t testing.TB) (*Gazetteer, []data.City) {
	t.Helper()
	cities, err := data.Cities()
	if err != nil {
		t.Fatal(err)
	}
	return NewGazetteer(cities), cities
}

// TestNearestMatchesBruteForce: the banded search finds the city a scan of
// every city finds, anywhere (poles, antimeridian, mid-ocean, on a city).
func TestNearestMatchesBruteForce(t *testing.T) {
	g, cities := shippedGazetteer(t)
	rng := rand.New(rand.NewPCG(8, 8))
	pts := [][2]float64{{90, 0}, {-90, 0}, {0, 180}, {0, -180}, {-50, -140}, {65, -179.9}, {cities[0].Lat, cities[0].Lon}}
	for range 300 {
		pts = append(pts, [2]float64{rng.Float64()*180 - 90, rng.Float64()*360 - 180})
	}
	for _, p := range pts {
		best, bd := -1, math.Inf(1)
		for i, c := range cities {
			if d := geoip.Distance(p[0], p[1], c.Lat, c.Lon); d < bd {
				best, bd = i, d
			}
		}
		c, km, ok := g.Nearest(p[0], p[1])
		if !ok || math.Abs(km-bd) > 1e-9 {
			t.Errorf("Nearest(%v) = %s at %v km, brute force %s at %v km", p, c.Name, km, cities[best].Name, bd)
		}
	}
	if _, _, ok := NewGazetteer(nil).Nearest(0, 0); ok {
		t.Error("empty gazetteer found a city")
	}
}

func TestLookup(t *testing.T) {
	g, _ := shippedGazetteer(t)
	for _, tc := range []struct{ name, cc, want, wantCC string }{
		{"Paris", "", "Paris", "FR"},
		{"paris", "us", "Paris", "US"},
		{"SaoPaulo", "", "Sao Paulo", "BR"},
		{"sao  paulo", "", "Sao Paulo", "BR"},
		{"Mumbai", "", "Mumbai", "IN"},
		{"Lagos", "NG", "Lagos", "NG"},
	} {
		c, ok := g.Lookup(tc.name, tc.cc)
		if !ok || c.Name != tc.want || c.Country != tc.wantCC {
			t.Errorf("Lookup(%q, %q) = %s, %s, %v; want %s, %s", tc.name, tc.cc, c.Name, c.Country, ok, tc.want, tc.wantCC)
		}
	}
	for _, tc := range [][2]string{{"Nowhere Xanadu", ""}, {"Paris", "JP"}, {"", ""}} {
		if c, ok := g.Lookup(tc[0], tc[1]); ok {
			t.Errorf("Lookup(%q, %q) = %+v", tc[0], tc[1], c)
		}
	}
}

func BenchmarkNearest(b *testing.B) {
	g, _ := shippedGazetteer(b)
	rng := rand.New(rand.NewPCG(1, 2))
	b.ReportAllocs()
	for b.Loop() {
		g.Nearest(rng.Float64()*180-90, rng.Float64()*360-180)
	}
}
