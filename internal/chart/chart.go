// Package chart is the house style of the PNG charts steer's commands write
// (steer plan's map and loss curve, steer eval's gain histogram) on top of
// gonum.org/v1/plot: sans-serif text, round and labelled ticks, a light
// grid, a boxed legend, and sizes in pixels.
//
// A Chart wraps a *plot.Plot: add plotters from gonum.org/v1/plot/plotter
// to its Plot, legend entries with Chart.Legend, and draw it with Image,
// WritePNG or SavePNG.
package chart

import (
	"bufio"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"math"
	"os"

	xfont "golang.org/x/image/font"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// Pixel is one pixel of a chart's picture, which is drawn at 96 dpi.
const Pixel = vg.Inch / vgimg.DefaultDPI

// MaxSide bounds a chart's width and height in pixels.
const MaxSide = 8000

// margin is the blank border around a chart.
const margin = 10 * Pixel

// Palette holds distinguishable colors readable on white (Tableau 10).
var Palette = []color.RGBA{
	{0x1f, 0x77, 0xb4, 0xff}, // blue
	{0xff, 0x7f, 0x0e, 0xff}, // orange
	{0x2c, 0xa0, 0x2c, 0xff}, // green
	{0xd6, 0x27, 0x28, 0xff}, // red
	{0x94, 0x67, 0xbd, 0xff}, // purple
	{0x8c, 0x56, 0x4b, 0xff}, // brown
	{0xe3, 0x77, 0xc2, 0xff}, // pink
	{0x7f, 0x7f, 0x7f, 0xff}, // gray
	{0xbc, 0xbd, 0x22, 0xff}, // olive
	{0x17, 0xbe, 0xcf, 0xff}, // cyan
}

// Color returns the i-th color of Palette, cycling after ten.
func Color(i int) color.RGBA {
	if i < 0 {
		i = -i
	}
	return Palette[i%len(Palette)]
}

// Fixed colors of the frame.
var (
	gridColor   = color.RGBA{0xe2, 0xe2, 0xe2, 0xff}
	axisColor   = color.RGBA{0x55, 0x55, 0x55, 0xff}
	textColor   = color.RGBA{0x20, 0x20, 0x20, 0xff}
	legendLine  = color.RGBA{0xc8, 0xc8, 0xc8, 0xff}
	legendColor = color.NRGBA{0xff, 0xff, 0xff, 0xe8}
)

// sans returns a Liberation Sans font of size pt points, bold or not.
func sans(pt vg.Length, bold bool) font.Font {
	f := font.From(font.Font{Typeface: "Liberation", Variant: "Sans"}, pt)
	if bold {
		f.Weight = xfont.WeightBold
	}
	return f
}

// Chart is a plot with the size of its picture.
type Chart struct {
	Plot          *plot.Plot
	Width, Height int // pixels, 1..MaxSide

	// Aspect, when > 0, is the width over the height that the data area
	// keeps (2 for an equirectangular world map); the picture's side
	// margins grow to keep it.
	Aspect float64

	legend []string // the entries added with Legend, to size the box behind them
}

// New returns an empty chart of width×height pixels with the title and axis
// labels (each may be empty): sans-serif text, Ticks on both axes (as many
// as the size holds), the axes widened to round ticks and a light grid at
// the labelled ticks.
func New(title, xLabel, yLabel string, width, height int) *Chart {
	p := plot.New()
	p.Title.Text = title
	p.Title.Padding = 8 * Pixel
	p.Title.TextStyle.Font = sans(13, true)
	p.Title.TextStyle.Color = textColor
	p.X.Label.Text, p.Y.Label.Text = xLabel, yLabel
	for _, a := range []*plot.Axis{&p.X, &p.Y} {
		a.Label.TextStyle.Font = sans(11, false)
		a.Label.TextStyle.Color = textColor
		a.Label.Padding = 4 * Pixel
		a.Tick.Label.Font = sans(10, false)
		a.Tick.Label.Color = textColor
		a.Tick.Length = 5 * Pixel
		a.Tick.Color, a.Color = axisColor, axisColor
		a.Padding = 0
		a.AutoRescale = true
	}
	// About one labelled tick every 90 pixels across and 55 up.
	p.X.Tick.Marker = Ticks{N: max(3, min(12, width/90))}
	p.Y.Tick.Marker = Ticks{N: max(3, min(10, height/55))}
	p.Legend.TextStyle.Font = sans(10, false)
	p.Legend.TextStyle.Color = textColor
	p.Legend.ThumbnailWidth = 24 * Pixel
	p.Legend.Padding = 3 * Pixel
	p.Legend.Top = true
	p.Legend.XOffs, p.Legend.YOffs = -10*Pixel, -8*Pixel
	g := plotter.NewGrid()
	g.Vertical = draw.LineStyle{Color: gridColor, Width: Pixel}
	g.Horizontal = g.Vertical
	p.Add(g)
	return &Chart{Plot: p, Width: width, Height: height}
}

// Legend adds an entry to the chart's legend, drawn with the thumbnails of
// the plotters it stands for. The legend is drawn on a white box when all
// its entries were added this way (rather than with Plot.Legend.Add).
func (c *Chart) Legend(name string, thumbs ...plot.Thumbnailer) {
	c.Plot.Legend.Add(name, thumbs...)
	c.legend = append(c.legend, name)
}

// Image draws the chart.
func (c *Chart) Image() (*image.RGBA, error) {
	if c.Width < 1 || c.Height < 1 || c.Width > MaxSide || c.Height > MaxSide {
		return nil, fmt.Errorf("chart: size %dx%d outside 1x1..%dx%d", c.Width, c.Height, MaxSide, MaxSide)
	}
	cv := vgimg.New(vg.Length(c.Width)*Pixel, vg.Length(c.Height)*Pixel)
	if err := c.Draw(draw.New(cv)); err != nil {
		return nil, err
	}
	img, ok := cv.Image().(*image.RGBA)
	if !ok {
		return nil, errors.New("chart: vgimg did not draw an RGBA image")
	}
	return img, nil
}

// Draw draws the chart into dc, inside a blank margin. It is for placing
// a chart in a larger picture; Image draws it alone.
func (c *Chart) Draw(dc draw.Canvas) error {
	p := c.Plot
	if err := checkRange(&p.X, "x"); err != nil {
		return err
	}
	if err := checkRange(&p.Y, "y"); err != nil {
		return err
	}
	dc = draw.Crop(dc, margin, -margin, margin, -margin)
	if c.Aspect > 0 {
		da := p.DataCanvas(dc)
		w, h := da.Max.X-da.Min.X, da.Max.Y-da.Min.Y
		if extra := w - vg.Length(c.Aspect)*h; extra > 0 {
			dc = draw.Crop(dc, extra/2, -extra/2, 0, 0)
		} else if extra := h - w/vg.Length(c.Aspect); extra > 0 {
			dc = draw.Crop(dc, 0, 0, extra/2, -extra/2)
		}
	}
	// The legend goes on the data area after everything else, on a box.
	legend := p.Legend
	p.Legend = plot.NewLegend()
	defer func() { p.Legend = legend }()
	p.Draw(dc)
	da := p.DataCanvas(dc)
	if len(c.legend) > 0 {
		b := legendBox(&legend, c.legend, da)
		corners := []vg.Point{b.Min, {X: b.Max.X, Y: b.Min.Y}, b.Max, {X: b.Min.X, Y: b.Max.Y}, b.Min}
		da.FillPolygon(legendColor, corners[:4])
		da.StrokeLines(draw.LineStyle{Color: legendLine, Width: Pixel}, corners)
	}
	legend.Draw(da)
	return nil
}

// checkRange rejects an axis range gonum cannot draw: NaN or infinite ends
// (an empty plot leaves them at +Inf and -Inf).
func checkRange(a *plot.Axis, name string) error {
	if math.IsNaN(a.Min) || math.IsNaN(a.Max) || math.IsInf(a.Min, 0) || math.IsInf(a.Max, 0) {
		return fmt.Errorf("chart: %s axis range [%v, %v] is not finite (no data?)", name, a.Min, a.Max)
	}
	if a.Min > a.Max {
		return fmt.Errorf("chart: %s axis range [%v, %v]: min above max", name, a.Min, a.Max)
	}
	return nil
}

// legendBox is the rectangle around the legend l of the given entries
// drawn on c, padded, following plot.Legend.Draw's layout.
func legendBox(l *plot.Legend, entries []string, c draw.Canvas) vg.Rectangle {
	sty := l.TextStyle
	em := sty.Rectangle(" ").Max.X
	var enth, textw vg.Length
	for _, e := range entries {
		r := sty.Rectangle(e)
		enth, textw = max(enth, r.Max.Y), max(textw, r.Max.X)
	}
	w := l.ThumbnailWidth + em + textw
	n := vg.Length(len(entries))
	h := n*enth + (n-1)*l.Padding
	descent := sty.FontExtents().Descent
	var r vg.Rectangle
	if l.Left {
		r.Min.X = c.Min.X + l.XOffs
	} else {
		r.Min.X = c.Max.X - w + l.XOffs
	}
	if l.Top {
		r.Min.Y = c.Max.Y - descent - h + l.YOffs
	} else {
		r.Min.Y = c.Min.Y + l.YOffs
	}
	r.Max = r.Min.Add(vg.Point{X: w, Y: h})
	pad := 5 * Pixel
	r.Min = r.Min.Sub(vg.Point{X: pad, Y: pad})
	r.Max = r.Max.Add(vg.Point{X: pad, Y: pad})
	return r
}

// WritePNG draws the chart and writes it to w as PNG.
func (c *Chart) WritePNG(w io.Writer) error {
	img, err := c.Image()
	if err != nil {
		return err
	}
	return encode(w, img)
}

// SavePNG draws the chart into the PNG file at path, replacing it. Nothing
// is written when drawing fails.
func (c *Chart) SavePNG(path string) (err error) {
	img, err := c.Image()
	if err != nil {
		return err
	}
	return SaveImage(path, img)
}

// encode writes img to w as PNG.
func encode(w io.Writer, img image.Image) error {
	bw := bufio.NewWriter(w)
	if err := png.Encode(bw, img); err != nil {
		return fmt.Errorf("chart: encode PNG: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("chart: write PNG: %w", err)
	}
	return nil
}

// Column draws charts one above the other, each at its own height, on a
// picture as wide as the widest, with the left and right edges of their
// data areas lined up (charts over the same x axis). It ignores Aspect.
func Column(charts ...*Chart) (*image.RGBA, error) {
	if len(charts) == 0 {
		return nil, errors.New("chart: column of no charts")
	}
	w, h := 0, 0
	for _, c := range charts {
		if c.Width < 1 || c.Height < 1 {
			return nil, fmt.Errorf("chart: size %dx%d in a column", c.Width, c.Height)
		}
		w, h = max(w, c.Width), h+c.Height
	}
	if w > MaxSide || h > MaxSide {
		return nil, fmt.Errorf("chart: column of %dx%d pixels over %dx%d", w, h, MaxSide, MaxSide)
	}
	cv := vgimg.New(vg.Length(w)*Pixel, vg.Length(h)*Pixel)
	full := draw.New(cv)
	tiles := make([]draw.Canvas, len(charts))
	lefts := make([]vg.Length, len(charts))
	rights := make([]vg.Length, len(charts))
	var left, right vg.Length
	top := full.Max.Y
	for i, c := range charts {
		t := full
		t.Max.Y, t.Min.Y = top, top-vg.Length(c.Height)*Pixel
		top = t.Min.Y
		tiles[i] = t
		da := c.Plot.DataCanvas(draw.Crop(t, margin, -margin, margin, -margin))
		lefts[i], rights[i] = da.Min.X-t.Min.X, t.Max.X-da.Max.X
		left, right = max(left, lefts[i]), max(right, rights[i])
	}
	for i, c := range charts {
		if err := c.Draw(draw.Crop(tiles[i], left-lefts[i], rights[i]-right, 0, 0)); err != nil {
			return nil, err
		}
	}
	img, ok := cv.Image().(*image.RGBA)
	if !ok {
		return nil, errors.New("chart: vgimg did not draw an RGBA image")
	}
	return img, nil
}

// SaveImage writes img (a Column) into the PNG file at path, replacing it.
func SaveImage(path string, img image.Image) (err error) {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("chart: %w", err)
	}
	defer func() {
		if cerr := f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("chart: %w", cerr)
		}
	}()
	return encode(f, img)
}
