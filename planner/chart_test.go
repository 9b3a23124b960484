package planner

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"math"
	"slices"
	"strings"
	"testing"

	"gonum.org/v1/plot/vg"

	"github.com/steer-gslb/steer/internal/chart"
)

// render writes c as PNG and decodes it back.
func render(t *testing.T, c *chart.Chart) image.Image {
	t.Helper()
	var b bytes.Buffer
	if err := c.WritePNG(&b); err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(&b)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// pixels counts the pixels of img that pass is, and returns their bounding
// box.
func pixels(img image.Image, is func(r, g, b int) bool) (int, image.Rectangle) {
	n, box := 0, image.Rectangle{}
	bd := img.Bounds()
	for y := bd.Min.Y; y < bd.Max.Y; y++ {
		for x := bd.Min.X; x < bd.Max.X; x++ {
			r, g, b, _ := img.At(x, y).RGBA()
			if is(int(r>>8), int(g>>8), int(b>>8)) {
				n++
				box = box.Union(image.Rect(x, y, x+1, y+1))
			}
		}
	}
	return n, box
}

// nearColor returns a test of a pixel being within tol of c on each
// channel.
func nearColor(c color.RGBA, tol int) func(r, g, b int) bool {
	return func(r, g, b int) bool {
		return abs(r-int(c.R)) <= tol && abs(g-int(c.G)) <= tol && abs(b-int(c.B)) <= tol
	}
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// disk returns the count and the centre of the pixels of img inside r that
// pass is.
func disk(img image.Image, r image.Rectangle, is func(r, g, b int) bool) (int, image.Point) {
	sub := img.(interface {
		SubImage(image.Rectangle) image.Image
	}).SubImage(r)
	n, box := pixels(sub, is)
	return n, image.Pt((box.Min.X+box.Max.X)/2, (box.Min.Y+box.Max.Y)/2)
}

func TestMapChart(t *testing.T) {
	pl := handPlan(t)
	// A cell away from the PoP and the site, at 40°N 100°W, as heavy as
	// Mumbai's: a blue dot of the largest size.
	pl.Problem.Cells = append(pl.Problem.Cells, Cell{Lat: 40, Lon: -100, Weight: 12.4e6})
	c, err := pl.MapChart("plan", "people")
	if err != nil {
		t.Fatal(err)
	}
	img := render(t, c)
	if got := img.Bounds().Size(); got != image.Pt(1400, 760) {
		t.Fatalf("size %v, want 1400x760", got)
	}
	// The world frame (pale blue over white, lines of the grid across it)
	// is 2:1 and fills most of the picture.
	_, frame := pixels(img, nearColor(color.RGBA{0xf3, 0xf7, 0xfa, 0xff}, 3))
	if r := float64(frame.Dx()) / float64(frame.Dy()); math.Abs(r-2) > 0.01 || frame.Dy() < 600 {
		t.Errorf("world frame %v: %dx%d, want 2:1 and most of the height", frame, frame.Dx(), frame.Dy())
	}
	at := func(lon, lat float64) image.Point {
		return image.Pt(frame.Min.X+int(math.Round((lon+180)/360*float64(frame.Dx()))),
			frame.Min.Y+int(math.Round((90-lat)/180*float64(frame.Dy()))))
	}
	// Dots are 9 pixels in radius, labels 3 pixels off them.
	near := func(p image.Point) image.Rectangle { return image.Rectangle{Min: p, Max: p}.Inset(-11) }
	for _, d := range []struct {
		what     string
		lon, lat float64
		is       func(r, g, b int) bool
	}{
		{"site Mumbai (red)", 35, 0, func(r, g, b int) bool { return r > 180 && g < 130 && b < 130 }},
		{"PoP sin (dark)", 0, 0, func(r, g, b int) bool { return max(r, g, b) < 140 }},
		{"cell (blue)", -100, 40, func(r, g, b int) bool { return b > r+40 && b > 150 }},
	} {
		want := at(d.lon, d.lat)
		n, centre := disk(img, near(want), d.is)
		if n < 200 || abs(centre.X-want.X) > 2 || abs(centre.Y-want.Y) > 2 {
			t.Errorf("%s: %d pixels centred at %v, want a disk at %v", d.what, n, centre, want)
		}
	}
}

func TestMapChartErrors(t *testing.T) {
	pl := handPlan(t)
	pl.Problem.Cells[1].Lon = math.NaN()
	if _, err := pl.MapChart("plan", "people"); err == nil || !strings.Contains(err.Error(), "cells") {
		t.Errorf("NaN longitude: error %v, want one about the cells", err)
	}
	pl.Problem.Cells[1].Lon = 1
	pl.Problem.Cells[0].Weight = -1
	if _, err := pl.MapChart("plan", "people"); err == nil || !strings.Contains(err.Error(), "cell 0 (Mumbai): weight -1") {
		t.Errorf("negative weight: error %v, want one naming the cell", err)
	}
	pl.Problem.Cells = nil
	if _, err := pl.MapChart("plan", "people"); err == nil {
		t.Error("no cells: no error")
	}
}

func TestCurveChart(t *testing.T) {
	pl := handPlan(t)
	c, err := pl.CurveChart("curve")
	if err != nil {
		t.Fatal(err)
	}
	img := render(t, c)
	if got := img.Bounds().Size(); got != image.Pt(1000, 560) {
		t.Fatalf("size %v, want 1000x560", got)
	}
	// One PoP, then Mumbai: the red "new sites" line falls from the black
	// point at x=1 to the one at x=2 (3,877 km → 0.45 km), so its pixels
	// span most of the plot's height, and the legend shows both series.
	n, box := pixels(img, nearColor(siteColor, 30))
	if n < 300 || box.Dy() < 300 {
		t.Errorf("%d red pixels in %v, want a line down most of the height", n, box)
	}
	if n, _ := pixels(img, nearColor(popColor, 10)); n < 100 {
		t.Errorf("%d pixels of the PoPs' color, want the point and the text", n)
	}
}

func TestPlaceLabels(t *testing.T) {
	area := vg.Rectangle{Max: vg.Point{X: 1000, Y: 500}}
	dot := func(x, y vg.Length) vg.Rectangle {
		return vg.Rectangle{Min: vg.Point{X: x - 5, Y: y - 5}, Max: vg.Point{X: x + 5, Y: y + 5}}
	}
	size := vg.Point{X: 40, Y: 10}
	for _, tc := range []struct {
		name string
		dots []vg.Rectangle
		want []string // side of each label: right, left, above, below
	}{
		{"alone", []vg.Rectangle{dot(500, 250)}, []string{"right"}},
		{"at the right edge", []vg.Rectangle{dot(990, 250)}, []string{"left"}},
		{"pair", []vg.Rectangle{dot(500, 250), dot(530, 250)}, []string{"left", "right"}},
		{"row of three", []vg.Rectangle{dot(500, 250), dot(520, 250), dot(540, 250)}, []string{"left", "above", "right"}},
	} {
		boxes := placeLabels(tc.dots, []vg.Point{size, size, size}[:len(tc.dots)], area)
		for i, b := range boxes {
			d := tc.dots[i]
			var side string
			switch {
			case b.Min.X >= d.Max.X:
				side = "right"
			case b.Max.X <= d.Min.X:
				side = "left"
			case b.Min.Y >= d.Max.Y:
				side = "above"
			default:
				side = "below"
			}
			if side != tc.want[i] {
				t.Errorf("%s: label %d %s of its dot, want %s", tc.name, i, side, tc.want[i])
			}
			for _, q := range append(slices.Clone(boxes[:i]), tc.dots...) {
				if overlaps(b, q) {
					t.Errorf("%s: label %d %v overlaps %v", tc.name, i, b, q)
				}
			}
		}
	}
}
