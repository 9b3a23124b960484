package plot

import (
	"bytes"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// exampleHistogram is a latency-gain PDF like the map evaluator's: two
// comparisons, thousands of networks weighted by traffic.
func exampleHistogram() *Histogram {
	rng := rand.New(rand.NewPCG(1, 2))
	geo := Series{Name: "latency map vs geo"}
	anycast := Series{Name: "latency map vs anycast"}
	for range 4000 {
		w := math.Exp(rng.NormFloat64() * 1.5) // heavy-tailed traffic
		g := rng.NormFloat64()*12 + 6
		if rng.Float64() < 0.15 {
			g += rng.ExpFloat64() * 40
		}
		geo.Values = append(geo.Values, g)
		geo.Weights = append(geo.Weights, w)
		a := rng.NormFloat64()*8 + 2
		if rng.Float64() < 0.1 {
			a -= rng.ExpFloat64() * 20
		}
		anycast.Values = append(anycast.Values, a)
		anycast.Weights = append(anycast.Weights, w)
	}
	return &Histogram{
		Title:    "Per-network latency gain, weighted by traffic",
		XLabel:   "latency gain (ms, positive = map is faster)",
		Series:   []Series{geo, anycast},
		BinWidth: 2.5,
		Clip:     &Range{-40, 80},
	}
}

// exampleLines is a PoP planner's loss curve plus a second series.
func exampleLines() *Lines {
	var loss, base XY
	loss.Name, loss.Markers = "mean RTT (greedy)", true
	base.Name, base.Markers = "mean RTT (random sites)", true
	for k := 1; k <= 20; k++ {
		x := float64(k)
		loss.X = append(loss.X, x)
		loss.Y = append(loss.Y, 25+140/math.Sqrt(x)-2*math.Log(x))
		base.X = append(base.X, x)
		base.Y = append(base.Y, 40+170/math.Sqrt(x))
	}
	return &Lines{
		Title:  "PoP placement: loss against number of PoPs",
		XLabel: "number of PoPs",
		YLabel: "traffic-weighted mean RTT (ms)",
		Series: []XY{loss, base},
	}
}

// exampleCDF is a Lines chart of two step CDFs.
func exampleCDF() *Lines {
	rng := rand.New(rand.NewPCG(3, 4))
	var out []XY
	for si, name := range []string{"geo", "latency map"} {
		s := XY{Name: name, Step: true}
		n := 200
		vals := make([]float64, n)
		for i := range vals {
			vals[i] = math.Exp(rng.NormFloat64()*0.6 + 3.6 - 0.3*float64(si))
		}
		slices.Sort(vals)
		for i, v := range vals {
			s.X = append(s.X, v)
			s.Y = append(s.Y, float64(i+1)/float64(n))
		}
		out = append(out, s)
	}
	return &Lines{Title: "RTT CDF", XLabel: "RTT (ms)", YLabel: "fraction of networks", Series: out, YRange: &Range{0, 1}}
}

// examplePoints is a world map of PoPs and client networks.
func examplePoints() *Points {
	rng := rand.New(rand.NewPCG(5, 6))
	pops := PointSet{Name: "PoPs", Points: []Point{
		{Lon: -122.4, Lat: 37.8, Weight: 30, Label: "sfo"},
		{Lon: -74.0, Lat: 40.7, Weight: 40, Label: "nyc"},
		{Lon: -0.1, Lat: 51.5, Weight: 35, Label: "lhr"},
		{Lon: 8.7, Lat: 50.1, Weight: 32, Label: "fra"},
		{Lon: 103.8, Lat: 1.35, Weight: 25, Label: "sin"},
		{Lon: 139.7, Lat: 35.7, Weight: 28, Label: "nrt"},
		{Lon: -46.6, Lat: -23.5, Weight: 12, Label: "São Paulo"},
		{Lon: 151.2, Lat: -33.9, Weight: 10, Label: "syd"},
		{Lon: 28.0, Lat: -26.2, Weight: 6, Label: "jnb"},
	}}
	clients := PointSet{Name: "client networks"}
	centres := [][2]float64{{-95, 38}, {10, 49}, {110, 30}, {78, 22}, {-60, -15}, {135, -25}, {20, 5}}
	for i := range 300 {
		c := centres[i%len(centres)]
		clients.Points = append(clients.Points, Point{
			Lon:    math.Max(-180, math.Min(180, c[0]+rng.NormFloat64()*12)),
			Lat:    math.Max(-90, math.Min(90, c[1]+rng.NormFloat64()*8)),
			Weight: math.Exp(rng.NormFloat64()),
		})
	}
	return &Points{Title: "PoPs and client networks", Sets: []PointSet{clients, pops}}
}

// TestExamples renders one chart of each kind, checks each decodes at the
// right size, and writes them to $PLOT_OUT (as plot-*.png) when set, for a
// person to look at.
func TestExamples(t *testing.T) {
	dir := os.Getenv("PLOT_OUT")
	if dir == "" {
		dir = t.TempDir()
	}
	hline := exampleHistogram()
	hline.Style = Line
	hline.Width, hline.Height = 700, 400
	charts := map[string]renderer{
		"hist":      exampleHistogram(),
		"hist-line": hline,
		"lines":     exampleLines(),
		"cdf":       exampleCDF(),
		"points":    examplePoints(),
	}
	for name, c := range charts {
		path := filepath.Join(dir, "plot-"+name+".png")
		if err := savePNG(c, path); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("%s: decode: %v", name, err)
		}
		want := [2]int{DefaultWidth, DefaultHeight}
		if name == "hist-line" {
			want = [2]int{700, 400}
		}
		if got := [2]int{img.Bounds().Dx(), img.Bounds().Dy()}; got != want {
			t.Errorf("%s: size %v, want %v", name, got, want)
		}
	}
}
