package hilbert

import (
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"net/netip"
	"sync"
)

// Tiles are slippy-map tiles over the square: at zoom z there are 2^z×2^z
// tiles of TileSize×TileSize pixels, tile (0, 0) at the top left.
const (
	// TileSize is the width and height of a tile, in pixels.
	TileSize = 256
	// FullZoom is the zoom at which one pixel is one /24 (16×16 tiles). At
	// zoom z < FullZoom a pixel covers 2^(FullZoom-z) cells a side (zoom 0:
	// 16×16 /24s, one /16); at z > FullZoom a /24 is a block of
	// 2^(z-FullZoom) pixels a side.
	FullZoom = Order - 8
	// MaxZoom is the deepest zoom: a /24 is a 4×4 block of pixels.
	MaxZoom = FullZoom + 2
)

// noColor is the colour of a class the palette has no entry for: opaque
// mid grey, so that a short palette shows up rather than hides data.
var noColor = color.RGBA{R: 128, G: 128, B: 128, A: 255}

// CheckTile returns an error naming the problem when z/x/y is not a tile:
// z outside 0..MaxZoom, or x or y outside 0..2^z-1.
func CheckTile(z, x, y int) error {
	if z < 0 || z > MaxZoom {
		return fmt.Errorf("zoom %d out of range 0..%d", z, MaxZoom)
	}
	n := 1 << z
	if x < 0 || x >= n {
		return fmt.Errorf("tile x %d out of range 0..%d at zoom %d", x, n-1, z)
	}
	if y < 0 || y >= n {
		return fmt.Errorf("tile y %d out of range 0..%d at zoom %d", y, n-1, z)
	}
	return nil
}

// Tile draws tile z/x/y of the grid into a new TileSize×TileSize image, each
// class c in palette[c] (palette[0] is not used: class 0 is transparent; a
// class beyond the palette is opaque grey). At zooms below FullZoom, a
// pixel covers a block of /24s and takes the colour of the block's most
// common non-zero class (a tie goes to the lowest class), faded by how
// much of the block is filled: full colour when every /24 of the block is
// in some class, a quarter of it for a single /24, fully transparent when
// none is (colours are alpha-premultiplied, as image.RGBA's are, so the
// fade scales all four components). A nil grid draws empty tiles.
func (g *Grid) Tile(z, x, y int, palette []color.RGBA) (*image.RGBA, error) {
	if err := CheckTile(z, x, y); err != nil {
		return nil, err
	}
	img := image.NewRGBA(image.Rect(0, 0, TileSize, TileSize))
	if err := g.DrawTile(img, z, x, y, palette); err != nil {
		return nil, err
	}
	return img, nil
}

// DrawTile is Tile drawing into dst, which must be TileSize×TileSize; every
// pixel of dst is written.
func (g *Grid) DrawTile(dst *image.RGBA, z, x, y int, palette []color.RGBA) error {
	if err := CheckTile(z, x, y); err != nil {
		return err
	}
	if dst.Rect.Dx() != TileSize || dst.Rect.Dy() != TileSize {
		return fmt.Errorf("tile image is %dx%d, want %dx%d", dst.Rect.Dx(), dst.Rect.Dy(), TileSize, TileSize)
	}
	var colors [256]color.RGBA
	for c := 1; c < len(colors); c++ {
		colors[c] = noColor
		if c < len(palette) {
			colors[c] = palette[c]
		}
	}
	if g == nil {
		g = emptyGrid()
	}
	if z >= FullZoom {
		g.drawFine(dst, z, x, y, &colors)
	} else {
		g.drawCoarse(dst, z, x, y, &colors)
	}
	return nil
}

// row returns the bytes of pixel row py of dst.
func row(dst *image.RGBA, py int) []byte {
	off := dst.PixOffset(dst.Rect.Min.X, dst.Rect.Min.Y+py)
	return dst.Pix[off : off+TileSize*4]
}

// drawFine draws a tile at FullZoom or deeper: a /24 per block of
// scale×scale pixels.
func (g *Grid) drawFine(dst *image.RGBA, z, x, y int, colors *[256]color.RGBA) {
	scale := 1 << (z - FullZoom)
	n := TileSize / scale // cells a side
	cx0, cy0 := x*n, y*n
	for cy := range n {
		cells := g.cells[(cy0+cy)<<Order|cx0:][:n]
		for s := range scale {
			out := row(dst, cy*scale+s)
			for cx, c := range cells {
				col := colors[c]
				for t := range scale {
					p := out[(cx*scale+t)*4:][:4]
					p[0], p[1], p[2], p[3] = col.R, col.G, col.B, col.A
				}
			}
		}
	}
}

// scratch is majority's working memory: class counts, zero between
// blocks, in two halves that break the dependency between neighbouring
// cells of the same class.
type scratch struct {
	even, odd [256]uint16
}

// drawCoarse draws a tile above FullZoom: a block of b×b cells per pixel.
func (g *Grid) drawCoarse(dst *image.RGBA, z, x, y int, colors *[256]color.RGBA) {
	b := 1 << (FullZoom - z)
	total := uint32(b * b)
	cx0, cy0 := x*TileSize*b, y*TileSize*b
	var s scratch
	for py := range TileSize {
		out := row(dst, py)
		for px := range TileSize {
			c, filled := g.majority(cx0+px*b, cy0+py*b, b, &s)
			col := colors[c]
			if f := uint32(filled); f < total && f > 0 {
				// Fade to between 1/4 (one cell) and all of the colour.
				num, den := total+3*f, 4*total
				col.R = uint8(uint32(col.R) * num / den)
				col.G = uint8(uint32(col.G) * num / den)
				col.B = uint8(uint32(col.B) * num / den)
				col.A = uint8(uint32(col.A) * num / den)
			}
			p := out[px*4:][:4]
			p[0], p[1], p[2], p[3] = col.R, col.G, col.B, col.A
		}
	}
}

// majority returns the most common non-zero class of the b×b block of
// cells at (x0, y0) (a tie goes to the lowest class; 0 when the block is
// empty) and how many of its cells have a non-zero class.
//
// Zoom 0 calls it for all 16M cells, so the counting has no branches but
// one: a word of eight cells of one class (most of a real map, and all of
// the empty space) counts in one step.
func (g *Grid) majority(x0, y0, b int, s *scratch) (class uint8, filled int) {
	base := y0<<Order | x0
	if b%8 == 0 {
		for r := range b {
			line := g.cells[base+r<<Order:][:b]
			for i := 0; i < b; i += 8 {
				w := binary.LittleEndian.Uint64(line[i:])
				if w == uint64(uint8(w))*0x0101010101010101 {
					s.even[uint8(w)] += 8
					continue
				}
				s.even[uint8(w)]++
				s.odd[uint8(w>>8)]++
				s.even[uint8(w>>16)]++
				s.odd[uint8(w>>24)]++
				s.even[uint8(w>>32)]++
				s.odd[uint8(w>>40)]++
				s.even[uint8(w>>48)]++
				s.odd[uint8(w>>56)]++
			}
		}
	} else {
		for r := range b {
			for _, c := range g.cells[base+r<<Order:][:b] {
				s.even[c]++
			}
		}
	}
	filled = b*b - int(s.even[0]+s.odd[0])
	s.even[0], s.odd[0] = 0, 0
	if filled == 0 {
		return 0, 0
	}
	// Classes above g.top have no cells; ascending order and a strict
	// comparison give a tie to the lowest class.
	var best uint16
	for c := 1; c <= int(g.top); c++ {
		if k := s.even[c] + s.odd[c]; k > best {
			class, best = uint8(c), k
		}
		s.even[c], s.odd[c] = 0, 0
	}
	return class, filled
}

var (
	emptyOnce sync.Once
	empty     *Grid
)

// emptyGrid returns a shared empty grid, for drawing a nil one.
func emptyGrid() *Grid {
	emptyOnce.Do(func() { empty = NewGrid() })
	return empty
}

// Pixel is what one pixel of a tile shows: the block of /24s under it and
// the class it is drawn in.
type Pixel struct {
	// Network is the block: a /24 at FullZoom and deeper, a /16 at zoom 0
	// (a /(24 - 2·(FullZoom-z)) in general).
	Network netip.Prefix
	// Class is the block's class as drawn: its most common non-zero class.
	Class uint8
	// Filled is how many of the block's Cells /24s have a non-zero class.
	Filled, Cells int
}

// Pixel returns what the pixel (px, py) of the whole map at zoom z shows,
// counting pixels from the map's top left (tile x, pixel i is
// px = x*TileSize + i), with an error naming the problem when z or the
// pixel is out of range.
func (g *Grid) Pixel(z, px, py int) (Pixel, error) {
	if z < 0 || z > MaxZoom {
		return Pixel{}, fmt.Errorf("zoom %d out of range 0..%d", z, MaxZoom)
	}
	n := TileSize << z
	if px < 0 || px >= n || py < 0 || py >= n {
		return Pixel{}, fmt.Errorf("pixel (%d, %d) outside the %dx%d map at zoom %d", px, py, n, n, z)
	}
	if g == nil {
		g = emptyGrid()
	}
	if z >= FullZoom {
		x, y := px>>(z-FullZoom), py>>(z-FullZoom)
		c := g.cells[y<<Order|x]
		p := Pixel{Network: Network(x, y), Class: c, Cells: 1}
		if c != 0 {
			p.Filled = 1
		}
		return p, nil
	}
	j := uint(FullZoom - z)
	b := 1 << j
	var s scratch
	c, filled := g.majority(px*b, py*b, b, &s)
	return Pixel{Network: block(px*b, py*b, j), Class: c, Filled: filled, Cells: b * b}, nil
}

// Locate returns the pixel of the whole map at zoom z (as Pixel counts
// them) that shows the /24 holding the IPv4 address addr: at zooms deeper
// than FullZoom, the top-left pixel of the /24's block.
func Locate(addr netip.Addr, z int) (px, py int, err error) {
	if z < 0 || z > MaxZoom {
		return 0, 0, fmt.Errorf("zoom %d out of range 0..%d", z, MaxZoom)
	}
	if !addr.Is4() {
		return 0, 0, errors.New("not an IPv4 address")
	}
	a := addr.As4()
	x, y := XY(uint32(a[0])<<16 | uint32(a[1])<<8 | uint32(a[2]))
	if z >= FullZoom {
		return int(x) << (z - FullZoom), int(y) << (z - FullZoom), nil
	}
	return int(x) >> (FullZoom - z), int(y) >> (FullZoom - z), nil
}

// pngEncoder favours speed: tiles are drawn on demand, and flat colours
// compress well at any level.
var pngEncoder = png.Encoder{CompressionLevel: png.BestSpeed, BufferPool: &pngPool{}}

type pngPool struct{ p sync.Pool }

func (p *pngPool) Get() *png.EncoderBuffer {
	b, _ := p.p.Get().(*png.EncoderBuffer)
	return b
}

func (p *pngPool) Put(b *png.EncoderBuffer) { p.p.Put(b) }

// EncodePNG writes img as PNG, compressed for speed (as the handler does).
func EncodePNG(w io.Writer, img image.Image) error {
	if err := pngEncoder.Encode(w, img); err != nil {
		return fmt.Errorf("encoding tile: %w", err)
	}
	return nil
}
