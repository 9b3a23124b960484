package builder

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"net/netip"
	"slices"
	"sort"
	"time"

	"github.com/gaissmai/bart"

	"github.com/steer-gslb/steer/bgp"
	"github.com/steer-gslb/steer/geoip"
	"github.com/steer-gslb/steer/popmap"
	"github.com/steer-gslb/steer/store"
)

// Input is what a build reads.
type Input struct {
	Store    store.Reader
	StoreDir string        // for the report
	BGP      []string      // pyasn or MRT files (compressed or not)
	GeoIP    *geoip.DB     // for the GeoIP model of extrapolation; nil: none
	GeoFile  string        // for the report
	Previous *popmap.Table // the map live now, for stability and the diff; nil: none
	PrevFile string        // for the report
	Options  Options
}

// Result is a built map with its report.
type Result struct {
	Map     *popmap.Map
	Table   *popmap.Table
	Report  *Report
	Sources *Sources // where each network of Map came from (MAP.sources.tsv)
	RTT     *RTT     // each network's weight and expected RTT per ranked PoP (MAP.rtt.tsv)
}

type route struct{ asn uint32 }

// routing is the BGP origin data: longest-prefix match and each AS's
// announced prefixes.
type routing struct {
	table *bart.Table[route]
	byAS  map[uint32][]netip.Prefix
}

func loadRouting(files []string, rep *Report) (*routing, error) {
	r := &routing{table: &bart.Table[route]{}, byAS: map[uint32][]netip.Prefix{}}
	for _, f := range files {
		moas := 0
		st, err := bgp.ReadFile(f, func(rt bgp.Route) error {
			if _, ok := r.table.Get(rt.Prefix); ok {
				moas++ // first origin wins (MOAS, or the same route from several peers)
				return nil
			}
			r.table.Insert(rt.Prefix, route{rt.ASN})
			r.byAS[rt.ASN] = append(r.byAS[rt.ASN], rt.Prefix)
			return nil
		})
		if err != nil {
			return nil, err
		}
		rep.Inputs.BGP = append(rep.Inputs.BGP, BGPInput{File: f, Format: st.Format, Routes: st.Routes, Repeated: moas, Truncated: st.Truncated})
	}
	return r, nil
}

// Build builds a map.
func Build(ctx context.Context, in Input) (*Result, error) {
	start := time.Now()
	opt := in.Options
	if err := opt.Validate(); err != nil {
		return nil, err
	}
	opt.defaults()
	if opt.Skip[RuleSparsePooled] {
		opt.Prior = 0
	}
	rep := &Report{Options: opt}
	rep.Inputs.Store, rep.Inputs.GeoIP, rep.Inputs.Previous = in.StoreDir, in.GeoFile, in.PrevFile
	rt, err := loadRouting(in.BGP, rep)
	if err != nil {
		return nil, err
	}
	t0 := time.Now()
	d, err := Load(ctx, in.Store, opt, TrainBeacons, opt.Percentile/100)
	if err != nil {
		return nil, err
	}
	rep.Timing.Load = time.Since(t0).Seconds()
	if len(d.PoPs) == 0 || len(d.Networks) == 0 {
		return nil, errors.New("builder: the store holds no usable samples")
	}
	cnt := d.Counts
	if opt.Recent > 0 && !opt.Skip[RuleRecentShift] {
		t0 := time.Now()
		if _, err := recentShifts(ctx, in.Store, opt, d, rt.table, &cnt); err != nil {
			return nil, fmt.Errorf("builder: reading the recent window: %w", err)
		}
		rep.Timing.Load += time.Since(t0).Seconds()
	}
	rep.Inputs.Beacons, rep.Inputs.Samples, rep.Inputs.Networks = d.Beacons, d.Samples, len(d.Networks)
	rep.PoPs = d.PoPs

	t0 = time.Now()
	join, err := loadJoin(ctx, in.Store, opt, TrainBeacons, &cnt)
	if err != nil {
		return nil, err
	}
	rep.Inputs.Queries, rep.Inputs.Resolvers = join.queries, len(join.resolvers)
	rep.Timing.Join = time.Since(t0).Seconds()

	t0 = time.Now()
	e := ownEstimates(d, d.Quantile)
	d.dropSamples() // the estimates are all the rest needs: free 8 bytes a sample
	pool(d, e, rt.table, opt.Prior, opt.MinSamples, &cnt)
	rep.Timing.Estimate = time.Since(t0).Seconds()

	t0 = time.Now()
	b := &mapBuilder{d: d, e: e, opt: &opt, rt: rt, prev: in.Previous, cnt: &cnt, join: join, geo: in.GeoIP}
	b.rankNetworks()
	b.rankResolvers()
	b.capacity()
	if err := b.extrapolate(); err != nil {
		return nil, err
	}
	m, src, rtt := b.emit()
	b.extrapolatedWeights(rtt)
	tab, err := popmap.Compile(m)
	if err != nil {
		return nil, fmt.Errorf("builder: the built map does not compile: %w", err)
	}
	rep.Timing.Select = time.Since(t0).Seconds()

	rep.fill(b, m, tab, in.Previous, cnt)
	rep.Timing.Total = time.Since(start).Seconds()
	return &Result{Map: m, Table: tab, Report: rep, Sources: src, RTT: rtt}, nil
}

// mapBuilder turns estimates into map entries.
type mapBuilder struct {
	d    *Data
	e    *estimates
	opt  *Options
	rt   *routing
	prev *popmap.Table
	cnt  *Counts
	join *joinData
	geo  *geoip.DB

	ranked [][]int32 // per network: PoP indexes, best first; nil = no entry
	weight []float64 // per network: traffic weight (beacons)
	res    []resolverEntry

	entries   []entry             // extrapolated entries
	ruleSpace map[Rule]*RuleSpace // address space each extrapolation rule mapped
}

type entry struct {
	pfx    netip.Prefix
	ranked []int32
	rule   Rule
	est    []float32 // the group's estimate at each ranked PoP
}

type resolverEntry struct {
	addr   netip.Addr
	ranked []int32
	ecs    bool
	est    []float32 // the clients' weighted mean estimate at each ranked PoP
	weight float64   // the joined clients' beacons
}

// rank orders the PoPs by a latency row, best first, keeping at most n
// with a finite value.
func rank(row []float32, n int) []int32 {
	idx := make([]int32, 0, len(row))
	for p, v := range row {
		if !math.IsInf(float64(v), 0) && !math.IsNaN(float64(v)) {
			idx = append(idx, int32(p))
		}
	}
	sort.SliceStable(idx, func(a, b int) bool { return row[idx[a]] < row[idx[b]] })
	return slices.Clone(idx[:min(n, len(idx))]) // not the whole row's capacity: 1.4M of them at 100M samples
}

// keep applies the stability rule: when the previous map's first choice
// for key is within the margin of the new best, it stays first.
func (b *mapBuilder) keep(ranked []int32, row []float32, prevLabels []popmap.Label) []int32 {
	if len(ranked) == 0 || len(prevLabels) == 0 || b.opt.Skip[RuleStability] {
		return ranked
	}
	i, ok := slices.BinarySearch(b.d.PoPs, prevLabels[0])
	if !ok || int32(i) == ranked[0] {
		return ranked
	}
	cur, best := float64(row[i]), float64(row[ranked[0]])
	if math.IsInf(cur, 0) || math.IsNaN(cur) {
		return ranked
	}
	if best < cur-b.opt.MarginMs && best < cur*(1-b.opt.MarginPct/100) {
		return ranked // clearly better: move
	}
	b.cnt.add(RuleStability, 1)
	out := []int32{int32(i)}
	for _, p := range ranked {
		if p != int32(i) {
			out = append(out, p)
		}
	}
	return out[:min(len(out), b.opt.Labels)]
}

func (b *mapBuilder) rankNetworks() {
	b.ranked = make([][]int32, len(b.d.Networks))
	b.weight = make([]float64, len(b.d.Networks))
	for i := range b.d.Networks {
		n := &b.d.Networks[i]
		b.weight[i] = float64(n.Beacons)
		if math.IsNaN(float64(b.e.level[i])) {
			continue // no sample at any PoP (only anycast)
		}
		row := b.e.row(i)
		r := rank(row, b.opt.Labels)
		if b.prev != nil {
			prevLabels, _ := b.prev.LookupPrefix(n.Prefix)
			r = b.keep(r, row, prevLabels)
		}
		b.ranked[i] = r
	}
}

// rankResolvers chooses each resolver's PoPs for its whole client
// population: the PoP with the lowest traffic-weighted mean estimate over
// the client networks the join found.
func (b *mapBuilder) rankResolvers() {
	idx := map[uint64]int{}
	for i := range b.d.Networks {
		idx[b.d.Networks[i].Key] = i
	}
	np := len(b.d.PoPs)
	sum := make([]float64, np)
	addrs := make([]netip.Addr, 0, len(b.join.resolvers))
	for a := range b.join.resolvers {
		addrs = append(addrs, a)
	}
	slices.SortFunc(addrs, netip.Addr.Compare)
	for _, a := range addrs {
		r := b.join.resolvers[a]
		clear(sum)
		w, clients := 0.0, 0
		for _, c := range r.clients {
			i, ok := idx[c.network]
			if !ok || b.ranked[i] == nil {
				continue
			}
			row := b.e.row(i)
			for p := range sum {
				sum[p] += c.weight * float64(row[p])
			}
			w += c.weight
			clients++
		}
		if clients == 0 {
			continue
		}
		row := make([]float32, np)
		for p := range row {
			row[p] = float32(sum[p] / w)
		}
		ranked := rank(row, b.opt.Labels)
		if b.prev != nil {
			prevLabels, _ := b.prev.Lookup(a)
			ranked = b.keep(ranked, row, prevLabels)
		}
		est := make([]float32, len(ranked))
		for j, p := range ranked {
			est[j] = row[p]
		}
		b.res = append(b.res, resolverEntry{addr: a, ranked: ranked, ecs: r.ecsShare() >= 0.5, est: est, weight: w})
	}
}

// capacity enforces Options.Capacity: while a PoP is the first choice of
// more than its share of the measured client networks' traffic (by beacon
// weight), the networks with the cheapest detour move to their next-ranked
// PoP that has room. Resolver entries are not capped.
func (b *mapBuilder) capacity() {
	if len(b.opt.Capacity) == 0 || b.opt.Skip[RuleCapacity] {
		return
	}
	np := len(b.d.PoPs)
	capOf := make([]float64, np)
	for p, l := range b.d.PoPs {
		capOf[p] = math.Inf(1)
		if c, ok := b.opt.Capacity[l]; ok {
			capOf[p] = c
		}
	}
	type unit struct {
		ranked *[]int32
		row    []float32
		w      float64
	}
	var units []unit
	total := 0.0
	for i := range b.ranked {
		if len(b.ranked[i]) > 0 {
			units = append(units, unit{&b.ranked[i], b.e.row(i), b.weight[i]})
			total += b.weight[i]
		}
	}
	for range 2 * np {
		load := make([]float64, np)
		for _, u := range units {
			load[(*u.ranked)[0]] += u.w
		}
		over := -1
		for p := range load {
			if load[p] > capOf[p]*total+1e-9 && (over < 0 || load[p]/capOf[p] > load[over]/capOf[over]) {
				over = p
			}
		}
		if over < 0 {
			return
		}
		// candidates: units at over with a next PoP that has room, by detour
		type cand struct {
			u      int
			to     int32
			detour float64
		}
		var cs []cand
		for k, u := range units {
			r := *u.ranked
			if r[0] != int32(over) {
				continue
			}
			for _, p := range r[1:] {
				if load[p]+u.w <= capOf[p]*total {
					cs = append(cs, cand{k, p, float64(u.row[p] - u.row[r[0]])})
					break
				}
			}
		}
		sort.SliceStable(cs, func(x, y int) bool { return cs[x].detour < cs[y].detour })
		moved := false
		for _, c := range cs {
			if load[over] <= capOf[over]*total {
				break
			}
			u := units[c.u]
			if load[c.to]+u.w > capOf[c.to]*total {
				continue
			}
			r := *u.ranked
			nr := []int32{c.to}
			for _, p := range r {
				if p != c.to {
					nr = append(nr, p)
				}
			}
			*u.ranked = nr
			load[over] -= u.w
			load[c.to] += u.w
			b.cnt.add(RuleCapacity, 1)
			moved = true
		}
		if !moved {
			return // nothing can move: every alternative is full
		}
	}
}

// labels converts PoP indexes to labels.
func (b *mapBuilder) labels(r []int32) []popmap.Label {
	out := make([]popmap.Label, len(r))
	for i, p := range r {
		out[i] = b.d.PoPs[p]
	}
	return out
}

// emit writes the map, one entry per distinct ranking, networks sorted,
// where each network came from, and its weight and estimates (est: at
// each PoP of r, in order).
func (b *mapBuilder) emit() (*popmap.Map, *Sources, *RTT) {
	groups := map[string]*popmap.Entry{}
	seen := map[netip.Prefix]bool{}
	src := &Sources{}
	rtt := &RTT{PoPs: b.d.PoPs, offset: []int32{0}}
	var from string
	add := func(p netip.Prefix, r []int32, est []float32, w float64, extrap bool) {
		if len(r) == 0 || seen[p] {
			return
		}
		seen[p] = true
		src.Networks = append(src.Networks, p)
		src.From = append(src.From, from)
		rtt.add(r, est, w, extrap)
		ls := b.labels(r)
		k := popmap.FormatLabels(ls)
		g := groups[k]
		if g == nil {
			g = &popmap.Entry{Labels: ls}
			groups[k] = g
		}
		g.Networks = append(g.Networks, p)
	}
	from = FromMeasured
	var est []float32
	for i, r := range b.ranked {
		est = est[:0]
		row := b.e.row(i)
		for _, p := range r {
			est = append(est, row[p])
		}
		add(b.d.Networks[i].Prefix, r, est, b.weight[i], false)
	}
	from = FromResolver
	for _, r := range b.res {
		add(netip.PrefixFrom(r.addr, r.addr.BitLen()), r.ranked, r.est, r.weight, false)
	}
	for _, e := range b.entries {
		from = e.rule
		add(e.pfx, e.ranked, e.est, 0, true) // weighed by extrapolatedWeights
	}
	m := &popmap.Map{}
	for _, k := range slices.Sorted(maps.Keys(groups)) {
		g := groups[k]
		slices.SortFunc(g.Networks, comparePrefixes)
		m.Entries = append(m.Entries, *g)
	}
	rtt.Networks = src.Networks
	return m, src, rtt
}

// joinData is resolver ↔ client networks from the DNS test join.
type joinData struct {
	queries   int
	resolvers map[netip.Addr]*resolverClients
}

type resolverClients struct {
	clients   []client
	ecs, plan float64 // beacons whose first query carried ECS, all beacons
}

type client struct {
	network uint64
	weight  float64
}

func (r *resolverClients) ecsShare() float64 {
	if r.plan == 0 {
		return 0
	}
	return r.ecs / r.plan
}

// loadJoin joins the beacons' DNS test names with the query log
// (store.Reader.JoinDNS): the first query for a name gives its resolver
// (and whether it carried ECS); later ones are counted as duplicates
// (retries, prefetches).
func loadJoin(ctx context.Context, st store.Reader, opt Options, split Split, cnt *Counts) (*joinData, error) {
	sj, err := st.JoinDNS(ctx, opt.clean(split))
	if err != nil {
		return nil, fmt.Errorf("builder: joining DNS tests with the query log: %w", err)
	}
	j := &joinData{resolvers: map[netip.Addr]*resolverClients{}, queries: int(sj.Queries)}
	if !opt.Skip[RuleDNSDuplicate] {
		cnt.add(RuleDNSDuplicate, int(sj.Queries-sj.Names))
	}
	var joined int64
	for _, rc := range sj.Rows {
		joined += rc.N
		r := j.resolvers[rc.Resolver]
		if r == nil {
			r = &resolverClients{}
			j.resolvers[rc.Resolver] = r
		}
		r.clients = append(r.clients, client{rc.Network, float64(rc.N)})
		r.ecs += float64(rc.ECS)
		r.plan += float64(rc.N)
	}
	cnt.add(RuleDNSUnjoined, int(max(sj.Tests-joined, 0)))
	return j, nil
}
