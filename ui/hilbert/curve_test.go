package hilbert

import (
	"math/rand/v2"
	"testing"
)

// Points worked out by hand from the curve's recursive definition: the
// start at the top left, the end at the top right, the four first /24s in
// the top-left 2×2 square (an even order, so 0→1 runs along the top row),
// and the quarters of the address space in the order top left, bottom left,
// bottom right, top right.
var xyTests = []struct {
	name string
	d    uint32
	x, y uint32
}{
	{"0.0.0.0", 0, 0, 0},
	{"0.0.1.0", 1, 1, 0},
	{"0.0.2.0", 2, 1, 1},
	{"0.0.3.0", 3, 0, 1},
	{"0.0.4.0", 4, 0, 2},   // the second 2×2 square is below the first
	{"0.0.15.0", 15, 3, 0}, // 0.0.0.0/20 is the top-left 4×4 square, ending top right
	{"255.255.255.0", Cells - 1, Side - 1, 0},
	// The bottom quarters run like the whole curve, from their top left to
	// their top right; the top-right one is entered from below.
	{"64.0.0.0", 64 << 16, 0, Side / 2},
	{"127.255.255.0", 128<<16 - 1, Side/2 - 1, Side / 2},
	{"128.0.0.0", 128 << 16, Side / 2, Side / 2},
	{"192.0.0.0", 192 << 16, Side - 1, Side/2 - 1},
	// 0/8 starts at the top left, so it ends at its top right, next to the
	// first /24 of 1/8.
	{"0.255.255.0", 1<<16 - 1, 255, 0},
	{"1.0.0.0", 1 << 16, 256, 0},
}

func TestXYKnownPoints(t *testing.T) {
	for _, tt := range xyTests {
		x, y := XY(tt.d)
		if x != tt.x || y != tt.y {
			t.Errorf("XY(%s = %d) = (%d, %d), want (%d, %d)", tt.name, tt.d, x, y, tt.x, tt.y)
		}
		if d := D(tt.x, tt.y); d != tt.d {
			t.Errorf("D(%d, %d) = %d, want %d (%s)", tt.x, tt.y, d, tt.d, tt.name)
		}
	}
}

// TestXKCDLayout: each /8 fills the 256×256 block where xkcd's "Map of the
// Internet" (xkcd.com/195) draws it; its top two rows of /8s, as printed.
func TestXKCDLayout(t *testing.T) {
	rows := [2][16]uint32{
		{0, 1, 14, 15, 16, 19, 20, 21, 234, 235, 236, 239, 240, 241, 254, 255},
		{3, 2, 13, 12, 17, 18, 23, 22, 233, 232, 237, 238, 243, 242, 253, 252},
	}
	r := rand.New(rand.NewPCG(1, 2))
	for row, slash8s := range rows {
		for col, a := range slash8s {
			for range 64 {
				d := a<<16 | r.Uint32N(1<<16)
				x, y := XY(d)
				if int(x/256) != col || int(y/256) != row {
					t.Fatalf("XY(%d.%d.%d.0) = (%d, %d): outside %d/8's block (%d, %d)", d>>16, d>>8&255, d&255, x, y, a, col, row)
				}
			}
		}
	}
}

func TestXYRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	n := 1 << 20
	if testing.Short() {
		n = 1 << 14
	}
	for range n {
		d := r.Uint32N(Cells)
		x, y := XY(d)
		if x >= Side || y >= Side {
			t.Fatalf("XY(%d) = (%d, %d): outside the square", d, x, y)
		}
		if got := D(x, y); got != d {
			t.Fatalf("D(XY(%d)) = D(%d, %d) = %d", d, x, y, got)
		}
	}
	// Bits above the 24th are ignored.
	x, y := XY(1<<24 | 5)
	if x0, y0 := XY(5); x != x0 || y != y0 {
		t.Errorf("XY(1<<24|5) = (%d, %d), want XY(5) = (%d, %d)", x, y, x0, y0)
	}
}

// TestCurveAdjacent: consecutive /24s are neighbouring cells (one step
// left, right, up or down), over whole /16s at the start, middle and end of
// the space and over random pairs elsewhere.
func TestCurveAdjacent(t *testing.T) {
	check := func(d uint32) {
		x0, y0 := XY(d)
		x1, y1 := XY(d + 1)
		dx, dy := int(x1)-int(x0), int(y1)-int(y0)
		if dx*dx+dy*dy != 1 {
			t.Fatalf("XY(%d) = (%d, %d) and XY(%d) = (%d, %d) are not adjacent", d, x0, y0, d+1, x1, y1)
		}
	}
	for _, start := range []uint32{0, 127 << 16, Cells - 1<<16} {
		for d := start; d < start+1<<16-1; d++ {
			check(d)
		}
	}
	r := rand.New(rand.NewPCG(5, 6))
	for range 1 << 18 {
		check(r.Uint32N(Cells - 1))
	}
}

// TestCurveBijection: the curve visits every cell of a whole /8's block once.
func TestCurveBijection(t *testing.T) {
	seen := make([]bool, Cells)
	for d := uint32(10 << 16); d < 11<<16; d++ {
		x, y := XY(d)
		if seen[y<<Order|x] {
			t.Fatalf("XY(%d) = (%d, %d) visited twice", d, x, y)
		}
		seen[y<<Order|x] = true
	}
}

// xyRef is the standard iterative d2xy (Wikipedia, "Hilbert curve") for the
// order-12 curve, bottom up, one level at a time: the reference for XY's
// table walk.
func xyRef(d uint32) (x, y uint32) {
	for s := uint32(1); s < Side; s <<= 1 {
		rx := 1 & (d >> 1)
		ry := 1 & (d ^ rx)
		if ry == 0 {
			if rx == 1 {
				x = s - 1 - x
				y = s - 1 - y
			}
			x, y = y, x
		}
		x += s * rx
		y += s * ry
		d >>= 2
	}
	return x, y
}

// TestXYMatchesReference checks XY against the reference algorithm at every
// distance (all 2^24; a stride of them with -short or -race).
func TestXYMatchesReference(t *testing.T) {
	step := uint32(1)
	if testing.Short() || raceEnabled {
		step = 257
	}
	for d := uint32(0); d < Cells; d += step {
		x, y := XY(d)
		if rx, ry := xyRef(d); x != rx || y != ry {
			t.Fatalf("XY(%d) = (%d, %d), reference (%d, %d)", d, x, y, rx, ry)
		}
	}
}
