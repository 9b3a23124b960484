package hilbert

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"
)

var (
	transparent = color.RGBA{}
	testPalette = []color.RGBA{
		{},                             // 0: unused
		{R: 200, G: 30, B: 30, A: 255}, // 1
		{R: 30, G: 200, B: 30, A: 255}, // 2
		{R: 30, G: 30, B: 200, A: 255}, // 3
		{R: 100, G: 100, B: 0, A: 200}, // 4: translucent, premultiplied
		{R: 0, G: 120, B: 120, A: 255}, // 5
	}
)

// cellOf returns the cell of the /24 holding addr.
func cellOf(addr string) (x, y int) {
	a := netip.MustParseAddr(addr).As4()
	cx, cy := XY(uint32(a[0])<<16 | uint32(a[1])<<8 | uint32(a[2]))
	return int(cx), int(cy)
}

// TestTileFullZoom: at zoom 4, the pixel at XY(d) of the tile holding it is
// the class's colour, and every other pixel of that tile is transparent.
func TestTileFullZoom(t *testing.T) {
	g := NewGrid()
	g.Set(netip.MustParsePrefix("192.0.2.0/24"), 2)
	x, y := cellOf("192.0.2.0")
	img, err := g.Tile(FullZoom, x/TileSize, y/TileSize, testPalette)
	if err != nil {
		t.Fatal(err)
	}
	for py := range TileSize {
		for px := range TileSize {
			want := transparent
			if px == x%TileSize && py == y%TileSize {
				want = testPalette[2]
			}
			if got := img.RGBAAt(px, py); got != want {
				t.Fatalf("tile %d/%d/%d pixel (%d, %d) = %v, want %v", FullZoom, x/TileSize, y/TileSize, px, py, got, want)
			}
		}
	}
}

// TestTileDeepZoom: at zooms 5 and 6 a /24 is a 2×2 and a 4×4 block.
func TestTileDeepZoom(t *testing.T) {
	g := NewGrid()
	g.Set(netip.MustParsePrefix("198.51.100.0/24"), 3)
	x, y := cellOf("198.51.100.0")
	for z := FullZoom + 1; z <= MaxZoom; z++ {
		scale := 1 << (z - FullZoom)
		gx, gy := x*scale, y*scale // the block's top left, in map pixels
		img, err := g.Tile(z, gx/TileSize, gy/TileSize, testPalette)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for py := range TileSize {
			for px := range TileSize {
				in := px >= gx%TileSize && px < gx%TileSize+scale && py >= gy%TileSize && py < gy%TileSize+scale
				want := transparent
				if in {
					want = testPalette[3]
					n++
				}
				if got := img.RGBAAt(px, py); got != want {
					t.Fatalf("zoom %d pixel (%d, %d) = %v, want %v", z, px, py, got, want)
				}
			}
		}
		if n != scale*scale {
			t.Fatalf("zoom %d: %d pixels of the /24, want %d", z, n, scale*scale)
		}
	}
}

// fade is the colour of a block filled f/total in colour c.
func fade(c color.RGBA, f, total uint32) color.RGBA {
	num, den := total+3*f, 4*total
	return color.RGBA{
		R: uint8(uint32(c.R) * num / den), G: uint8(uint32(c.G) * num / den),
		B: uint8(uint32(c.B) * num / den), A: uint8(uint32(c.A) * num / den),
	}
}

// TestTileCoarse: at zoom 0 a pixel is a /16; a /16 of one class is that
// class's colour, a partly filled one fades, a mixed one takes its most
// common class (a tie to the lowest), an empty one is transparent.
func TestTileCoarse(t *testing.T) {
	g := NewGrid()
	g.Set(netip.MustParsePrefix("10.20.0.0/16"), 3) // full
	g.Set(netip.MustParsePrefix("10.30.7.0/24"), 1) // 1 of 256
	for i := range 200 {                            // 100 of class 5, 100 of class 4: tie
		c := uint8(5)
		if i >= 100 {
			c = 4
		}
		g.Set(netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 40, byte(i), 0}), 24), c)
	}
	for i := range 101 { // 101 of class 2 against 100 of class 1
		g.Set(netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 50, byte(i), 0}), 24), 2)
	}
	for i := 101; i < 201; i++ {
		g.Set(netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 50, byte(i), 0}), 24), 1)
	}
	img, err := g.Tile(0, 0, 0, testPalette)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		addr string
		want color.RGBA
	}{
		{"10.20.0.0", testPalette[3]},
		{"10.30.0.0", fade(testPalette[1], 1, 256)},
		{"10.40.0.0", fade(testPalette[4], 200, 256)},
		{"10.50.0.0", fade(testPalette[2], 201, 256)},
		{"10.60.0.0", transparent},
	} {
		x, y := cellOf(tt.addr)
		if got := img.RGBAAt(x/16, y/16); got != tt.want {
			t.Errorf("zoom 0: pixel of %s/16 = %v, want %v", tt.addr, got, tt.want)
		}
	}
	if got := fade(testPalette[1], 1, 256).A; got != 64 {
		t.Errorf("one /24 of 256 fades to alpha %d, want 64", got)
	}
	// Zooms 1-3: the full /16 is 2×2, 4×4, 8×8 pixels of class 3.
	x, y := cellOf("10.20.0.0")
	x, y = x&^15, y&^15
	for z := 1; z < FullZoom; z++ {
		b := 1 << (FullZoom - z)
		img, err := g.Tile(z, x/b/TileSize, y/b/TileSize, testPalette)
		if err != nil {
			t.Fatal(err)
		}
		for py := y / b; py < (y+16)/b; py++ {
			for px := x / b; px < (x+16)/b; px++ {
				if got := img.RGBAAt(px%TileSize, py%TileSize); got != testPalette[3] {
					t.Fatalf("zoom %d pixel (%d, %d) of 10.20.0.0/16 = %v, want %v", z, px, py, got, testPalette[3])
				}
			}
		}
	}
}

// TestTileCoarseMatchesNaive: on a random grid, every zoom-0..3 pixel is the
// majority and fade that a plain count over its block gives.
func TestTileCoarseMatchesNaive(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	g := NewGrid()
	for range 3000 {
		g.Set(randPrefix(r, 12, 24), uint8(1+r.IntN(7))) // classes 6, 7: beyond the palette
	}
	for z := range FullZoom {
		b := 1 << (FullZoom - z)
		tx, ty := r.IntN(1<<z), r.IntN(1<<z)
		img, err := g.Tile(z, tx, ty, testPalette)
		if err != nil {
			t.Fatal(err)
		}
		// Every pixel of a stride of rows (a fifth of the tile: the naive
		// count is slow under -race), all of them near the top left.
		for py := range TileSize {
			if py%5 != 0 && py > 8 {
				continue
			}
			for px := range TileSize {
				var counts [256]int
				filled := 0
				for cy := range b {
					for cx := range b {
						if c := g.Cell((tx*TileSize+px)*b+cx, (ty*TileSize+py)*b+cy); c != 0 {
							counts[c]++
							filled++
						}
					}
				}
				best := 0
				for c := 1; c < 256; c++ {
					if counts[c] > counts[best] {
						best = c
					}
				}
				want := transparent
				if filled > 0 {
					want = noColor
					if best < len(testPalette) {
						want = testPalette[best]
					}
					want = fade(want, uint32(filled), uint32(b*b))
				}
				if got := img.RGBAAt(px, py); got != want {
					t.Fatalf("tile %d/%d/%d pixel (%d, %d) = %v, want %v (class %d, %d of %d filled)", z, tx, ty, px, py, got, want, best, filled, b*b)
				}
			}
		}
	}
}

func TestTileErrors(t *testing.T) {
	g := NewGrid()
	for _, tt := range []struct {
		z, x, y int
		want    string
	}{
		{-1, 0, 0, "zoom -1 out of range 0..6"},
		{7, 0, 0, "zoom 7 out of range 0..6"},
		{0, 1, 0, "tile x 1 out of range 0..0 at zoom 0"},
		{4, 0, 16, "tile y 16 out of range 0..15 at zoom 4"},
		{6, -1, 0, "tile x -1 out of range 0..63 at zoom 6"},
	} {
		if _, err := g.Tile(tt.z, tt.x, tt.y, testPalette); err == nil || err.Error() != tt.want {
			t.Errorf("Tile(%d, %d, %d) error = %v, want %q", tt.z, tt.x, tt.y, err, tt.want)
		}
	}
	small := image.NewRGBA(image.Rect(0, 0, 128, 256))
	if err := g.DrawTile(small, 0, 0, 0, testPalette); err == nil || !strings.Contains(err.Error(), "128x256") {
		t.Errorf("DrawTile into 128x256: error = %v", err)
	}
}

// TestTileNilGridAndShortPalette: a nil grid draws transparent tiles; a
// class beyond the palette is grey; a sub-image destination works.
func TestTileNilGridAndShortPalette(t *testing.T) {
	img, err := (*Grid)(nil).Tile(0, 0, 0, testPalette)
	if err != nil {
		t.Fatal(err)
	}
	for i, b := range img.Pix {
		if b != 0 {
			t.Fatalf("nil grid: byte %d of the tile = %d", i, b)
		}
	}
	g := NewGrid()
	g.Set(netip.MustParsePrefix("10.0.0.0/24"), 200)
	x, y := cellOf("10.0.0.0")
	big := image.NewRGBA(image.Rect(0, 0, 3*TileSize, 3*TileSize))
	sub := big.SubImage(image.Rect(TileSize, TileSize, 2*TileSize, 2*TileSize)).(*image.RGBA)
	if err := g.DrawTile(sub, FullZoom, x/TileSize, y/TileSize, nil); err != nil {
		t.Fatal(err)
	}
	if got := big.RGBAAt(TileSize+x%TileSize, TileSize+y%TileSize); got != noColor {
		t.Errorf("class beyond the palette = %v, want %v", got, noColor)
	}
}

func TestPixelAndLocate(t *testing.T) {
	g := NewGrid()
	g.Set(netip.MustParsePrefix("10.20.0.0/16"), 3)
	g.Set(netip.MustParsePrefix("10.20.5.0/24"), 1)
	x, y := cellOf("10.20.5.9")
	for z := range MaxZoom + 1 {
		px, py, err := Locate(netip.MustParseAddr("10.20.5.9"), z)
		if err != nil {
			t.Fatal(err)
		}
		p, err := g.Pixel(z, px, py)
		if err != nil {
			t.Fatal(err)
		}
		bits, class, filled := 24-2*(FullZoom-z), uint8(3), 256>>(2*z)
		if z >= FullZoom {
			bits, class, filled = 24, 1, 1
		}
		want := Pixel{Network: netip.PrefixFrom(netip.MustParseAddr("10.20.5.0"), bits).Masked(), Class: class, Filled: filled, Cells: filled}
		if p != want {
			t.Errorf("zoom %d: Pixel(Locate(10.20.5.9)) = %+v, want %+v", z, p, want)
		}
		if z > FullZoom { // every pixel of the /24's block
			s := 1 << (z - FullZoom)
			if px != x*s || py != y*s {
				t.Errorf("zoom %d: Locate = (%d, %d), want (%d, %d)", z, px, py, x*s, y*s)
			}
			if q, _ := g.Pixel(z, px+s-1, py+s-1); q != want {
				t.Errorf("zoom %d: the /24's bottom-right pixel shows %+v", z, q)
			}
		}
	}
	// Random addresses: the pixel's block holds the address.
	r := rand.New(rand.NewPCG(23, 24))
	for range 2000 {
		a := netip.AddrFrom4([4]byte{byte(r.Uint32()), byte(r.Uint32()), byte(r.Uint32()), byte(r.Uint32())})
		z := r.IntN(MaxZoom + 1)
		px, py, err := Locate(a, z)
		if err != nil {
			t.Fatal(err)
		}
		p, err := g.Pixel(z, px, py)
		if err != nil || !p.Network.Contains(a) {
			t.Fatalf("zoom %d: Pixel(Locate(%s)) = %+v, %v", z, a, p, err)
		}
	}
	for _, tt := range []struct{ z, px, py int }{{-1, 0, 0}, {7, 0, 0}, {0, 256, 0}, {0, 0, -1}, {6, 1 << 14, 0}} {
		if _, err := g.Pixel(tt.z, tt.px, tt.py); err == nil {
			t.Errorf("Pixel(%d, %d, %d): no error", tt.z, tt.px, tt.py)
		}
	}
	if _, _, err := Locate(netip.MustParseAddr("2001:db8::1"), 4); err == nil {
		t.Error("Locate(IPv6): no error")
	}
	if _, _, err := Locate(netip.MustParseAddr("10.0.0.1"), 9); err == nil {
		t.Error("Locate at zoom 9: no error")
	}
}

// TestEncodePNG: the PNG decodes to the drawn tile.
func TestEncodePNG(t *testing.T) {
	g := NewGrid()
	g.Set(netip.MustParsePrefix("10.0.0.0/12"), 2)
	img, err := g.Tile(0, 0, 0, testPalette)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := EncodePNG(&buf, img); err != nil {
		t.Fatal(err)
	}
	dec, err := png.Decode(&buf)
	if err != nil {
		t.Fatal(err)
	}
	for py := range TileSize {
		for px := range TileSize {
			if got, want := color.RGBAModel.Convert(dec.At(px, py)), img.RGBAAt(px, py); got != want {
				t.Fatalf("decoded pixel (%d, %d) = %v, want %v", px, py, got, want)
			}
		}
	}
}
