package popmap

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"net/netip"
	"sync/atomic"
)

// Table is a compiled, immutable route map. It is safe for concurrent use
// and never changes after Compile; the DNS server swaps whole Tables.
//
// # Layout and the scope rule
//
// Compile paints the map onto each address family and keeps the result as
// a sorted list of maximal runs: contiguous address ranges whose addresses all
// get the same ranked labels (or all get none), each adjacent pair of runs
// differing. For an address x inside run [s, e] the ECS scope — the shortest L
// such that every address of x's /L gets the same answer — is then the
// shortest L whose aligned block around x stays inside [s, e]:
//
//	L = max(cpl(x, s-1)+1, cpl(x, e+1)+1)
//
// where cpl is the common-prefix length, and a side that is the end of the
// address space imposes nothing. This is exactly gdnsd's merge into the
// largest supernets with identical answers, computed at lookup time from the
// two neighbouring run boundaries instead of being stored per cell, so the
// table costs 8 bytes per IPv4 run and 20 per IPv6 run, about two runs per
// map network. A 65,536-slot index on the top 16 address bits narrows the
// binary search to a few cache lines.
//
// A longest-prefix-match structure such as github.com/gaissmai/bart answers
// "which entry matched", not "how far does the same answer extend", so it
// cannot give the scope alone; BenchmarkLookup compares the two.
type Table struct {
	meta    Meta
	answers [][]Label // answers[0] is the empty "no entry" answer
	// answerEntry[i] is the first map entry with answer i, for errors.
	answerEntry []int32
	v4          table4
	v6          table6
	nets4       int
	nets6       int
	entries     int
}

type table4 struct {
	starts []uint32
	ans    []uint32
	index  []uint32 // len 1<<16 + 1: index[b] = run holding b<<16; last = len(starts)-1
	// direct16 or direct32, for large maps, holds one slot per IPv4 /24:
	// its answer and scope when the whole /24 lies in one run (the scope
	// is then the same for every address in it), or a split mark when a
	// run boundary falls inside. ECS lookups are always at /24
	// granularity, so a large map answers them with one memory access
	// instead of a binary search (~4 cache misses); 32 MiB (64 with 2,048
	// answers or more), built only above directMinRuns. Each is set at
	// most once: by Compile or DecodeTable, or later by BuildDirect when
	// they deferred it (CompileOptions.DeferDirect), while lookups run.
	direct16 atomic.Pointer[[1 << 24]uint16] // answer<<5 | scope, or splitMark16
	direct32 atomic.Pointer[[1 << 24]uint32] // answer<<8 | scope, or splitMark
	// deferred: the direct table was left for BuildDirect.
	deferred bool
}

// directBuilt reports whether the direct /24 table is there.
func (t *table4) directBuilt() bool { return t.direct16.Load() != nil || t.direct32.Load() != nil }

// directWords is the direct table's size in 32-bit words.
func (t *table4) directWords() int {
	switch {
	case t.direct16.Load() != nil:
		return 1 << 23
	case t.direct32.Load() != nil:
		return 1 << 24
	}
	return 0
}

// splitMark16 marks a split /24 in a 16-bit slot (scopes are 0..24).
const splitMark16 = 31

// direct16MaxAnswers is the most answers 16-bit slots hold (11 bits);
// tests lower it to check the 32-bit table.
var direct16MaxAnswers = 1<<11 - 1

const splitMark = 0xff

// directMinRuns is the number of IPv4 runs above which Compile builds the
// direct /24 table; tests lower it to check both paths.
var directMinRuns = 1 << 16

type table6 struct {
	hi, lo []uint64
	ans    []uint32
	index  []uint32 // on the top 16 bits of hi, as in table4
}

// NoAnswer is the answer index of "no map entry".
const NoAnswer = 0

// Compile builds a Table from m. It reports duplicate networks, which Parse
// also rejects, for maps built in code.
func Compile(m *Map) (*Table, error) { return CompileWith(m, CompileOptions{}) }

// CompileOptions tune CompileWith.
type CompileOptions struct {
	// NoDirect skips the 64 MiB per-/24 IPv4 table that speeds lookups in
	// maps of more than directMinRuns runs: for small overlays (load-move
	// patches) compiled on a running server, where a lookup through the
	// index is fast enough and building the table is not.
	NoDirect bool
	// DeferDirect leaves that table to a later Table.BuildDirect: a DNS
	// server swaps a new map in first (its lookups are as correct without
	// it, a few cache misses slower) and builds it after, off the path
	// from a publish to the first answer from the new map.
	DeferDirect bool
}

// CompileWith is Compile with options.
func CompileWith(m *Map, o CompileOptions) (*Table, error) {
	n := 0
	for _, e := range m.Entries {
		n += len(e.Networks)
	}
	b := newTableBuilder(m.Meta, len(m.Entries), n)
	var key []byte
	for i, e := range m.Entries {
		if len(e.Labels) == 0 {
			return nil, fmt.Errorf("map[%d]: no labels", i)
		}
		key = key[:0]
		for _, l := range e.Labels {
			key = append(key, l...)
			key = append(key, 0)
		}
		id, err := b.answer(key, i)
		if err != nil {
			return nil, err
		}
		for _, p := range e.Networks {
			a := p.Addr()
			if a.Is4In6() && p.Bits() >= 96 {
				p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
				a = p.Addr()
			}
			if !p.IsValid() || p.Masked() != p {
				return nil, fmt.Errorf("map[%d]: bad network %s", i, p)
			}
			if a.Is4() {
				b.add4(binary.BigEndian.Uint32(a.AsSlice()), p.Bits(), id)
			} else {
				b.add6(u128From16(a.As16()), p.Bits(), id)
			}
		}
	}
	return b.finish(o)
}

// buildIndex returns idx with idx[b] = the last of n sorted runs that starts
// at or before the first address of 16-bit bucket b (atOrBefore(i, b)).
func buildIndex(n int, atOrBefore func(i int, b uint64) bool) []uint32 {
	idx := make([]uint32, 1<<16+1)
	r := 0
	for b := range uint64(1 << 16) {
		for r+1 < n && atOrBefore(r+1, b) {
			r++
		}
		idx[b] = uint32(r)
	}
	idx[1<<16] = uint32(n - 1)
	return idx
}

type item struct {
	start u128
	bits  uint8
	ans   uint32
}

type run struct {
	start u128
	ans   uint32
}

// sweep paints sorted items (by start, then shorter first) over an address
// space of width bits and returns the maximal runs, the first starting at 0.
func sweep(n int, items func(i int) item, width int, emit func(start u128, ans uint32)) error {
	maxAddr := u128{0, 1<<32 - 1}
	if width == 128 {
		maxAddr = u128{^uint64(0), ^uint64(0)}
	}
	type open struct {
		end u128
		ans uint32
	}
	var lastAns uint32
	emitted := false
	paint := func(from, to u128, ans uint32) {
		if to.less(from) {
			return
		}
		if emitted && lastAns == ans {
			return
		}
		emit(from, ans)
		lastAns, emitted = ans, true
	}
	var stack []open
	var pos u128
	done := false // pos ran past the end of the space
	var prev item
	for i := range n {
		it := items(i)
		if i > 0 && prev.start == it.start && prev.bits == it.bits {
			return fmt.Errorf("duplicate network %s", prefixOf(it.start, int(it.bits), width))
		}
		end := it.start.or(hostMask(int(it.bits), width))
		for len(stack) > 0 && stack[len(stack)-1].end.less(it.start) {
			top := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			paint(pos, top.end, top.ans)
			if pos.lessEq(top.end) {
				pos, _ = top.end.add1()
			}
		}
		if pos.less(it.start) {
			var ans uint32
			if len(stack) > 0 {
				ans = stack[len(stack)-1].ans
			}
			paint(pos, it.start.sub1(), ans)
			pos = it.start
		}
		stack = append(stack, open{end, it.ans})
		prev = it
	}
	for len(stack) > 0 && !done {
		top := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if pos.lessEq(top.end) {
			paint(pos, top.end, top.ans)
			var ovf bool
			pos, ovf = top.end.add1()
			done = ovf
		}
	}
	if !done {
		paint(pos, maxAddr, NoAnswer)
	}
	return nil
}

// Lookup returns the ranked labels of the longest map entry containing addr
// (nil if none) and the ECS scope: the shortest prefix length L such that
// every address in addr's /L gets the same answer. v4-mapped addresses are
// looked up as IPv4. The returned slice is shared: do not modify it.
// Lookup does not allocate.
func (t *Table) Lookup(addr netip.Addr) ([]Label, int) {
	id, scope := t.LookupIndex(addr)
	return t.answers[id], scope
}

// LookupIndex is Lookup returning the answer's index (see Answer); NoAnswer
// when no entry contains addr. Servers precompute per-answer responses.
func (t *Table) LookupIndex(addr netip.Addr) (int, int) {
	if addr.Is4() || addr.Is4In6() {
		b := addr.As16()
		return t.Lookup4(binary.BigEndian.Uint32(b[12:]))
	}
	if !addr.IsValid() {
		return NoAnswer, 0
	}
	b := addr.As16()
	return t.Lookup6(binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:]))
}

// ECS source prefixes are capped at these lengths before lookup: no finer
// client information is used or revealed (docs/DESIGN.md, "Privacy"; RFC 7871 §11.1).
const (
	MaxSource4 = 24
	MaxSource6 = 56
)

// LookupPrefixIndex is LookupPrefix returning the answer's index.
func (t *Table) LookupPrefixIndex(p netip.Prefix) (int, int) {
	a := p.Addr()
	bitsN := p.Bits()
	if a.Is4In6() {
		a = a.Unmap()
		bitsN = max(bitsN-96, 0)
	}
	capN := MaxSource6
	if a.Is4() {
		capN = MaxSource4
	}
	pfx, err := a.Prefix(min(bitsN, capN))
	if err != nil {
		return NoAnswer, 0
	}
	id, scope := t.LookupIndex(pfx.Addr())
	if bitsN > capN {
		scope = min(scope, capN)
	}
	return id, scope
}

// LookupPrefix looks up an ECS source prefix: it is capped at /24 (IPv4) or
// /56 (IPv6) and looked up at its network address. The scope may exceed the
// source length when the map is more specific (RFC 7871 §7.2.1).
//
// A source longer than the cap had its extra bits ignored, so the answer is
// the one of the whole capped network: the scope is then at most the cap,
// or a resolver would cache the capped network's answer for a smaller
// subnet the map sends elsewhere.
func (t *Table) LookupPrefix(p netip.Prefix) ([]Label, int) {
	id, scope := t.LookupPrefixIndex(p)
	return t.answers[id], scope
}

// Lookup4 looks up an IPv4 address given as a big-endian uint32.
func (t *Table) Lookup4(x uint32) (int, int) {
	if d := t.v4.direct16.Load(); d != nil {
		if v := d[x>>8]; v&31 != splitMark16 {
			return int(v >> 5), int(v & 31)
		}
	} else if d := t.v4.direct32.Load(); d != nil {
		if v := d[x>>8]; v&0xff != splitMark {
			return int(v >> 8), int(v & 0xff)
		}
	}
	s := t.v4.starts
	b := x >> 16
	lo, hi := t.v4.index[b], t.v4.index[b+1]
	for lo < hi {
		mid := (lo + hi + 1) >> 1
		if s[mid] <= x {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	i := int(lo)
	scope := 0
	if i > 0 {
		scope = bits.LeadingZeros32(x^(s[i]-1)) + 1
	}
	if i+1 < len(s) {
		scope = max(scope, bits.LeadingZeros32(x^s[i+1])+1)
	}
	return int(t.v4.ans[i]), scope
}

// Lookup6 looks up an IPv6 address given as its two big-endian halves.
func (t *Table) Lookup6(xh, xl uint64) (int, int) {
	h, l := t.v6.hi, t.v6.lo
	b := xh >> 48
	lo, hi := t.v6.index[b], t.v6.index[b+1]
	for lo < hi {
		mid := (lo + hi + 1) >> 1
		if h[mid] < xh || (h[mid] == xh && l[mid] <= xl) {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	i := int(lo)
	scope := 0
	if i > 0 {
		ph, pl := h[i], l[i]-1
		if l[i] == 0 {
			ph--
		}
		scope = cpl128(xh, xl, ph, pl) + 1
	}
	if i+1 < len(h) {
		scope = max(scope, cpl128(xh, xl, h[i+1], l[i+1])+1)
	}
	return int(t.v6.ans[i]), scope
}

func cpl128(ah, al, bh, bl uint64) int {
	if ah != bh {
		return bits.LeadingZeros64(ah ^ bh)
	}
	return 64 + bits.LeadingZeros64(al^bl)
}

// Answer returns the ranked labels of answer index i (nil for NoAnswer).
func (t *Table) Answer(i int) []Label { return t.answers[i] }

// NumAnswers is the number of distinct answers, including NoAnswer.
func (t *Table) NumAnswers() int { return len(t.answers) }

// Meta returns the map's meta object.
func (t *Table) Meta() Meta { return t.meta }

// Entries is the number of map entries compiled.
func (t *Table) Entries() int { return t.entries }

// Networks returns the number of IPv4 and IPv6 networks compiled.
func (t *Table) Networks() (v4, v6 int) { return t.nets4, t.nets6 }

// Runs returns the number of maximal same-answer runs per family: the
// "cells" of the compiled table.
func (t *Table) Runs() (v4, v6 int) { return len(t.v4.starts), len(t.v6.hi) }

// Bytes estimates the table's memory: run arrays and indexes.
func (t *Table) Bytes() int {
	n := 8*len(t.v4.starts) + 20*len(t.v6.hi) + 4*(len(t.v4.index)+len(t.v6.index)+t.v4.directWords())
	for _, a := range t.answers {
		n += 24
		for _, l := range a {
			n += 16 + len(l)
		}
	}
	return n
}

// String summarises the table for logs.
func (t *Table) String() string {
	r4, r6 := t.Runs()
	return fmt.Sprintf("map version %d: %d entries, %d+%d networks, %d+%d cells, %d answers",
		t.meta.Version, t.entries, t.nets4, t.nets6, r4, r6, len(t.answers)-1)
}
