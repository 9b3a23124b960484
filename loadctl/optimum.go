package loadctl

import (
	"math"
	"slices"

	"github.com/steer-gslb/steer/popmap"
)

// Optimum is a lower bound on the penalty (Σ weight × added RTT, Move's
// unit) of any set of moves that brings PoP from to its target: the
// optimum of the fractional relaxation, where networks may be split.
//
// The networks are those naturally answered at from (first usable PoP of
// their ranking; no moves). With k = load[from] / their weight, the excess
// E = load[from] − Target×Capacity must leave; network i may send any part
// x_iq ≤ w_i of its weight to a PoP q ranked after from, usable, managed,
// of known load and with both RTTs known, at cost x_iq × (RTT_iq − RTT_i,from),
// and q takes at most (Target_q×Capacity_q − load[q]) / k of weight. That
// is a transportation problem: minimise Σ c·x subject to Σ x ≥ E/k,
// Σ_q x_iq ≤ w_i, Σ_i x_iq ≤ room_q/k, x ≥ 0.
//
// Why not greedy: cheapest arc first is optimal only while no receiver's
// room binds; once one does, the network that took its room may have had
// an almost-as-cheap alternative that another network lacked, and greedy
// pays the other network's detour. So this solves it exactly as a min-cost
// flow (source → networks → receivers → sink) by successive shortest paths
// with real-valued capacities. Receivers are few (the PoPs) and networks
// many, so a path is found on the receivers alone: an edge source→q costs
// the cheapest arc into q of a network with weight left; an edge q→q'
// costs the cheapest c_iq' − c_iq of a network sending to q (re-routing
// it), by Bellman–Ford (reduced costs can be negative). Each augmentation
// exhausts a network, a receiver, a re-routed flow or the demand. Once E
// is met, paths of negative cost (moves that lower latency) are still
// taken: shedding more than E is allowed.
//
// It returns 0 when from is not over its target, +Inf when no set of
// moves can bring it there (or its load is unknown, or nothing is
// answered there), NaN when from is not among pops.
func Optimum(nets []Network, pops []PoP, load map[popmap.Label]float64, usable func(popmap.Label) bool, from popmap.Label) (penalty float64) {
	byName := map[popmap.Label]int{}
	for i, p := range pops {
		byName[p.Label] = i
	}
	fi, ok := byName[from]
	if !ok {
		return math.NaN()
	}
	use := func(l popmap.Label) bool { return usable == nil || usable(l) }
	capOf := func(p PoP) float64 {
		t := p.Target
		if t == 0 {
			t = DefaultTarget
		}
		return t * p.Capacity
	}
	lf, ok := load[from]
	if !ok || !(lf >= 0) {
		return math.Inf(1)
	}
	excess := lf - capOf(pops[fi])
	if excess <= 0 {
		return 0
	}
	// receivers: index into pops → r
	recv := map[popmap.Label]int{}
	var room []float64
	// networks at from, their arcs
	type arc struct {
		q int
		c float64
	}
	var supply []float64
	var arcs [][]arc
	wsum := 0.0
	for _, n := range nets {
		pos := -1
		for j, ch := range n.Ranked {
			if use(ch.Label) {
				pos = j
				break
			}
		}
		if pos < 0 || n.Ranked[pos].Label != from {
			continue
		}
		wsum += n.Weight
		var as []arc
		for _, ch := range n.Ranked[pos+1:] {
			pi, managed := byName[ch.Label]
			lq, known := load[ch.Label]
			c := ch.RTT - n.Ranked[pos].RTT
			if !managed || !known || !(lq >= 0) || !use(ch.Label) || math.IsNaN(c) || math.IsInf(c, 0) {
				continue
			}
			r, ok := recv[ch.Label]
			if !ok {
				r = len(room)
				recv[ch.Label] = r
				room = append(room, max(capOf(pops[pi])-lq, 0))
			}
			as = append(as, arc{r, c})
		}
		if len(as) > 0 && n.Weight > 0 {
			supply = append(supply, n.Weight)
			arcs = append(arcs, as)
		}
	}
	if wsum <= 0 {
		return math.Inf(1)
	}
	k := lf / wsum
	for r := range room {
		room[r] /= k
	}
	f := newFlow(supply, room)
	for i, as := range arcs {
		for _, a := range as {
			f.addArc(i, a.q, a.c)
		}
	}
	need, eps := excess/k, f.eps()
	cost, sent := f.solve(need)
	if sent < need*(1-1e-9)-eps {
		return math.Inf(1)
	}
	return cost
}

// flow is the transportation problem of Optimum: networks with supply,
// receivers with room, arcs network → receiver with a cost per unit.
type flow struct {
	supply []float64 // left per network
	room   []float64 // left per receiver
	off    []int     // arcs of network i: off[i]..off[i+1]
	q      []int
	c, x   []float64
	using  []int // networks with flow on some arc (for the q→q' edges)
	inUse  []bool
}

func newFlow(supply, room []float64) *flow {
	return &flow{supply: slices.Clone(supply), room: slices.Clone(room), off: []int{0}, inUse: make([]bool, len(supply))}
}

// addArc adds an arc; networks must be added in order.
func (f *flow) addArc(i, q int, c float64) {
	for len(f.off) <= i+1 {
		f.off = append(f.off, len(f.q))
	}
	f.q = append(f.q, q)
	f.c = append(f.c, c)
	f.x = append(f.x, 0)
	f.off[i+1] = len(f.q)
}

// eps is what counts as no flow: far below any network's weight.
func (f *flow) eps() float64 {
	scale := 0.0
	for _, s := range f.supply {
		scale = max(scale, s)
	}
	return 1e-12 * max(scale, 1)
}

// pred is how a receiver was reached on the shortest path: from the
// source through network i's arc a, or from receiver r re-routing network
// i from arc b to arc a.
type pred struct {
	r    int // -1: from the source
	i    int
	a, b int
}

// solve sends at least need units at least cost (then more while that
// lowers cost); it returns the cost and the flow sent.
func (f *flow) solve(need float64) (cost, sent float64) {
	nr := len(f.room)
	if nr == 0 {
		return 0, 0
	}
	for len(f.off) < len(f.supply)+1 {
		f.off = append(f.off, len(f.q))
	}
	eps := f.eps()
	dist := make([]float64, nr)
	pr := make([]pred, nr)
	// edge q→q' best via a re-routed network
	via := make([]float64, nr*nr)
	viaP := make([]pred, nr*nr)
	// every augmentation exhausts a network, a receiver, a flow or the
	// demand; the bound only guards against floating-point cycling
	for iter := 0; iter < 4*(len(f.supply)+nr)+100; iter++ {
		for r := range dist {
			dist[r] = math.Inf(1)
		}
		for i, s := range f.supply {
			if s <= eps {
				continue
			}
			for a := f.off[i]; a < f.off[i+1]; a++ {
				if f.c[a] < dist[f.q[a]] {
					dist[f.q[a]] = f.c[a]
					pr[f.q[a]] = pred{r: -1, i: i, a: a}
				}
			}
		}
		for e := range via {
			via[e] = math.Inf(1)
		}
		for _, i := range f.using {
			for b := f.off[i]; b < f.off[i+1]; b++ {
				if f.x[b] <= eps {
					continue
				}
				for a := f.off[i]; a < f.off[i+1]; a++ {
					if a == b {
						continue
					}
					e := f.q[b]*nr + f.q[a]
					if d := f.c[a] - f.c[b]; d < via[e] {
						via[e] = d
						viaP[e] = pred{r: f.q[b], i: i, a: a, b: b}
					}
				}
			}
		}
		// Bellman–Ford over the receivers
		for range nr {
			changed := false
			for r := range nr {
				if math.IsInf(dist[r], 1) {
					continue
				}
				for s := range nr {
					if d := dist[r] + via[r*nr+s]; d < dist[s]-eps {
						dist[s] = d
						pr[s] = viaP[r*nr+s]
						changed = true
					}
				}
			}
			if !changed {
				break
			}
		}
		best := -1
		for r := range nr {
			if f.room[r] > eps && !math.IsInf(dist[r], 1) && (best < 0 || dist[r] < dist[best]) {
				best = r
			}
		}
		if best < 0 || sent >= need-eps && dist[best] >= -eps {
			break
		}
		// the path, receiver back to the source, and its bottleneck
		delta := f.room[best]
		if sent < need {
			delta = min(delta, need-sent)
		}
		var path []pred
		for r, steps := best, 0; ; steps++ {
			if steps > nr {
				return cost, sent // a cycle: floating-point trouble; stop with what is sent
			}
			p := pr[r]
			path = append(path, p)
			if p.r < 0 {
				delta = min(delta, f.supply[p.i])
				break
			}
			delta = min(delta, f.x[p.b])
			r = p.r
		}
		if delta <= eps {
			break
		}
		for _, p := range path {
			f.x[p.a] += delta
			cost += delta * f.c[p.a]
			if p.r < 0 {
				f.supply[p.i] -= delta
			} else {
				f.x[p.b] -= delta
				cost -= delta * f.c[p.b]
			}
			if !f.inUse[p.i] {
				f.inUse[p.i] = true
				f.using = append(f.using, p.i)
			}
		}
		f.room[best] -= delta
		sent += delta
	}
	return cost, sent
}
