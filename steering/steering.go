// Package steering is the decision chain shared by the DNS server and (later)
// the steering API: given what is known of a client — its ECS subnet, its
// resolver's address — and a record's chain of steps, it picks the PoP to
// answer with, says which step decided, and computes the ECS scope of that
// decision.
//
// The chain is ECS subnet map → resolver-address map → GeoIP nearest PoP →
// the record's default (anycast) answer, in the order the record configures.
// PoPs that are drained, down or unhealthy, or that have no address of the
// queried family, are skipped in favour of the next ranked label; when a
// map's labels are all unusable the next step decides.
//
// What changes often — PoP admin state (drain, down, anycast), health and
// the load controller's moves — is an overlay on the compiled maps: a
// PoPs view (NewPoPsWith) says how each PoP may be used, and a patch table
// (Options.ECSPatch) overrides the map for the networks it covers. A new
// overlay costs one pass over the maps' distinct answers (NewChainWith),
// not a recompile, and the query path one more lookup only while a patch
// exists. A PoP in anycast state turns a decision into the record's
// anycast answer (Decision.Anycast) for the networks whose first usable
// choice it is. When health leaves no PoP of a family usable, the chain
// fails open (decides with Options.Open, the view without health) or
// closed (the default answer).
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
	PoP    int // index into the PoP list given to NewPoPs(With); -1 when not a PoP
	Source Source
	Scope  int
	// Anycast: the deciding step chose a PoP in anycast state; answer the
	// record's default (anycast) addresses.
	Anycast bool
}

// Client is what the server knows about who asks.
type Client struct {
	// ECS is the client subnet from the query's ECS option; valid only when
	// the query carried one with a non-zero source prefix.
	ECS netip.Prefix
	// Resolver is the address the query came from.
	Resolver netip.Addr
}

// Use is how the chain treats a PoP when it comes up in a ranking.
type Use uint8

// Uses of a PoP.
const (
	// UseOK: answer the PoP's addresses.
	UseOK Use = iota
	// UseSkip: drained, down, unhealthy or without an address of the
	// family: try the next ranked PoP.
	UseSkip
	// UseAnycast: the PoP is being emptied through anycast (hybrid
	// unicast/anycast): the networks whose first choice it is get the
	// record's default (anycast) addresses, so traffic leaves as fast as
	// BGP converges instead of as fast as caches expire.
	UseAnycast
)

// PoPs is the shared, immutable view of the configured PoPs and of how
// each may be used now (admin state, health).
type PoPs struct {
	list  []config.PoP
	use   [2][]Use // per family
	index map[popmap.Label]int
	sites [2][]geoip.Site // PoPs the geo step may pick (OK or anycast)
	idx   [2][]int        // site i of family f is PoP idx[f][i]
}

// NewPoPs indexes the configured PoPs with their configured states and no
// health information.
func NewPoPs(list []config.PoP) *PoPs {
	return NewPoPsWith(list, func(i int) (config.State, bool) { return list[i].State, true })
}

// NewPoPsWith indexes the PoPs with the state and health that state(i)
// gives for PoP i: up → usable when healthy, drain and down → skipped,
// anycast → answered with the record's anycast addresses (whatever its
// health: the anycast prefix is announced by every PoP).
func NewPoPsWith(list []config.PoP, state func(i int) (st config.State, healthy bool)) *PoPs {
	p := &PoPs{list: list, index: make(map[popmap.Label]int, len(list))}
	for f := range 2 {
		p.use[f] = make([]Use, len(list))
	}
	for i, pop := range list {
		p.index[pop.Label] = i
		st, healthy := state(i)
		u := UseSkip
		switch {
		case st == config.StateAnycast:
			u = UseAnycast
		case (st == config.StateUp || st == "") && healthy:
			u = UseOK
		}
		has := [2]bool{len(pop.IPv4) > 0, len(pop.IPv6) > 0}
		for f := range 2 {
			p.use[f][i] = UseSkip
			if has[f] {
				p.use[f][i] = u
			}
			if p.use[f][i] != UseSkip {
				p.sites[f] = append(p.sites[f], geoip.Site{Label: pop.Label, Lat: pop.Lat, Lon: pop.Lon})
				p.idx[f] = append(p.idx[f], i)
			}
		}
	}
	return p
}

// List returns the PoPs in config order.
func (p *PoPs) List() []config.PoP { return p.list }

// Usable reports whether PoP i's own addresses can be answered for family f.
func (p *PoPs) Usable(f Family, i int) bool { return p.use[f][i] == UseOK }

// Use returns how PoP i is used for family f.
func (p *PoPs) Use(f Family, i int) Use { return p.use[f][i] }

// Index returns the index of the PoP labelled l.
func (p *PoPs) Index(l popmap.Label) (int, bool) {
	i, ok := p.index[l]
	return i, ok
}

// anyUsable reports whether some PoP can be answered (OK or anycast) for f.
func (p *PoPs) anyUsable(f Family) bool { return len(p.sites[f]) > 0 }

// pickAnycast is a pick meaning "answer the record's anycast addresses".
const pickAnycast = -2

// firstUsable returns the index of the first PoP of labels that is not
// skipped, pickAnycast when that PoP is in anycast state, or -1.
func (p *PoPs) firstUsable(f Family, labels []popmap.Label) int {
	for _, l := range labels {
		if i, ok := p.index[l]; ok {
			switch p.use[f][i] {
			case UseOK:
				return i
			case UseAnycast:
				return pickAnycast
			}
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

// Nearest returns the nearest usable PoP for addr (pickAnycast when that
// PoP is in anycast state) and the GeoIP network that located it (or the
// "no location" network; invalid if unknown).
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
	if g.pops.use[f][pop] == UseAnycast {
		pop = pickAnycast
	}
	g.cache[f].Store(key, pop)
	return pop, pfx
}

// Chain is one record's compiled decision chain.
type Chain struct {
	steps    []config.Step
	ecs, res *popmap.Table
	// ecsPatch and resPatch override ecs and res where they have an entry
	// (load moves); nil = none.
	ecsPatch, resPatch *popmap.Table
	// Picks per family, per answer index: PoP, -1 (none usable) or
	// pickAnycast.
	ecsPick, resPick           [2][]int32
	ecsPatchPick, resPatchPick [2][]int32
	geo                        [2]*Geo
	hasDefault                 [2]bool
	// closed[f]: every PoP of family f is unusable and the record fails
	// closed: answer the default addresses.
	closed [2]bool
}

// Options are the parts of a chain beyond the map and the PoPs.
type Options struct {
	// ECSPatch and ResolverPatch are override maps (load moves): where one
	// has an entry for the client, its answer replaces the map's.
	ECSPatch, ResolverPatch *popmap.Table
	// Open is the view of the PoPs without health information, used for a
	// family in which health leaves no PoP usable, unless FailClosed. Nil:
	// the chain's own view is used (nothing to fall back to).
	Open *PoPs
	// FailClosed answers the record's default (anycast) addresses when no
	// PoP of the family is usable, instead of ignoring health (fail open).
	FailClosed bool
	// GeoDB is the GeoIP database of the geo step; nil = no geo step.
	GeoDB *geoip.DB
}

// NewChainWith compiles a record's chain over the PoP view pops. It costs
// one pass over the distinct answers of the maps (not a recompile of the
// maps), so a new PoP state is applied by building new chains.
func NewChainWith(steps []config.Step, ecs, res *popmap.Table, pops *PoPs, def config.Addrs, opt Options) *Chain {
	c := &Chain{steps: steps, ecs: ecs, res: res, ecsPatch: opt.ECSPatch, resPatch: opt.ResolverPatch}
	c.hasDefault = [2]bool{len(def.IPv4) > 0, len(def.IPv6) > 0}
	var views [2]*PoPs
	for f := range 2 {
		views[f] = pops
		if !pops.anyUsable(Family(f)) {
			if opt.FailClosed {
				c.closed[f] = true
			} else if opt.Open != nil {
				views[f] = opt.Open
			}
		}
		if opt.GeoDB != nil {
			c.geo[f] = NewGeo(opt.GeoDB, views[f])
		}
	}
	pick := func(t *popmap.Table) [2][]int32 {
		var out [2][]int32
		if t == nil {
			return out
		}
		for f := range 2 {
			out[f] = make([]int32, t.NumAnswers())
			for i := range out[f] {
				out[f][i] = int32(views[f].firstUsable(Family(f), t.Answer(i)))
			}
		}
		return out
	}
	c.ecsPick, c.resPick = pick(ecs), pick(res)
	c.ecsPatchPick, c.resPatchPick = pick(c.ecsPatch), pick(c.resPatch)
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

// picked turns a pick into a decision.
func picked(p int32, src Source, scope int) Decision {
	if p == pickAnycast {
		return Decision{PoP: -1, Source: src, Scope: scope, Anycast: true}
	}
	return Decision{PoP: int(p), Source: src, Scope: scope}
}

func (c *Chain) decide(f Family, cl Client) Decision {
	clientInfo := cl.ECS.IsValid() && cl.ECS.Bits() > 0
	scope := 0
	if c.closed[f] {
		if c.hasDefault[f] {
			return Decision{PoP: -1, Source: SourceDefault}
		}
		return Decision{PoP: -1, Source: SourceNone}
	}
	for _, step := range c.steps {
		switch step {
		case config.StepECS:
			if !clientInfo || c.ecs == nil {
				continue
			}
			id, s := c.ecs.LookupPrefixIndex(cl.ECS)
			scope = max(scope, s)
			p := c.ecsPick[f][id]
			if c.ecsPatch != nil {
				// The combined answer is uniform where both are: over the
				// longer of the two scopes.
				pid, ps := c.ecsPatch.LookupPrefixIndex(cl.ECS)
				scope = max(scope, ps)
				if pid != popmap.NoAnswer {
					p = c.ecsPatchPick[f][pid]
				}
			}
			if p != -1 {
				return picked(p, SourceECS, scope)
			}
		case config.StepResolver:
			if c.res == nil {
				continue
			}
			id, _ := c.res.LookupIndex(cl.Resolver)
			p := c.resPick[f][id]
			if c.resPatch != nil {
				if pid, _ := c.resPatch.LookupIndex(cl.Resolver); pid != popmap.NoAnswer {
					p = c.resPatchPick[f][pid]
				}
			}
			if p != -1 {
				return picked(p, SourceResolver, scope)
			}
		case config.StepGeo:
			g := c.geo[f]
			if g == nil || g.db == nil {
				continue // no GeoIP database: the step decides nothing and narrows nothing
			}
			addr := cl.Resolver
			if clientInfo {
				addr = capped(cl.ECS)
			}
			p, pfx := g.Nearest(f, addr)
			if clientInfo {
				if pfx.IsValid() {
					scope = max(scope, pfx.Bits())
				} else {
					scope = max(scope, capBits(cl.ECS))
				}
			}
			if p != -1 {
				return picked(int32(p), SourceGeo, scope)
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
