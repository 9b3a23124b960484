package plot

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
)

// Default picture size in pixels, used when a chart's Width or Height is 0.
const (
	DefaultWidth  = 900
	DefaultHeight = 500
)

// Limits on the picture size: smaller leaves no room for axes, larger is a
// mistake rather than a chart.
const (
	minWidth, minHeight = 240, 160
	maxSide             = 8000
)

// ErrEmpty is returned (wrapped) for a chart with no data to draw.
var ErrEmpty = errors.New("plot: no data")

// ErrNotFinite is returned (wrapped) for a NaN or infinite input value; the
// message names the series, the field and the index.
var ErrNotFinite = errors.New("not finite")

// Range is a closed interval [Min, Max] of data values.
type Range struct {
	Min, Max float64
}

func (r Range) check(what string) error {
	if !finite(r.Min) || !finite(r.Max) {
		return fmt.Errorf("plot: %s range [%v, %v]: %w", what, r.Min, r.Max, ErrNotFinite)
	}
	if r.Min >= r.Max {
		return fmt.Errorf("plot: %s range [%v, %v]: Min must be below Max", what, r.Min, r.Max)
	}
	return nil
}

// palette holds distinguishable colors readable on white (Tableau 10).
var palette = []color.RGBA{
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

// PaletteColor returns the i-th color of the fixed palette that series are
// drawn in, cycling after ten.
func PaletteColor(i int) color.RGBA {
	if i < 0 {
		i = -i
	}
	return palette[i%len(palette)]
}

// seriesColor returns c as opaque RGBA, or the palette color i when c is nil.
func seriesColor(c color.Color, i int) color.RGBA {
	if c == nil {
		return PaletteColor(i)
	}
	r, g, b, _ := c.RGBA()
	return color.RGBA{uint8(r >> 8), uint8(g >> 8), uint8(b >> 8), 0xff}
}

// Fixed colors of the frame.
var (
	white     = color.RGBA{0xff, 0xff, 0xff, 0xff}
	black     = color.RGBA{0x20, 0x20, 0x20, 0xff}
	axisGray  = color.RGBA{0x55, 0x55, 0x55, 0xff}
	gridGray  = color.RGBA{0xe4, 0xe4, 0xe4, 0xff}
	lightGray = color.RGBA{0xc8, 0xc8, 0xc8, 0xff}
)

// renderer is what every chart type implements.
type renderer interface {
	Render() (*image.RGBA, error)
}

// writePNG renders c and encodes it as PNG to w.
func writePNG(c renderer, w io.Writer) error {
	img, err := c.Render()
	if err != nil {
		return err
	}
	enc := png.Encoder{CompressionLevel: png.DefaultCompression}
	if err := enc.Encode(w, img); err != nil {
		return fmt.Errorf("plot: encode png: %w", err)
	}
	return nil
}

// savePNG renders c into the file at path, replacing it. Nothing is written
// when rendering fails.
func savePNG(c renderer, path string) (err error) {
	img, err := c.Render()
	if err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("plot: %w", err)
	}
	defer func() {
		if cerr := f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("plot: %w", cerr)
		}
	}()
	bw := bufio.NewWriter(f)
	if err := (&png.Encoder{CompressionLevel: png.DefaultCompression}).Encode(bw, img); err != nil {
		return fmt.Errorf("plot: encode png: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("plot: %w", err)
	}
	return nil
}

// size returns the picture size for the requested w×h (0 meaning default).
func size(w, h int) (int, int, error) {
	if w == 0 {
		w = DefaultWidth
	}
	if h == 0 {
		h = DefaultHeight
	}
	if w < minWidth || h < minHeight || w > maxSide || h > maxSide {
		return 0, 0, fmt.Errorf("plot: size %dx%d outside %dx%d..%dx%d", w, h, minWidth, minHeight, maxSide, maxSide)
	}
	return w, h, nil
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// describe names a non-finite value for an error message.
func describe(v float64) string {
	switch {
	case math.IsNaN(v):
		return "NaN"
	case math.IsInf(v, 1):
		return "+Inf"
	default:
		return "-Inf"
	}
}

// checkFinite returns an error naming series, field and index of the first
// non-finite value of vs.
func checkFinite(series, field string, vs []float64) error {
	for i, v := range vs {
		if !finite(v) {
			return fmt.Errorf("plot: series %q: %s[%d] is %s: %w", series, field, i, describe(v), ErrNotFinite)
		}
	}
	return nil
}
