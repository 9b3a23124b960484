package hilbert

import (
	"bytes"
	"container/list"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"net/http"
	"net/netip"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/steer-gslb/steer/internal/httpcond"
)

// Layer is what the handler draws for one mode: a grid and the colour of
// each of its classes (Palette[c] for class c; see Tile).
type Layer struct {
	Grid    *Grid
	Palette []color.RGBA
	// Names name the classes (Names[c] for class c, "" or missing: none),
	// for the label of /hilbert/at's and /hilbert/where's answers.
	Names []string
}

// name is class c's name, "" when it has none.
func (l Layer) name(c uint8) string {
	if int(c) < len(l.Names) {
		return l.Names[c]
	}
	return ""
}

// Layers returns the layer of a mode (such as "pop", "source" or
// "change"), or false when there is no such mode. The handler calls it on
// every request, so it should be cheap (return prepared grids); it may
// return a new grid at any time, for instance after a map is published.
// A grid it has returned must not be modified afterwards.
type Layers func(mode string) (Layer, bool)

// Options tune a Handler; the zero value is good.
type Options struct {
	// MaxAge is the max-age of tiles' Cache-Control: how long a browser
	// may use a tile before asking again (then with If-None-Match, which a
	// tile of the same grid and palette answers with 304). 0 means one
	// minute; a negative value, no-cache.
	MaxAge time.Duration
	// CacheBytes bounds the PNG tiles kept in memory, least recently used
	// first out. 0 means 32 MiB; a negative value keeps none.
	CacheBytes int
}

// Handler serves the map as tiles and answers the front end's questions
// about them, for GET and HEAD:
//
//	/tiles/{mode}/{z}/{x}/{y}.png   tile z/x/y of mode's layer (see Tile)
//	/hilbert/at?z=&x=&y=[&mode=]    the block under map pixel (x, y) at zoom z
//	/hilbert/where?ip=[&z=][&mode=] the pixel showing an IPv4 address's /24
//
// Mount it where those paths arrive as they are (http.StripPrefix for a
// sub-tree). A bad path or parameter is 400 with a message naming it, an
// unknown mode 404. Pixels count from the map's top left at zoom z (tile
// x, pixel i is x*256 + i). The answers are JSON:
//
//	{"network":"10.20.0.0/16","z":0,"x":38,"y":12,"cells":256,"mode":"pop","class":3,"filled":256}
//	{"network":"192.0.2.0/24","z":4,"x":1234,"y":567,"tile_x":4,"tile_y":2,"mode":"pop","class":2}
//
// where network is the block under the pixel (a /24 at zoom 4 and deeper),
// and class (its most common class, as drawn) and filled (how many of its
// cells /24s have a class) come only with a mode. Nothing is logged; the
// address given to /hilbert/where is not echoed, only its /24.
type Handler struct {
	layers Layers
	maxAge string
	cache  *tileCache // nil: none
	slots  chan struct{}
	images sync.Pool // *image.RGBA, TileSize square
}

// NewHandler returns a handler drawing the layers that layers returns.
func NewHandler(layers Layers, o Options) *Handler {
	h := &Handler{
		layers: layers,
		maxAge: "public, max-age=60",
		slots:  make(chan struct{}, runtime.GOMAXPROCS(0)),
	}
	switch {
	case o.MaxAge < 0:
		h.maxAge = "no-cache"
	case o.MaxAge > 0:
		h.maxAge = "public, max-age=" + strconv.Itoa(int(o.MaxAge/time.Second))
	}
	switch {
	case o.CacheBytes == 0:
		h.cache = newTileCache(32 << 20)
	case o.CacheBytes > 0:
		h.cache = newTileCache(o.CacheBytes)
	}
	return h
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	switch p := r.URL.Path; {
	case strings.HasPrefix(p, "/tiles/"):
		h.serveTile(w, r)
	case p == "/hilbert/at":
		h.serveAt(w, r)
	case p == "/hilbert/where":
		h.serveWhere(w, r)
	default:
		http.NotFound(w, r)
	}
}

// TilePath is a parsed tile path, /tiles/{Mode}/{Z}/{X}/{Y}.png.
type TilePath struct {
	Mode    string
	Z, X, Y int
}

// String returns the path, the inverse of ParseTilePath.
func (t TilePath) String() string {
	return fmt.Sprintf("/tiles/%s/%d/%d/%d.png", t.Mode, t.Z, t.X, t.Y)
}

// ParseTilePath parses /tiles/{mode}/{z}/{x}/{y}.png: mode is 1 to 32 of
// a-z, 0-9, '-' and '_', and z/x/y a tile (CheckTile) in plain decimal. The
// error names what is wrong.
func ParseTilePath(p string) (TilePath, error) {
	rest, ok := strings.CutPrefix(p, "/tiles/")
	if !ok {
		return TilePath{}, fmt.Errorf("tile path %s does not start with /tiles/", quote(p))
	}
	parts := strings.Split(rest, "/")
	if len(parts) != 4 {
		return TilePath{}, fmt.Errorf("tile path %s: want /tiles/{mode}/{z}/{x}/{y}.png", quote(p))
	}
	last, ok := strings.CutSuffix(parts[3], ".png")
	if !ok {
		return TilePath{}, fmt.Errorf("tile path %s does not end in .png", quote(p))
	}
	if err := checkMode(parts[0]); err != nil {
		return TilePath{}, err
	}
	t := TilePath{Mode: parts[0]}
	var err error
	if t.Z, err = parseUint("zoom", parts[1]); err != nil {
		return TilePath{}, err
	}
	if t.X, err = parseUint("tile x", parts[2]); err != nil {
		return TilePath{}, err
	}
	if t.Y, err = parseUint("tile y", last); err != nil {
		return TilePath{}, err
	}
	if err := CheckTile(t.Z, t.X, t.Y); err != nil {
		return TilePath{}, err
	}
	return t, nil
}

func checkMode(m string) error {
	if m == "" || len(m) > 32 {
		return fmt.Errorf("mode %s: want 1 to 32 of a-z, 0-9, - and _", quote(m))
	}
	for _, c := range []byte(m) {
		ok := 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_'
		if !ok {
			return fmt.Errorf("mode %s: want 1 to 32 of a-z, 0-9, - and _", quote(m))
		}
	}
	return nil
}

// parseUint parses a parameter of at most 9 decimal digits (no sign, no
// spaces), naming it in the error.
func parseUint(name, s string) (int, error) {
	if s == "" {
		return 0, fmt.Errorf("%s is missing", name)
	}
	if len(s) > 9 {
		return 0, fmt.Errorf("%s %s is too large", name, quote(s))
	}
	n := 0
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("%s %s is not a number", name, quote(s))
		}
		n = n*10 + int(c-'0')
	}
	return n, nil
}

// quote quotes untrusted input for an error message, cut to 64 bytes.
func quote(s string) string {
	if len(s) > 64 {
		return strconv.Quote(s[:64]) + "…"
	}
	return strconv.Quote(s)
}

func (h *Handler) layer(w http.ResponseWriter, mode string) (Layer, bool) {
	l, ok := h.layers(mode)
	if !ok {
		http.Error(w, fmt.Sprintf("no layer %s", quote(mode)), http.StatusNotFound)
	}
	return l, ok
}

func (h *Handler) serveTile(w http.ResponseWriter, r *http.Request) {
	t, err := ParseTilePath(r.URL.Path)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	l, ok := h.layer(w, t.Mode)
	if !ok {
		return
	}
	key := tileKey{mode: t.Mode, sum: l.Grid.Sum(), pal: paletteSum(l.Palette), z: t.Z, x: t.X, y: t.Y}
	etag := fmt.Sprintf(`"%016x%016x"`, key.sum, key.pal)
	hdr := w.Header()
	hdr.Set("Cache-Control", h.maxAge)
	hdr.Set("ETag", etag)
	if httpcond.NoneMatch(r.Header.Values("If-None-Match"), etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	body, ok := h.cache.get(key)
	if !ok {
		select {
		case h.slots <- struct{}{}:
		case <-r.Context().Done():
			http.Error(w, "request canceled", http.StatusServiceUnavailable)
			return
		}
		body, err = h.render(l, t)
		<-h.slots
		if err != nil { // a bug: the path was checked
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		h.cache.put(key, body)
	}
	hdr.Set("Content-Type", "image/png")
	hdr.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body) // a failed write is the client's to notice
	}
}

func (h *Handler) render(l Layer, t TilePath) ([]byte, error) {
	img, _ := h.images.Get().(*image.RGBA)
	if img == nil {
		img = image.NewRGBA(image.Rect(0, 0, TileSize, TileSize))
	}
	defer h.images.Put(img)
	if err := l.Grid.DrawTile(img, t.Z, t.X, t.Y, l.Palette); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := EncodePNG(&buf, img); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// paletteSum hashes a palette (FNV-1a) for the tile cache key and ETag.
func paletteSum(p []color.RGBA) uint64 {
	h := uint64(14695981039346656037)
	for _, c := range p[:min(len(p), 256)] {
		for _, b := range [4]byte{c.R, c.G, c.B, c.A} {
			h = (h ^ uint64(b)) * 1099511628211
		}
	}
	return h
}

// atAnswer is /hilbert/at's and /hilbert/where's JSON.
type atAnswer struct {
	Network string `json:"network"`
	Z       int    `json:"z"`
	X       int    `json:"x"`
	Y       int    `json:"y"`
	TileX   *int   `json:"tile_x,omitempty"`
	TileY   *int   `json:"tile_y,omitempty"`
	Cells   int    `json:"cells,omitempty"`
	Mode    string `json:"mode,omitempty"`
	Class   *uint8 `json:"class,omitempty"`
	Label   string `json:"label,omitempty"` // the class's name (Layer.Names)
	Filled  *int   `json:"filled,omitempty"`
}

// query parses the request's query, answering 400 on a malformed one.
func query(w http.ResponseWriter, r *http.Request) (url.Values, bool) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		http.Error(w, "bad query: "+err.Error(), http.StatusBadRequest)
		return nil, false
	}
	return q, true
}

func (h *Handler) serveAt(w http.ResponseWriter, r *http.Request) {
	q, ok := query(w, r)
	if !ok {
		return
	}
	var zxy [3]int
	for i, name := range []string{"z", "x", "y"} {
		n, err := parseUint(name, q.Get(name))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		zxy[i] = n
	}
	var l Layer
	mode := q.Get("mode")
	if mode != "" {
		if err := checkMode(mode); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		var ok bool
		if l, ok = h.layer(w, mode); !ok {
			return
		}
	}
	g := l.Grid
	p, err := g.Pixel(zxy[0], zxy[1], zxy[2])
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	a := atAnswer{Network: p.Network.String(), Z: zxy[0], X: zxy[1], Y: zxy[2], Cells: p.Cells}
	if mode != "" {
		a.Mode, a.Class, a.Filled, a.Label = mode, &p.Class, &p.Filled, l.name(p.Class)
	}
	writeJSON(w, r, a)
}

func (h *Handler) serveWhere(w http.ResponseWriter, r *http.Request) {
	q, ok := query(w, r)
	if !ok {
		return
	}
	addr, err := netip.ParseAddr(q.Get("ip"))
	if err != nil || !addr.Is4() {
		// The address is not echoed: it may be someone's.
		http.Error(w, "ip: want an IPv4 address, A.B.C.D", http.StatusBadRequest)
		return
	}
	z := FullZoom
	if s := q.Get("z"); s != "" {
		if z, err = parseUint("z", s); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
	}
	px, py, err := Locate(addr, z)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	tx, ty := px/TileSize, py/TileSize
	a := atAnswer{
		Network: netip.PrefixFrom(addr, 24).Masked().String(),
		Z:       z, X: px, Y: py, TileX: &tx, TileY: &ty,
	}
	if mode := q.Get("mode"); mode != "" {
		if err := checkMode(mode); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		l, ok := h.layer(w, mode)
		if !ok {
			return
		}
		c := l.Grid.At(addr)
		a.Mode, a.Class, a.Label = mode, &c, l.name(c)
	}
	writeJSON(w, r, a)
}

func writeJSON(w http.ResponseWriter, r *http.Request, v any) {
	body, err := json.Marshal(v)
	if err != nil { // plain structs: cannot happen
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	body = append(body, '\n')
	hdr := w.Header()
	hdr.Set("Content-Type", "application/json")
	hdr.Set("Cache-Control", "no-cache") // a class changes with the map
	hdr.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

// CacheStats describes the handler's tile cache.
type CacheStats struct {
	Hits, Misses uint64 // tile requests answered from the cache, and drawn
	Tiles, Bytes int    // tiles held, and their PNG bytes
}

// CacheStats returns the tile cache's counters (zero without a cache).
func (h *Handler) CacheStats() CacheStats {
	return h.cache.stats()
}

type tileKey struct {
	mode     string
	sum, pal uint64 // the grid's Sum and the palette's
	z, x, y  int
}

// tileCache is a least-recently-used cache of PNG tiles bounded in bytes.
// Keys carry the grid's content hash, not the grid, so that an old grid
// is not kept alive by its tiles: they age out.
type tileCache struct {
	mu           sync.Mutex
	max, size    int
	lru          list.List // of *tileEntry, most recent first
	byKey        map[tileKey]*list.Element
	hits, misses uint64
}

type tileEntry struct {
	key tileKey
	png []byte
}

// entryOverhead approximates a cached tile's memory besides its PNG.
const entryOverhead = 128

func newTileCache(maxBytes int) *tileCache {
	return &tileCache{max: maxBytes, byKey: make(map[tileKey]*list.Element)}
}

func (c *tileCache) get(k tileKey) ([]byte, bool) {
	if c == nil {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.byKey[k]
	if !ok {
		c.misses++
		return nil, false
	}
	c.hits++
	c.lru.MoveToFront(e)
	return e.Value.(*tileEntry).png, true
}

func (c *tileCache) put(k tileKey, png []byte) {
	n := len(png) + entryOverhead
	if c == nil || n > c.max {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.byKey[k]; ok { // drawn twice at once
		c.lru.MoveToFront(e)
		return
	}
	c.byKey[k] = c.lru.PushFront(&tileEntry{key: k, png: png})
	c.size += n
	for c.size > c.max {
		old := c.lru.Remove(c.lru.Back()).(*tileEntry)
		delete(c.byKey, old.key)
		c.size -= len(old.png) + entryOverhead
	}
}

func (c *tileCache) stats() CacheStats {
	if c == nil {
		return CacheStats{}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return CacheStats{Hits: c.hits, Misses: c.misses, Tiles: c.lru.Len(), Bytes: c.size}
}
