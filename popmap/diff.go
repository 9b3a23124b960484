package popmap

import (
	"math"
	"math/big"
	"net/netip"
	"slices"
)

// Change is a block of address space whose answer differs between two maps.
type Change struct {
	Prefix   netip.Prefix
	Old, New []Label
}

// DiffSummary counts what changed between two maps.
type DiffSummary struct {
	// Changed24 and Changed56 are the changed IPv4 space in /24s and the
	// changed IPv6 space in /56s.
	Changed24, Changed56 float64
	// Blocks is the number of CIDR blocks in the change list.
	Blocks int
}

// Diff compares the answers of a and b over the whole address space and
// returns the differing ranges as maximal CIDR blocks in address order, at
// most limit of them (all when limit ≤ 0), and a summary over everything.
func Diff(a, b *Table, limit int) ([]Change, DiffSummary) {
	var out []Change
	var sum DiffSummary
	emit := func(from, to u128, width int, oa, ob uint32) {
		size := rangeSize(from, to)
		if width == 32 {
			sum.Changed24 += size / 256
		} else {
			sum.Changed56 += size / math.Exp2(72)
		}
		for _, p := range rangeToPrefixes(from, to, width) {
			sum.Blocks++
			if limit <= 0 || len(out) < limit {
				out = append(out, Change{p, a.answers[oa], b.answers[ob]})
			}
		}
	}
	diffRuns(a.runs4(), b.runs4(), 32, func(f, t u128, oa, ob uint32) {
		if !slices.Equal(a.answers[oa], b.answers[ob]) {
			emit(f, t, 32, oa, ob)
		}
	})
	diffRuns(a.runs6(), b.runs6(), 128, func(f, t u128, oa, ob uint32) {
		if !slices.Equal(a.answers[oa], b.answers[ob]) {
			emit(f, t, 128, oa, ob)
		}
	})
	return out, sum
}

func (t *Table) runs4() []run {
	r := make([]run, len(t.v4.starts))
	for i := range r {
		r[i] = run{u128{0, uint64(t.v4.starts[i])}, t.v4.ans[i]}
	}
	return r
}

func (t *Table) runs6() []run {
	r := make([]run, len(t.v6.hi))
	for i := range r {
		r[i] = run{u128{t.v6.hi[i], t.v6.lo[i]}, t.v6.ans[i]}
	}
	return r
}

// diffRuns walks two run lists (both starting at 0) and calls f for each
// maximal range where neither list changes answer.
func diffRuns(ra, rb []run, width int, f func(from, to u128, a, b uint32)) {
	maxAddr := u128{0, 1<<32 - 1}
	if width == 128 {
		maxAddr = u128{^uint64(0), ^uint64(0)}
	}
	i, j := 0, 0
	pos := u128{}
	for {
		// The range ends just before the next run start in either list.
		next, more := u128{}, false
		if i+1 < len(ra) {
			next, more = ra[i+1].start, true
		}
		if j+1 < len(rb) && (!more || rb[j+1].start.less(next)) {
			next, more = rb[j+1].start, true
		}
		if !more {
			f(pos, maxAddr, ra[i].ans, rb[j].ans)
			return
		}
		f(pos, next.sub1(), ra[i].ans, rb[j].ans)
		pos = next
		if i+1 < len(ra) && ra[i+1].start == pos {
			i++
		}
		if j+1 < len(rb) && rb[j+1].start == pos {
			j++
		}
	}
}

func rangeSize(from, to u128) float64 {
	var f, t big.Int
	f.SetUint64(from.hi).Lsh(&f, 64).Or(&f, new(big.Int).SetUint64(from.lo))
	t.SetUint64(to.hi).Lsh(&t, 64).Or(&t, new(big.Int).SetUint64(to.lo))
	t.Sub(&t, &f)
	v, _ := new(big.Float).SetInt(&t).Float64()
	return v + 1
}

// rangeToPrefixes splits [from, to] into the fewest aligned CIDR blocks.
func rangeToPrefixes(from, to u128, width int) []netip.Prefix {
	var out []netip.Prefix
	for {
		// Largest block aligned at from that does not pass to.
		bitsN := width
		for bitsN > 0 {
			m := hostMask(bitsN-1, width)
			if from.and(m) != (u128{}) || to.less(from.or(m)) {
				break
			}
			bitsN--
		}
		out = append(out, prefixOf(from, bitsN, width))
		end := from.or(hostMask(bitsN, width))
		if !end.less(to) {
			return out
		}
		from, _ = end.add1()
	}
}

func (a u128) and(b u128) u128 { return u128{a.hi & b.hi, a.lo & b.lo} }

// LabelStats is the share of a map held by one first-choice label.
type LabelStats struct {
	Label Label
	// Networks is the number of map networks whose first choice it is.
	Networks int
	// Space24 and Space56: first-choice address space in IPv4 /24s and
	// IPv6 /56s, after longest-prefix resolution.
	Space24, Space56 float64
}

// Stats describes a map for `steer map stats`.
type Stats struct {
	Version        int64
	Entries        int
	Networks4      int
	Networks6      int
	Runs4, Runs6   int
	Answers        int
	TableBytes     int
	Covered24      float64 // IPv4 space with an answer, in /24s
	Covered56      float64 // IPv6 space with an answer, in /56s
	ByFirst        []LabelStats
	PrefixLengths4 map[int]int
	PrefixLengths6 map[int]int
}

// Stats computes Stats for m compiled as t.
func (t *Table) Stats(m *Map) Stats {
	s := Stats{Version: t.meta.Version, Entries: t.entries, Networks4: t.nets4, Networks6: t.nets6,
		Answers: len(t.answers) - 1, TableBytes: t.Bytes(), PrefixLengths4: map[int]int{}, PrefixLengths6: map[int]int{}}
	s.Runs4, s.Runs6 = t.Runs()
	by := map[Label]*LabelStats{}
	get := func(l Label) *LabelStats {
		if by[l] == nil {
			by[l] = &LabelStats{Label: l}
		}
		return by[l]
	}
	for _, e := range m.Entries {
		for _, p := range e.Networks {
			get(e.Labels[0]).Networks++
			if p.Addr().Is4() {
				s.PrefixLengths4[p.Bits()]++
			} else {
				s.PrefixLengths6[p.Bits()]++
			}
		}
	}
	space := func(rs []run, width int, unit float64, add func(*LabelStats, float64), cov *float64) {
		maxAddr := u128{0, 1<<32 - 1}
		if width == 128 {
			maxAddr = u128{^uint64(0), ^uint64(0)}
		}
		for i, r := range rs {
			if r.ans == NoAnswer {
				continue
			}
			end := maxAddr
			if i+1 < len(rs) {
				end = rs[i+1].start.sub1()
			}
			sz := rangeSize(r.start, end) / unit
			*cov += sz
			add(get(t.answers[r.ans][0]), sz)
		}
	}
	space(t.runs4(), 32, 256, func(l *LabelStats, v float64) { l.Space24 += v }, &s.Covered24)
	space(t.runs6(), 128, math.Exp2(72), func(l *LabelStats, v float64) { l.Space56 += v }, &s.Covered56)
	for _, l := range by {
		s.ByFirst = append(s.ByFirst, *l)
	}
	slices.SortFunc(s.ByFirst, func(a, b LabelStats) int {
		if a.Space24 != b.Space24 {
			if a.Space24 > b.Space24 {
				return -1
			}
			return 1
		}
		if a.Label < b.Label {
			return -1
		}
		if a.Label > b.Label {
			return 1
		}
		return 0
	})
	return s
}
