package plot

import (
	"image"
	"image/color"
	"image/draw"
	"math"
	"strings"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"
)

// canvas wraps the picture being drawn with the few primitives charts need.
// Nothing is anti-aliased; translucent colors blend with draw.Over.
type canvas struct {
	img *image.RGBA
}

func newCanvas(w, h int) *canvas {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.Draw(img, img.Bounds(), image.NewUniform(white), image.Point{}, draw.Src)
	return &canvas{img: img}
}

// withAlpha returns c at opacity a (0..255) as a color for draw.Over.
func withAlpha(c color.RGBA, a uint8) color.NRGBA {
	return color.NRGBA{c.R, c.G, c.B, a}
}

// fill paints r (clipped to the picture) with col, blending when col is a
// translucent color.NRGBA.
func (c *canvas) fill(r image.Rectangle, col color.Color) {
	r = r.Intersect(c.img.Bounds())
	if r.Empty() {
		return
	}
	if nc, ok := col.(color.NRGBA); ok && nc.A != 0xff {
		for y := r.Min.Y; y < r.Max.Y; y++ {
			for x := r.Min.X; x < r.Max.X; x++ {
				c.blend(x, y, nc)
			}
		}
		return
	}
	draw.Draw(c.img, r, image.NewUniform(col), image.Point{}, draw.Src)
}

// blend paints s over the pixel (x, y), which must be inside the picture.
func (c *canvas) blend(x, y int, s color.NRGBA) {
	i := c.img.PixOffset(x, y)
	p := c.img.Pix[i : i+4 : i+4]
	a, na := uint32(s.A), 255-uint32(s.A)
	p[0] = uint8((uint32(s.R)*a + uint32(p[0])*na + 127) / 255)
	p[1] = uint8((uint32(s.G)*a + uint32(p[1])*na + 127) / 255)
	p[2] = uint8((uint32(s.B)*a + uint32(p[2])*na + 127) / 255)
	p[3] = uint8((255*a + uint32(p[3])*na + 127) / 255)
}

// set paints one pixel when it is inside clip (and the picture).
func (c *canvas) set(x, y int, col color.Color, clip image.Rectangle) {
	pt := image.Point{x, y}
	if !pt.In(clip) || !pt.In(c.img.Bounds()) {
		return
	}
	switch cc := col.(type) {
	case color.NRGBA:
		if cc.A != 0xff {
			c.blend(x, y, cc)
			return
		}
		c.img.SetRGBA(x, y, color.RGBA{cc.R, cc.G, cc.B, 0xff})
	case color.RGBA:
		c.img.SetRGBA(x, y, cc)
	default:
		c.img.Set(x, y, col)
	}
}

// rect outlines r with 1-pixel lines inside it.
func (c *canvas) rect(r image.Rectangle, col color.Color) {
	c.fill(image.Rect(r.Min.X, r.Min.Y, r.Max.X, r.Min.Y+1), col)
	c.fill(image.Rect(r.Min.X, r.Max.Y-1, r.Max.X, r.Max.Y), col)
	c.fill(image.Rect(r.Min.X, r.Min.Y, r.Min.X+1, r.Max.Y), col)
	c.fill(image.Rect(r.Max.X-1, r.Min.Y, r.Max.X, r.Max.Y), col)
}

// hline and vline draw axis-parallel lines of width 1, both ends included.
func (c *canvas) hline(x0, x1, y int, col color.Color) {
	if x0 > x1 {
		x0, x1 = x1, x0
	}
	c.fill(image.Rect(x0, y, x1+1, y+1), col)
}

func (c *canvas) vline(x, y0, y1 int, col color.Color) {
	if y0 > y1 {
		y0, y1 = y1, y0
	}
	c.fill(image.Rect(x, y0, x+1, y1+1), col)
}

// line draws a straight line of the given width from (x0,y0) to (x1,y1) in
// pixel coordinates, clipped to clip. Translucent colors may blend twice
// where a wide line overlaps itself, so lines are drawn opaque.
func (c *canvas) line(x0, y0, x1, y1 float64, width int, col color.RGBA, clip image.Rectangle) {
	fx0, fy0, fx1, fy1, ok := clipSegment(x0, y0, x1, y1, clip)
	if !ok {
		return
	}
	ax, ay := int(math.Round(fx0)), int(math.Round(fy0))
	bx, by := int(math.Round(fx1)), int(math.Round(fy1))
	lo := -(width - 1) / 2
	hi := lo + width
	plot := func(x, y int) {
		for dy := lo; dy < hi; dy++ {
			for dx := lo; dx < hi; dx++ {
				c.set(x+dx, y+dy, col, clip)
			}
		}
	}
	// Bresenham.
	dx, dy := abs(bx-ax), -abs(by-ay)
	sx, sy := 1, 1
	if ax > bx {
		sx = -1
	}
	if ay > by {
		sy = -1
	}
	e := dx + dy
	for {
		plot(ax, ay)
		if ax == bx && ay == by {
			return
		}
		e2 := 2 * e
		if e2 >= dy {
			e += dy
			ax += sx
		}
		if e2 <= dx {
			e += dx
			ay += sy
		}
	}
}

// clipSegment clips a segment to the rectangle clip (Liang–Barsky), so
// that far-off points never make the line loop run long.
func clipSegment(x0, y0, x1, y1 float64, clip image.Rectangle) (float64, float64, float64, float64, bool) {
	xmin, ymin := float64(clip.Min.X)-1, float64(clip.Min.Y)-1
	xmax, ymax := float64(clip.Max.X), float64(clip.Max.Y)
	dx, dy := x1-x0, y1-y0
	t0, t1 := 0.0, 1.0
	for _, pq := range [4][2]float64{{-dx, x0 - xmin}, {dx, xmax - x0}, {-dy, y0 - ymin}, {dy, ymax - y0}} {
		p, q := pq[0], pq[1]
		if p == 0 {
			if q < 0 {
				return 0, 0, 0, 0, false
			}
			continue
		}
		t := q / p
		if p < 0 {
			if t > t1 {
				return 0, 0, 0, 0, false
			}
			t0 = max(t0, t)
		} else {
			if t < t0 {
				return 0, 0, 0, 0, false
			}
			t1 = min(t1, t)
		}
	}
	return x0 + t0*dx, y0 + t0*dy, x0 + t1*dx, y0 + t1*dy, true
}

// disk fills a circle of radius r around (cx, cy) with fill and, when
// stroke is opaque, outlines it 1 pixel wide.
func (c *canvas) disk(cx, cy int, r float64, fill color.Color, stroke color.RGBA, clip image.Rectangle) {
	ri := int(math.Ceil(r))
	r2 := r * r
	inner := (r - 1) * (r - 1)
	for dy := -ri; dy <= ri; dy++ {
		for dx := -ri; dx <= ri; dx++ {
			d := float64(dx*dx + dy*dy)
			switch {
			case d > r2:
			case stroke.A != 0 && d > inner:
				c.set(cx+dx, cy+dy, stroke, clip)
			default:
				c.set(cx+dx, cy+dy, fill, clip)
			}
		}
	}
}

// marker shapes for line series, cycled by series index.
const (
	markCircle = iota
	markSquare
	markTriangle
	markDiamond
	markShapes
)

// marker draws a small filled shape of the given kind around (cx, cy).
func (c *canvas) marker(kind, cx, cy int, col color.RGBA, clip image.Rectangle) {
	const r = 4
	switch kind % markShapes {
	case markCircle:
		c.disk(cx, cy, r, col, color.RGBA{}, clip)
	case markSquare:
		for dy := -r + 1; dy < r; dy++ {
			for dx := -r + 1; dx < r; dx++ {
				c.set(cx+dx, cy+dy, col, clip)
			}
		}
	case markTriangle:
		for dy := -r; dy <= r; dy++ {
			half := (dy + r) / 2
			for dx := -half; dx <= half; dx++ {
				c.set(cx+dx, cy+dy, col, clip)
			}
		}
	case markDiamond:
		for dy := -r - 1; dy <= r+1; dy++ {
			for dx := -r - 1; dx <= r+1; dx++ {
				if abs(dx)+abs(dy) <= r+1 {
					c.set(cx+dx, cy+dy, col, clip)
				}
			}
		}
	}
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

// Text. The 7x13 face covers printable ASCII only; asciiText folds the
// common non-ASCII letters and signs to ASCII before drawing.

var face = basicfont.Face7x13

const (
	charW = 7  // advance of one character
	lineH = 13 // height of a line of text
)

// textWidth is the width in pixels of s drawn at scale 1.
func textWidth(s string) int {
	return len([]rune(asciiText(s))) * charW
}

// fitText returns s, cut short with "..." when it is wider than px pixels.
func fitText(s string, px int) string {
	s = asciiText(s)
	n := px / charW
	if len(s) <= n {
		return s
	}
	if n <= 3 {
		return ""
	}
	return s[:n-3] + "..."
}

// anchors for text: where (x, y) is relative to the text box.
const (
	alignStart  = 0.0
	alignMiddle = 0.5
	alignEnd    = 1.0
)

// textMask renders s (scale 1) into an alpha mask of its exact box.
func textMask(s string) *image.Alpha {
	s = asciiText(s)
	m := image.NewAlpha(image.Rect(0, 0, len([]rune(s))*charW, lineH))
	d := font.Drawer{Dst: m, Src: image.Opaque, Face: face, Dot: fixed.P(0, face.Ascent)}
	d.DrawString(s)
	return m
}

// text draws s with its box anchored at (x, y): ax and ay are 0 for the
// left/top edge, 0.5 for the middle, 1 for the right/bottom edge. scale
// repeats each pixel scale×scale times (for titles).
func (c *canvas) text(x, y int, s string, col color.RGBA, ax, ay float64, scale int) {
	if s == "" {
		return
	}
	m := textMask(s)
	w, h := m.Rect.Dx()*scale, m.Rect.Dy()*scale
	x0 := x - int(math.Round(ax*float64(w)))
	y0 := y - int(math.Round(ay*float64(h)))
	b := c.img.Bounds()
	for ty := 0; ty < m.Rect.Dy(); ty++ {
		for tx := 0; tx < m.Rect.Dx(); tx++ {
			if m.AlphaAt(tx, ty).A == 0 {
				continue
			}
			for sy := 0; sy < scale; sy++ {
				for sx := 0; sx < scale; sx++ {
					c.set(x0+tx*scale+sx, y0+ty*scale+sy, col, b)
				}
			}
		}
	}
}

// haloText draws s like text, over a 1-pixel white halo so it stays
// readable on top of grid lines and dots.
func (c *canvas) haloText(x, y int, s string, col color.RGBA, ax, ay float64) {
	for dy := -1; dy <= 1; dy++ {
		for dx := -1; dx <= 1; dx++ {
			if dx != 0 || dy != 0 {
				c.text(x+dx, y+dy, s, white, ax, ay, 1)
			}
		}
	}
	c.text(x, y, s, col, ax, ay, 1)
}

// vtext draws s rotated a quarter turn counter-clockwise (reading bottom
// to top), its box centred on (x, y).
func (c *canvas) vtext(x, y int, s string, col color.RGBA) {
	if s == "" {
		return
	}
	m := textMask(s)
	w, h := m.Rect.Dx(), m.Rect.Dy()
	// Rotated box is h wide and w tall.
	x0, y0 := x-h/2, y-w/2
	b := c.img.Bounds()
	for ty := 0; ty < h; ty++ {
		for tx := 0; tx < w; tx++ {
			if m.AlphaAt(tx, ty).A != 0 {
				c.set(x0+ty, y0+(w-1-tx), col, b)
			}
		}
	}
}

// asciiFold maps common non-ASCII runes to ASCII look-alikes.
var asciiFold = map[rune]string{
	'−': "-", '–': "-", '—': "-", '‐': "-", '±': "+/-", 'µ': "u", 'μ': "u",
	'°': "deg", '×': "x", '≤': "<=", '≥': ">=", '≈': "~", '’': "'", '‘': "'",
	'“': `"`, '”': `"`, '…': "...", 'ß': "ss", 'æ': "ae", 'Æ': "AE", 'ø': "o",
	'Ø': "O", 'å': "a", 'Å': "A", 'ł': "l", 'Ł': "L", 'đ': "d", 'Đ': "D",
	'\u00a0': " ",
}

// latin folds accented Latin-1 letters: each rune of from maps to the byte
// at the same position in to.
const (
	latinFrom = "ÀÁÂÃÄàáâãäÇçÈÉÊËèéêëÌÍÎÏìíîïÑñÒÓÔÕÖòóôõöÙÚÛÜùúûüÝýÿŠšŽžČčĆćŞşĞğİı"
	latinTo   = "AAAAAaaaaaCcEEEEeeeeIIIIiiiiNnOOOOOoooooUUUUuuuuYyySsZzCcCcSsGgIi"
)

// asciiText returns s with every rune the font lacks replaced by an ASCII
// look-alike, or '?' when there is none.
func asciiText(s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			ascii = false
			break
		}
	}
	if ascii {
		return s
	}
	var b strings.Builder
	from := []rune(latinFrom)
	for _, r := range s {
		switch {
		case r >= 0x20 && r <= 0x7e:
			b.WriteRune(r)
		case r == '\t' || r == '\n' || r == '\r':
			b.WriteByte(' ')
		case asciiFold[r] != "":
			b.WriteString(asciiFold[r])
		default:
			i := indexRune(from, r)
			if i >= 0 {
				b.WriteByte(latinTo[i])
			} else {
				b.WriteByte('?')
			}
		}
	}
	return b.String()
}

func indexRune(rs []rune, r rune) int {
	for i, x := range rs {
		if x == r {
			return i
		}
	}
	return -1
}
