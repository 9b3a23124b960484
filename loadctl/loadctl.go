package loadctl

import (
	"cmp"
	"container/heap"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"slices"

	"github.com/steer-gslb/steer/popmap"
)

// Choice is one ranked PoP of a network and the expected RTT to it.
type Choice struct {
	Label popmap.Label
	RTT   float64 // ms; NaN if unknown
}

// Network is one network of the map: its traffic weight and its ranked
// PoPs, best first (MAP.rtt.tsv, package rttfile, has exactly this).
type Network struct {
	Prefix netip.Prefix
	Weight float64
	Ranked []Choice
}

// PoP is a PoP the controller manages.
type PoP struct {
	Label    popmap.Label
	Capacity float64 // absolute units, e.g. req/s; the measured load is in the same units
	Target   float64 // utilization fraction above which networks move away (0: 0.8)
}

// Options tune the controller. The zero value of a field means its default.
type Options struct {
	// Gain is the fraction of a PoP's excess over its target shed per
	// period: the damping. 1 sheds the whole estimated excess at once;
	// smaller values converge geometrically and absorb estimation errors.
	// Default 0.5.
	Gain float64
	// MaxMove caps the traffic moved per period (moves and undos
	// together), as a fraction of the total weight of all networks.
	// Default 0.05.
	MaxMove float64
	// Hysteresis: moves away from a PoP are undone only while it is under
	// Target−Hysteresis (utilization), and a move never takes its source
	// under Target−Hysteresis/2, so a move is not undone right after it is
	// made. Must be below every PoP's Target. Default 0.1.
	Hysteresis float64
	// Delay is how many periods beyond the next one a Step's changes take
	// to show in the measured load: 0 when the load given to a Step
	// already reflects the previous Step's moves, 1 when clients keep the
	// old answers one more period (a DNS TTL as long as the period). The
	// controller adds the changes it made within the last Delay periods to
	// the measured load, so it does not shed the same excess twice.
	// Default 0.
	Delay int
}

func (o *Options) defaults() {
	if o.Gain == 0 {
		o.Gain = 0.5
	}
	if o.MaxMove == 0 {
		o.MaxMove = 0.05
	}
	if o.Hysteresis == 0 {
		o.Hysteresis = 0.1
	}
}

// DefaultTarget is a PoP's Target when it gives none.
const DefaultTarget = 0.8

// Move is a network answered at To instead of From, its natural answer
// (the first usable PoP of its ranking).
type Move struct {
	Prefix   netip.Prefix
	From, To popmap.Label
	Weight   float64 // the network's weight
	Penalty  float64 // Weight × (RTT(To) − RTT(From)); NaN if either RTT is unknown
	At       int     // the period (Step call, from 1) that made it, or last re-routed it
}

// net is a Network with its PoPs as indexes.
type net struct {
	prefix netip.Prefix
	weight float64
	ranked []int32   // PoP indexes
	rtt    []float64 // per ranked position; NaN unknown
}

// pop is a PoP by index: the managed ones first (by label), then labels
// that networks rank but no PoP entry names (unmanaged: never a source or
// receiver of a move).
type pop struct {
	label    popmap.Label
	capacity float64
	target   float64
	managed  bool
}

// move is an active move.
type move struct {
	net      int32
	from, to int32
	at       int
	est      float64 // load moved, in capacity units, as estimated when made
	// the last period whose measured load does not show the move yet
	// (made or re-routed at + Delay); 0: it shows (so a restored move does)
	pendUntil int
}

// change is a move, a re-route or an undo made within the last Delay
// periods. A move goes from its origin (from == origin), a re-route
// passes a moved network on from one receiver to another (from != origin).
type change struct {
	from, to int32 // where the traffic left and went (an undo: the move's From and To)
	origin   int32 // the network's natural PoP
	weight   float64
	est      float64
	at       int
	undo     bool
	moveSeen bool // an undo or re-route: the measured load showed the move (at from)
}

// Controller moves networks off overloaded PoPs. It is not safe for
// concurrent use: one goroutine runs the control loop.
type Controller struct {
	opt    Options
	nets   []net // by prefix
	pops   []pop
	byName map[popmap.Label]int32
	total  float64 // sum of all weights

	period  int
	moves   []move  // active, oldest first: undone from the end (LIFO)
	movedBy []int32 // per network: index into moves, -1 if none
	recent  []change

	// per Step, reused
	use   []bool
	load  []float64
	known []bool
	w     []float64 // weight of each PoP's own (natural, unmoved) networks now
	wSeen []float64 // ... as the measured load saw it (Delay)
	k     []float64 // load per unit weight of each PoP's own networks
	kNext []float64
	in    []float64 // traffic moved into each PoP, as measured
	seen  []seenMove
	heap  candHeap
	at    [][]int32 // networks naturally answered at each PoP
}

// New validates the networks and PoPs and returns a controller with no
// moves. Networks are copied. Errors name the network or PoP: an invalid
// or repeated prefix, a negative or non-finite weight, a ranking that
// repeats a label; a repeated PoP label, a capacity that is not positive
// and finite, a target outside (Hysteresis, 10]; options out of range.
// Labels that networks rank but no PoP names are unmanaged: a network may
// be answered there, but nothing moves to or from them.
func New(nets []Network, pops []PoP, opt Options) (*Controller, error) {
	opt.defaults()
	switch {
	case !(opt.Gain > 0 && opt.Gain <= 1):
		return nil, fmt.Errorf("loadctl: gain %v outside (0, 1]", opt.Gain)
	case !(opt.MaxMove > 0 && opt.MaxMove <= 1):
		return nil, fmt.Errorf("loadctl: max move %v outside (0, 1]", opt.MaxMove)
	case !(opt.Hysteresis > 0 && opt.Hysteresis < 1):
		return nil, fmt.Errorf("loadctl: hysteresis %v outside (0, 1)", opt.Hysteresis)
	case opt.Delay < 0 || opt.Delay > 100:
		return nil, fmt.Errorf("loadctl: delay %d outside [0, 100]", opt.Delay)
	}
	c := &Controller{opt: opt, byName: map[popmap.Label]int32{}}
	sorted := slices.Clone(pops)
	slices.SortFunc(sorted, func(a, b PoP) int { return cmp.Compare(a.Label, b.Label) })
	for _, p := range sorted {
		if p.Label == "" {
			return nil, errors.New("loadctl: a PoP without a label")
		}
		if _, dup := c.byName[p.Label]; dup {
			return nil, fmt.Errorf("loadctl: PoP %s listed twice", p.Label)
		}
		if !(p.Capacity > 0) || math.IsInf(p.Capacity, 0) {
			return nil, fmt.Errorf("loadctl: PoP %s: capacity %v is not positive and finite", p.Label, p.Capacity)
		}
		if p.Target == 0 {
			p.Target = DefaultTarget
		}
		if !(p.Target > opt.Hysteresis && p.Target <= 10) {
			return nil, fmt.Errorf("loadctl: PoP %s: target %v outside (hysteresis %v, 10]", p.Label, p.Target, opt.Hysteresis)
		}
		c.byName[p.Label] = int32(len(c.pops))
		c.pops = append(c.pops, pop{label: p.Label, capacity: p.Capacity, target: p.Target, managed: true})
	}
	c.nets = make([]net, 0, len(nets))
	for _, n := range nets {
		if !n.Prefix.IsValid() || n.Prefix != n.Prefix.Masked() {
			return nil, fmt.Errorf("loadctl: network %s: not a valid network", n.Prefix)
		}
		if !(n.Weight >= 0) || math.IsInf(n.Weight, 0) {
			return nil, fmt.Errorf("loadctl: network %s: weight %v is not finite and ≥ 0", n.Prefix, n.Weight)
		}
		x := net{prefix: n.Prefix, weight: n.Weight, ranked: make([]int32, len(n.Ranked)), rtt: make([]float64, len(n.Ranked))}
		for j, ch := range n.Ranked {
			p, ok := c.byName[ch.Label]
			if !ok {
				if ch.Label == "" {
					return nil, fmt.Errorf("loadctl: network %s: empty label", n.Prefix)
				}
				p = int32(len(c.pops))
				c.byName[ch.Label] = p
				c.pops = append(c.pops, pop{label: ch.Label})
			}
			if slices.Contains(x.ranked[:j], p) {
				return nil, fmt.Errorf("loadctl: network %s: %s ranked twice", n.Prefix, ch.Label)
			}
			x.ranked[j] = p
			x.rtt[j] = ch.RTT
			if ch.RTT < 0 || math.IsInf(ch.RTT, 0) {
				x.rtt[j] = math.NaN()
			}
		}
		c.nets = append(c.nets, x)
		c.total += n.Weight
	}
	slices.SortFunc(c.nets, func(a, b net) int { return comparePrefix(a.prefix, b.prefix) })
	for i := 1; i < len(c.nets); i++ {
		if c.nets[i].prefix == c.nets[i-1].prefix {
			return nil, fmt.Errorf("loadctl: network %s listed twice", c.nets[i].prefix)
		}
	}
	c.movedBy = make([]int32, len(c.nets))
	for i := range c.movedBy {
		c.movedBy[i] = -1
	}
	np := len(c.pops)
	c.use, c.load, c.known = make([]bool, np), make([]float64, np), make([]bool, np)
	c.w, c.wSeen, c.k = make([]float64, np), make([]float64, np), make([]float64, np)
	c.kNext, c.in = make([]float64, np), make([]float64, np)
	c.at = make([][]int32, np)
	return c, nil
}

func comparePrefix(a, b netip.Prefix) int {
	return cmp.Or(a.Addr().Compare(b.Addr()), cmp.Compare(a.Bits(), b.Bits()))
}

// natural is the first usable PoP of network i's ranking and its position
// there, or -1.
func (c *Controller) natural(i int) (int32, int) {
	for j, p := range c.nets[i].ranked {
		if c.use[p] {
			return p, j
		}
	}
	return -1, -1
}

// rttAt is network i's expected RTT at PoP p (NaN if unknown or unranked).
func (n *net) rttAt(p int32) float64 {
	if j := slices.Index(n.ranked, p); j >= 0 {
		return n.rtt[j]
	}
	return math.NaN()
}

func (c *Controller) capOf(p int32) float64 { return c.pops[p].target * c.pops[p].capacity }

// Step runs one control period. load is each PoP's measured load in the
// units of its Capacity, over the period that just ended; a PoP missing
// from it (or with a NaN or negative value) is unknown: nothing moves to or
// from it. usable says which PoPs may receive traffic now (admin state,
// health); nil means all. Step returns the full current move set (as
// Moves), not only this period's changes.
//
// A period: moves whose To is unusable, or whose From is no longer the
// network's natural answer, are dropped (the network follows its ranking
// again). Then every PoP over Target×Capacity (estimated: the measured
// load plus the changes of the last Delay periods), the most overloaded
// first, sheds Gain × its excess: first traffic moved into it, passed on
// to another PoP of those networks' rankings; then its own networks, each
// to the first PoP after it in its ranking that is usable and has room,
// the least latency penalty per unit traffic (of that move) first. Then
// every PoP under (Target−Hysteresis)×Capacity takes back its moves,
// newest first, as far as it stays under. Moves and undos together move at
// most MaxMove of the total weight.
func (c *Controller) Step(load map[popmap.Label]float64, usable func(popmap.Label) bool) []Move {
	c.period++
	for p := range c.pops {
		c.use[p] = usable == nil || usable(c.pops[p].label)
		v, ok := load[c.pops[p].label]
		c.known[p] = ok && v >= 0 && !math.IsInf(v, 0) && c.pops[p].managed
		c.load[p] = v
	}
	c.dropStale()
	c.account()
	budget := c.opt.MaxMove * c.total
	budget = c.shed(budget)
	c.undo(budget)
	return c.Moves()
}

// dropStale drops moves whose To is unusable or whose From is no longer
// the network's natural answer.
func (c *Controller) dropStale() {
	kept := c.moves[:0]
	for _, m := range c.moves {
		nat, _ := c.natural(int(m.net))
		if c.use[m.to] && nat == m.from {
			c.movedBy[m.net] = int32(len(kept))
			kept = append(kept, m)
		} else {
			c.movedBy[m.net] = -1
		}
	}
	c.moves = kept
}

// account lists each PoP's own networks, computes the load per unit weight of
// each PoP's own networks, and each PoP's estimated load: the measured
// one with the changes of the last Delay periods (not yet in it) added.
//
// Load per unit weight is estimated for a PoP's natural networks only:
// k_p = (L_p − traffic moved into p) / (weight of p's own networks), with
// the moved-in traffic at its source's k. Mixing them would misjudge both:
// in a ramp, a receiver's own networks would look as busy as the ones it
// took from the ramped PoP. k depends on the sources' k, so it is iterated
// (kIterations; exact for chains of moves that long).
func (c *Controller) account() {
	for p := range c.at {
		c.at[p] = c.at[p][:0]
	}
	clear(c.w)
	for i := range c.nets {
		if p, _ := c.natural(i); p >= 0 && c.movedBy[i] < 0 {
			c.at[p] = append(c.at[p], int32(i))
			c.w[p] += c.nets[i].weight // natural weight now
		}
	}
	// changes within the last Delay periods do not show in the load yet
	first := c.period - c.opt.Delay
	kept := c.recent[:0]
	for _, ch := range c.recent {
		if ch.at >= first {
			kept = append(kept, ch)
		}
	}
	c.recent = kept
	// the natural weight the measurement saw, and the moves it saw
	copy(c.wSeen, c.w)
	c.seen = c.seen[:0]
	for _, m := range c.moves {
		if c.period > m.pendUntil {
			c.seen = append(c.seen, seenMove{m.from, m.to, c.nets[m.net].weight, m.est})
		}
	}
	for _, ch := range c.recent {
		switch {
		case ch.undo:
			c.wSeen[ch.from] -= ch.weight // it was away when measured
			if ch.moveSeen {
				c.seen = append(c.seen, seenMove{ch.from, ch.to, ch.weight, ch.est})
			}
		case ch.from == ch.origin:
			c.wSeen[ch.from] += ch.weight // it was still at home
		case ch.moveSeen:
			// re-routed from where the measurement saw it (a network
			// re-routed twice within Delay periods counts at its last stop)
			c.seen = append(c.seen, seenMove{ch.origin, ch.from, ch.weight, ch.est})
		}
	}
	for p := range c.pops {
		c.k[p] = math.NaN()
		if c.known[p] && c.wSeen[p] > 0 {
			c.k[p] = c.load[p] / c.wSeen[p] // a first guess, moved-in traffic included
		}
	}
	for range kIterations {
		clear(c.in)
		for _, m := range c.seen {
			c.in[m.to] += c.traffic(m.from, m.weight, m.est)
		}
		for p := range c.pops {
			if c.known[p] && c.wSeen[p] > 0 {
				c.kNext[p] = max(c.load[p]-c.in[p], 0) / c.wSeen[p]
			} else {
				c.kNext[p] = math.NaN()
			}
		}
		c.k, c.kNext = c.kNext, c.k
	}
	for _, ch := range c.recent {
		sign := 1.0
		if ch.undo {
			sign = -1
		}
		est := c.traffic(ch.origin, ch.weight, ch.est)
		c.load[ch.from] -= sign * est
		c.load[ch.to] += sign * est
	}
	for p := range c.pops {
		c.load[p] = max(c.load[p], 0)
	}
}

// kIterations bounds the refinement of k through chains of moves.
const kIterations = 3

// seenMove is a move the measured load reflects.
type seenMove struct {
	from, to int32
	weight   float64
	est      float64
}

// traffic is a moved network's load: at its source's load per unit weight
// today when known (it follows the demand), else as estimated when moved.
func (c *Controller) traffic(from int32, weight, est float64) float64 {
	if k := c.k[from]; !math.IsNaN(k) {
		return k * weight
	}
	return est
}

// cand is a network that may move off an overloaded PoP: to ranked
// position j of its ranking, at penalty key per unit weight; x is its
// active move when it was moved in (-1: one of the PoP's own).
type cand struct {
	i   int32
	x   int32
	j   int
	key float64 // RTT(to) − RTT(current); +Inf when unknown
}

type candHeap []cand

func (h candHeap) Len() int { return len(h) }
func (h candHeap) Less(a, b int) bool {
	if h[a].key != h[b].key {
		return h[a].key < h[b].key
	}
	return h[a].i < h[b].i // networks are sorted by prefix
}
func (h candHeap) Swap(a, b int) { h[a], h[b] = h[b], h[a] }
func (h *candHeap) Push(x any)   { *h = append(*h, x.(cand)) }
func (h *candHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// receiver finds, from ranked position j on, the first PoP other than
// skip that can take est more load without going over its target: usable,
// managed, of known load. It returns the position and the penalty key
// against RTT cur, or -1.
func (c *Controller) receiver(i int32, j int, skip int32, est, cur float64) (int, float64) {
	n := &c.nets[i]
	for ; j < len(n.ranked); j++ {
		q := n.ranked[j]
		if q == skip || !c.use[q] || !c.known[q] || c.load[q]+est > c.capOf(q) {
			continue
		}
		key := n.rtt[j] - cur
		if math.IsNaN(key) {
			key = math.Inf(1)
		}
		return j, key
	}
	return -1, 0
}

// shed moves networks off overloaded PoPs; it returns the budget left.
//
// A PoP over its target first passes on traffic moved into it (a ramp
// grows moved networks after they moved): those networks go on to another
// PoP of their ranking after their natural one. Only then does it move its
// own networks. So another PoP's overload is solved with that PoP's
// networks, and a receiver's own users are not moved for it.
func (c *Controller) shed(budget float64) float64 {
	var over []int32
	for p := range c.pops {
		if c.known[p] && c.load[p] > c.capOf(int32(p)) {
			over = append(over, int32(p))
		}
	}
	util := func(p int32) float64 { return c.load[p] / c.pops[p].capacity }
	slices.SortFunc(over, func(a, b int32) int {
		return cmp.Or(cmp.Compare(util(b), util(a)), cmp.Compare(c.pops[a].label, c.pops[b].label))
	})
	for _, p := range over {
		if budget <= 0 {
			break
		}
		goal := c.opt.Gain * (c.load[p] - c.capOf(p))
		shed := 0.0
		// moved in first
		c.heap = c.heap[:0]
		for x, m := range c.moves {
			if m.to != p {
				continue
			}
			i := m.net
			n := &c.nets[i]
			_, pos := c.natural(int(i))
			cur := n.rttAt(p)
			if j, key := c.receiver(i, pos+1, p, c.traffic(m.from, n.weight, m.est), cur); j >= 0 && n.weight > 0 {
				c.heap = append(c.heap, cand{i: i, x: int32(x), j: j, key: key})
			}
		}
		shed, budget = c.drain(p, goal, shed, budget)
		if shed >= goal || budget <= 0 || math.IsNaN(c.k[p]) {
			continue
		}
		c.heap = c.heap[:0]
		for _, i := range c.at[p] {
			n := &c.nets[i]
			_, pos := c.natural(int(i))
			if j, key := c.receiver(i, pos+1, -1, c.k[p]*n.weight, n.rtt[pos]); j >= 0 && n.weight > 0 {
				c.heap = append(c.heap, cand{i: i, x: -1, j: j, key: key})
			}
		}
		_, budget = c.drain(p, goal, shed, budget)
	}
	return budget
}

// drain moves the candidates in c.heap off p, least penalty first, until
// shed reaches goal or the budget runs out, never taking p under
// Target−Hysteresis/2.
func (c *Controller) drain(p int32, goal, shed, budget float64) (float64, float64) {
	h := &c.heap
	heap.Init(h)
	floor := (c.pops[p].target - c.opt.Hysteresis/2) * c.pops[p].capacity
	for h.Len() > 0 && shed < goal && budget > 0 {
		top := (*h)[0]
		n := &c.nets[top.i]
		_, pos := c.natural(int(top.i))
		est, cur, from, skip := c.k[p]*n.weight, n.rtt[pos], p, int32(-1)
		if top.x >= 0 {
			m := &c.moves[top.x]
			est, cur, from, skip = c.traffic(m.from, n.weight, m.est), n.rttAt(p), m.from, p
		}
		// rooms shrink as moves land: find the receiver again
		j, key := c.receiver(top.i, top.j, skip, est, cur)
		if j < 0 {
			heap.Pop(h) // no receiver with room: the network stays
			continue
		}
		if j != top.j || key != top.key {
			(*h)[0].j, (*h)[0].key = j, key
			heap.Fix(h, 0)
			continue
		}
		heap.Pop(h)
		if n.weight > budget || c.load[p]-est < floor-1e-9*c.pops[p].capacity {
			continue // too big for what is left of this period's budget, or of the excess
		}
		q := n.ranked[j]
		seen := false
		if top.x >= 0 {
			m := &c.moves[top.x]
			seen = c.period > m.pendUntil
			m.to, m.at, m.est, m.pendUntil = q, c.period, est, c.period+c.opt.Delay
		} else {
			c.movedBy[top.i] = int32(len(c.moves))
			c.moves = append(c.moves, move{net: top.i, from: p, to: q, at: c.period, est: est, pendUntil: c.period + c.opt.Delay})
		}
		c.recent = append(c.recent, change{from: p, to: q, origin: from, weight: n.weight, est: est, at: c.period, moveSeen: seen})
		c.load[p] -= est
		c.load[q] += est
		shed += est
		budget -= n.weight
	}
	return shed, budget
}

// undo takes moves back, newest first per PoP, while their source stays
// under Target−Hysteresis.
func (c *Controller) undo(budget float64) {
	for p := range c.pops {
		if budget <= 0 {
			break
		}
		if !c.known[p] || !c.use[p] {
			continue
		}
		limit := (c.pops[p].target - c.opt.Hysteresis) * c.pops[p].capacity
		if c.load[p] >= limit {
			continue
		}
		for x := len(c.moves) - 1; x >= 0; x-- {
			m := c.moves[x]
			if m.from != int32(p) {
				continue
			}
			w := c.nets[m.net].weight
			est := c.traffic(m.from, w, m.est)
			if c.load[p]+est > limit || w > budget {
				break // strictly newest first: stop at the first that does not fit
			}
			c.moves = slices.Delete(c.moves, x, x+1)
			c.movedBy[m.net] = -1
			c.recent = append(c.recent, change{from: m.from, to: m.to, origin: m.from, weight: w, est: est, at: c.period, undo: true, moveSeen: c.period > m.pendUntil})
			c.load[p] += est
			c.load[m.to] -= est
			budget -= w
		}
	}
	for x, m := range c.moves {
		c.movedBy[m.net] = int32(x)
	}
}

// Moves returns the current moves, oldest first (the order they are
// undone in, reversed).
func (c *Controller) Moves() []Move {
	out := make([]Move, len(c.moves))
	for x, m := range c.moves {
		n := &c.nets[m.net]
		out[x] = Move{
			Prefix: n.prefix, From: c.pops[m.from].label, To: c.pops[m.to].label,
			Weight: n.weight, Penalty: n.weight * (n.rttAt(m.to) - n.rttAt(m.from)), At: m.at,
		}
	}
	return out
}

// Period is the number of Steps run.
func (c *Controller) Period() int { return c.period }
