package hilbert

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"net/netip"
	"testing"
)

// naiveSet is the reference for Set: every /24 of p, one by one through XY.
func naiveSet(cells []byte, p netip.Prefix, c uint8) {
	p = p.Masked()
	a := p.Addr().As4()
	d := uint32(a[0])<<16 | uint32(a[1])<<8 | uint32(a[2])
	n := uint32(1)
	if p.Bits() < 24 {
		n = 1 << (24 - p.Bits())
	}
	for i := d; i < d+n; i++ {
		x, y := XY(i)
		cells[y<<Order|x] = c
	}
}

func randPrefix(r *rand.Rand, minBits, maxBits int) netip.Prefix {
	var a [4]byte
	for i := range a {
		a[i] = byte(r.Uint32())
	}
	return netip.PrefixFrom(netip.AddrFrom4(a), minBits+r.IntN(maxBits-minBits+1))
}

// TestGridSetMatchesNaive: filling a prefix's squares gives exactly the
// cells of its /24s, for every length (odd ones are two squares) and for
// prefixes with host bits set.
func TestGridSetMatchesNaive(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	g := NewGrid()
	want := make([]byte, Cells)
	for i := range 300 {
		p := randPrefix(r, 6, 32)
		if i < 33 {
			p = randPrefix(r, i, i) // every length at least once
		}
		if p.Bits() < 6 {
			continue // a /0../5 would cover everything else
		}
		c := uint8(1 + r.IntN(250))
		if !g.Set(p, c) {
			t.Fatalf("Set(%s) = false", p)
		}
		naiveSet(want, p, c)
	}
	if !bytes.Equal(g.cells, want) {
		for i := range want {
			if g.cells[i] != want[i] {
				x, y := i%Side, i/Side
				t.Fatalf("cell (%d, %d) = %s: class %d, want %d", x, y, Network(x, y), g.cells[i], want[i])
			}
		}
	}
	// And the whole space.
	g.Set(netip.MustParsePrefix("0.0.0.0/0"), 9)
	if h := histogram(g); h[9] != Cells {
		t.Fatalf("after 0.0.0.0/0: %d cells of class 9, want all", h[9])
	}
}

// histogram counts the /24s of each class.
func histogram(g *Grid) (h [256]int) {
	for i := 0; i < len(g.cells); i += 8 {
		if binary.LittleEndian.Uint64(g.cells[i:]) == 0 { // most of a test grid
			h[0] += 8
			continue
		}
		for _, v := range g.cells[i : i+8] {
			h[v]++
		}
	}
	return h
}

func count(g *Grid, c uint8) int { return histogram(g)[c] }

func TestGridKnownPrefix(t *testing.T) {
	g := NewGrid()
	g.Set(netip.MustParsePrefix("10.0.0.0/8"), 1)
	g.Set(netip.MustParsePrefix("192.0.2.0/24"), 2)
	g.Set(netip.MustParsePrefix("198.51.100.77/32"), 3)
	g.Set(netip.MustParsePrefix("203.0.113.0/25"), 4)
	g.Set(netip.MustParsePrefix("100.64.0.0/10"), 5) // odd length: two squares
	for _, tt := range []struct {
		addr string
		want uint8
	}{
		{"10.0.0.0", 1}, {"10.255.255.255", 1}, {"10.128.7.1", 1},
		{"9.255.255.255", 0}, {"11.0.0.0", 0},
		{"192.0.2.200", 2}, {"192.0.3.0", 0}, {"192.0.1.255", 0},
		{"198.51.100.1", 3}, // a /32 sets its /24
		{"203.0.113.255", 4},
		{"100.64.0.0", 5}, {"100.127.255.255", 5}, {"100.128.0.0", 0}, {"100.63.255.255", 0},
		{"2001:db8::1", 0},
	} {
		if got := g.At(netip.MustParseAddr(tt.addr)); got != tt.want {
			t.Errorf("At(%s) = %d, want %d", tt.addr, got, tt.want)
		}
	}
	h := histogram(g)
	for c, want := range map[uint8]int{1: 1 << 16, 2: 1, 3: 1, 4: 1, 5: 1 << 14} {
		if got := h[c]; got != want {
			t.Errorf("class %d covers %d /24s, want %d", c, got, want)
		}
	}
	x, y := XY(192<<16 | 0<<8 | 2)
	if got := Network(int(x), int(y)); got != netip.MustParsePrefix("192.0.2.0/24") {
		t.Errorf("Network(XY(192.0.2.0)) = %s", got)
	}
	if got := g.Cell(int(x), int(y)); got != 2 {
		t.Errorf("Cell(XY(192.0.2.0)) = %d, want 2", got)
	}
	for _, xy := range [][2]int{{-1, 0}, {0, -1}, {Side, 0}, {0, Side}} {
		if got := g.Cell(xy[0], xy[1]); got != 0 {
			t.Errorf("Cell(%d, %d) = %d outside the square", xy[0], xy[1], got)
		}
	}
}

func TestGridSetIgnores(t *testing.T) {
	g := NewGrid()
	for _, p := range []netip.Prefix{
		{},
		netip.MustParsePrefix("2001:db8::/32"),
		netip.MustParsePrefix("::ffff:10.0.0.0/104"), // IPv4-mapped: IPv6 here
	} {
		if g.Set(p, 1) {
			t.Errorf("Set(%v) = true, want ignored", p)
		}
	}
	if n := count(g, 0); n != Cells {
		t.Errorf("%d cells set by ignored prefixes", Cells-n)
	}
}

// TestBuildLongestWins: whatever the order of the entries, a longer prefix
// wins over the shorter ones it is inside; among equal ones, the later.
func TestBuildLongestWins(t *testing.T) {
	entries := []Entry{
		{netip.MustParsePrefix("10.1.2.0/24"), 3},
		{netip.MustParsePrefix("10.1.2.128/25"), 4}, // longer than /24: wins its /24
		{netip.MustParsePrefix("10.0.0.0/8"), 1},
		{netip.MustParsePrefix("2001:db8::/32"), 7},
		{netip.MustParsePrefix("10.1.9.9/16"), 2}, // host bits: 10.1.0.0/16
		{netip.MustParsePrefix("10.9.0.0/16"), 5},
		{netip.MustParsePrefix("10.9.0.0/16"), 6}, // same prefix later: wins
		{},
	}
	want := map[string]uint8{
		"10.0.0.1": 1, "10.1.0.1": 2, "10.1.2.1": 4, "10.1.3.1": 2, "10.9.0.1": 6, "11.0.0.0": 0,
	}
	check := func(name string, g *Grid) {
		t.Helper()
		for a, c := range want {
			if got := g.At(netip.MustParseAddr(a)); got != c {
				t.Errorf("%s: At(%s) = %d, want %d", name, a, got, c)
			}
		}
	}
	check("unsorted", Build(entries))
	sorted := []Entry{entries[7], entries[2], entries[4], entries[5], entries[6], entries[0], entries[1], entries[3]}
	check("sorted", Build(sorted))
	if g := Build(nil); count(g, 0) != Cells {
		t.Error("Build(nil) is not empty")
	}
}

func TestDiff(t *testing.T) {
	a, b := NewGrid(), NewGrid()
	a.Set(netip.MustParsePrefix("10.0.0.0/16"), 1) // same in b
	a.Set(netip.MustParsePrefix("10.1.0.0/16"), 1) // 2 in b
	a.Set(netip.MustParsePrefix("10.2.0.0/16"), 3) // not in b
	b.Set(netip.MustParsePrefix("10.0.0.0/16"), 1) //
	b.Set(netip.MustParsePrefix("10.1.0.0/16"), 2) //
	b.Set(netip.MustParsePrefix("10.3.0.0/16"), 4) // not in a
	b.Set(netip.MustParsePrefix("10.1.0.0/24"), 1) // a /24 that stays the same inside a changed /16
	d := Diff(a, b)
	for _, tt := range []struct {
		addr string
		want uint8
	}{
		{"10.0.5.0", DiffSame}, {"10.1.5.0", DiffChanged}, {"10.1.0.9", DiffSame},
		{"10.2.5.0", DiffOnlyA}, {"10.3.5.0", DiffOnlyB}, {"10.4.0.0", DiffNone},
	} {
		if got := d.At(netip.MustParseAddr(tt.addr)); got != tt.want {
			t.Errorf("Diff: At(%s) = %d, want %d", tt.addr, got, tt.want)
		}
	}
	h := histogram(d)
	for c, want := range map[uint8]int{DiffSame: 256 + 1, DiffChanged: 255, DiffOnlyA: 256, DiffOnlyB: 256} {
		if got := h[c]; got != want {
			t.Errorf("Diff: class %d covers %d /24s, want %d", c, got, want)
		}
	}
	if got := count(Diff(nil, b), DiffOnlyB); got != 3*256 {
		t.Errorf("Diff(nil, b): %d /24s only in b, want %d", got, 3*256)
	}
	if got := count(Diff(a, nil), DiffOnlyA); got != 3*256 {
		t.Errorf("Diff(a, nil): %d /24s only in a, want %d", got, 3*256)
	}
}

func TestSum(t *testing.T) {
	p := netip.MustParsePrefix("10.0.0.0/8")
	a, b := NewGrid(), NewGrid()
	if a.Sum() != b.Sum() || a.Sum() != (*Grid)(nil).Sum() {
		t.Fatal("empty grids hash differently")
	}
	a.Set(p, 1)
	if a.Sum() == b.Sum() {
		t.Fatal("Sum did not change after Set")
	}
	b.Set(p, 1)
	if a.Sum() != b.Sum() {
		t.Fatal("equal grids hash differently")
	}
	if Build([]Entry{{p, 1}}).Sum() != a.Sum() {
		t.Fatal("Build and Set give different sums")
	}
}
