package plot

import (
	"bytes"
	"errors"
	"image/png"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func closeTo(a, b float64) bool { return math.Abs(a-b) < 1e-12 }

// checkBins compares got against hand-computed edges, counts and shares.
func checkBins(t *testing.T, got []Bin, edges []float64, counts []int, shares []float64) {
	t.Helper()
	if len(got) != len(counts) {
		t.Fatalf("%d bins, want %d: %+v", len(got), len(counts), got)
	}
	for i, b := range got {
		if !closeTo(b.Lo, edges[i]) || !closeTo(b.Hi, edges[i+1]) || b.Count != counts[i] || !closeTo(b.Share, shares[i]) {
			t.Errorf("bin %d = %+v, want [%v, %v) count %d share %v", i, b, edges[i], edges[i+1], counts[i], shares[i])
		}
	}
}

func TestBinsWeighted(t *testing.T) {
	// Edges 0, .25, .5, .75, 1; 1.0 is the data max and goes to the last
	// (closed) bin. Weights per bin 1+2, 3, 0, 4+10 of 20.
	s := Series{Values: []float64{0.05, 0.15, 0.3, 0.95, 1.0}, Weights: []float64{1, 2, 3, 4, 10}}
	got, err := Bins([]Series{s}, 0.25, nil)
	if err != nil {
		t.Fatal(err)
	}
	checkBins(t, got[0], []float64{0, 0.25, 0.5, 0.75, 1}, []int{2, 1, 0, 2}, []float64{0.15, 0.15, 0, 0.7})
	wantW := []float64{3, 3, 0, 14}
	for i, b := range got[0] {
		if !closeTo(b.Weight, wantW[i]) {
			t.Errorf("bin %d weight %v, want %v", i, b.Weight, wantW[i])
		}
	}
}

func TestBinsClip(t *testing.T) {
	// Clip [-4, 4] with width 2: bins [-4,-2) [-2,0) [0,2) [2,4]; -7 goes
	// to the first, 12 to the last; -2 and 0 sit on lower edges.
	s := Series{Values: []float64{-7, -2, 0, 2.5, 3, 12}}
	got, err := Bins([]Series{s}, 2, &Range{-4, 4})
	if err != nil {
		t.Fatal(err)
	}
	checkBins(t, got[0], []float64{-4, -2, 0, 2, 4}, []int{1, 1, 1, 3}, []float64{1.0 / 6, 1.0 / 6, 1.0 / 6, 0.5})

	// A clip range that is not on edges is widened to whole bins.
	got, err = Bins([]Series{s}, 5, &Range{-3, 4})
	if err != nil {
		t.Fatal(err)
	}
	checkBins(t, got[0], []float64{-5, 0, 5}, []int{2, 4}, []float64{2.0 / 6, 4.0 / 6})
}

func TestBinsFloatEdges(t *testing.T) {
	// 0.3/0.1 is 2.9999999999999996 in floating point: 0.3 still belongs
	// to [0.3, 0.4), and 0.7 to [0.7, 0.8).
	s := Series{Values: []float64{0.3, 0.35, 0.7}}
	got, err := Bins([]Series{s}, 0.1, &Range{0, 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(got[0]) != 10 {
		t.Fatalf("%d bins, want 10", len(got[0]))
	}
	for i, want := range []int{0, 0, 0, 2, 0, 0, 0, 1, 0, 0} {
		if got[0][i].Count != want {
			t.Errorf("bin %d [%v, %v) count %d, want %d", i, got[0][i].Lo, got[0][i].Hi, got[0][i].Count, want)
		}
	}
}

func TestBinsSharedEdges(t *testing.T) {
	a := Series{Name: "a", Values: []float64{1, 2}}
	b := Series{Name: "b", Values: []float64{10}, Weights: []float64{3}}
	got, err := Bins([]Series{a, b}, 5, nil)
	if err != nil {
		t.Fatal(err)
	}
	checkBins(t, got[0], []float64{0, 5, 10}, []int{2, 0}, []float64{1, 0})
	checkBins(t, got[1], []float64{0, 5, 10}, []int{0, 1}, []float64{0, 1})
}

func TestBinsAuto(t *testing.T) {
	var s Series
	for i := range 100 {
		s.Values = append(s.Values, float64(i))
	}
	// sqrt(100) = 10 bins over 99 → width 9.9 → rounded to 10.
	got, err := Bins([]Series{s}, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(got[0]) != 10 || got[0][0].Lo != 0 || got[0][0].Hi != 10 || got[0][9].Hi != 100 {
		t.Errorf("auto bins: %d bins, first %+v, last %+v", len(got[0]), got[0][0], got[0][len(got[0])-1])
	}
	for i, b := range got[0] {
		if b.Count != 10 {
			t.Errorf("bin %d count %d, want 10", i, b.Count)
		}
	}

	// All values equal: one bin holding everything.
	got, err = Bins([]Series{{Values: []float64{5, 5, 5}}}, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(got[0]) != 1 || got[0][0].Count != 3 || got[0][0].Share != 1 || got[0][0].Lo > 5 || got[0][0].Hi <= 5 {
		t.Errorf("constant values: %+v", got[0])
	}
}

func TestBinsErrors(t *testing.T) {
	ok := Series{Name: "ok", Values: []float64{1, 2}}
	for _, tc := range []struct {
		name   string
		series []Series
		width  float64
		clip   *Range
		is     error
		substr string
	}{
		{"no series", nil, 1, nil, ErrEmpty, "no series"},
		{"empty series", []Series{ok, {Name: "geo"}}, 1, nil, ErrEmpty, `"geo" has no values`},
		{"NaN value", []Series{{Name: "geo", Values: []float64{1, math.NaN()}}}, 1, nil, ErrNotFinite, `series "geo": Values[1] is NaN`},
		{"Inf value", []Series{{Name: "geo", Values: []float64{math.Inf(-1)}}}, 1, nil, ErrNotFinite, "Values[0] is -Inf"},
		{"Inf weight", []Series{{Name: "w", Values: []float64{1, 2}, Weights: []float64{1, math.Inf(1)}}}, 1, nil, ErrNotFinite, "Weights[1] is +Inf"},
		{"negative weight", []Series{{Name: "w", Values: []float64{1}, Weights: []float64{-1}}}, 1, nil, nil, "Weights[0] is negative"},
		{"zero weight", []Series{{Name: "w", Values: []float64{1}, Weights: []float64{0}}}, 1, nil, nil, "total weight is 0"},
		{"weights length", []Series{{Name: "w", Values: []float64{1}, Weights: []float64{1, 2}}}, 1, nil, nil, "2 weights for 1 values"},
		{"NaN width", []Series{ok}, math.NaN(), nil, ErrNotFinite, "bin width is NaN"},
		{"NaN clip", []Series{ok}, 1, &Range{math.NaN(), 1}, ErrNotFinite, "clip range"},
		{"empty clip", []Series{ok}, 1, &Range{2, 2}, nil, "Min must be below Max"},
		{"too many bins", []Series{{Values: []float64{0, 1e6}}}, 1e-3, nil, nil, "more than 10000 bins"},
	} {
		_, err := Bins(tc.series, tc.width, tc.clip)
		checkErr(t, tc.name, err, tc.is, tc.substr)
	}
}

// checkErr reports a nil err, one that is not is (when given), or one
// whose text lacks substr.
func checkErr(t *testing.T, name string, err, is error, substr string) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: no error", name)
		return
	}
	if is != nil && !errors.Is(err, is) {
		t.Errorf("%s: %v is not %v", name, err, is)
	}
	if !strings.Contains(err.Error(), substr) {
		t.Errorf("%s: %q does not mention %q", name, err, substr)
	}
}

// TestRenderErrors: every chart rejects empty and non-finite input with a
// clear error and writes nothing.
func TestRenderErrors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		chart  renderer
		is     error
		substr string
	}{
		{"empty histogram", &Histogram{}, ErrEmpty, "no series"},
		{"histogram NaN", &Histogram{Series: []Series{{Name: "gain", Values: []float64{math.NaN()}}}}, ErrNotFinite, `"gain": Values[0] is NaN`},
		{"empty lines", &Lines{}, ErrEmpty, "no series"},
		{"lines no points", &Lines{Series: []XY{{Name: "loss"}}}, ErrEmpty, `"loss" has no points`},
		{"lines Inf", &Lines{Series: []XY{{Name: "loss", X: []float64{1, 2}, Y: []float64{1, math.Inf(1)}}}}, ErrNotFinite, `"loss": Y[1] is +Inf`},
		{"lines lengths", &Lines{Series: []XY{{Name: "loss", X: []float64{1, 2}, Y: []float64{1}}}}, nil, "2 X values but 1 Y values"},
		{"lines bad range", &Lines{Series: []XY{{X: []float64{1}, Y: []float64{1}}}, YRange: &Range{1, 0}}, nil, "Min must be below Max"},
		{"empty points", &Points{}, ErrEmpty, "no sets"},
		{"points empty set", &Points{Sets: []PointSet{{Name: "PoPs"}}}, ErrEmpty, `"PoPs" has no points`},
		{"points NaN", &Points{Sets: []PointSet{{Name: "PoPs", Points: []Point{{Lon: 1}, {Lat: math.NaN()}}}}}, ErrNotFinite, "Points[1].Lat is NaN"},
		{"points off world", &Points{Sets: []PointSet{{Name: "PoPs", Points: []Point{{Lon: 181}}}}}, nil, "off the world"},
		{"points negative weight", &Points{Sets: []PointSet{{Points: []Point{{Weight: -1}}}}}, nil, "Weight is negative"},
		{"too small", &Lines{Series: []XY{{X: []float64{1}, Y: []float64{1}}}, Width: 10, Height: 10}, nil, "size 10x10"},
	} {
		var buf bytes.Buffer
		err := writePNG(tc.chart, &buf)
		checkErr(t, tc.name, err, tc.is, tc.substr)
		if buf.Len() != 0 {
			t.Errorf("%s: wrote %d bytes despite the error", tc.name, buf.Len())
		}
	}
	// SavePNG creates no file when rendering fails.
	path := filepath.Join(t.TempDir(), "x.png")
	if err := (&Histogram{}).SavePNG(path); err == nil {
		t.Error("SavePNG of an empty histogram: no error")
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("SavePNG left a file behind: %v", err)
	}
}

// TestSizeAndDecode: WritePNG gives a decodable PNG of the requested size.
func TestSizeAndDecode(t *testing.T) {
	small := exampleLines()
	small.Width, small.Height = 320, 200
	for _, tc := range []struct {
		name string
		w    interface{ WritePNG(io.Writer) error }
		want [2]int
	}{
		{"histogram default", exampleHistogram(), [2]int{900, 500}},
		{"lines small", small, [2]int{320, 200}},
		{"points wide", &Points{Sets: []PointSet{{Points: []Point{{Lon: 0, Lat: 0, Weight: 1}}}}, Width: 1200, Height: 400}, [2]int{1200, 400}},
	} {
		var buf bytes.Buffer
		if err := tc.w.WritePNG(&buf); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		img, err := png.Decode(&buf)
		if err != nil {
			t.Fatalf("%s: decode: %v", tc.name, err)
		}
		if got := [2]int{img.Bounds().Dx(), img.Bounds().Dy()}; got != tc.want {
			t.Errorf("%s: size %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestDeterministic: two equal charts give the same bytes.
func TestDeterministic(t *testing.T) {
	for name, mk := range map[string]func() interface{ WritePNG(io.Writer) error }{
		"histogram": func() interface{ WritePNG(io.Writer) error } { return exampleHistogram() },
		"hist line": func() interface{ WritePNG(io.Writer) error } { h := exampleHistogram(); h.Style = Line; return h },
		"lines":     func() interface{ WritePNG(io.Writer) error } { return exampleLines() },
		"cdf":       func() interface{ WritePNG(io.Writer) error } { return exampleCDF() },
		"points":    func() interface{ WritePNG(io.Writer) error } { return examplePoints() },
	} {
		var a, b bytes.Buffer
		if err := mk().WritePNG(&a); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := mk().WritePNG(&b); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a.Bytes(), b.Bytes()) {
			t.Errorf("%s: renders differ (%d, %d bytes)", name, a.Len(), b.Len())
		}
	}
	// And different input gives a different picture.
	h1, h2 := exampleHistogram(), exampleHistogram()
	h2.Series[0].Weights[0] = 1e4 // one network now carries a large share of the traffic
	var a, b bytes.Buffer
	if err := h1.WritePNG(&a); err != nil {
		t.Fatal(err)
	}
	if err := h2.WritePNG(&b); err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Error("moving a value did not change the picture")
	}
}

// TestZeroLine: a histogram spanning 0 has a dark vertical line there,
// running the plot's height, and bars in the series color.
func TestZeroLine(t *testing.T) {
	h := &Histogram{Series: []Series{{Values: []float64{-3, -1, 1, 2, 2, 5}}}, BinWidth: 1}
	img, err := h.Render()
	if err != nil {
		t.Fatal(err)
	}
	b := img.Bounds()
	best := 0
	for x := b.Min.X; x < b.Max.X; x++ {
		run, longest := 0, 0
		for y := b.Min.Y; y < b.Max.Y; y++ {
			if img.RGBAAt(x, y) == black {
				run++
				longest = max(longest, run)
			} else {
				run = 0
			}
		}
		best = max(best, longest)
	}
	if best < b.Dy()/2 {
		t.Errorf("longest vertical black run %d px, want a zero line over half the height %d", best, b.Dy())
	}
	blue := PaletteColor(0)
	found := false
	for y := b.Min.Y; y < b.Max.Y && !found; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			if img.RGBAAt(x, y) == blue {
				found = true
				break
			}
		}
	}
	if !found {
		t.Error("no pixel in the first series color")
	}
}

func TestNiceAxis(t *testing.T) {
	a := niceAxis(0, 15.7, 6, true)
	if got := strings.Join(a.labels, " "); got != "0 5 10 15 20" || a.min != 0 || a.max != 20 {
		t.Errorf("loose [0, 15.7]: %q over [%v, %v]", got, a.min, a.max)
	}
	a = niceAxis(-0.33, 0.52, 10, false)
	if got := strings.Join(a.labels, " "); got != "-0.3 -0.2 -0.1 0 0.1 0.2 0.3 0.4 0.5" || a.min != -0.33 || a.max != 0.52 {
		t.Errorf("tight [-0.33, 0.52]: %q over [%v, %v]", got, a.min, a.max)
	}
	a = niceAxis(0, 3e7, 4, true)
	if got := strings.Join(a.labels, " "); got != "0 1e+07 2e+07 3e+07" {
		t.Errorf("large: %q", got)
	}
}

func TestASCIIText(t *testing.T) {
	for in, want := range map[string]string{
		"plain ms":         "plain ms",
		"São Paulo −5 µs":  "Sao Paulo -5 us",
		"Zürich–Kraków\t☃": "Zurich-Krakow ?",
	} {
		if got := asciiText(in); got != want {
			t.Errorf("asciiText(%q) = %q, want %q", in, got, want)
		}
	}
	if len([]rune(latinFrom)) != len(latinTo) {
		t.Errorf("latinFrom has %d runes, latinTo %d bytes", len([]rune(latinFrom)), len(latinTo))
	}
}
