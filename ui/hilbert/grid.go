package hilbert

import (
	"encoding/binary"
	"net/netip"
	"sync/atomic"

	"github.com/zeebo/xxh3"
)

// A Grid holds one class per IPv4 /24, laid out on the curve: the cell
// (x, y) = XY(addr>>8) of a /24 holds its class. Class 0 means nothing (not
// in the map); what the other classes mean is the caller's (a PoP, a source,
// the outcome of Diff), and a palette gives each its colour when drawing.
//
// The cells are stored row by row as in an image (16 MiB), so that drawing a
// tile reads contiguous rows, and a prefix of up to /24 fills one or two
// squares of rows.
//
// A Grid is not safe for concurrent modification: build it, then share it
// read-only (drawing, Handler). Reads may run concurrently.
type Grid struct {
	cells []byte        // Side*Side classes, row-major: cells[y*Side+x]
	sum   atomic.Uint64 // Sum's memo; 0: not computed since the last change
	top   uint8         // no cell has a class above top
}

// Entry is one prefix of a map and its class, for Build.
type Entry struct {
	Prefix netip.Prefix
	Class  uint8
}

// NewGrid returns an empty grid: every /24 in class 0.
func NewGrid() *Grid {
	return &Grid{cells: make([]byte, Cells)}
}

// Build returns the grid of entries: each IPv4 prefix's /24s get its class,
// a longer prefix winning over the shorter ones it is inside (entries are
// applied in increasing prefix length; among prefixes of the same length,
// the later entry wins). Entries need not be sorted: Build orders them by
// length itself, in linear time. IPv6 prefixes (IPv4-mapped ones included)
// and invalid ones are ignored; a prefix longer than /24 sets its whole /24.
func Build(entries []Entry) *Grid {
	g := NewGrid()
	sorted := true
	for i := 1; i < len(entries); i++ {
		if entries[i].Prefix.Bits() < entries[i-1].Prefix.Bits() {
			sorted = false
			break
		}
	}
	if sorted {
		for _, e := range entries {
			g.set(e.Prefix, e.Class)
		}
		return g
	}
	// A stable counting sort on the prefix length (-1 for an invalid prefix,
	// 0..128), as indices.
	var start [131]int32
	for _, e := range entries {
		start[e.Prefix.Bits()+2]++ // key bits+1, counted one slot up
	}
	for i := 1; i < len(start); i++ {
		start[i] += start[i-1]
	}
	order := make([]int32, len(entries))
	for i, e := range entries {
		b := e.Prefix.Bits() + 1
		order[start[b]] = int32(i)
		start[b]++
	}
	for _, i := range order {
		g.set(entries[i].Prefix, entries[i].Class)
	}
	return g
}

// Set gives every /24 of the IPv4 prefix p the class c (0 clears them), and
// for a prefix longer than /24, its containing /24. It reports whether p was
// applied: false for an IPv6 or invalid prefix, which is ignored.
func (g *Grid) Set(p netip.Prefix, c uint8) bool {
	ok := g.set(p, c)
	if ok {
		g.sum.Store(0)
	}
	return ok
}

func (g *Grid) set(p netip.Prefix, c uint8) bool {
	bits := p.Bits()
	if bits < 0 || !p.Addr().Is4() {
		return false
	}
	g.top = max(g.top, c)
	a := p.Addr().As4()
	d := uint32(a[0])<<16 | uint32(a[1])<<8 | uint32(a[2])
	if bits >= 24 {
		x, y := XY(d)
		g.cells[y<<Order|x] = c
		return true
	}
	// The /24s of a prefix are a run of 2^k aligned distances on the curve.
	// A run of 4^j is an aligned square of side 2^j; a run of 2·4^j is two
	// of them, side by side.
	k := uint(24 - bits)
	d &^= 1<<k - 1 // mask the host bits p may carry
	if k%2 == 1 {
		g.fillSquare(d, k-1, c)
		g.fillSquare(d+1<<(k-1), k-1, c)
	} else {
		g.fillSquare(d, k, c)
	}
	return true
}

// fillSquare sets the 4^(k/2) cells of the square holding distances
// d..d+2^k-1 (k even, d aligned to 2^k) to c.
func (g *Grid) fillSquare(d uint32, k uint, c uint8) {
	side := uint32(1) << (k / 2)
	x, y := XY(d)
	x &^= side - 1
	y &^= side - 1
	first := g.cells[y<<Order|x : y<<Order|x+side]
	for i := range first {
		first[i] = c
	}
	for row := y + 1; row < y+side; row++ {
		copy(g.cells[row<<Order|x:row<<Order|x+side], first)
	}
}

// At returns the class of the /24 holding addr; 0 for an IPv6 address.
func (g *Grid) At(addr netip.Addr) uint8 {
	if g == nil || !addr.Is4() {
		return 0
	}
	a := addr.As4()
	x, y := XY(uint32(a[0])<<16 | uint32(a[1])<<8 | uint32(a[2]))
	return g.cells[y<<Order|x]
}

// Cell returns the class of cell (x, y); 0 outside the square.
func (g *Grid) Cell(x, y int) uint8 {
	if g == nil || x < 0 || y < 0 || x >= Side || y >= Side {
		return 0
	}
	return g.cells[y<<Order|x]
}

// Network returns the /24 at cell (x, y), which must be inside the square.
func Network(x, y int) netip.Prefix {
	return block(x, y, 0)
}

// block returns the prefix covering the aligned square of side 2^j cells
// holding cell (x, y): a /(24-2j).
func block(x, y int, j uint) netip.Prefix {
	d := D(uint32(x), uint32(y)) &^ (1<<(2*j) - 1)
	a := netip.AddrFrom4([4]byte{byte(d >> 16), byte(d >> 8), byte(d), 0})
	return netip.PrefixFrom(a, 24-2*int(j))
}

// Sum returns a 64-bit hash of the grid's contents (xxh3), the same for
// equal grids in any process: the handler's tile cache and ETags use it. It
// is computed once (about 2 ms) and again after a Set. A nil grid is empty.
func (g *Grid) Sum() uint64 {
	if g == nil {
		return emptySum()
	}
	if s := g.sum.Load(); s != 0 {
		return s
	}
	s := xxh3.Hash(g.cells)
	if s == 0 {
		s = 1 // 0 is "not computed"
	}
	g.sum.Store(s)
	return s
}

var emptySumMemo atomic.Uint64

func emptySum() uint64 {
	if s := emptySumMemo.Load(); s != 0 {
		return s
	}
	s := NewGrid().Sum()
	emptySumMemo.Store(s)
	return s
}

// The classes of a grid made by Diff.
const (
	DiffNone    = 0 // in neither map
	DiffSame    = 1 // in both, same class
	DiffChanged = 2 // in both, different classes
	DiffOnlyA   = 3 // only in a (gone from the newer map)
	DiffOnlyB   = 4 // only in b (new in the newer map)
)

// Diff returns the change between grids a and b (typically the previous
// and the current map), /24 by /24, as the classes DiffNone, DiffSame,
// DiffChanged, DiffOnlyA and DiffOnlyB. A nil grid is empty.
func Diff(a, b *Grid) *Grid {
	out := NewGrid()
	out.top = DiffOnlyB
	var ac, bc []byte
	if a != nil {
		ac = a.cells
	} else {
		ac = make([]byte, Cells)
	}
	if b != nil {
		bc = b.cells
	} else {
		bc = make([]byte, Cells)
	}
	ac, bc, oc := ac[:Cells], bc[:Cells], out.cells[:Cells]
	for i := 0; i < Cells; i += 8 {
		if binary.LittleEndian.Uint64(ac[i:]) == 0 && binary.LittleEndian.Uint64(bc[i:]) == 0 {
			continue // the common case far from any map: nothing on either side
		}
		for j := i; j < i+8; j++ {
			oc[j] = diffClass(ac[j], bc[j])
		}
	}
	return out
}

func diffClass(a, b uint8) uint8 {
	switch {
	case a == 0 && b == 0:
		return DiffNone
	case a == 0:
		return DiffOnlyB
	case b == 0:
		return DiffOnlyA
	case a == b:
		return DiffSame
	default:
		return DiffChanged
	}
}
