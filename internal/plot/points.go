package plot

import (
	"cmp"
	"fmt"
	"image"
	"image/color"
	"io"
	"math"
	"slices"
	"strconv"
)

// mapBG is the fill of the world frame, so its edges show without
// coastlines.
var mapBG = color.RGBA{0xf4, 0xf7, 0xfb, 0xff}

// Point is one dot on a Points chart.
type Point struct {
	Lon, Lat float64 // degrees: −180..180, −90..90
	Weight   float64 // ≥ 0; the dot's area grows with it
	Label    string  // drawn beside the dot when not empty (keep to a few)
}

// PointSet is a group of points drawn in one color, e.g. "PoPs" or
// "client networks".
type PointSet struct {
	Name   string // legend text; no legend when every name is empty
	Points []Point
	Color  color.Color // nil: the palette color of the set's index
}

// Points draws dots on an equirectangular world frame (longitude −180..180
// across, latitude −90..90 up, 2:1) with a 30° graticule and no coastlines.
// Dot areas grow with weight within each set (sets may weigh in different
// units): a set's heaviest point gets MaxRadius, weight 0 the smallest dot.
// Sets are drawn in order, later ones on top; within a set heavier dots
// are drawn first so that small ones stay visible.
type Points struct {
	Title string
	Sets  []PointSet

	MaxRadius float64 // pixels, radius of the heaviest dot; 0 means 14

	Width, Height int // pixels; 0 means DefaultWidth, DefaultHeight
}

// WritePNG renders the chart and writes it to w as PNG.
func (m *Points) WritePNG(w io.Writer) error { return writePNG(m, w) }

// SavePNG renders the chart into the PNG file at path.
func (m *Points) SavePNG(path string) error { return savePNG(m, path) }

const (
	minRadius = 2.5
	dotAlpha  = 0xa0
)

// Render draws the chart.
func (m *Points) Render() (*image.RGBA, error) {
	w, h, err := size(m.Width, m.Height)
	if err != nil {
		return nil, err
	}
	if len(m.Sets) == 0 {
		return nil, fmt.Errorf("plot: points: no sets: %w", ErrEmpty)
	}
	maxR := m.MaxRadius
	switch {
	case maxR == 0:
		maxR = 14
	case !finite(maxR) || maxR < minRadius || maxR > 200:
		return nil, fmt.Errorf("plot: points: MaxRadius %v outside %v..200", maxR, minRadius)
	}
	heaviest := make([]float64, len(m.Sets))
	for si, s := range m.Sets {
		if len(s.Points) == 0 {
			return nil, fmt.Errorf("plot: set %q has no points: %w", s.Name, ErrEmpty)
		}
		for i, pt := range s.Points {
			for _, fv := range [3]struct {
				name string
				v    float64
			}{{"Lon", pt.Lon}, {"Lat", pt.Lat}, {"Weight", pt.Weight}} {
				if !finite(fv.v) {
					return nil, fmt.Errorf("plot: set %q: Points[%d].%s is %s: %w", s.Name, i, fv.name, describe(fv.v), ErrNotFinite)
				}
			}
			if pt.Lon < -180 || pt.Lon > 180 || pt.Lat < -90 || pt.Lat > 90 {
				return nil, fmt.Errorf("plot: set %q: Points[%d] at lon %v, lat %v is off the world (lon -180..180, lat -90..90)", s.Name, i, pt.Lon, pt.Lat)
			}
			if pt.Weight < 0 {
				return nil, fmt.Errorf("plot: set %q: Points[%d].Weight is negative (%v)", s.Name, i, pt.Weight)
			}
			heaviest[si] = math.Max(heaviest[si], pt.Weight)
		}
	}

	lb := labels{title: m.Title}
	area := layout(w, h, lb, []string{"90N"})
	// The largest 2:1 rectangle inside area, centred.
	pw, ph := area.Dx(), area.Dy()
	if pw > 2*ph {
		pw = 2 * ph
	} else {
		ph = pw / 2
	}
	x0 := area.Min.X + (area.Dx()-pw)/2
	y0 := area.Min.Y + (area.Dy()-ph)/2
	p := image.Rect(x0, y0, x0+pw, y0+ph)
	f := &frame{plot: p, x: degAxis(-180, 180, 30, "W", "E"), y: degAxis(-90, 90, 30, "S", "N")}
	if pw < 480 {
		f.x = degAxis(-180, 180, 60, "W", "E")
	}

	c := newCanvas(w, h)
	c.fill(p, mapBG)
	f.drawGrid(c)
	eq := int(math.Round(f.py(0)))
	c.hline(p.Min.X, p.Max.X-1, eq, lightGray)
	pm := int(math.Round(f.px(0)))
	c.vline(pm, p.Min.Y, p.Max.Y-1, lightGray)

	type dot struct {
		set  int
		x, y int
		r    float64
		pt   Point
	}
	var dots []dot
	for si, s := range m.Sets {
		for _, pt := range s.Points {
			r := minRadius
			if heaviest[si] > 0 {
				r += (maxR - minRadius) * math.Sqrt(pt.Weight/heaviest[si])
			}
			dots = append(dots, dot{si, int(math.Round(f.px(pt.Lon))), int(math.Round(f.py(pt.Lat))), r, pt})
		}
	}
	byWeight := slices.Clone(dots)
	slices.SortStableFunc(byWeight, func(a, b dot) int {
		return cmp.Or(cmp.Compare(a.set, b.set), cmp.Compare(b.pt.Weight, a.pt.Weight))
	})
	for _, d := range byWeight {
		col := seriesColor(m.Sets[d.set].Color, d.set)
		c.disk(d.x, d.y, d.r, withAlpha(col, dotAlpha), darker(col), p)
	}
	// Labels last, in input order, each on the first side of its dot free
	// of other labels and labelled dots.
	var placed []image.Rectangle
	for _, d := range dots {
		if d.pt.Label != "" {
			ri := int(math.Ceil(d.r))
			placed = append(placed, image.Rect(d.x-ri, d.y-ri, d.x+ri+1, d.y+ri+1))
		}
	}
	for _, d := range dots {
		if d.pt.Label != "" {
			placed = append(placed, placeLabel(c, p, placed, d.x, d.y, int(math.Ceil(d.r)), d.pt.Label))
		}
	}

	f.drawAxes(c, lb)
	var entries []legendEntry
	for si, s := range m.Sets {
		entries = append(entries, legendEntry{name: s.Name, color: seriesColor(s.Color, si), kind: swatchDot, alpha: dotAlpha})
	}
	drawLegend(c, p, entries)
	return c.img, nil
}

// placeLabel draws s beside a dot of radius r at (x, y): right, left,
// above or below, the first that stays inside area without overlapping a
// label already placed (right when none does). It returns the box used.
func placeLabel(c *canvas, area image.Rectangle, placed []image.Rectangle, x, y, r int, s string) image.Rectangle {
	tw := textWidth(s)
	cands := []image.Rectangle{
		image.Rect(x+r+3, y-lineH/2, x+r+3+tw, y-lineH/2+lineH),
		image.Rect(x-r-3-tw, y-lineH/2, x-r-3, y-lineH/2+lineH),
		image.Rect(x-tw/2, y-r-2-lineH, x-tw/2+tw, y-r-2),
		image.Rect(x-tw/2, y+r+2, x-tw/2+tw, y+r+2+lineH),
	}
	box := cands[0]
	for _, cand := range cands {
		if !cand.In(area) {
			continue
		}
		free := true
		for _, q := range placed {
			if cand.Overlaps(q) {
				free = false
				break
			}
		}
		if free {
			box = cand
			break
		}
	}
	c.haloText(box.Min.X, box.Min.Y, s, black, alignStart, alignStart)
	return box
}

// darker returns c at two thirds of its brightness, for dot outlines.
func darker(c color.RGBA) color.RGBA {
	return color.RGBA{uint8(int(c.R) * 2 / 3), uint8(int(c.G) * 2 / 3), uint8(int(c.B) * 2 / 3), 0xff}
}

// degAxis returns an axis from lo to hi degrees with ticks every step,
// labelled like "120W", "0", "60E".
func degAxis(lo, hi, step float64, neg, pos string) axis {
	a := axis{min: lo, max: hi}
	for v := lo; v <= hi; v += step {
		a.ticks = append(a.ticks, v)
		switch {
		case v < 0:
			a.labels = append(a.labels, strconv.FormatFloat(-v, 'f', -1, 64)+neg)
		case v > 0:
			a.labels = append(a.labels, strconv.FormatFloat(v, 'f', -1, 64)+pos)
		default:
			a.labels = append(a.labels, "0")
		}
	}
	return a
}
