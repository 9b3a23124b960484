package builder

import (
	"math"
	"net/netip"
	"slices"
	"sort"

	"github.com/gaissmai/bart"

	"github.com/steer-gslb/steer/geoip"
)

// group pools the measured networks of an AS, an announced prefix or a
// place: which first choices they have, and their weighted latency rows.
type group struct {
	first map[int32]int
	sum   []float64
	w     float64
	n     int
}

func (g *group) add(b *mapBuilder, i int) {
	if g.sum == nil {
		g.sum = make([]float64, len(b.d.PoPs))
		g.first = map[int32]int{}
	}
	g.first[b.ranked[i][0]]++
	w := b.weight[i]
	row := b.e.row(i)
	for p := range g.sum {
		g.sum[p] += w * float64(row[p])
	}
	g.w += w
	g.n++
}

// agreed returns the one first choice every member has.
func (g *group) agreed() (int32, bool) {
	if len(g.first) != 1 {
		return 0, false
	}
	for p := range g.first {
		return p, true
	}
	return 0, false
}

// ranking orders PoPs by the group's mean latency, with first (if ≥ 0)
// forced to the front.
func (g *group) ranking(first int32, n int) []int32 {
	row := make([]float32, len(g.sum))
	for p := range row {
		row[p] = float32(g.sum[p] / g.w)
	}
	r := rank(row, len(row))
	if first >= 0 {
		out := []int32{first}
		for _, p := range r {
			if p != first {
				out = append(out, p)
			}
		}
		r = out
	}
	if len(r) > n {
		r = r[:n]
	}
	return r
}

func getGroup[K comparable](m map[K]*group, k K) *group {
	g := m[k]
	if g == nil {
		g = &group{}
		m[k] = g
	}
	return g
}

// place is a GeoIP location rounded to 0.01° (about 1 km): the databases
// give a city one point, so this is "the same city".
type place struct{ lat, lon int32 }

func placeOf(l geoip.Location) place {
	return place{int32(math.Round(l.Lat * 100)), int32(math.Round(l.Lon * 100))}
}

type asPlace struct {
	asn uint32
	at  place
}

type asCountry struct {
	asn     uint32
	country string
}

// extrapolate maps unmeasured address space: DESIGN.md's two rules (an AS
// whose measured networks all agree; else an announced prefix whose
// networks agree), then, with a GeoIP database, every remaining database
// block by the measured networks of its AS at its place (else of its AS in
// its country, else of any AS at its place).
func (b *mapBuilder) extrapolate() error {
	byAS := map[uint32]*group{}
	byPfx := map[netip.Prefix]*group{}
	for i, r := range b.ranked {
		if len(r) == 0 {
			continue
		}
		p := b.d.Networks[i].Prefix
		if _, rt, ok := b.rt.table.LookupPrefixLPM(p); ok {
			getGroup(byAS, rt.asn).add(b, i)
		}
		for s := range b.rt.table.Supernets(p) {
			getGroup(byPfx, s).add(b, i)
		}
	}
	ruled := &bart.Table[struct{}]{}
	b.ruleSpace = map[Rule]float64{}
	addEntry := func(p netip.Prefix, r []int32, rule Rule) {
		b.entries = append(b.entries, entry{p, r, rule})
		b.extrapolated = append(b.extrapolated, p)
		b.cnt.add(rule, 1)
		b.ruleSpace[rule] += space(p)
	}
	if !b.opt.Skip[RuleExtrapolateAS] {
		asns := make([]uint32, 0, len(byAS))
		for a := range byAS {
			asns = append(asns, a)
		}
		slices.Sort(asns)
		for _, a := range asns {
			g := byAS[a]
			first, ok := g.agreed()
			if !ok || g.n < b.opt.MinAgree {
				continue
			}
			r := g.ranking(first, b.opt.Labels)
			for _, p := range b.rt.byAS[a] {
				addEntry(p, r, RuleExtrapolateAS)
				ruled.Insert(p, struct{}{})
			}
		}
	}
	if !b.opt.Skip[RuleExtrapolatePfx] {
		pfxs := make([]netip.Prefix, 0, len(byPfx))
		for p := range byPfx {
			pfxs = append(pfxs, p)
		}
		sortPrefixes(pfxs)
		for _, p := range pfxs {
			if _, ok := ruled.Get(p); ok {
				continue
			}
			g := byPfx[p]
			first, ok := g.agreed()
			if !ok || g.n < b.opt.MinAgree {
				continue
			}
			addEntry(p, g.ranking(first, b.opt.Labels), RuleExtrapolatePfx)
			ruled.Insert(p, struct{}{})
		}
	}
	if b.geo == nil || b.opt.Skip[RuleExtrapolateGeo] {
		return nil
	}
	// the GeoIP model
	atAS := map[asPlace]*group{}
	inCountry := map[asCountry]*group{}
	atPlace := map[place]*group{}
	for i, r := range b.ranked {
		if len(r) == 0 {
			continue
		}
		p := b.d.Networks[i].Prefix
		loc, _, ok := b.geo.Locate(p.Addr())
		if !ok {
			continue
		}
		var asn uint32
		if _, rt, ok := b.rt.table.LookupPrefixLPM(p); ok {
			asn = rt.asn
		}
		pl := placeOf(loc)
		getGroup(atAS, asPlace{asn, pl}).add(b, i)
		getGroup(inCountry, asCountry{asn, loc.Country}).add(b, i)
		getGroup(atPlace, pl).add(b, i)
	}
	return b.geo.Networks(func(blk netip.Prefix, loc geoip.Location) error {
		if blk.Addr().Is4() && blk.Bits() > 24 || !blk.Addr().Is4() && blk.Bits() > 56 {
			return nil // finer than a client network
		}
		if _, _, ok := ruled.LookupPrefixLPM(blk); ok {
			return nil // an agreement rule covers it
		}
		var asn uint32
		if _, rt, ok := b.rt.table.LookupPrefixLPM(blk); ok {
			asn = rt.asn
		}
		pl := placeOf(loc)
		for _, g := range []*group{atAS[asPlace{asn, pl}], inCountry[asCountry{asn, loc.Country}], atPlace[pl]} {
			if g != nil && g.n > 0 {
				addEntry(blk, g.ranking(-1, b.opt.Labels), RuleExtrapolateGeo)
				return nil
			}
		}
		return nil
	})
}

// space is a prefix's size in /24s (IPv4) or /56s (IPv6).
func space(p netip.Prefix) float64 {
	if p.Addr().Is4() {
		return math.Exp2(float64(24 - p.Bits()))
	}
	return math.Exp2(float64(56 - p.Bits()))
}

func sortPrefixes(ps []netip.Prefix) {
	sort.Slice(ps, func(i, j int) bool {
		if c := ps[i].Addr().Compare(ps[j].Addr()); c != 0 {
			return c < 0
		}
		return ps[i].Bits() < ps[j].Bits()
	})
}
