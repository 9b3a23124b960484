package plot

import (
	"fmt"
	"image"
	"image/color"
	"io"
	"math"
)

// XY is one line of a Lines chart: points (X[i], Y[i]) joined in order.
type XY struct {
	Name    string // legend text; no legend when every name is empty
	X, Y    []float64
	Color   color.Color // nil: the palette color of the series' index
	Markers bool        // mark each point (circle, square, triangle, diamond by series)
	Step    bool        // join points as a step function (hold Y until the next X), e.g. an empirical CDF
}

// Lines is a line chart of one or more x/y series, e.g. loss against the
// number of PoPs, or CDFs of latency.
type Lines struct {
	Title  string
	XLabel string
	YLabel string

	Series []XY
	XRange *Range // nil: the data range, widened to round ticks
	YRange *Range // nil: the data range, widened to round ticks

	Width, Height int // pixels; 0 means DefaultWidth, DefaultHeight
}

// WritePNG renders the chart and writes it to w as PNG.
func (l *Lines) WritePNG(w io.Writer) error { return writePNG(l, w) }

// SavePNG renders the chart into the PNG file at path.
func (l *Lines) SavePNG(path string) error { return savePNG(l, path) }

// Render draws the chart.
func (l *Lines) Render() (*image.RGBA, error) {
	w, h, err := size(l.Width, l.Height)
	if err != nil {
		return nil, err
	}
	if len(l.Series) == 0 {
		return nil, fmt.Errorf("plot: lines: no series: %w", ErrEmpty)
	}
	xr := Range{math.Inf(1), math.Inf(-1)}
	yr := xr
	for _, s := range l.Series {
		if len(s.X) == 0 {
			return nil, fmt.Errorf("plot: series %q has no points: %w", s.Name, ErrEmpty)
		}
		if len(s.X) != len(s.Y) {
			return nil, fmt.Errorf("plot: series %q: %d X values but %d Y values", s.Name, len(s.X), len(s.Y))
		}
		if err := checkFinite(s.Name, "X", s.X); err != nil {
			return nil, err
		}
		if err := checkFinite(s.Name, "Y", s.Y); err != nil {
			return nil, err
		}
		for i := range s.X {
			xr.Min, xr.Max = math.Min(xr.Min, s.X[i]), math.Max(xr.Max, s.X[i])
			yr.Min, yr.Max = math.Min(yr.Min, s.Y[i]), math.Max(yr.Max, s.Y[i])
		}
	}
	looseX, looseY := true, true
	if l.XRange != nil {
		if err := l.XRange.check("x"); err != nil {
			return nil, err
		}
		xr, looseX = *l.XRange, false
	}
	if l.YRange != nil {
		if err := l.YRange.check("y"); err != nil {
			return nil, err
		}
		yr, looseY = *l.YRange, false
	}
	lb := labels{title: l.Title, x: l.XLabel, y: l.YLabel}
	yAxis := niceAxis(yr.Min, yr.Max, yTickTarget(layout(w, h, lb, nil).Dy()), looseY)
	p := layout(w, h, lb, yAxis.labels)
	f := &frame{plot: p, x: niceAxis(xr.Min, xr.Max, xTickTarget(p.Dx()), looseX), y: yAxis}

	c := newCanvas(w, h)
	f.drawGrid(c)
	var entries []legendEntry
	for si, s := range l.Series {
		col := seriesColor(s.Color, si)
		for i := 0; i+1 < len(s.X); i++ {
			x0, y0 := f.px(s.X[i]), f.py(s.Y[i])
			x1, y1 := f.px(s.X[i+1]), f.py(s.Y[i+1])
			if s.Step {
				c.line(x0, y0, x1, y0, 2, col, p)
				c.line(x1, y0, x1, y1, 2, col, p)
			} else {
				c.line(x0, y0, x1, y1, 2, col, p)
			}
		}
		mark := -1
		if s.Markers || len(s.X) == 1 {
			mark = si % markShapes
			for i := range s.X {
				c.marker(mark, int(math.Round(f.px(s.X[i]))), int(math.Round(f.py(s.Y[i]))), col, p)
			}
		}
		entries = append(entries, legendEntry{name: s.Name, color: col, kind: swatchLine, marker: mark})
	}
	f.drawAxes(c, lb)
	drawLegend(c, p, entries)
	return c.img, nil
}
