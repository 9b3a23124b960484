package hilbert

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// layers is a Layers whose "pop" grid a test can replace, as a map
// publish would.
type layers struct{ pop atomic.Pointer[Grid] }

func (l *layers) get(mode string) (Layer, bool) {
	switch mode {
	case "pop":
		return Layer{Grid: l.pop.Load(), Palette: testPalette}, true
	case "empty":
		return Layer{Palette: testPalette}, true
	}
	return Layer{}, false
}

// newTestServer serves a handler on a loopback port, over a grid with
// 192.0.2.0/24 in class 2 and 10.20.0.0/16 in class 3.
func newTestServer(t *testing.T, o Options) (*httptest.Server, *Handler, *layers) {
	t.Helper()
	g := NewGrid()
	g.Set(netip.MustParsePrefix("192.0.2.0/24"), 2)
	g.Set(netip.MustParsePrefix("10.20.0.0/16"), 3)
	l := &layers{}
	l.pop.Store(g)
	h := NewHandler(l.get, o)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv, h, l
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func do(t *testing.T, method, url string, hdr ...string) response {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	return response{resp.StatusCode, resp.Header, body}
}

func decodeTile(t *testing.T, r response) image.Image {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("tile: status %d: %s", r.status, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "image/png" {
		t.Fatalf("tile: Content-Type %q", ct)
	}
	img, err := png.Decode(bytes.NewReader(r.body))
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != TileSize || b.Dy() != TileSize {
		t.Fatalf("tile is %v", b)
	}
	return img
}

// rgba returns an opaque decoded pixel as color.RGBA (exact for alpha 255).
func rgbaAt(img image.Image, x, y int) [4]uint8 {
	r, g, b, a := img.At(x, y).RGBA()
	return [4]uint8{uint8(r >> 8), uint8(g >> 8), uint8(b >> 8), uint8(a >> 8)}
}

// TestHandlerFindAndDraw: the front end's round trip. /hilbert/where finds
// 192.0.2.77's pixel, the zoom-4 tile holding it has the class's colour
// there, and /hilbert/at on that pixel names the /24 and its class.
func TestHandlerFindAndDraw(t *testing.T) {
	srv, _, _ := newTestServer(t, Options{})
	r := do(t, "GET", srv.URL+"/hilbert/where?ip=192.0.2.77&mode=pop")
	if r.status != http.StatusOK || r.header.Get("Content-Type") != "application/json" {
		t.Fatalf("where: %d %q: %s", r.status, r.header.Get("Content-Type"), r.body)
	}
	var where struct {
		Network string
		Z, X, Y int
		TileX   int `json:"tile_x"`
		TileY   int `json:"tile_y"`
		Class   *int
	}
	if err := json.Unmarshal(r.body, &where); err != nil {
		t.Fatal(err)
	}
	x, y := cellOf("192.0.2.0")
	if where.Network != "192.0.2.0/24" || where.Z != FullZoom || where.X != x || where.Y != y ||
		where.TileX != x/TileSize || where.TileY != y/TileSize || where.Class == nil || *where.Class != 2 {
		t.Fatalf("where = %s, want 192.0.2.0/24 at (%d, %d), class 2", r.body, x, y)
	}
	if strings.Contains(string(r.body), "192.0.2.77") {
		t.Errorf("where echoes the full address: %s", r.body)
	}

	r = do(t, "GET", fmt.Sprintf("%s/tiles/pop/%d/%d/%d.png", srv.URL, where.Z, where.TileX, where.TileY))
	if cc := r.header.Get("Cache-Control"); cc != "public, max-age=60" {
		t.Errorf("Cache-Control = %q", cc)
	}
	img := decodeTile(t, r)
	want := testPalette[2]
	if got := rgbaAt(img, x%TileSize, y%TileSize); got != [4]uint8{want.R, want.G, want.B, want.A} {
		t.Errorf("pixel of 192.0.2.0/24 = %v, want %v", got, want)
	}
	if got := rgbaAt(img, (x+1)%TileSize, y%TileSize); got[3] != 0 && x%TileSize != TileSize-1 {
		t.Errorf("pixel next to 192.0.2.0/24 = %v, want transparent", got)
	}

	r = do(t, "GET", fmt.Sprintf("%s/hilbert/at?z=4&x=%d&y=%d&mode=pop", srv.URL, x, y))
	if r.status != http.StatusOK || !strings.Contains(string(r.body), `"network":"192.0.2.0/24"`) ||
		!strings.Contains(string(r.body), `"class":2`) {
		t.Errorf("at: %d %s", r.status, r.body)
	}
	// At zoom 0, the pixel of 10.20.0.0/16 is the /16, in class 3.
	px, py, _ := Locate(netip.MustParseAddr("10.20.0.0"), 0)
	r = do(t, "GET", fmt.Sprintf("%s/hilbert/at?z=0&x=%d&y=%d&mode=pop", srv.URL, px, py))
	if !strings.Contains(string(r.body), `"network":"10.20.0.0/16"`) || !strings.Contains(string(r.body), `"class":3,"filled":256`) {
		t.Errorf("at zoom 0: %d %s", r.status, r.body)
	}
	img = decodeTile(t, do(t, "GET", srv.URL+"/tiles/pop/0/0/0.png"))
	want = testPalette[3]
	if got := rgbaAt(img, px, py); got != [4]uint8{want.R, want.G, want.B, want.A} {
		t.Errorf("zoom 0 pixel of 10.20.0.0/16 = %v, want %v", got, want)
	}
	// Without a mode: the position only.
	r = do(t, "GET", fmt.Sprintf("%s/hilbert/at?z=6&x=%d&y=%d", srv.URL, 4*x+3, 4*y+3))
	if r.status != http.StatusOK || !strings.Contains(string(r.body), `"network":"192.0.2.0/24"`) || strings.Contains(string(r.body), "class") {
		t.Errorf("at without mode: %d %s", r.status, r.body)
	}
}

// TestHandlerCaching: a tile is drawn once and then served from the cache;
// If-None-Match with its ETag is 304; a new grid changes the ETag and the
// tile.
func TestHandlerCaching(t *testing.T) {
	srv, h, l := newTestServer(t, Options{})
	x, y := cellOf("192.0.2.0")
	url := fmt.Sprintf("%s/tiles/pop/4/%d/%d.png", srv.URL, x/TileSize, y/TileSize)
	first := do(t, "GET", url)
	second := do(t, "GET", url)
	if !bytes.Equal(first.body, second.body) {
		t.Error("the cached tile differs from the drawn one")
	}
	if s := h.CacheStats(); s.Hits != 1 || s.Misses != 1 || s.Tiles != 1 || s.Bytes < len(first.body) {
		t.Errorf("after two requests: %+v", s)
	}
	etag := first.header.Get("ETag")
	if r := do(t, "GET", url, "If-None-Match", etag); r.status != http.StatusNotModified || len(r.body) != 0 {
		t.Errorf("If-None-Match %s: %d", etag, r.status)
	}
	if r := do(t, "HEAD", url); r.status != http.StatusOK || len(r.body) != 0 || r.header.Get("Content-Length") != fmt.Sprint(len(first.body)) {
		t.Errorf("HEAD: %d, %d bytes, Content-Length %q", r.status, len(r.body), r.header.Get("Content-Length"))
	}

	g := NewGrid()
	g.Set(netip.MustParsePrefix("192.0.2.0/24"), 1)
	l.pop.Store(g)
	r := do(t, "GET", url, "If-None-Match", etag)
	if r.status != http.StatusOK || r.header.Get("ETag") == etag {
		t.Fatalf("after a new grid: %d, ETag %s (was %s)", r.status, r.header.Get("ETag"), etag)
	}
	want := testPalette[1]
	if got := rgbaAt(decodeTile(t, r), x%TileSize, y%TileSize); got != [4]uint8{want.R, want.G, want.B, want.A} {
		t.Errorf("after a new grid: pixel = %v, want %v", got, want)
	}
}

func TestHandlerOptions(t *testing.T) {
	srv, h, _ := newTestServer(t, Options{MaxAge: -1, CacheBytes: -1})
	r := do(t, "GET", srv.URL+"/tiles/empty/2/1/3.png")
	img := decodeTile(t, r)
	if got := rgbaAt(img, 7, 7); got != [4]uint8{} {
		t.Errorf("empty layer: pixel %v", got)
	}
	if cc := r.header.Get("Cache-Control"); cc != "no-cache" {
		t.Errorf("Cache-Control = %q, want no-cache", cc)
	}
	do(t, "GET", srv.URL+"/tiles/empty/2/1/3.png")
	if s := h.CacheStats(); s != (CacheStats{}) {
		t.Errorf("no cache: stats %+v", s)
	}
	srv2, _, _ := newTestServer(t, Options{MaxAge: 300e9})
	if cc := do(t, "GET", srv2.URL+"/tiles/pop/0/0/0.png").header.Get("Cache-Control"); cc != "public, max-age=300" {
		t.Errorf("Cache-Control = %q, want public, max-age=300", cc)
	}
}

// handlerStatusTests: request → status and a piece of the message; the
// fuzz target for the query parsers starts from them.
var handlerStatusTests = []struct {
	method, target string
	status         int
	want           string
}{
	{"GET", "/tiles/pop/0/0/0.png", 200, ""},
	{"GET", "/tiles/pop/6/63/63.png", 200, ""},
	{"GET", "/tiles/pop/7/0/0.png", 400, "zoom 7 out of range 0..6"},
	{"GET", "/tiles/pop/4/16/0.png", 400, "tile x 16 out of range 0..15 at zoom 4"},
	{"GET", "/tiles/pop/4/0/16.png", 400, "tile y 16 out of range"},
	{"GET", "/tiles/pop/4/1/1.jpg", 400, "does not end in .png"},
	{"GET", "/tiles/pop/4/1/-1.png", 400, `tile y "-1" is not a number`},
	{"GET", "/tiles/pop/a/1/1.png", 400, `zoom "a" is not a number`},
	{"GET", "/tiles/pop/0/0", 400, "want /tiles/{mode}/{z}/{x}/{y}.png"},
	{"GET", "/tiles/pop/0/0/0/0.png", 400, "want /tiles/{mode}/{z}/{x}/{y}.png"},
	{"GET", "/tiles/POP/0/0/0.png", 400, `mode "POP"`},
	{"GET", "/tiles//0/0/0.png", 400, `mode ""`},
	{"GET", "/tiles/nope/0/0/0.png", 404, `no layer "nope"`},
	{"POST", "/tiles/pop/0/0/0.png", 405, "method not allowed"},
	{"GET", "/tiles/pop/0/0/9999999999.png", 400, "too large"},
	{"GET", "/hilbert/at?z=0&x=0&y=0", 200, `"network":"0.0.0.0/16"`},
	{"GET", "/hilbert/at?z=0&x=255&y=0&mode=pop", 200, `"network":"255.255.0.0/16"`},
	{"GET", "/hilbert/at?x=1&y=1", 400, "z is missing"},
	{"GET", "/hilbert/at?z=0&x=256&y=0", 400, "pixel (256, 0) outside the 256x256 map at zoom 0"},
	{"GET", "/hilbert/at?z=9&x=0&y=0", 400, "zoom 9 out of range"},
	{"GET", "/hilbert/at?z=0&x=0&y=0&mode=nope", 404, `no layer "nope"`},
	{"GET", "/hilbert/at?z=0&x=0&y=0&mode=a%20b", 400, `mode "a b"`},
	{"GET", "/hilbert/at?z=0&x=%zz&y=0", 400, "bad query"},
	{"GET", "/hilbert/where?ip=10.1.2.3", 200, `"network":"10.1.2.0/24"`},
	{"GET", "/hilbert/where?ip=255.255.255.255&z=0", 200, `"x":255,"y":0,"tile_x":0,"tile_y":0`},
	{"GET", "/hilbert/where?ip=2001:db8::1", 400, "want an IPv4 address"},
	{"GET", "/hilbert/where?ip=10.1.2.3.4", 400, "want an IPv4 address"},
	{"GET", "/hilbert/where", 400, "want an IPv4 address"},
	{"GET", "/hilbert/where?ip=10.1.2.3&z=9", 400, "zoom 9 out of range"},
	{"GET", "/hilbert/where?ip=10.1.2.3&z=x", 400, `z "x" is not a number`},
	{"GET", "/hilbert/where?ip=10.1.2.3&mode=nope", 404, `no layer "nope"`},
	{"DELETE", "/hilbert/where?ip=10.1.2.3", 405, "method not allowed"},
	{"GET", "/hilbert/", 404, "not found"},
	{"GET", "/", 404, "not found"},
}

func TestHandlerStatus(t *testing.T) {
	srv, _, _ := newTestServer(t, Options{})
	for _, tt := range handlerStatusTests {
		r := do(t, tt.method, srv.URL+tt.target)
		if r.status != tt.status || !strings.Contains(string(r.body), tt.want) {
			t.Errorf("%s %s: %d %q, want %d with %q", tt.method, tt.target, r.status, r.body, tt.status, tt.want)
		}
		if tt.status == 405 && r.header.Get("Allow") != "GET, HEAD" {
			t.Errorf("%s %s: Allow %q", tt.method, tt.target, r.header.Get("Allow"))
		}
	}
}

// TestHandlerConcurrent: parallel requests for a few tiles, cached or not,
// all get the same bytes (run with -race).
func TestHandlerConcurrent(t *testing.T) {
	srv, h, _ := newTestServer(t, Options{CacheBytes: 40 << 10}) // room for a few tiles: evictions
	paths := []string{"/tiles/pop/0/0/0.png", "/tiles/pop/1/0/0.png", "/tiles/pop/1/1/0.png", "/tiles/pop/4/3/3.png", "/tiles/pop/5/9/1.png"}
	want := make([][]byte, len(paths))
	for i, p := range paths {
		want[i] = do(t, "GET", srv.URL+p).body
	}
	var wg sync.WaitGroup
	errs := make(chan error, 4*20)
	for w := range 4 {
		wg.Go(func() {
			for i := range 20 {
				k := (w + i) % len(paths)
				resp, err := http.Get(srv.URL + paths[k])
				if err != nil {
					errs <- err
					continue
				}
				body, err := io.ReadAll(resp.Body)
				_ = resp.Body.Close()
				if err != nil {
					errs <- fmt.Errorf("%s: reading: %w", paths[k], err)
				} else if resp.StatusCode != 200 || !bytes.Equal(body, want[k]) {
					errs <- fmt.Errorf("%s: %d, %d bytes (want %d)", paths[k], resp.StatusCode, len(body), len(want[k]))
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if s := h.CacheStats(); s.Hits+s.Misses != uint64(len(paths)+80) || s.Bytes > 40<<10 {
		t.Errorf("cache stats %+v after %d requests, bound %d bytes", s, len(paths)+80, 40<<10)
	}
}

func TestTileCacheLRU(t *testing.T) {
	c := newTileCache(3 * (100 + entryOverhead))
	key := func(i int) tileKey { return tileKey{mode: "m", z: 6, x: i} }
	for i := range 3 {
		c.put(key(i), make([]byte, 100))
	}
	if _, ok := c.get(key(0)); !ok { // 0 is now the most recent
		t.Fatal("tile 0 not cached")
	}
	c.put(key(3), make([]byte, 100)) // evicts 1, the least recent
	for i, want := range []bool{true, false, true, true} {
		if _, ok := c.get(key(i)); ok != want {
			t.Errorf("tile %d cached = %v, want %v", i, ok, want)
		}
	}
	c.put(key(4), make([]byte, 10*(100+entryOverhead))) // larger than the cache: not kept
	if _, ok := c.get(key(4)); ok {
		t.Error("a tile larger than the cache was kept")
	}
	if s := c.stats(); s.Tiles != 3 || s.Bytes != 3*(100+entryOverhead) {
		t.Errorf("stats %+v", s)
	}
}

// tilePathTests: the tile-path parser's table, also the seeds of its fuzz
// target.
var tilePathTests = []struct {
	path string
	want TilePath
	err  string
}{
	{"/tiles/pop/0/0/0.png", TilePath{"pop", 0, 0, 0}, ""},
	{"/tiles/source/4/15/7.png", TilePath{"source", 4, 15, 7}, ""},
	{"/tiles/change_1-x/6/63/0.png", TilePath{"change_1-x", 6, 63, 0}, ""},
	{"/tiles/pop/04/3/3.png", TilePath{"pop", 4, 3, 3}, ""},
	{"/tiles/pop/0/0/0", TilePath{}, "does not end in .png"},
	{"/tiles/pop/0/0/.png", TilePath{}, "tile y is missing"},
	{"/tiles/pop/+1/0/0.png", TilePath{}, `zoom "+1" is not a number`},
	{"/tiles/pop/1/2/0.png", TilePath{}, "tile x 2 out of range 0..1 at zoom 1"},
	{"/tiles/pop/7/0/0.png", TilePath{}, "zoom 7 out of range"},
	{"/tiles/pop/1/0/0.png/", TilePath{}, "want /tiles/"},
	{"/tile/pop/1/0/0.png", TilePath{}, "does not start with /tiles/"},
	{"/tiles/" + strings.Repeat("a", 33) + "/0/0/0.png", TilePath{}, "want 1 to 32"},
	{"/tiles/p\x00p/0/0/0.png", TilePath{}, `mode "p\x00p"`},
	{"/tiles/pop/1/1/1234567890.png", TilePath{}, "too large"},
}

func TestParseTilePath(t *testing.T) {
	for _, tt := range tilePathTests {
		got, err := ParseTilePath(tt.path)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("ParseTilePath(%q) error = %v, want one with %q", tt.path, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseTilePath(%q) = %+v, %v, want %+v", tt.path, got, err, tt.want)
		}
	}
}
