//go:build cgo

package mapeval

import (
	"image"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/steer-gslb/steer/internal/chart"
)

func TestGainBins(t *testing.T) {
	// Gains (other − cand): 0, 7, 7, -80 (below the range: first bin),
	// 1000 (above: last bin), 249.9 (last bin).
	cand := []float32{10, 10, 3, 100, 0, 0.1}
	other := []float32{10, 17, 10, 20, 1000, 250}
	weights := []float32{1, 2, 1, 4, 1, 1}
	bins, err := gainBins(cand, other, weights)
	if err != nil {
		t.Fatal(err)
	}
	if len(bins) != 60 || bins[0].Min != -50 || bins[59].Max != 250 {
		t.Fatalf("%d bins from %v to %v, want 60 of 5 ms from -50 to 250", len(bins), bins[0].Min, bins[len(bins)-1].Max)
	}
	want := map[int]float64{0: 40, 10: 10, 11: 30, 59: 20} // bin → % of the weight 10
	sum := 0.0
	for i, b := range bins {
		if math.Abs(b.Weight-want[i]) > 1e-9 {
			t.Errorf("bin %d [%v, %v): %v %%, want %v", i, b.Min, b.Max, b.Weight, want[i])
		}
		sum += b.Weight
	}
	if math.Abs(sum-100) > 1e-9 {
		t.Errorf("shares add up to %v %%", sum)
	}
	for _, tc := range []struct {
		name                 string
		cand, other, weights []float32
		want                 string
	}{
		{"NaN", []float32{1}, []float32{float32(math.NaN())}, []float32{1}, "network 0: gain NaN"},
		{"negative weight", []float32{1, 1}, []float32{2, 2}, []float32{1, -1}, "network 1"},
		{"no traffic", []float32{1}, []float32{2}, []float32{0}, "no traffic"},
		{"lengths", []float32{1}, []float32{2, 3}, []float32{1}, "1 and 2 latencies for 1 weights"},
	} {
		if _, err := gainBins(tc.cand, tc.other, tc.weights); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.want)
		}
	}
}

func TestGainPlot(t *testing.T) {
	// 1,000 networks: the map is 30 ms faster than geo for the first half
	// and as fast for the rest, and as fast as anycast everywhere.
	n := 1000
	lats := [][]float32{make([]float32, n), make([]float32, n), make([]float32, n)}
	weights := make([]float32, n)
	for i := range n {
		lats[0][i], lats[2][i], weights[i] = 50, 50, 1
		lats[1][i] = 50
		if i < n/2 {
			lats[1][i] = 80
		}
	}
	path := filepath.Join(t.TempDir(), "gain.png")
	ch, err := GainChart(lats, weights)
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.SavePNG(path); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	if got := img.Bounds().Size(); got != image.Pt(900, 500) {
		t.Fatalf("size %v, want 900x500", got)
	}
	// Both series' outlines are drawn, geo's (blue) over two bins and
	// anycast's (orange) over one; geo's bar at 30 ms lies right of
	// anycast's at 0 (rows in the lower half, below the legend).
	var xs [2][]int
	for k, col := range []struct{ r, g, b uint32 }{{0x1f, 0x77, 0xb4}, {0xff, 0x7f, 0x0e}} {
		for y := 250; y < 440; y++ {
			for x := range 900 {
				r, g, b, _ := img.At(x, y).RGBA()
				if colorDiff(r>>8, col.r) < 12 && colorDiff(g>>8, col.g) < 12 && colorDiff(b>>8, col.b) < 12 {
					xs[k] = append(xs[k], x)
				}
			}
		}
		if len(xs[k]) < 100 {
			t.Errorf("series %d: %d pixels of its color %v, want its bars' outline", k, len(xs[k]), chart.Color(k))
		}
	}
	if len(xs[0]) > 0 && len(xs[1]) > 0 && slices.Max(xs[0]) < slices.Max(xs[1])+50 {
		t.Errorf("geo's bars end at x=%d, anycast's at x=%d: want geo's 30 ms bar well right of anycast's 0 ms one", slices.Max(xs[0]), slices.Max(xs[1]))
	}
}

func colorDiff(a, b uint32) uint32 {
	if a > b {
		return a - b
	}
	return b - a
}
