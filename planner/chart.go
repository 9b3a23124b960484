package planner

import (
	"cmp"
	"errors"
	"fmt"
	"image/color"
	"math"
	"slices"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/steer-gslb/steer/internal/chart"
)

// px is one pixel of the charts.
const px = chart.Pixel

// Chart colors: cells pale so that the PoPs stand out.
var (
	cellColor = color.RGBA{0x6b, 0x9b, 0xc8, 0xff}
	popColor  = color.RGBA{0x20, 0x20, 0x20, 0xff}
	siteColor = color.RGBA{0xd6, 0x27, 0x28, 0xff}
	mapColor  = color.NRGBA{0xd8, 0xe4, 0xf0, 0x50} // the world frame, over the grid
)

// Dot radii of the map: the heaviest cell, the lightest, PoPs and sites.
const (
	maxCellRadius = 9 * px
	minCellRadius = 1.5 * px
	popRadius     = 9 * px
	legendRadius  = 5 * px
)

// MapChart draws the plan on a longitude/latitude frame (equirectangular,
// 2:1): the weighted cells as dots whose area grows with the weight, the
// existing PoPs and the new sites, labelled "+1 Mumbai".
func (pl *Plan) MapChart(title, weightUnit string) (*chart.Chart, error) {
	p := pl.Problem
	if len(p.Cells) == 0 {
		return nil, errors.New("map chart: no cells")
	}
	ch := chart.New(title, "", "", 1400, 760)
	ch.Aspect = 2
	pt := ch.Plot
	pt.X.Min, pt.X.Max, pt.Y.Min, pt.Y.Max = -180, 180, -90, 90
	pt.X.Tick.Marker = degreeTicks(-180, 180, 30, "W", "E")
	pt.Y.Tick.Marker = degreeTicks(-90, 90, 30, "S", "N")
	frame, err := plotter.NewPolygon(plotter.XYs{{X: -180, Y: -90}, {X: 180, Y: -90}, {X: 180, Y: 90}, {X: -180, Y: 90}})
	if err != nil {
		return nil, fmt.Errorf("map chart: %w", err)
	}
	frame.Color, frame.Width = mapColor, 0
	pt.Add(frame)

	// Cells, the heaviest first so that small ones stay visible.
	order := make([]int, len(p.Cells))
	heaviest := 0.0
	for i, c := range p.Cells {
		if !(c.Weight >= 0) || math.IsInf(c.Weight, 1) {
			return nil, fmt.Errorf("map chart: cell %d (%s): weight %v, want a finite weight ≥ 0", i, c.Place.Name, c.Weight)
		}
		order[i] = i
		heaviest = max(heaviest, c.Weight)
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(p.Cells[b].Weight, p.Cells[a].Weight) })
	xys := make(plotter.XYs, len(order))
	radius := make([]vg.Length, len(order))
	for k, i := range order {
		c := p.Cells[i]
		xys[k] = plotter.XY{X: c.Lon, Y: c.Lat}
		radius[k] = minCellRadius
		if heaviest > 0 {
			radius[k] += (maxCellRadius - minCellRadius) * vg.Length(math.Sqrt(c.Weight/heaviest))
		}
	}
	cells, err := dots(xys, cellColor, func(k int) vg.Length { return radius[k] })
	if err != nil {
		return nil, fmt.Errorf("map chart: cells: %w", err)
	}
	pt.Add(cells)
	ch.Legend(fmt.Sprintf("s2 level-%d cells (area: %s)", Level, cmpOr(weightUnit, "weight")), cells)

	labels := &mapLabels{}
	if len(p.Existing) > 0 {
		xys := make(plotter.XYs, len(p.Existing))
		for i, s := range p.Existing {
			xys[i] = plotter.XY{X: s.Lon, Y: s.Lat}
			labels.add(xys[i], s.Title(), popRadius)
		}
		pops, err := dots(xys, popColor, fixed(popRadius))
		if err != nil {
			return nil, fmt.Errorf("map chart: PoPs: %w", err)
		}
		pt.Add(pops)
		ch.Legend("existing PoPs", pops)
	}
	if len(pl.Steps) > 0 {
		xys := make(plotter.XYs, len(pl.Steps))
		for i, st := range pl.Steps {
			xys[i] = plotter.XY{X: st.Site.Lon, Y: st.Site.Lat}
			labels.add(xys[i], fmt.Sprintf("+%d %s", i+1, st.Site.Name), popRadius)
		}
		sites, err := dots(xys, siteColor, fixed(popRadius))
		if err != nil {
			return nil, fmt.Errorf("map chart: sites: %w", err)
		}
		pt.Add(sites)
		ch.Legend("new sites (rank)", sites)
	}
	labels.style = pt.Legend.TextStyle
	pt.Add(labels)
	// The South Pacific is empty.
	pt.Legend.Left, pt.Legend.Top = true, false
	pt.Legend.XOffs, pt.Legend.YOffs = 10*px, 10*px
	return ch, nil
}

// dots returns a scatter of translucent disks outlined in a darker color,
// of radius r(i) for point i; the legend shows one of legendRadius.
func dots(xys plotter.XYs, col color.RGBA, r func(i int) vg.Length) (*plotter.Scatter, error) {
	s, err := plotter.NewScatter(xys)
	if err != nil {
		return nil, err
	}
	s.GlyphStyle = draw.GlyphStyle{Color: color.NRGBA{col.R, col.G, col.B, 0xa0}, Radius: legendRadius, Shape: outlinedDisk{darker(col)}}
	s.GlyphStyleFunc = func(i int) draw.GlyphStyle {
		g := s.GlyphStyle
		g.Radius = r(i)
		return g
	}
	return s, nil
}

// fixed returns a radius function giving r for every point.
func fixed(r vg.Length) func(int) vg.Length { return func(int) vg.Length { return r } }

// outlinedDisk is a filled circle with a thin outline.
type outlinedDisk struct{ line color.Color }

// DrawGlyph implements [draw.GlyphDrawer].
func (o outlinedDisk) DrawGlyph(c *draw.Canvas, sty draw.GlyphStyle, pt vg.Point) {
	draw.CircleGlyph{}.DrawGlyph(c, sty, pt)
	c.SetColor(o.line)
	c.SetLineWidth(0.75 * px)
	var p vg.Path
	p.Move(vg.Point{X: pt.X + sty.Radius, Y: pt.Y})
	p.Arc(pt, sty.Radius, 0, 2*math.Pi)
	p.Close()
	c.Stroke(p)
}

// darker returns c at two thirds of its brightness, for dot outlines.
func darker(c color.RGBA) color.RGBA {
	return color.RGBA{uint8(int(c.R) * 2 / 3), uint8(int(c.G) * 2 / 3), uint8(int(c.B) * 2 / 3), 0xff}
}

// degreeTicks labels lo..hi every step degrees: "120W", "0", "60E".
func degreeTicks(lo, hi, step float64, neg, pos string) plot.ConstantTicks {
	var ts plot.ConstantTicks
	for v := lo; v <= hi; v += step {
		l := "0"
		switch {
		case v < 0:
			l = strconv.FormatFloat(-v, 'f', -1, 64) + neg
		case v > 0:
			l = strconv.FormatFloat(v, 'f', -1, 64) + pos
		}
		ts = append(ts, plot.Tick{Value: v, Label: l})
	}
	return ts
}

// mapLabels is a plotter of the PoP and site names: each goes on the first
// side of its dot (right, left, above, below) that stays inside the frame
// and clear of the names and labelled dots already placed.
type mapLabels struct {
	at    plotter.XYs
	text  []string
	r     []vg.Length
	style draw.TextStyle
}

func (m *mapLabels) add(at plotter.XY, text string, r vg.Length) {
	m.at = append(m.at, at)
	m.text = append(m.text, text)
	m.r = append(m.r, r)
}

// Plot implements [plot.Plotter].
func (m *mapLabels) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	dots := make([]vg.Rectangle, len(m.at))
	sizes := make([]vg.Point, len(m.at))
	for i, xy := range m.at {
		at, r := vg.Point{X: trX(xy.X), Y: trY(xy.Y)}, vg.Point{X: m.r[i], Y: m.r[i]}
		dots[i] = vg.Rectangle{Min: at.Sub(r), Max: at.Add(r)}
		sizes[i] = vg.Point{X: m.style.Width(m.text[i]), Y: m.style.Height(m.text[i])}
	}
	sty := m.style
	sty.XAlign, sty.YAlign = draw.XLeft, draw.YBottom
	halo := sty
	halo.Color = color.White
	for i, box := range placeLabels(dots, sizes, c.Rectangle) {
		for _, d := range []vg.Point{{X: -px, Y: 0}, {X: px, Y: 0}, {X: 0, Y: -px}, {X: 0, Y: px}} {
			c.FillText(halo, box.Min.Add(d), m.text[i])
		}
		c.FillText(sty, box.Min, m.text[i])
	}
}

// placeLabels returns the box of each dot's label of the given size: the
// first side of the dot (right, left, above, below) that stays inside area
// and clear of every dot and of the labels placed before; the right side
// when none is.
func placeLabels(dots []vg.Rectangle, sizes []vg.Point, area vg.Rectangle) []vg.Rectangle {
	const gap = 3 * px
	taken := slices.Clone(dots)
	boxes := make([]vg.Rectangle, len(dots))
	for i, d := range dots {
		w, h := sizes[i].X, sizes[i].Y
		mid := vg.Point{X: (d.Min.X + d.Max.X) / 2, Y: (d.Min.Y + d.Max.Y) / 2}
		cands := []vg.Point{ // lower left corners
			{X: d.Max.X + gap, Y: mid.Y - h/2},
			{X: d.Min.X - gap - w, Y: mid.Y - h/2},
			{X: mid.X - w/2, Y: d.Max.Y + gap},
			{X: mid.X - w/2, Y: d.Min.Y - gap - h},
		}
		boxes[i] = vg.Rectangle{Min: cands[0], Max: cands[0].Add(sizes[i])}
		for _, cand := range cands {
			b := vg.Rectangle{Min: cand, Max: cand.Add(sizes[i])}
			if inside(b, area) && !slices.ContainsFunc(taken, func(q vg.Rectangle) bool { return overlaps(b, q) }) {
				boxes[i] = b
				break
			}
		}
		taken = append(taken, boxes[i])
	}
	return boxes
}

func inside(a, b vg.Rectangle) bool {
	return a.Min.X >= b.Min.X && a.Min.Y >= b.Min.Y && a.Max.X <= b.Max.X && a.Max.Y <= b.Max.Y
}

func overlaps(a, b vg.Rectangle) bool {
	return a.Min.X < b.Max.X && b.Min.X < a.Max.X && a.Min.Y < b.Max.Y && b.Min.Y < a.Max.Y
}

// CurveChart draws the loss curve: mean loss against the number of PoPs,
// the thinned existing PoPs and the new sites as two series that meet at
// the existing count.
func (pl *Plan) CurveChart(title string) (*chart.Chart, error) {
	p := pl.Problem
	n := len(p.Existing)
	var old, add plotter.XYs
	for _, c := range pl.Curve() {
		xy := plotter.XY{X: float64(c.PoPs), Y: pl.Mean(c.Loss)}
		if math.IsInf(xy.Y, 0) || math.IsNaN(xy.Y) {
			continue
		}
		if c.PoPs <= n {
			old = append(old, xy)
		}
		if c.PoPs >= n && (c.PoPs > n || len(pl.Steps) > 0) {
			add = append(add, xy)
		}
	}
	if len(old) == 0 && len(add) == 0 {
		return nil, errors.New("loss chart: no points")
	}
	ch := chart.New(title, "number of PoPs", "mean "+p.Loss.Quantity()+" ("+p.Loss.Unit()+")", 1000, 560)
	ch.Plot.X.Tick.Marker = chart.Ticks{Integer: true}
	for _, s := range []struct {
		name  string
		xys   plotter.XYs
		col   color.Color
		shape draw.GlyphDrawer
	}{
		{"existing PoPs, least needed dropped first", old, popColor, draw.CircleGlyph{}},
		{"+ new sites (greedy)", add, siteColor, draw.BoxGlyph{}},
	} {
		if len(s.xys) == 0 {
			continue
		}
		line, points, err := plotter.NewLinePoints(s.xys)
		if err != nil {
			return nil, fmt.Errorf("loss chart: %w", err)
		}
		line.Color, line.Width = s.col, 2*px
		points.GlyphStyle = draw.GlyphStyle{Color: s.col, Radius: 3.5 * px, Shape: s.shape}
		ch.Plot.Add(line, points)
		ch.Legend(s.name, line, points)
	}
	return ch, nil
}
