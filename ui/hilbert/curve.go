package hilbert

// The curve's dimensions: an order-12 Hilbert curve visits every cell of a
// Side×Side square once, and there are exactly as many cells as IPv4 /24s.
const (
	// Order is the order of the curve: 2^Order cells a side.
	Order = 12
	// Side is the width and height of the square, in cells (/24s).
	Side = 1 << Order
	// Cells is the number of cells, 2^24: one per IPv4 /24.
	Cells = Side * Side
)

// XY returns the cell (x, y) at distance d along the curve, with (0, 0) the
// top-left cell and y growing downwards. d is a /24's index, its address
// shifted right by 8 (0.0.1.0 is 1); bits of d above the 24th are ignored.
//
// The curve is the one of the standard iterative algorithm (Wikipedia,
// "Hilbert curve", d2xy), which places its start at the top-left corner and
// its end at the top-right: 0.0.0.0/24 is (0, 0) and 255.255.255.0/24 is
// (4095, 0), as on xkcd's "Map of the Internet" and in ipv4-heatmap. XY
// walks it from the top, a byte (four levels) at a time, through a table.
func XY(d uint32) (x, y uint32) {
	e := xyTable[0][d>>16&0xff]
	x, y = e&0xf, e>>4&0xf
	e = xyTable[e>>8][d>>8&0xff]
	x, y = x<<4|e&0xf, y<<4|e>>4&0xf
	e = xyTable[e>>8][d&0xff]
	return x<<4 | e&0xf, y<<4 | e>>4&0xf
}

// The curve from the top down: the two bits of d at each level pick a
// quadrant, in the standard orientation 0 top left, 1 bottom left, 2 bottom
// right, 3 top right (the curve runs down, right, up), and the quadrant's own
// curve is the standard one transformed: quadrant 0 transposed, 3
// anti-transposed, 1 and 2 as they are. The transforms met on the way down
// compose into one of four orientations (the Klein group below), which is
// the state of the walk.
const (
	identity  = iota // (x, y)
	transpose        // (y, x)
	antiTrans        // (1-y, 1-x), on one bit
	rotate180        // (1-x, 1-y)
)

// xyTable[state][byte] holds, for four levels of the walk from orientation
// state, the four x bits (bits 0-3), the four y bits (4-7) and the
// orientation after them (8-9).
var xyTable = func() (t [4][256]uint32) {
	// compose[a][b] is a then b, as the group is commutative either way.
	compose := [4][4]uint32{
		identity:  {identity, transpose, antiTrans, rotate180},
		transpose: {transpose, identity, rotate180, antiTrans},
		antiTrans: {antiTrans, rotate180, identity, transpose},
		rotate180: {rotate180, antiTrans, transpose, identity},
	}
	sub := [4]uint32{transpose, identity, identity, antiTrans}
	for state := range uint32(4) {
		for b := range uint32(256) {
			s, x, y := state, uint32(0), uint32(0)
			for level := 3; level >= 0; level-- {
				q := b >> (2 * level) & 3
				rx := q >> 1 & 1
				ry := (q ^ rx) & 1
				switch s {
				case transpose:
					rx, ry = ry, rx
				case antiTrans:
					rx, ry = 1-ry, 1-rx
				case rotate180:
					rx, ry = 1-rx, 1-ry
				}
				x, y = x<<1|rx, y<<1|ry
				s = compose[s][sub[q]]
			}
			t[state][b] = x | y<<4 | s<<8
		}
	}
	return t
}()

// D returns the distance along the curve of cell (x, y): the inverse of XY,
// D(XY(d)) == d. Only the low Order bits of x and y are used.
func D(x, y uint32) uint32 {
	x &= Side - 1
	y &= Side - 1
	var d uint32
	for s := uint32(Side / 2); s > 0; s >>= 1 {
		var rx, ry uint32
		if x&s != 0 {
			rx = 1
		}
		if y&s != 0 {
			ry = 1
		}
		d += s * s * ((3 * rx) ^ ry)
		// Rotate the quadrant so that the next level sees the standard
		// orientation. Flipping within s-1 keeps only the bits that are
		// still to be read.
		if ry == 0 {
			if rx == 1 {
				x = s - 1 - (x & (s - 1))
				y = s - 1 - (y & (s - 1))
			}
			x, y = y, x
		}
	}
	return d
}
