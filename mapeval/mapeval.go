// Package mapeval scores a route map against a simulated world's ground
// truth (package sim's truth file): the core of steer eval --truth.
//
// Two views, as issue #7 asks:
//
//   - per network: each client network gets the first-ranked PoP of its
//     own map entry; a network without one falls back to the GeoIP-nearest
//     PoP (when a database is given) and then to anycast;
//   - as DNS serves it: a client whose resolver sends ECS gets its network's
//     entry; otherwise every client of a resolver gets the resolver's entry,
//     else the PoP nearest the resolver's GeoIP location, else anycast —
//     the decision chain of package steering.
//
// Each view is compared with the best achievable in it: the latency-best PoP
// per network, and, for resolvers without ECS, the one PoP that is best
// for the resolver's whole weighted client population.
//
// A network's latency at a PoP is a quantile (default: the median) of its
// true RTT distribution; scores are traffic-weighted: regret (mean extra
// latency over the best), share of traffic at its best PoP, p50/p75/p95
// over traffic (0.1 ms histograms, constant memory), and coverage (traffic
// whose own map entry exists). The truth file is streamed twice; memory
// is per resolver and per PoP, not per network.
package mapeval

import (
	"fmt"
	"math"
	"net/netip"

	"github.com/steer-gslb/steer/geoip"
	"github.com/steer-gslb/steer/internal/wstats"
	"github.com/steer-gslb/steer/popmap"
	"github.com/steer-gslb/steer/sim"
)

// Input is what to score.
type Input struct {
	Truth    string        // a world's truth.tsv.gz
	Map      *popmap.Table // the candidate map; nil scores the fallbacks alone (a geo map)
	Geo      *geoip.DB     // GeoIP fallback; nil: no geo step
	Quantile float64       // per-network latency statistic; 0 means the median
	// KeepPerNetwork keeps each network's latency and weight in the
	// per-network view (Result.Latency, Result.Weight), in truth order, to
	// compare two maps network by network.
	KeepPerNetwork bool
}

// Score is one strategy's traffic-weighted result.
type Score = wstats.Score

// Result scores both views and what is achievable in each.
type Result struct {
	PerNetwork, BestPerNetwork Score
	Served, BestServed         Score
	// The per-network view split by where the answer came from: networks
	// that send beacons (Measured), others answered by a map entry
	// (Extrapolated), and the rest (Fallback: GeoIP or anycast).
	Measured, Extrapolated, Fallback Score

	Latency, Weight []float32 // with Input.KeepPerNetwork
}

// Evaluate scores in.Map on in.Truth.
func Evaluate(in Input) (*Result, error) {
	q := in.Quantile
	if q == 0 {
		q = 0.5
	}
	if !(q > 0 && q < 1) {
		return nil, fmt.Errorf("mapeval: quantile %v not in (0, 1)", q)
	}
	e := &evaluator{in: in, q: q, resolvers: map[netip.Addr][]float64{}}
	// pass 1: per-resolver latency sums, for the best achievable per resolver
	if _, err := sim.ReadTruth(in.Truth, func(h *sim.TruthHeader, t *sim.TruthRecord) error {
		if err := e.header(h); err != nil {
			return err
		}
		if t.ResolverECS {
			return nil
		}
		sums := e.resolvers[t.Resolver]
		if sums == nil {
			sums = make([]float64, len(h.PoPs))
			e.resolvers[t.Resolver] = sums
		}
		for p := range sums {
			sums[p] += t.Weight * t.Quantile(p, q)
		}
		return nil
	}); err != nil {
		return nil, err
	}
	bestFor := map[netip.Addr]int{}
	for r, sums := range e.resolvers {
		b := 0
		for p := range sums {
			if sums[p] < sums[b] {
				b = p
			}
		}
		bestFor[r] = b
	}
	// pass 2: score
	var pn, bpn, sv, bsv, meas, extra, fb wstats.Scorer
	var lat32, w32 []float32
	if _, err := sim.ReadTruth(in.Truth, func(_ *sim.TruthHeader, t *sim.TruthRecord) error {
		bestP := t.Best(q)
		best := t.Quantile(bestP, q)
		lat := func(p int) float64 { return t.Quantile(p, q) }

		p, covered := e.decide(t.Network, t.Network.Addr(), t.Anycast)
		pn.Add(t.Weight, lat(p), best, covered)
		bpn.Add(t.Weight, best, best, true)
		switch {
		case t.Measured:
			meas.Add(t.Weight, lat(p), best, covered)
		case covered:
			extra.Add(t.Weight, lat(p), best, covered)
		default:
			fb.Add(t.Weight, lat(p), best, covered)
		}
		if in.KeepPerNetwork {
			lat32 = append(lat32, float32(lat(p)))
			w32 = append(w32, float32(t.Weight))
		}

		if t.ResolverECS {
			sv.Add(t.Weight, lat(p), best, covered)
			bsv.Add(t.Weight, best, best, true)
			return nil
		}
		rp, rcovered := e.decide(netip.Prefix{}, t.Resolver, t.Anycast)
		sv.Add(t.Weight, lat(rp), best, rcovered)
		bsv.Add(t.Weight, lat(bestFor[t.Resolver]), best, true)
		return nil
	}); err != nil {
		return nil, err
	}
	return &Result{PerNetwork: pn.Score(), BestPerNetwork: bpn.Score(), Served: sv.Score(), BestServed: bsv.Score(),
		Measured: meas.Score(), Extrapolated: extra.Score(), Fallback: fb.Score(), Latency: lat32, Weight: w32}, nil
}

type evaluator struct {
	in        Input
	q         float64
	h         *sim.TruthHeader
	ch        *Chooser
	resolvers map[netip.Addr][]float64
}

func (e *evaluator) header(h *sim.TruthHeader) error {
	if e.h != nil {
		return nil
	}
	e.h = h
	labels := make([]popmap.Label, len(h.PoPs))
	sites := make([]geoip.Site, len(h.PoPs))
	for i, p := range h.PoPs {
		labels[i] = p.Label
		sites[i] = geoip.Site{Label: p.Label, Lat: p.Lat, Lon: p.Lon}
	}
	e.ch = NewChooser(e.in.Map, e.in.Geo, sites, labels)
	return nil
}

// decide is Choose, with the network's anycast PoP when neither the map
// nor GeoIP decides.
func (e *evaluator) decide(ecs netip.Prefix, addr netip.Addr, anycast int) (pop int, fromMap bool) {
	if p, fromMap := e.ch.Choose(ecs, addr); p >= 0 {
		return p, fromMap
	}
	return anycast, false
}

// Chooser answers a query as the DNS server's steering chain does, for
// scoring: the map entry of the ECS prefix (when valid) or of the resolver
// address, else the PoP nearest the GeoIP location of what the server
// sees, else nothing (anycast). steer eval's truth and held-out scores
// both use it.
type Chooser struct {
	m     *popmap.Table
	geo   *geoip.DB
	sites []geoip.Site
	index map[popmap.Label]int
}

// NewChooser answers with map m (nil: none), the GeoIP database geo (nil:
// no geo step) and the PoP locations sites; the PoPs it returns are
// indexes into pops.
func NewChooser(m *popmap.Table, geo *geoip.DB, sites []geoip.Site, pops []popmap.Label) *Chooser {
	c := &Chooser{m: m, geo: geo, sites: sites, index: make(map[popmap.Label]int, len(pops))}
	for i, l := range pops {
		c.index[l] = i
	}
	return c
}

// Choose returns the PoP index for a query and whether a map entry gave
// it; -1 when neither the map nor GeoIP decides.
func (c *Chooser) Choose(ecs netip.Prefix, addr netip.Addr) (pop int, fromMap bool) {
	if c.m != nil {
		var labels []popmap.Label
		if ecs.IsValid() {
			labels, _ = c.m.LookupPrefix(ecs)
		} else {
			labels, _ = c.m.Lookup(addr)
		}
		for _, l := range labels {
			if p, ok := c.index[l]; ok {
				return p, true
			}
		}
	}
	if c.geo == nil || len(c.sites) == 0 {
		return -1, false
	}
	loc, _, ok := c.geo.Locate(addr)
	if !ok {
		return -1, false
	}
	best, bd := 0, math.Inf(1)
	for i, s := range c.sites {
		if d := geoip.Distance(loc.Lat, loc.Lon, s.Lat, s.Lon); d < bd {
			best, bd = i, d
		}
	}
	if p, ok := c.index[c.sites[best].Label]; ok {
		return p, false
	}
	return -1, false
}

// BlockOracle scores the best any extrapolation that decides per GeoIP
// block can do: every network gets the PoP best for its block's whole
// traffic, chosen with the truth of every network in the block. It returns
// the scores of the networks that send no beacons and of those that do: its
// regret is a floor for extrapolated entries, which know nothing finer than
// their block, prefix and AS about an unmeasured network.
func BlockOracle(truth string, geo *geoip.DB, quantile float64) (unmeasured, measured Score, err error) {
	q := quantile
	if q == 0 {
		q = 0.5
	}
	blockOf := func(t *sim.TruthRecord) netip.Prefix {
		if _, blk, ok := geo.Locate(t.Network.Addr()); ok || blk.IsValid() {
			return blk
		}
		return t.Network
	}
	sums := map[netip.Prefix][]float64{}
	if _, err := sim.ReadTruth(truth, func(h *sim.TruthHeader, t *sim.TruthRecord) error {
		b := blockOf(t)
		s := sums[b]
		if s == nil {
			s = make([]float64, len(h.PoPs))
			sums[b] = s
		}
		for p := range s {
			s[p] += t.Weight * t.Quantile(p, q)
		}
		return nil
	}); err != nil {
		return Score{}, Score{}, err
	}
	var um, m wstats.Scorer
	if _, err := sim.ReadTruth(truth, func(_ *sim.TruthHeader, t *sim.TruthRecord) error {
		s := sums[blockOf(t)]
		b := 0
		for p := range s {
			if s[p] < s[b] {
				b = p
			}
		}
		best := t.Quantile(t.Best(q), q)
		if t.Measured {
			m.Add(t.Weight, t.Quantile(b, q), best, true)
		} else {
			um.Add(t.Weight, t.Quantile(b, q), best, true)
		}
		return nil
	}); err != nil {
		return Score{}, Score{}, err
	}
	return um.Score(), m.Score(), nil
}
