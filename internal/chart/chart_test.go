package chart

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gonum.org/v1/plot/plotter"
)

// tickCases are the ticker's table tests and the fuzz target's seeds.
var tickCases = []struct {
	lo, hi  float64
	n       int
	integer bool
	labels  []string // the labelled ticks
	minors  int      // unlabelled ticks
}{
	{0, 100, 0, false, []string{"0", "10", "20", "30", "40", "50", "60", "70", "80", "90", "100"}, 40},
	{1, 100, 0, false, []string{"0", "10", "20", "30", "40", "50", "60", "70", "80", "90", "100"}, 40},
	{-50, 250, 0, false, []string{"-50", "0", "50", "100", "150", "200", "250"}, 24},
	{0, 0.97, 5, false, []string{"0.0", "0.2", "0.4", "0.6", "0.8", "1.0"}, 15},
	{0, 1, 4, false, []string{"0.00", "0.25", "0.50", "0.75", "1.00"}, 16},
	{108.7, 438.9, 0, false, []string{"100", "150", "200", "250", "300", "350", "400", "450"}, 28},
	{1, 25, 0, true, []string{"0", "5", "10", "15", "20", "25"}, 20},
	{1, 4, 0, true, []string{"1", "2", "3", "4"}, 0},
	{0, 3, 0, true, []string{"0", "1", "2", "3"}, 0},
	{-3, -3, 0, false, []string{"-3.0", "-2.5"}, 4},
}

func TestTicks(t *testing.T) {
	for _, tc := range tickCases {
		ts := Ticks{N: tc.n, Integer: tc.integer}.Ticks(tc.lo, tc.hi)
		var labels []string
		minors := 0
		for i, tk := range ts {
			if tk.IsMinor() {
				minors++
			} else {
				labels = append(labels, tk.Label)
			}
			if i > 0 && tk.Value <= ts[i-1].Value {
				t.Errorf("%v..%v: tick %d at %v after %v", tc.lo, tc.hi, i, tk.Value, ts[i-1].Value)
			}
			if tc.integer && tk.Value != math.Trunc(tk.Value) {
				t.Errorf("%v..%v: integer ticks have %v", tc.lo, tc.hi, tk.Value)
			}
		}
		if !slices.Equal(labels, tc.labels) || minors != tc.minors {
			t.Errorf("Ticks{N: %d, Integer: %v}.Ticks(%v, %v): labels %q and %d minor ticks, want %q and %d",
				tc.n, tc.integer, tc.lo, tc.hi, labels, minors, tc.labels, tc.minors)
		}
	}
	for _, r := range [][2]float64{{math.NaN(), 1}, {0, math.Inf(1)}} {
		if ts := (Ticks{}).Ticks(r[0], r[1]); len(ts) != 0 {
			t.Errorf("Ticks(%v, %v) = %v, want none", r[0], r[1], ts)
		}
	}
}

// FuzzTicks checks that any range gives ordered ticks covering it, never
// a hang or a flood of ticks.
func FuzzTicks(f *testing.F) {
	for _, tc := range tickCases {
		f.Add(tc.lo, tc.hi, tc.n, tc.integer)
	}
	f.Add(1.0, math.Nextafter(1, 2), 0, false)
	f.Add(1e300, 1e300, 3, true)
	f.Add(-1e308, 1e308, 10, false)
	f.Fuzz(func(t *testing.T, lo, hi float64, n int, integer bool) {
		ts := Ticks{N: n, Integer: integer}.Ticks(lo, hi)
		if len(ts) > 10*maxTicks {
			t.Fatalf("%d ticks", len(ts))
		}
		majors := 0
		for _, tk := range ts {
			if !tk.IsMinor() {
				majors++
				if len(tk.Label) > 400 {
					t.Fatalf("label of %d bytes", len(tk.Label))
				}
			}
		}
		finite := !math.IsNaN(lo) && !math.IsNaN(hi) && !math.IsInf(lo, 0) && !math.IsInf(hi, 0)
		if finite && !math.IsInf(hi-lo, 0) && !math.IsInf(lo-hi, 0) {
			if majors < 2 {
				t.Fatalf("Ticks(%v, %v): %d labelled ticks", lo, hi, majors)
			}
			if first, last := ts[0].Value, ts[len(ts)-1].Value; first > min(lo, hi) || last < max(lo, hi) {
				t.Fatalf("Ticks(%v, %v) span %v..%v", lo, hi, first, last)
			}
		}
	})
}

var (
	blue   = Color(0)
	orange = Color(1)
)

// near reports whether c is within tol of want on each channel.
func near(c color.Color, want color.RGBA, tol int) bool {
	r, g, b, _ := c.RGBA()
	d := func(x uint32, y uint8) int { return abs(int(x>>8) - int(y)) }
	return d(r, want.R) <= tol && d(g, want.G) <= tol && d(b, want.B) <= tol
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// count returns how many pixels of img are near want.
func count(img image.Image, want color.RGBA) int {
	n := 0
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			if near(img.At(x, y), want, 12) {
				n++
			}
		}
	}
	return n
}

// lineChart is a chart of one line per y range, in the palette's colors.
func lineChart(t *testing.T, w, h int, ys ...[2]float64) *Chart {
	t.Helper()
	c := New("title", "x label (unit)", "y label (unit)", w, h)
	for i, y := range ys {
		l, err := plotter.NewLine(plotter.XYs{{X: 0, Y: y[0]}, {X: 10, Y: y[1]}})
		if err != nil {
			t.Fatal(err)
		}
		l.Color, l.Width = Color(i), 3*Pixel
		c.Plot.Add(l)
		c.Legend("series", l)
	}
	return c
}

func TestWritePNG(t *testing.T) {
	c := lineChart(t, 640, 360, [2]float64{0, 1}, [2]float64{1, 0})
	var b bytes.Buffer
	if err := c.WritePNG(&b); err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(&b)
	if err != nil {
		t.Fatal(err)
	}
	if got := img.Bounds().Size(); got != image.Pt(640, 360) {
		t.Fatalf("size %v, want 640x360", got)
	}
	white := count(img, color.RGBA{0xff, 0xff, 0xff, 0xff})
	if white < 640*360/2 {
		t.Errorf("%d white pixels of %d: not a chart on white", white, 640*360)
	}
	// The legend's box, top right.
	box := img.(*image.RGBA).SubImage(image.Rect(320, 0, 640, 180))
	if n := count(box, legendLine); n < 100 {
		t.Errorf("%d pixels of the legend box's outline at the top right, want its outline", n)
	}
	// Two diagonals of 3 pixels across most of the picture.
	for _, col := range []color.RGBA{blue, orange} {
		if n := count(img, col); n < 500 {
			t.Errorf("%d pixels of %v, want a line of them", n, col)
		}
	}
}

func TestSavePNG(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.png")
	if err := lineChart(t, 300, 200, [2]float64{5, 7}).SavePNG(path); err != nil {
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
	if got := img.Bounds().Size(); got != image.Pt(300, 200) || count(img, blue) < 100 {
		t.Errorf("size %v with %d blue pixels, want 300x200 with a blue line", got, count(img, blue))
	}
}

func TestErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		c    *Chart
		want string
	}{
		{"no data", New("t", "x", "y", 300, 200), "not finite (no data?)"},
		{"zero size", lineChart(t, 0, 200, [2]float64{0, 1}), "size 0x200"},
		{"too large", lineChart(t, 300, MaxSide+1, [2]float64{0, 1}), "size 300x8001"},
	} {
		path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-")+".png")
		if err := tc.c.SavePNG(path); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.want)
		}
		if _, err := os.Stat(path); !os.IsNotExist(err) {
			t.Errorf("%s: a file was written (%v)", tc.name, err)
		}
	}
}

// leftAxis returns the x of the leftmost column of img that is dark
// (the axis line) on every row y0..y1: the left edge of a chart's data
// area.
func leftAxis(img image.Image, y0, y1 int) int {
	for x := img.Bounds().Min.X; x < img.Bounds().Max.X; x++ {
		dark := true
		for y := y0; y < y1 && dark; y++ {
			r, g, b, _ := img.At(x, y).RGBA()
			dark = max(r, g, b)>>8 < 200
		}
		if dark {
			return x
		}
	}
	return -1
}

func TestColumn(t *testing.T) {
	// Tick labels of different widths: "0.0" against "100000".
	top := lineChart(t, 500, 200, [2]float64{0, 1})
	bottom := lineChart(t, 400, 300, [2]float64{0, 1e5})
	bottom.Plot.Title.Text = ""
	img, err := Column(top, bottom)
	if err != nil {
		t.Fatal(err)
	}
	if got := img.Bounds().Size(); got != image.Pt(500, 500) {
		t.Fatalf("size %v, want 500x500", got)
	}
	a, b := leftAxis(img, 60, 140), leftAxis(img, 260, 420)
	alone, err := top.Image()
	if err != nil {
		t.Fatal(err)
	}
	if a < 0 || a != b {
		t.Errorf("left axes at x=%d (top) and x=%d (bottom), want the same", a, b)
	}
	if c := leftAxis(alone, 60, 140); a == c {
		t.Errorf("the narrow-labelled chart alone has its axis at x=%d too: the test shows nothing", c)
	}
	if _, err := Column(); err == nil {
		t.Error("Column(): no error")
	}
}

func TestAspect(t *testing.T) {
	c := lineChart(t, 900, 400, [2]float64{0, 1})
	c.Aspect = 1
	img, err := c.Image()
	if err != nil {
		t.Fatal(err)
	}
	// The data area is square: the left axis moved right by about half
	// the width it gave up.
	if x := leftAxis(img, 100, 300); x < 200 {
		t.Errorf("left axis at x=%d, want the data area squared and centred", x)
	}
}
