package plot

import (
	"fmt"
	"image"
	"image/color"
	"io"
	"math"
	"strconv"
)

// Series is one set of weighted values for a Histogram, e.g. the latency
// gain (ms) of each client network, weighted by its traffic.
type Series struct {
	Name    string      // legend text; no legend when every name is empty
	Values  []float64   // the values; must be finite
	Weights []float64   // nil: every value weighs 1; else one finite weight ≥ 0 per value
	Color   color.Color // nil: the palette color of the series' index
}

// Bin is one bin of a weighted histogram: the values v with Lo ≤ v < Hi
// (the last bin also holds v = Hi).
type Bin struct {
	Lo, Hi float64
	Count  int     // how many values fell in the bin
	Weight float64 // their total weight
	Share  float64 // Weight over the series' total weight, 0..1
}

// maxBins bounds the number of bins a bin width may produce.
const maxBins = 10000

// Bins bins every series on the same edges and returns one []Bin per
// series, in order.
//
// The edges are multiples of the bin width, so 0 is always an edge. width
// ≤ 0 picks a round width (1, 2, 2.5 or 5 times a power of ten) giving
// between 10 and 60 bins, about the square root of the longest series'
// length. With clip nil the bins cover the data's range; otherwise they
// cover clip (widened to whole bins), and values outside it are counted in
// the first or last bin, so each series' shares still add up to 1.
//
// It returns an error wrapping ErrEmpty for no series or a series with no
// values, wrapping ErrNotFinite for a NaN or infinite value or weight, and
// an error for a negative weight, a series of total weight 0, a bad clip
// range or a width giving more than 10000 bins.
func Bins(series []Series, width float64, clip *Range) ([][]Bin, error) {
	k0, n, w, err := binEdges(series, width, clip)
	if err != nil {
		return nil, err
	}
	out := make([][]Bin, len(series))
	for si, s := range series {
		bins := make([]Bin, n)
		for i := range bins {
			bins[i].Lo = float64(k0+i) * w
			bins[i].Hi = float64(k0+i+1) * w
		}
		total := 0.0
		for i, v := range s.Values {
			wt := 1.0
			if s.Weights != nil {
				wt = s.Weights[i]
			}
			// The small epsilon puts values that are an edge up to
			// rounding (0.3 / 0.1 = 2.9999999999999996) on that edge.
			k := int(math.Floor(v/w+1e-9)) - k0
			k = max(0, min(n-1, k))
			bins[k].Count++
			bins[k].Weight += wt
			total += wt
		}
		for i := range bins {
			bins[i].Share = bins[i].Weight / total
		}
		out[si] = bins
	}
	return out, nil
}

// checkSeries validates the histogram input and returns the data range.
func checkSeries(series []Series) (lo, hi float64, longest int, err error) {
	if len(series) == 0 {
		return 0, 0, 0, fmt.Errorf("plot: histogram: no series: %w", ErrEmpty)
	}
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, s := range series {
		if len(s.Values) == 0 {
			return 0, 0, 0, fmt.Errorf("plot: series %q has no values: %w", s.Name, ErrEmpty)
		}
		if err := checkFinite(s.Name, "Values", s.Values); err != nil {
			return 0, 0, 0, err
		}
		total := float64(len(s.Values))
		if s.Weights != nil {
			if len(s.Weights) != len(s.Values) {
				return 0, 0, 0, fmt.Errorf("plot: series %q: %d weights for %d values", s.Name, len(s.Weights), len(s.Values))
			}
			if err := checkFinite(s.Name, "Weights", s.Weights); err != nil {
				return 0, 0, 0, err
			}
			total = 0
			for i, wt := range s.Weights {
				if wt < 0 {
					return 0, 0, 0, fmt.Errorf("plot: series %q: Weights[%d] is negative (%v)", s.Name, i, wt)
				}
				total += wt
			}
		}
		if total <= 0 || math.IsInf(total, 0) {
			return 0, 0, 0, fmt.Errorf("plot: series %q: total weight is %v; it must be positive and finite", s.Name, total)
		}
		for _, v := range s.Values {
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
		longest = max(longest, len(s.Values))
	}
	return lo, hi, longest, nil
}

// binEdges validates the input and returns the bins as k0, n and width w:
// bin i spans [(k0+i)·w, (k0+i+1)·w).
func binEdges(series []Series, width float64, clip *Range) (k0, n int, w float64, err error) {
	lo, hi, longest, err := checkSeries(series)
	if err != nil {
		return 0, 0, 0, err
	}
	if clip != nil {
		if err := clip.check("clip"); err != nil {
			return 0, 0, 0, err
		}
		lo, hi = clip.Min, clip.Max
	}
	switch {
	case math.IsNaN(width) || math.IsInf(width, 0):
		return 0, 0, 0, fmt.Errorf("plot: bin width is %s: %w", describe(width), ErrNotFinite)
	case width > 0:
		w = width
	default:
		target := max(10, min(60, int(math.Round(math.Sqrt(float64(longest))))))
		span := hi - lo
		if span <= 0 {
			span = math.Max(math.Abs(lo)*0.1, 1) * float64(target)
		}
		w = niceStep(span/float64(target), true)
	}
	fk0 := math.Floor(lo/w + 1e-9)
	fk1 := math.Ceil(hi/w - 1e-9)
	if fk1 <= fk0 {
		fk1 = fk0 + 1
	}
	if fk1-fk0 > maxBins || math.Abs(fk0) > 1e15 || math.Abs(fk1) > 1e15 {
		return 0, 0, 0, fmt.Errorf("plot: bin width %v over [%v, %v] gives more than %d bins", w, lo, hi, maxBins)
	}
	return int(fk0), int(fk1 - fk0), w, nil
}

// HistStyle says how a Histogram draws its bins.
type HistStyle int

const (
	// Bars draws each bin as a bar with an outline along the bar tops;
	// several series overlap translucently.
	Bars HistStyle = iota
	// Line draws a line through the bin centres, lightly filled below.
	Line
)

// Histogram is a weighted histogram (a PDF): for each bin, the share of
// each series' total weight whose value falls in it, in percent. It draws
// a vertical line at x = 0 when 0 is inside the range, and a legend when
// any series has a name.
type Histogram struct {
	Title  string
	XLabel string // e.g. "latency gain (ms)"
	YLabel string // "" means "share of weight (%)"

	Series   []Series
	BinWidth float64 // ≤ 0: automatic (see Bins)
	Clip     *Range  // nil: the data range; else values outside go to the edge bins
	Style    HistStyle

	Width, Height int // pixels; 0 means DefaultWidth, DefaultHeight
}

// WritePNG renders the chart and writes it to w as PNG.
func (h *Histogram) WritePNG(w io.Writer) error { return writePNG(h, w) }

// SavePNG renders the chart into the PNG file at path.
func (h *Histogram) SavePNG(path string) error { return savePNG(h, path) }

// Render draws the chart.
func (h *Histogram) Render() (*image.RGBA, error) {
	w, ht, err := size(h.Width, h.Height)
	if err != nil {
		return nil, err
	}
	bins, err := Bins(h.Series, h.BinWidth, h.Clip)
	if err != nil {
		return nil, err
	}
	top := 0.0
	for _, bs := range bins {
		for _, b := range bs {
			top = math.Max(top, b.Share*100)
		}
	}
	lb := labels{title: h.Title, x: h.XLabel, y: h.YLabel}
	if lb.y == "" {
		lb.y = "share of weight (%)"
	}
	if h.Clip != nil && clipped(h.Series, *h.Clip) {
		lb.note = fmt.Sprintf("values outside [%s, %s] are counted in the end bins",
			strconv.FormatFloat(h.Clip.Min, 'g', -1, 64), strconv.FormatFloat(h.Clip.Max, 'g', -1, 64))
	}
	first, last := bins[0][0], bins[0][len(bins[0])-1]
	// The plot height does not depend on the y tick labels, their width
	// sets the left margin and so the plot width.
	yAxis := niceAxis(0, top*1.05, yTickTarget(layout(w, ht, lb, nil).Dy()), true)
	p := layout(w, ht, lb, yAxis.labels)
	f := &frame{plot: p, x: niceAxis(first.Lo, last.Hi, xTickTarget(p.Dx()), false), y: yAxis}
	c := newCanvas(w, ht)
	f.drawGrid(c)

	alpha := uint8(0x90) // bars: one series solid, several see-through
	if len(bins) > 1 {
		alpha = 0x38
	}
	if h.Style == Line {
		alpha = 0x30
	}
	for si, bs := range bins {
		col := seriesColor(h.Series[si].Color, si)
		switch h.Style {
		case Line:
			drawHistLine(c, f, bs, col, alpha)
		default:
			drawHistBars(c, f, bs, col, alpha)
		}
	}
	if f.x.min < 0 && f.x.max > 0 {
		x := int(math.Round(f.px(0)))
		c.vline(x, p.Min.Y, p.Max.Y-1, black)
	}
	var entries []legendEntry
	for si, s := range h.Series {
		kind := swatchBar
		if h.Style == Line {
			kind = swatchLine
		}
		entries = append(entries, legendEntry{name: s.Name, color: seriesColor(s.Color, si), kind: kind, alpha: alpha, marker: -1})
	}
	f.drawAxes(c, lb)
	drawLegend(c, p, entries)
	return c.img, nil
}

// clipped reports whether any value of series lies outside r.
func clipped(series []Series, r Range) bool {
	for _, s := range series {
		for _, v := range s.Values {
			if v < r.Min || v > r.Max {
				return true
			}
		}
	}
	return false
}

// drawHistBars draws bins as translucent bars outlined along their tops.
func drawHistBars(c *canvas, f *frame, bins []Bin, col color.RGBA, alpha uint8) {
	base := f.plot.Max.Y - 1
	clip := f.plot
	prevY := base
	for i, b := range bins {
		x0 := int(math.Round(f.px(b.Lo)))
		x1 := int(math.Round(f.px(b.Hi)))
		y := int(math.Round(f.py(b.Share * 100)))
		if b.Weight > 0 {
			c.fill(image.Rect(x0, y, x1, base+1).Intersect(clip), withAlpha(col, alpha))
		}
		// Outline: the top of this bar, and the step up or down from the
		// previous one.
		c.line(float64(x0), float64(prevY), float64(x0), float64(y), 2, col, clip)
		c.line(float64(x0), float64(y), float64(x1), float64(y), 2, col, clip)
		prevY = y
		if i == len(bins)-1 {
			c.line(float64(x1), float64(y), float64(x1), float64(base), 2, col, clip)
		}
	}
}

// drawHistLine draws a line through the bin centres and fills below it.
func drawHistLine(c *canvas, f *frame, bins []Bin, col color.RGBA, alpha uint8) {
	base := f.plot.Max.Y - 1
	xs := make([]float64, len(bins))
	ys := make([]float64, len(bins))
	for i, b := range bins {
		xs[i] = f.px((b.Lo + b.Hi) / 2)
		ys[i] = f.py(b.Share * 100)
	}
	fillCol := withAlpha(col, alpha)
	for i := 0; i+1 < len(xs); i++ {
		xa, xb := int(math.Round(xs[i])), int(math.Round(xs[i+1]))
		for x := xa; x < xb; x++ {
			t := (float64(x) - xs[i]) / (xs[i+1] - xs[i])
			y := int(math.Round(ys[i] + t*(ys[i+1]-ys[i])))
			c.fill(image.Rect(x, y, x+1, base+1).Intersect(f.plot), fillCol)
		}
	}
	for i := 0; i+1 < len(xs); i++ {
		c.line(xs[i], ys[i], xs[i+1], ys[i+1], 2, col, f.plot)
	}
	if len(xs) == 1 {
		c.marker(markCircle, int(math.Round(xs[0])), int(math.Round(ys[0])), col, f.plot)
	}
}
