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
// whose own map entry exists). The per-network view is also split by where
// each answer came from (Result.Classes), next to the geo map and to
// per-GeoIP-block oracles. The truth file is streamed twice; memory is per
// resolver, per GeoIP block and per PoP, not per network.
package mapeval

import (
	"cmp"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"strings"

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
	// Source names where the map entry answering a network came from (the
	// builder's MAP.sources.tsv: the source of the network's longest match);
	// nil names every entry "map".
	Source func(netip.Prefix) string
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
	// Classes splits the per-network view finer: networks with beacons
	// (ClassMeasured), then those without by the Source of the map entry
	// that answers them, then those no entry answers (ClassFallback).
	Classes []Class

	Latency, Weight []float32 // with Input.KeepPerNetwork
}

// Class is one kind of network in the per-network view, scored as the map
// serves it, as the geo map would, and as two block oracles would. Each
// oracle gives every network of a GeoIP block one PoP, chosen knowing the
// true latencies of every network in the block: Oracle picks the best for
// the block's traffic; OracleEqual the best with every network counted
// equally, as a builder must when, as in the simulator, beacons do not
// follow traffic. Any extrapolation knows nothing finer than a network's
// block, prefix and AS about a network that sends no beacons, so Oracle's
// regret is a floor for it (both are 0 without a GeoIP database).
type Class struct {
	Name                          string
	Map, Geo, Oracle, OracleEqual Score
	// MapOnce and OracleEqualOnce are the mean regret (ms) of the map and
	// of OracleEqual with every network counted once: the measure
	// OracleEqual minimizes in each block.
	MapOnce, OracleEqualOnce float64
}

// Extrapolation is the classes of networks without beacons that a map
// entry answers (every class but ClassMeasured and ClassFallback) taken
// together: extrapolation judged against the block oracles on the same
// networks, as issue #20 asks (its bar: Regret at most 1.2× OracleEqual).
type Extrapolation struct {
	Networks int     `json:"networks"`
	Traffic  float64 `json:"traffic"`
	// traffic-weighted mean regret, ms: the map, Oracle, OracleEqual
	Regret      float64 `json:"regret_ms"`
	Oracle      float64 `json:"oracle_regret_ms"`
	OracleEqual float64 `json:"oracle_equal_regret_ms"`
	// the same with every network counted once: the map, OracleEqual
	RegretOnce      float64 `json:"regret_once_ms"`
	OracleEqualOnce float64 `json:"oracle_equal_regret_once_ms"`
}

// Extrapolated sums the classes of networks without beacons that a map
// entry answers; the zero Extrapolation when there are none.
func Extrapolated(classes []Class) Extrapolation {
	var e Extrapolation
	for _, c := range classes {
		if c.Name == ClassMeasured || c.Name == ClassFallback {
			continue
		}
		n, w := float64(c.Map.Networks), c.Map.Traffic
		e.Networks += c.Map.Networks
		e.Traffic += w
		e.Regret += c.Map.Regret * w
		e.Oracle += c.Oracle.Regret * w
		e.OracleEqual += c.OracleEqual.Regret * w
		e.RegretOnce += c.MapOnce * n
		e.OracleEqualOnce += c.OracleEqualOnce * n
	}
	if e.Traffic > 0 {
		e.Regret /= e.Traffic
		e.Oracle /= e.Traffic
		e.OracleEqual /= e.Traffic
	}
	if e.Networks > 0 {
		e.RegretOnce /= float64(e.Networks)
		e.OracleEqualOnce /= float64(e.Networks)
	}
	return e
}

// Ratio is the map's regret over OracleEqual's, traffic-weighted and with
// every network counted once; ok is false when OracleEqual's is under
// NoRatioBelow in either (no networks, or every block's networks agree):
// over an oracle regret that prints as 0.00 ms any ratio is meaningless.
func (e Extrapolation) Ratio() (weighted, once float64, ok bool) {
	if e.OracleEqual < NoRatioBelow || e.OracleEqualOnce < NoRatioBelow {
		return 0, 0, false
	}
	return e.Regret / e.OracleEqual, e.RegretOnce / e.OracleEqualOnce, true
}

// NoRatioBelow is the oracle regret (ms) under which Ratio gives none.
const NoRatioBelow = 0.005

// Class names besides the sources.
const (
	ClassMeasured = "measured (beacons)"
	ClassFallback = "no entry (fallback)"
)

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
	blocks := map[netip.Prefix][]float64{}
	blocksEq := map[netip.Prefix][]float64{}
	// pass 1: per-resolver and per-GeoIP-block latency sums, for the best
	// achievable per resolver and the block oracle
	if _, err := sim.ReadTruth(in.Truth, func(h *sim.TruthHeader, t *sim.TruthRecord) error {
		if err := e.header(h); err != nil {
			return err
		}
		if in.Geo != nil {
			blk := blockOf(in.Geo, t.Network)
			addLatencies(blocks, blk, t, t.Weight, q)
			addLatencies(blocksEq, blk, t, 1, q)
		}
		if !t.ResolverECS {
			addLatencies(e.resolvers, t.Resolver, t, t.Weight, q)
		}
		return nil
	}); err != nil {
		return nil, err
	}
	bestFor := argmins(e.resolvers)
	bestInBlock, bestInBlockEq := argmins(blocks), argmins(blocksEq)
	// pass 2: score
	var pn, bpn, sv, bsv, meas, extra, fb wstats.Scorer
	classes := map[string]*classScorer{}
	var lat32, w32 []float32
	if _, err := sim.ReadTruth(in.Truth, func(_ *sim.TruthHeader, t *sim.TruthRecord) error {
		bestP := t.Best(q)
		best := t.Quantile(bestP, q)
		lat := func(p int) float64 { return t.Quantile(p, q) }

		p, covered := e.decide(t.Network, t.Network.Addr(), t.Anycast)
		pn.Add(t.Weight, lat(p), best, covered)
		bpn.Add(t.Weight, best, best, true)
		class := ClassMeasured
		switch {
		case t.Measured:
			meas.Add(t.Weight, lat(p), best, covered)
		case covered:
			extra.Add(t.Weight, lat(p), best, covered)
			class = "map"
			if in.Source != nil {
				class = in.Source(t.Network)
			}
		default:
			fb.Add(t.Weight, lat(p), best, covered)
			class = ClassFallback
		}
		c := classes[class]
		if c == nil {
			c = &classScorer{}
			classes[class] = c
		}
		c.s[0].Add(t.Weight, lat(p), best, covered)
		geoP := e.geoOnly(t.Network.Addr(), t.Anycast)
		c.s[1].Add(t.Weight, lat(geoP), best, false)
		oracleP, oracleEqP := bestP, bestP
		if in.Geo != nil {
			blk := blockOf(in.Geo, t.Network)
			oracleP, oracleEqP = bestInBlock[blk], bestInBlockEq[blk]
		}
		c.s[2].Add(t.Weight, lat(oracleP), best, true)
		c.s[3].Add(t.Weight, lat(oracleEqP), best, true)
		c.once[0] += lat(p) - best
		c.once[1] += lat(oracleEqP) - best
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
		Measured: meas.Score(), Extrapolated: extra.Score(), Fallback: fb.Score(), Classes: sortClasses(classes),
		Latency: lat32, Weight: w32}, nil
}

// addLatencies adds a network's latency row, times w, to sums[k].
func addLatencies[K comparable](sums map[K][]float64, k K, t *sim.TruthRecord, w, q float64) {
	s := sums[k]
	if s == nil {
		s = make([]float64, len(t.Base))
		sums[k] = s
	}
	for p := range s {
		s[p] += w * t.Quantile(p, q)
	}
}

// argmins is the index of each row's least sum.
func argmins[K comparable](sums map[K][]float64) map[K]int {
	out := make(map[K]int, len(sums))
	for k, s := range sums {
		b := 0
		for p := range s {
			if s[p] < s[b] {
				b = p
			}
		}
		out[k] = b
	}
	return out
}

// blockOf is a network's GeoIP block (the network itself where the
// database has none).
func blockOf(geo *geoip.DB, n netip.Prefix) netip.Prefix {
	if _, blk, ok := geo.Locate(n.Addr()); ok || blk.IsValid() {
		return blk
	}
	return n
}

// classScorer accumulates a Class: the map, geo, Oracle and OracleEqual
// scores, and the map's and OracleEqual's regret sums with every network
// counted once.
type classScorer struct {
	s    [4]wstats.Scorer
	once [2]float64
}

// sortClasses orders classes: measured, the sources by name, then the
// fallback.
func sortClasses(m map[string]*classScorer) []Class {
	rank := func(name string) int {
		switch name {
		case ClassMeasured:
			return 0
		case ClassFallback:
			return 2
		}
		return 1
	}
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	slices.SortFunc(names, func(a, b string) int {
		if c := cmp.Compare(rank(a), rank(b)); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	out := make([]Class, len(names))
	for i, n := range names {
		c := m[n]
		out[i] = Class{Name: n, Map: c.s[0].Score(), Geo: c.s[1].Score(), Oracle: c.s[2].Score(), OracleEqual: c.s[3].Score()}
		if k := float64(out[i].Map.Networks); k > 0 {
			out[i].MapOnce, out[i].OracleEqualOnce = c.once[0]/k, c.once[1]/k
		}
	}
	return out
}

type evaluator struct {
	in        Input
	q         float64
	h         *sim.TruthHeader
	ch, geo   *Chooser
	resolvers map[netip.Addr][]float64
}

func (e *evaluator) header(h *sim.TruthHeader) error {
	if e.h != nil {
		return nil
	}
	e.h = h
	labels := make([]popmap.Label, len(h.PoPs))
	sites := make([]geoip.Site, 0, len(h.PoPs))
	for i, p := range h.PoPs {
		labels[i] = p.Label
		if !slices.Contains(h.Closed, p.Label) { // a PoP not open yet (a timed world's period) is no geo answer
			sites = append(sites, geoip.Site{Label: p.Label, Lat: p.Lat, Lon: p.Lon})
		}
	}
	e.ch = NewChooser(e.in.Map, e.in.Geo, sites, labels)
	e.geo = NewChooser(nil, e.in.Geo, sites, labels)
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

// geoOnly is the geo map's choice: the PoP nearest the GeoIP location,
// else anycast.
func (e *evaluator) geoOnly(addr netip.Addr, anycast int) int {
	if p, _ := e.geo.Choose(netip.Prefix{}, addr); p >= 0 {
		return p
	}
	return anycast
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
