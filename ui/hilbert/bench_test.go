package hilbert

import (
	"bytes"
	"image"
	"image/color"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
)

// benchEntries returns n prefixes like a big map's: a few thousand short
// ones (/8../23) and the rest /24s, in 20 classes, in random order.
func benchEntries(n int) []Entry {
	r := rand.New(rand.NewPCG(11, 12))
	entries := make([]Entry, n)
	for i := range entries {
		p := randPrefix(r, 24, 24)
		if i%200 == 0 {
			p = randPrefix(r, 8, 23)
		}
		entries[i] = Entry{p.Masked(), uint8(1 + r.IntN(20))}
	}
	return entries
}

// BenchmarkGridBuild: a grid from 1M prefixes, sorted by length as a map
// builder hands them over, and unsorted (Build sorts them itself).
func BenchmarkGridBuild(b *testing.B) {
	unsorted := benchEntries(1 << 20)
	sorted := slices.Clone(unsorted)
	slices.SortStableFunc(sorted, func(a, b Entry) int { return a.Prefix.Bits() - b.Prefix.Bits() })
	for _, bb := range []struct {
		name    string
		entries []Entry
	}{{"sorted", sorted}, {"unsorted", unsorted}} {
		b.Run(bb.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				Build(bb.entries)
			}
		})
	}
}

var benchPalette = func() []color.RGBA {
	p := make([]color.RGBA, 21)
	for i := 1; i < len(p); i++ {
		p[i] = color.RGBA{R: uint8(i * 12), G: uint8(255 - i*12), B: 128, A: 255}
	}
	return p
}()

// worstGrid has a random class in every /24: no block is uniform, so a
// zoom-0 tile counts classes in all 16M cells.
func worstGrid() *Grid {
	r := rand.New(rand.NewPCG(13, 14))
	g := NewGrid()
	for i := range g.cells {
		g.cells[i] = uint8(1 + r.IntN(20))
	}
	g.top = 20
	return g
}

// BenchmarkTile: drawing one tile (no PNG). Zoom 0 reads all 16M /24s;
// "worst" is a grid with a random class in every /24, "map" one built from
// 1M prefixes.
func BenchmarkTile(b *testing.B) {
	worst := worstGrid()
	m := Build(benchEntries(1 << 20))
	for _, bb := range []struct {
		name    string
		g       *Grid
		z, x, y int
	}{
		{"z0-worst", worst, 0, 0, 0},
		{"z0-map", m, 0, 0, 0},
		{"z2-worst", worst, 2, 1, 2},
		{"z4-worst", worst, 4, 5, 9},
		{"z6-worst", worst, 6, 40, 33},
	} {
		b.Run(bb.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := bb.g.Tile(bb.z, bb.x, bb.y, benchPalette); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkTilePNG: encoding a drawn tile, what the handler adds to a
// cache miss.
func BenchmarkTilePNG(b *testing.B) {
	img := image.NewRGBA(image.Rect(0, 0, TileSize, TileSize))
	for _, bb := range []struct {
		name string
		g    *Grid
	}{{"worst-z4", worstGrid()}, {"map-z0", Build(benchEntries(1 << 20))}} {
		z := 4
		if bb.name == "map-z0" {
			z = 0
		}
		if err := bb.g.DrawTile(img, z, 0, 0, benchPalette); err != nil {
			b.Fatal(err)
		}
		b.Run(bb.name, func(b *testing.B) {
			b.ReportAllocs()
			var buf bytes.Buffer
			for b.Loop() {
				buf.Reset()
				if err := EncodePNG(&buf, img); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(buf.Len()), "bytes/tile")
		})
	}
}

// BenchmarkHandlerTile: a tile request answered from the cache, and one
// answered 304 from its ETag.
func BenchmarkHandlerTile(b *testing.B) {
	l := &layers{}
	l.pop.Store(Build(benchEntries(1 << 16)))
	h := NewHandler(l.get, Options{})
	req := httptest.NewRequest(http.MethodGet, "/tiles/pop/3/2/5.png", nil)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if w.Code != http.StatusOK {
		b.Fatalf("status %d", w.Code)
	}
	etag := w.Header().Get("ETag")
	b.Run("cached", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
		}
	})
	b.Run("not-modified", func(b *testing.B) {
		req := req.Clone(req.Context())
		req.Header.Set("If-None-Match", etag)
		b.ReportAllocs()
		for b.Loop() {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != http.StatusNotModified {
				b.Fatalf("status %d", w.Code)
			}
		}
	})
}
