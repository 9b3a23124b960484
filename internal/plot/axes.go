package plot

import (
	"image"
	"image/color"
	"math"
	"strconv"
)

// niceStep returns a step of 1, 2 or 5 times a power of ten close to
// raw (> 0); with quarter it may also return 2.5 times a power of ten.
func niceStep(raw float64, quarter bool) float64 {
	exp := math.Floor(math.Log10(raw))
	p := math.Pow(10, exp)
	f := raw / p
	var n float64
	switch {
	case f < 1.5:
		n = 1
	case quarter && f < 2.25:
		n = 2
	case quarter && f < 3.5:
		n = 2.5
	case f < 3:
		n = 2
	case f < 7:
		n = 5
	default:
		n = 10
	}
	return n * p
}

// axis is one axis of a frame: the data interval it spans and its ticks.
type axis struct {
	min, max float64
	ticks    []float64
	labels   []string
}

// niceAxis returns an axis covering [lo, hi] with about target ticks at
// round numbers. With loose the axis ends are widened to the outer ticks;
// otherwise the axis spans exactly [lo, hi] and ticks fall inside it.
func niceAxis(lo, hi float64, target int, loose bool) axis {
	if hi <= lo {
		d := math.Max(math.Abs(lo)*0.1, 1)
		lo, hi = lo-d, hi+d
	}
	target = max(target, 2)
	step := niceStep((hi-lo)/float64(target-1), false)
	first := math.Ceil(lo/step - 1e-9)
	last := math.Floor(hi/step + 1e-9)
	if loose {
		first = math.Floor(lo/step + 1e-9)
		last = math.Ceil(hi/step - 1e-9)
		lo, hi = first*step, last*step
	}
	a := axis{min: lo, max: hi}
	decimals := max(0, -int(math.Floor(math.Log10(step)+1e-9)))
	for k := first; k <= last; k++ {
		v := k * step
		a.ticks = append(a.ticks, v)
		a.labels = append(a.labels, formatTick(v, decimals))
	}
	return a
}

// formatTick formats a tick value with the given number of decimals,
// switching to exponent notation for very large or small magnitudes.
func formatTick(v float64, decimals int) string {
	if v == 0 {
		return "0"
	}
	if a := math.Abs(v); a >= 1e7 || decimals > 6 {
		return strconv.FormatFloat(v, 'g', 3, 64)
	}
	return strconv.FormatFloat(v, 'f', decimals, 64)
}

// frame maps data coordinates into the plot rectangle of a canvas.
type frame struct {
	plot image.Rectangle // the data area; axes are drawn on its edges
	x, y axis
}

// px and py map data values to pixel coordinates (float, unrounded).
func (f *frame) px(v float64) float64 {
	return float64(f.plot.Min.X) + (v-f.x.min)/(f.x.max-f.x.min)*float64(f.plot.Dx()-1)
}

func (f *frame) py(v float64) float64 {
	return float64(f.plot.Max.Y-1) - (v-f.y.min)/(f.y.max-f.y.min)*float64(f.plot.Dy()-1)
}

// labels are a chart's texts around the frame.
type labels struct {
	title, x, y string
	note        string // a gray line under the title
}

const (
	pad     = 10 // outer padding and gap between texts
	tickLen = 5
)

// titleScale is 2 (each font pixel drawn 2×2) when the title fits a
// picture w wide at that size, else 1.
func titleScale(title string, w int) int {
	if 2*textWidth(title) <= w-2*pad {
		return 2
	}
	return 1
}

// layout places the plot rectangle inside a w×h picture, leaving room for
// the title, the axis labels and the tick labels. yLabels are the widest
// texts that will stand left of the plot.
func layout(w, h int, lb labels, yLabels []string) image.Rectangle {
	top := pad
	if lb.title != "" {
		top += lineH*titleScale(lb.title, w) + pad
	}
	if lb.note != "" {
		top += lineH + pad/2
	}
	if lb.title == "" && lb.note == "" {
		top += lineH / 2 // room for the top tick label
	}
	left := pad
	if lb.y != "" {
		left += lineH + pad
	}
	wide := 0
	for _, s := range yLabels {
		wide = max(wide, textWidth(s))
	}
	left += wide + tickLen + 4
	bottom := pad + tickLen + 4 + lineH
	if lb.x != "" {
		bottom += lineH + pad/2
	}
	right := pad + 2*charW // room for half the last x tick label
	return image.Rect(left, top, w-right, h-bottom)
}

// xTickTarget and yTickTarget pick how many ticks fit a plot dimension.
func xTickTarget(px int) int { return max(3, min(12, px/80)) }
func yTickTarget(px int) int { return max(3, min(10, px/45)) }

// drawGrid draws light grid lines at the ticks inside the plot area.
func (f *frame) drawGrid(c *canvas) {
	for _, v := range f.x.ticks {
		x := int(math.Round(f.px(v)))
		c.vline(x, f.plot.Min.Y, f.plot.Max.Y-1, gridGray)
	}
	for _, v := range f.y.ticks {
		y := int(math.Round(f.py(v)))
		c.hline(f.plot.Min.X, f.plot.Max.X-1, y, gridGray)
	}
}

// drawAxes draws the frame outline, ticks, tick labels, axis labels and
// the title. Call it after the data so the frame stays on top.
func (f *frame) drawAxes(c *canvas, lb labels) {
	p := f.plot
	c.rect(p, axisGray)
	w, h := c.img.Bounds().Dx(), c.img.Bounds().Dy()
	for i, v := range f.x.ticks {
		x := int(math.Round(f.px(v)))
		c.vline(x, p.Max.Y, p.Max.Y+tickLen-1, axisGray)
		// Centred under the tick, but kept inside the picture.
		tw := textWidth(f.x.labels[i])
		left := max(2, min(w-2-tw, x-tw/2))
		c.text(left, p.Max.Y+tickLen+3, f.x.labels[i], black, alignStart, alignStart, 1)
	}
	for i, v := range f.y.ticks {
		y := int(math.Round(f.py(v)))
		c.hline(p.Min.X-tickLen, p.Min.X-1, y, axisGray)
		c.text(p.Min.X-tickLen-4, y, f.y.labels[i], black, alignEnd, alignMiddle, 1)
	}
	if lb.x != "" {
		c.text((p.Min.X+p.Max.X)/2, h-pad, fitText(lb.x, w-2*pad), black, alignMiddle, alignEnd, 1)
	}
	if lb.y != "" {
		c.vtext(pad+lineH/2, (p.Min.Y+p.Max.Y)/2, fitText(lb.y, p.Dy()), black)
	}
	y := pad
	if lb.title != "" {
		ts := titleScale(lb.title, w)
		c.text(w/2, y, fitText(lb.title, w-2*pad), black, alignMiddle, alignStart, ts)
		y += lineH*ts + pad/2
	}
	if lb.note != "" {
		c.text(w/2, y, fitText(lb.note, w-2*pad), axisGray, alignMiddle, alignStart, 1)
	}
}

// legend kinds: how an entry's swatch is drawn.
const (
	swatchBar = iota
	swatchLine
	swatchDot
)

type legendEntry struct {
	name   string
	color  color.RGBA
	kind   int
	alpha  uint8 // fill opacity of swatchBar and swatchDot
	marker int   // marker shape for swatchLine, -1 for none
}

// drawLegend draws a boxed legend of the named entries inside area, in
// whichever corner covers the fewest already-drawn data pixels (top right
// on a tie). Entries with no name are left out; with none left, nothing
// is drawn.
func drawLegend(c *canvas, area image.Rectangle, all []legendEntry) {
	var entries []legendEntry
	for _, e := range all {
		if e.name != "" {
			e.name = fitText(e.name, area.Dx()*2/3)
			entries = append(entries, e)
		}
	}
	if len(entries) == 0 {
		return
	}
	const sw, gap, rowH, inset = 22, 6, lineH + 5, 8
	wide := 0
	for _, e := range entries {
		wide = max(wide, textWidth(e.name))
	}
	bw := 2*inset + sw + gap + wide
	bh := 2*inset + len(entries)*rowH - 5
	xl, xr := area.Min.X+inset, area.Max.X-inset-bw
	yt, yb := area.Min.Y+inset, area.Max.Y-inset-bh
	var box image.Rectangle
	best := -1
	for _, at := range [4]image.Point{{xr, yt}, {xl, yt}, {xr, yb}, {xl, yb}} {
		r := image.Rectangle{at, at.Add(image.Pt(bw, bh))}
		if n := inked(c, r); best < 0 || n < best {
			box, best = r, n
		}
	}
	c.fill(box, withAlpha(white, 0xe8))
	c.rect(box, lightGray)
	for i, e := range entries {
		y := box.Min.Y + inset + i*rowH + lineH/2
		x := box.Min.X + inset
		switch e.kind {
		case swatchBar:
			c.fill(image.Rect(x, y-5, x+sw, y+6), withAlpha(e.color, e.alpha))
			c.rect(image.Rect(x, y-5, x+sw, y+6), e.color)
		case swatchLine:
			c.fill(image.Rect(x, y-1, x+sw, y+1), e.color)
			if e.marker >= 0 {
				c.marker(e.marker, x+sw/2, y, e.color, box)
			}
		case swatchDot:
			c.disk(x+sw/2, y, 5, withAlpha(e.color, e.alpha), darker(e.color), box)
		}
		c.text(x+sw+gap, y, e.name, black, alignStart, alignMiddle, 1)
	}
}

// inked counts the pixels of r that are neither background nor grid.
func inked(c *canvas, r image.Rectangle) int {
	n := 0
	r = r.Intersect(c.img.Bounds())
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			if p := c.img.RGBAAt(x, y); p != white && p != gridGray && p != mapBG {
				n++
			}
		}
	}
	return n
}
