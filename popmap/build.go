package popmap

import (
	"fmt"
	"math/bits"
	"slices"

	"github.com/steer-gslb/steer/internal/hugemem"
)

// tableBuilder collects a map's networks as packed keys and turns them into
// a Table. Compile feeds it from a Map, LoadTable straight from JSON. All it
// holds is pointer-free (integers and slices of integers), so a garbage
// collection during a build has nothing to scan, and the build's garbage is
// a few large blocks instead of a million prefixes.
type tableBuilder struct {
	t      *Table
	intern map[string]uint32 // label list (each label + NUL) → answer index
	items4 []uint64          // start<<32 | bits<<26 | answer
	items6 []item
}

// maxAnswers bounds the distinct label lists: an IPv4 key has 26 bits for
// the answer index.
const maxAnswers = 1 << 26

func newTableBuilder(meta Meta, entries, hint4 int) *tableBuilder {
	return &tableBuilder{
		t:      &Table{meta: meta, answers: [][]Label{nil}, answerEntry: []int32{-1}, entries: entries},
		intern: make(map[string]uint32),
		items4: hugemem.Make[uint64](hint4)[:0],
	}
}

// answer returns the index of the label list encoded in key (each label
// followed by a NUL byte), adding it, first seen in entry, when it is new.
func (b *tableBuilder) answer(key []byte, entry int) (uint32, error) {
	if id, ok := b.intern[string(key)]; ok {
		return id, nil
	}
	id := uint32(len(b.t.answers))
	if id >= maxAnswers {
		return 0, fmt.Errorf("map[%d]: more than %d distinct label lists", entry, maxAnswers-1)
	}
	b.intern[string(key)] = id
	var ls []Label
	for len(key) > 0 {
		i := 0
		for key[i] != 0 {
			i++
		}
		ls = append(ls, Label(key[:i]))
		key = key[i+1:]
	}
	b.t.answers = append(b.t.answers, ls)
	b.t.answerEntry = append(b.t.answerEntry, int32(min(entry, 1<<31-1)))
	return id, nil
}

// add4 adds the IPv4 network v/n (host bits clear) with answer ans.
func (b *tableBuilder) add4(v uint32, n int, ans uint32) {
	b.items4 = append(b.items4, uint64(v)<<32|uint64(n)<<26|uint64(ans))
}

// add6 adds the IPv6 network start/n (host bits clear) with answer ans.
func (b *tableBuilder) add6(start u128, n int, ans uint32) {
	if len(b.items6) == cap(b.items6) {
		// Doubling: append grows large slices by a quarter, which for
		// a few hundred thousand networks allocates five times the end
		// size on the way.
		b.items6 = slices.Grow(b.items6, max(len(b.items6), 1024))
	}
	b.items6 = append(b.items6, item{start: start, bits: uint8(n), ans: ans})
}

// setAnswer gives answer ans to the networks added since len(items4) was
// from4 and len(items6) was from6, which were added with answer 0: in JSON
// an entry's labels may follow its networks.
func (b *tableBuilder) setAnswer(from4, from6 int, ans uint32) {
	for i := from4; i < len(b.items4); i++ {
		b.items4[i] |= uint64(ans)
	}
	for i := from6; i < len(b.items6); i++ {
		b.items6[i].ans = ans
	}
}

// finish sorts the networks, paints them into runs and builds the indexes.
func (b *tableBuilder) finish(o CompileOptions) (*Table, error) {
	t := b.t
	t.nets4, t.nets6 = len(b.items4), len(b.items6)

	// The answer (low 26 bits) plays no part in the order: a tie is a
	// duplicate network, which sweep4 reports.
	radixSortBits(b.items4, 26, 64)
	var err error
	t.v4.starts, t.v4.ans, err = sweep4(b.items4)
	if err != nil {
		return nil, err
	}
	b.items4 = nil

	items6 := b.items6
	sortItems6(items6)
	t.v6.hi = hugemem.Make[uint64](2*len(items6) + 1)[:0]
	t.v6.lo = hugemem.Make[uint64](2*len(items6) + 1)[:0]
	t.v6.ans = hugemem.Make[uint32](2*len(items6) + 1)[:0]
	err = sweep(len(items6), func(i int) item { return items6[i] }, 128, func(start u128, ans uint32) {
		t.v6.hi = append(t.v6.hi, start.hi)
		t.v6.lo = append(t.v6.lo, start.lo)
		t.v6.ans = append(t.v6.ans, ans)
	})
	if err != nil {
		return nil, err
	}
	b.items6 = nil
	t.buildIndexes(o)
	return t, nil
}

// buildIndexes builds the lookup indexes over t's runs — each family's
// 16-bit index and, for a large map unless o.NoDirect or o.DeferDirect,
// the direct /24 table — as Compile and DecodeTable both leave them.
func (t *Table) buildIndexes(o CompileOptions) {
	starts4 := t.v4.starts
	t.v4.index = buildIndex(len(starts4), func(i int, x uint64) bool { return uint64(starts4[i]) <= x<<16 })
	if !o.NoDirect && len(starts4) > directMinRuns && len(t.answers) < 1<<24 {
		if o.DeferDirect {
			t.v4.deferred = true
		} else {
			t.buildDirect()
		}
	}
	hi6, lo6 := t.v6.hi, t.v6.lo
	t.v6.index = buildIndex(len(hi6), func(i int, x uint64) bool {
		return hi6[i] < x<<48 || (hi6[i] == x<<48 && lo6[i] == 0)
	})
}

// sweep4 is sweep for IPv4 keys sorted by start, then shorter first (as
// radixSortBits(keys, 26, 64) leaves them): it paints the networks over
// the address space and returns the maximal runs, the first starting at 0.
// Addresses are uint64 so that the end of the space, 1<<32, needs no
// overflow check.
func sweep4(keys []uint64) (starts, ans []uint32, err error) {
	const space = 1 << 32
	starts = hugemem.Make[uint32](2*len(keys) + 1)[:0]
	ans = hugemem.Make[uint32](2*len(keys) + 1)[:0]
	var (
		stack   [33]struct{ end, ans uint64 } // nested networks: at most one per length
		depth   int
		pos     uint64 // first address not painted yet
		last    uint64 = 1 << 63
		prevKey uint64
	)
	paint := func(from, to, a uint64) {
		if to < from || a == last {
			return
		}
		starts = append(starts, uint32(from))
		ans = append(ans, uint32(a))
		last = a
	}
	for i, k := range keys {
		if i > 0 && k>>26 == prevKey>>26 {
			return nil, nil, fmt.Errorf("duplicate network %s", prefixOf(u128{0, k >> 32}, int(k>>26&63), 32))
		}
		prevKey = k
		start := k >> 32
		end := start | (1<<(32-k>>26&63) - 1)
		for depth > 0 && stack[depth-1].end < start {
			depth--
			top := stack[depth]
			paint(pos, top.end, top.ans)
			pos = max(pos, top.end+1)
		}
		if pos < start {
			var a uint64
			if depth > 0 {
				a = stack[depth-1].ans
			}
			paint(pos, start-1, a)
			pos = start
		}
		// Sorted and duplicate-free, each key nests inside the one below
		// it on the stack, with a longer prefix: 33 slots suffice.
		stack[depth] = struct{ end, ans uint64 }{end, k & (maxAnswers - 1)}
		depth++
	}
	for depth > 0 {
		depth--
		top := stack[depth]
		if pos <= top.end {
			paint(pos, top.end, top.ans)
			pos = top.end + 1
		}
	}
	paint(pos, space-1, NoAnswer)
	return starts, ans, nil
}

// BuildDirect builds the direct /24 table that CompileOptions.DeferDirect
// left out, and reports whether it did. Lookups may run meanwhile: they
// answer the same without the table and use it once it is there. It is a
// no-op for a table that was not deferred (a small map, NoDirect, or one
// built already); concurrent calls may both build, and one table wins.
func (t *Table) BuildDirect() bool {
	if !t.DirectPending() {
		return false
	}
	t.buildDirect()
	return true
}

// DirectPending reports whether the direct /24 table was deferred
// (CompileOptions.DeferDirect) and is not built yet: BuildDirect would
// build it.
func (t *Table) DirectPending() bool { return t.v4.deferred && !t.v4.directBuilt() }

// buildDirect fills the per-/24 table from the runs: 16-bit slots when the
// answers fit in 11 bits (most maps: 32 MiB to fill and to cache instead
// of 64), else 32-bit slots.
func (t *Table) buildDirect() {
	starts, ans := t.v4.starts, t.v4.ans
	if len(t.answers) <= direct16MaxAnswers {
		t.v4.direct16.CompareAndSwap(nil, (*[1 << 24]uint16)(fillDirect[uint16](starts, ans, 5, splitMark16)))
		return
	}
	t.v4.direct32.CompareAndSwap(nil, (*[1 << 24]uint32)(fillDirect[uint32](starts, ans, 8, splitMark)))
}

// fillDirect fills a per-/24 table of answer<<shift | scope slots. The
// addresses of a run [s, e] whose scope is L are exactly those of the
// run's maximal aligned blocks of length L (the blocks of its CIDR
// decomposition): the /L block around such an address lies inside the run
// and the /(L-1) block does not. So every /24 inside a block of length
// L ≤ 24 gets scope L, and the table is filled a block at a time instead
// of computing the scope of each of its 16M slots.
func fillDirect[T uint16 | uint32](starts, ans []uint32, shift uint, split T) []T {
	d := hugemem.Make[T](1 << 24)
	n := len(starts)
	for i := range n {
		s := uint64(starts[i])
		e := uint64(1 << 32) // exclusive
		if i+1 < n {
			e = uint64(starts[i+1])
		}
		// A boundary inside a /24 splits it (the run's end is the next
		// run's start, marked in its turn).
		if s&255 != 0 {
			d[s>>8] = split
			s = (s + 255) &^ 255
		}
		e &^= 255
		v := T(ans[i]) << shift
		for s < e {
			// The largest aligned block at s that ends by e.
			k := min(bits.TrailingZeros64(s|1<<32), 63-bits.LeadingZeros64(e-s))
			fill(d[s>>8:(s+1<<k)>>8], v|T(32-k))
			s += 1 << k
		}
	}
	return d
}

// fill sets every element of d to v.
func fill[T uint16 | uint32](d []T, v T) {
	if len(d) <= 16 {
		for i := range d {
			d[i] = v
		}
		return
	}
	d[0] = v
	for n := 1; n < len(d); n *= 2 {
		copy(d[n:], d[:n])
	}
}

// sortItems6 sorts IPv6 items by start, then shorter first: a radix sort on
// the upper half of the start, then a comparison sort of each group with
// the same upper half (short: distinct networks rarely share 64 bits).
func sortItems6(items []item) {
	if len(items) < 256 {
		slices.SortFunc(items, cmpItem)
		return
	}
	buf := make([]item, len(items))
	src, dst := items, buf
	var counts [1 << 16]int
	for shift := uint(0); shift < 64; shift += 16 {
		clear(counts[:])
		first := (src[0].start.hi >> shift) & 0xffff
		same := true
		for i := range src {
			d := (src[i].start.hi >> shift) & 0xffff
			counts[d]++
			same = same && d == first
		}
		if same {
			continue
		}
		sum := 0
		for i, c := range counts {
			counts[i] = sum
			sum += c
		}
		for i := range src {
			d := (src[i].start.hi >> shift) & 0xffff
			dst[counts[d]] = src[i]
			counts[d]++
		}
		src, dst = dst, src
	}
	if &src[0] != &items[0] {
		copy(items, src)
	}
	for i := 0; i < len(items); {
		j := i + 1
		for j < len(items) && items[j].start.hi == items[i].start.hi {
			j++
		}
		if j-i > 1 {
			slices.SortFunc(items[i:j], cmpItem)
		}
		i = j
	}
}

func cmpItem(a, b item) int {
	if c := a.start.cmp(b.start); c != 0 {
		return c
	}
	return int(a.bits) - int(b.bits)
}
