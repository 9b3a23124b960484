// Package hilbert draws the IPv4 address space as a map on a Hilbert curve
// (issue 18), one cell per /24, and serves it as slippy-map tiles: the
// server side of the web UI's "where does each network go" view, coloured
// by PoP, by source (measured, extrapolated, fallback) or by the change
// between two maps. Package ui mounts its Handler; this package knows
// nothing of maps, PoPs or sources: the caller turns those into classes
// and palettes.
//
// # Layout
//
// A /24's index is its address shifted right by 8 (0.0.1.0/24 is 1,
// 255.255.255.0/24 is 2^24-1). That index is the distance along an order-12
// Hilbert curve filling a 4096×4096 square, so every /24 is one cell, XY(d)
// gives its cell and D(x, y) the inverse. As on xkcd's "Map of the
// Internet" and in ipv4-heatmap, (0, 0) is the top left, y grows downwards,
// the curve starts at 0.0.0.0 in the top-left corner and ends at
// 255.255.255.0 in the top-right one. Its order-1 shape is the order of the
// four quarters of the address space:
//
//	0.0.0.0/2    0       3   192.0.0.0/2
//	             │       │
//	             │       │
//	64.0.0.0/2   1 ───── 2   128.0.0.0/2
//
// and every quarter is again such a curve, turned so that it joins its
// neighbours. Nearby addresses stay nearby, and an aligned block is a
// compact shape: a prefix of even length up to /24 (/8, /16, /22) is an
// aligned square (a /8 is 256×256 cells, a /16 16×16), one of odd length
// two such squares side by side. A /8 sits where xkcd drew it: 1/8 right of
// 0/8, 2/8 below 1/8, 3/8 below 0/8.
//
// # Grids
//
// A Grid holds one class (a byte) per /24, 16 MiB stored row by row like
// an image. Class 0 is "nothing"; the other 255 mean what the caller says.
// Build fills one from a list of prefixes and classes, a longer prefix
// winning over the shorter ones it is inside (IPv6 prefixes are ignored, a
// prefix longer than /24 sets its /24); a million prefixes take 60 to 130
// ms on the project's 2-core machine (BenchmarkGridBuild). Diff(a, b) is
// the change between two grids, in five classes: DiffNone, DiffSame,
// DiffChanged, DiffOnlyA, DiffOnlyB.
//
// # Tiles
//
// Tiles are 256×256 pixels, z/x/y as in slippy maps (tile 0/0/0 is the
// whole square, x grows rightwards and y downwards):
//
//	zoom  tiles   a pixel is
//	0     1×1     16×16 /24s: a /16
//	1     2×2     8×8 /24s: a /18
//	2     4×4     4×4 /24s: a /20
//	3     8×8     2×2 /24s: a /22
//	4     16×16   one /24 (FullZoom)
//	5     32×32   a /24 is 2×2 pixels
//	6     64×64   a /24 is 4×4 pixels (MaxZoom)
//
// A pixel covering several /24s takes the colour of their most common
// non-zero class (a tie goes to the lowest class), faded by how much of the
// block is filled: the full colour when every /24 has a class, a quarter of
// it for one /24 in the block, fully transparent for none. Colours are
// color.RGBA, alpha-premultiplied. A zoom-0 tile reads all 16M cells, the
// worst case: 25 to 45 ms on that machine (BenchmarkTile), plus a few ms to
// encode the PNG (BenchmarkTilePNG).
//
// # Serving
//
// Handler serves /tiles/{mode}/{z}/{x}/{y}.png, where a mode ("pop",
// "source", "change", ...) is a Layer: a grid and a palette the caller
// supplies, and may replace at any time. Tiles carry Cache-Control and an
// ETag from the grid's content hash and the palette (If-None-Match gives
// 304), and are kept in a least-recently-used cache of PNGs keyed by that
// hash, the mode and z/x/y, so a new map never serves stale tiles. For the
// front end, /hilbert/at names the block under a pixel and its class (to
// label the mouse position), and /hilbert/where finds the pixel of an IPv4
// address's /24. Bad paths and parameters are 400 with a message naming
// the problem; nothing panics on input (see the fuzz targets). The package
// logs nothing and answers with /24s, never a full address.
package hilbert
