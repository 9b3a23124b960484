// Package steering is the decision chain shared by the DNS server and (later)
// the steering API: given what is known of a client — its ECS subnet, its
// resolver's address — and a record's chain of steps, it picks the PoP to
// answer with, says which step decided, and computes the ECS scope of that
// decision.
//
// The chain is ECS subnet map → resolver-address map → GeoIP nearest PoP →
// the record's default (anycast) answer, in the order the record configures.
// PoPs that are drained or down, or that have no address of the queried
// family, are skipped in favour of the next ranked label; when a map's
// labels are all unusable the next step decides.
//
// Scope: the returned scope is the shortest prefix of the client subnet over
// which the whole chain gives the same decision. A map hit contributes its
// map scope; a map miss contributes the scope of the "no entry" block (every
// client in it falls through the same way); a geo decision contributes the
// GeoIP database network; steps that use only the resolver address
// contribute nothing. Without client information (no ECS, or ECS source /0)
// the scope is 0.
//
// A Chain is immutable and safe for concurrent use; Decide does not allocate
// except to fill the geo cache for a location seen the first time. The
// package exports no metrics.
package steering

import (
	"net/netip"
	"sync"

	"github.com/steer-gslb/steer/config"
	"github.com/steer-gslb/steer/geoip"
	"github.com/steer-gslb/steer/popmap"
)

// Source says which step decided. Its string is the query log's "source".
type Source uint8

// Sources of a decision.
const (
	SourceNone Source = iota // nothing decided (no default configured)
	SourceECS
	SourceResolver
	SourceGeo
	SourceDefault
	NumSources
)

var sourceNames = [...]string{"none", "ecs", "resolver", "geo", "default"}

func (s Source) String() string { return sourceNames[s] }

// Family selects the answer's address family: FamilyV4 for A, FamilyV6 for AAAA.
type Family uint8

// Address families of answers.
const (
	FamilyV4 Family = 0
	FamilyV6 Family = 1
)

// Decision is the outcome of Decide.
type Decision struct {
	PoP    int // index into the PoP list given to NewChain; -1 when not a PoP
	Source Source
	Scope  int
}

// Client is what the server knows about who asks.
type Client struct {
	// ECS is the client subnet from the query's ECS option; valid only when
	// the query carried one with a non-zero source prefix.
	ECS netip.Prefix
	// Resolver is the address the query came from.
	Resolver netip.Addr
}

// PoPs is the shared, immutable view of the configured PoPs.
type PoPs struct {
	list   []config.PoP
	usable [2][]bool // per family
	index  map[popmap.Label]int
	sites  [2][]geoip.Site
	idx    [2][]int // site i of family f is PoP idx[f][i]
}

// NewPoPs indexes the configured PoPs.
func NewPoPs(list []config.PoP) *PoPs {
	p := &PoPs{list: list, index: make(map[popmap.Label]int, len(list))}
	for f := range 2 {
		p.usable[f] = make([]bool, len(list))
	}
	for i, pop := range list {
		p.index[pop.Label] = i
		up := pop.State == config.StateUp || pop.State == ""
		p.usable[FamilyV4][i] = up && len(pop.IPv4) > 0
		p.usable[FamilyV6][i] = up && len(pop.IPv6) > 0
		for f := range 2 {
			if p.usable[f][i] {
				p.sites[f] = append(p.sites[f], geoip.Site{Label: pop.Label, Lat: pop.Lat, Lon: pop.Lon})
				p.idx[f] = append(p.idx[f], i)
			}
		}
	}
	return p
}

// List returns the PoPs in config order.
func (p *PoPs) List() []config.PoP { return p.list }

// Usable reports whether PoP i can be answered for family f.
func (p *PoPs) Usable(f Family, i int) bool { return p.usable[f][i] }

// firstUsable returns the index of the first usable PoP of labels, or -1.
func (p *PoPs) firstUsable(f Family, labels []popmap.Label) int {
	for _, l := range labels {
		if i, ok := p.index[l]; ok && p.usable[f][i] {
			return i
		}
	}
	return -1
}

// Geo picks the nearest usable PoP to a GeoIP location, with a cache per
// location (city-level databases have a bounded number of them).
type Geo struct {
	db    *geoip.DB
	pops  *PoPs
	cache [2]sync.Map // [2]float64 → int
}

// NewGeo returns a geo step over db; db may be nil (the step never decides).
func NewGeo(db *geoip.DB, pops *PoPs) *Geo { return &Geo{db: db, pops: pops} }

// Nearest returns the nearest usable PoP for addr and the GeoIP network that
// located it (or the "no location" network; invalid if unknown).
func (g *Geo) Nearest(f Family, addr netip.Addr) (int, netip.Prefix) {
	if g == nil || g.db == nil {
		return -1, netip.Prefix{}
	}
	loc, pfx, ok := g.db.Locate(addr)
	if !ok || len(g.pops.sites[f]) == 0 {
		return -1, pfx
	}
	key := [2]float64{loc.Lat, loc.Lon}
	if v, ok := g.cache[f].Load(key); ok {
		return v.(int), pfx
	}
	best, bestD := -1, 0.0
	for i, s := range g.pops.sites[f] {
		d := geoip.Distance(loc.Lat, loc.Lon, s.Lat, s.Lon)
		if best < 0 || d < bestD || (d == bestD && s.Label < g.pops.sites[f][best].Label) {
			best, bestD = i, d
		}
	}
	pop := g.pops.idx[f][best]
	g.cache[f].Store(key, pop)
	return pop, pfx
}

// Chain is one record's compiled decision chain.
type Chain struct {
	steps      []config.Step
	ecs, res   *popmap.Table
	ecsPick    [2][]int32 // per family, per answer index: PoP or -1
	resPick    [2][]int32
	geo        *Geo
	hasDefault [2]bool
}

// NewChain compiles a record's chain. ecs and res may be nil when the
// record's steps do not use them; geo may be nil.
func NewChain(steps []config.Step, ecs, res *popmap.Table, geo *Geo, pops *PoPs, def config.Addrs) *Chain {
	c := &Chain{steps: steps, ecs: ecs, res: res, geo: geo}
	pick := func(t *popmap.Table) [2][]int32 {
		var out [2][]int32
		if t == nil {
			return out
		}
		for f := range 2 {
			out[f] = make([]int32, t.NumAnswers())
			for i := range out[f] {
				out[f][i] = int32(pops.firstUsable(Family(f), t.Answer(i)))
			}
		}
		return out
	}
	c.ecsPick, c.resPick = pick(ecs), pick(res)
	c.hasDefault = [2]bool{len(def.IPv4) > 0, len(def.IPv6) > 0}
	return c
}

// Decide runs the chain for a client and answer family.
func (c *Chain) Decide(f Family, cl Client) Decision {
	var mapped bool
	cl.ECS, mapped = Unmap(cl.ECS)
	d := c.decide(f, cl)
	// A source longer than the cap had its extra bits ignored: the decision
	// holds for the whole capped network, so say no more than that.
	if cl.ECS.IsValid() && cl.ECS.Bits() > capBits(cl.ECS) {
		d.Scope = min(d.Scope, capBits(cl.ECS))
	}
	if mapped && cl.ECS.Bits() > 0 {
		d.Scope += 96 // the query spoke of ::ffff:a.b.c.d/n: answer in its terms
	}
	return d
}

func (c *Chain) decide(f Family, cl Client) Decision {
	clientInfo := cl.ECS.IsValid() && cl.ECS.Bits() > 0
	scope := 0
	for _, step := range c.steps {
		switch step {
		case config.StepECS:
			if !clientInfo || c.ecs == nil {
				continue
			}
			id, s := c.ecs.LookupPrefixIndex(cl.ECS)
			scope = max(scope, s)
			if p := c.ecsPick[f][id]; p >= 0 {
				return Decision{PoP: int(p), Source: SourceECS, Scope: scope}
			}
		case config.StepResolver:
			if c.res == nil {
				continue
			}
			id, _ := c.res.LookupIndex(cl.Resolver)
			if p := c.resPick[f][id]; p >= 0 {
				return Decision{PoP: int(p), Source: SourceResolver, Scope: scope}
			}
		case config.StepGeo:
			if c.geo == nil || c.geo.db == nil {
				continue // no GeoIP database: the step decides nothing and narrows nothing
			}
			addr := cl.Resolver
			if clientInfo {
				addr = capped(cl.ECS)
			}
			p, pfx := c.geo.Nearest(f, addr)
			if clientInfo {
				if pfx.IsValid() {
					scope = max(scope, pfx.Bits())
				} else {
					scope = max(scope, capBits(cl.ECS))
				}
			}
			if p >= 0 {
				return Decision{PoP: p, Source: SourceGeo, Scope: scope}
			}
		case config.StepDefault:
			if c.hasDefault[f] {
				return Decision{PoP: -1, Source: SourceDefault, Scope: scope}
			}
		}
	}
	return Decision{PoP: -1, Source: SourceNone, Scope: scope}
}

// Unmap turns a v4-mapped IPv6 ECS prefix (::ffff:a.b.c.d/n, n ≥ 96) into
// the IPv4 prefix it denotes, which is how maps and GeoIP look it up.
func Unmap(p netip.Prefix) (netip.Prefix, bool) {
	if !p.IsValid() || !p.Addr().Is4In6() || p.Bits() < 96 {
		return p, false
	}
	return netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96), true
}

func capBits(p netip.Prefix) int {
	if p.Addr().Is4() {
		return min(p.Bits(), popmap.MaxSource4)
	}
	return min(p.Bits(), popmap.MaxSource6)
}

// CapECS is what a server may keep of an ECS source prefix: v4-mapped
// prefixes as IPv4 (Unmap), capped at /24 (IPv4) or /56 (IPv6), masked.
// Lookups, the geo step and the query log all use this form.
func CapECS(p netip.Prefix) netip.Prefix {
	p, _ = Unmap(p)
	q, _ := p.Addr().Prefix(capBits(p))
	return q
}

// capped is the network address of p capped at /24 or /56.
func capped(p netip.Prefix) netip.Addr { return CapECS(p).Addr() }
