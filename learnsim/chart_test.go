package learnsim

import (
	"image/color"
	"math"
	"testing"

	"github.com/steer-gslb/steer/internal/chart"
)

// TestChart draws two runs, one with an affected series broken by a new
// period, and checks the picture: the two charts' size, and each run's
// colour in it.
func TestChart(t *testing.T) {
	mk := func(scale float64) []Step {
		var out []Step
		for d := 1; d <= 8; d++ {
			s := Step{Day: float64(d) / 2, Beacons: int64(d) * 1000, GapPerNetwork: scale * 6 / float64(d), Regret: scale * 4 / float64(d),
				AffectedMeasuredRegret: Value(math.NaN()), Period: d / 4}
			if d >= 4 {
				s.AffectedMeasured, s.AffectedMeasuredRegret = 10, Value(scale*8/float64(d))
			}
			out = append(out, s)
		}
		return out
	}
	img, err := Chart("test", []Series{{"planned", mk(1)}, {"random", mk(1.5)}})
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != 1000 || b.Dy() != 840 {
		t.Fatalf("picture %v, want 1000x840", b)
	}
	for i, want := range []color.RGBA{chart.Color(0), chart.Color(1)} {
		n := 0
		for y := 0; y < img.Bounds().Dy(); y++ {
			for x := 0; x < img.Bounds().Dx(); x++ {
				if img.RGBAAt(x, y) == want {
					n++
				}
			}
		}
		if n < 200 {
			t.Errorf("run %d: %d pixels of its colour", i, n)
		}
	}
}
