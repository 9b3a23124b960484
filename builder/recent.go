package builder

import (
	"context"
	"math"
	"slices"
	"time"

	"github.com/gaissmai/bart"

	"github.com/steer-gslb/steer/popmap"
	"github.com/steer-gslb/steer/store"
)

// Continuous builds (issue 20): a map rebuilt every few hours from a long
// window of samples lags behind a change (a peering link lost, a re-route)
// for as long as the old samples dominate the window; one built from the
// last hour alone flaps on noise. The builder reads both: the long window
// (Options.Window, all of the store by default) and a recent one
// (Options.Recent). A network whose recent samples to some PoP differ from
// its whole-window estimate by more than noise explains (store.Shifted) is
// re-estimated from its recent samples (rule recent-shift, counted per
// network): each PoP with at least MinRecent recent samples takes its
// recent quantile, the others keep the window's. A peering is an AS's, so
// the AS is tested too (rule recent-shift-as): where its networks'
// differences at a PoP are off zero beyond noise, the networks with too
// few recent samples there to test alone take their median. Every other network keeps
// the whole window's estimates, and the stability rule still applies to
// all, so that noise moves nothing.

// shiftTest is the options' detector.
func (o *Options) shiftTest() store.ShiftTest {
	return store.ShiftTest{Z: o.ShiftZ, MinMs: o.ShiftMs, MinRecent: o.MinRecent}
}

// now is the build's time.
func (o *Options) now() time.Time {
	if o.Now.IsZero() {
		return time.Now()
	}
	return o.Now
}

// recentShifts reads the recent window and re-estimates d's networks
// whose recent samples shifted (d is the whole window's data, read at
// d.Quantile). Each (network, PoP)'s spread comes from a second read of
// the whole window at the lower quantile d.Quantile/3 (store.SampleSpread). It
// counts the networks re-estimated (RuleRecentShift) and returns how
// many.
func recentShifts(ctx context.Context, st store.Reader, opt Options, d *Data, rt *bart.Table[route], cnt *Counts) (int, error) {
	q, qLo := d.Quantile, d.Quantile/3
	lower, err := st.Aggregate(ctx, opt.clean(TrainBeacons), qLo)
	if err != nil {
		return 0, err
	}
	rc := opt.clean(TrainBeacons)
	rc.Since = opt.now().Add(-opt.Recent)
	agg, err := st.Aggregate(ctx, rc, q)
	if err != nil {
		return 0, err
	}
	lows := newCellIndex(lower, d.PoPs)
	recent := newCellIndex(agg, d.PoPs)
	t := opt.shiftTest()
	// per (AS, PoP): each network's difference recent − whole there, for
	// every network with recent samples of the PoP
	type asPoP struct {
		asn uint32
		pop uint16
	}
	pooled := map[asPoP][]float64{}
	asOf := func(n *Network) (uint32, bool) {
		if rt == nil {
			return 0, false
		}
		r, ok := rt.Lookup(n.Prefix.Addr())
		return r.asn, ok && r.asn != 0
	}
	changed := 0
	for k := range d.Networks {
		n := &d.Networks[k]
		mine := recent.cells(n.Key)
		if len(mine) == 0 {
			continue
		}
		asn, hasAS := asOf(n)
		shifted := false
		for _, rcell := range mine {
			p, ok := recent.pop(rcell.PoP)
			if !ok {
				continue
			}
			w := n.cell(p)
			if w == nil || rcell.Count >= w.Count {
				continue // nothing older to differ from
			}
			whole, lo := w.Value(q), math.NaN()
			if lc := lows.find(n.Key, p); lc != nil && lc.Count == w.Count {
				lo = lc.Value(qLo)
			}
			sigma := store.SampleSpread(whole, lo, q, qLo, int(w.Count))
			rv := rcell.Value(q)
			if hasAS && rv > 0 && whole > 0 {
				pooled[asPoP{asn, p}] = append(pooled[asPoP{asn, p}], rv-whole)
			}
			if int(rcell.Count) >= t.MinRecent && store.Shifted(whole, int(w.Count), rv, int(rcell.Count), sigma, q, t) {
				shifted = true
			}
		}
		if !shifted {
			continue
		}
		changed++
		out := slices.Clone(n.cells)
		for _, rcell := range mine {
			p, ok := recent.pop(rcell.PoP)
			if !ok || int(rcell.Count) < t.MinRecent {
				continue
			}
			rcell.PoP = p
			for i := range out {
				if out[i].PoP == p {
					out[i] = rcell
				}
			}
		}
		n.cells = out
	}
	cnt.add(RuleRecentShift, changed)
	if opt.Skip[RuleRecentShiftAS] || len(pooled) == 0 {
		return changed, nil
	}
	// A peering is an AS's: where the differences of an AS's networks at a
	// PoP (at least MinAgree of them) are off zero beyond noise (a t-test
	// at Z), every network of the AS whose own recent samples there are too
	// few to test takes their median. Unweighted on purpose: a network
	// whose window holds both the old and the new path has a wide spread
	// and would weigh least, yet it is the one that shows the change.
	move := map[asPoP]float64{}
	for key, ds := range pooled {
		if len(ds) < max(opt.MinAgree, 2) {
			continue
		}
		mean, sd := meanSD(ds)
		slices.Sort(ds)
		med := ds[len(ds)/2]
		if len(ds)%2 == 0 {
			med = (ds[len(ds)/2-1] + ds[len(ds)/2]) / 2
		}
		if math.Abs(med) >= t.MinMs && math.Abs(mean) > t.Z*sd/math.Sqrt(float64(len(ds))) {
			move[key] = med
		}
	}
	if len(move) == 0 {
		cnt.add(RuleRecentShiftAS, 0)
		return changed, nil
	}
	moved := 0
	for k := range d.Networks {
		n := &d.Networks[k]
		asn, ok := asOf(n)
		if !ok {
			continue
		}
		did := false
		for i := range n.cells {
			c := &n.cells[i]
			m, ok := move[asPoP{asn, c.PoP}]
			if !ok {
				continue
			}
			if rcell := recent.find(n.Key, c.PoP); rcell != nil && int(rcell.Count) >= t.MinRecent {
				continue // tested on its own
			}
			c.Lo = float32(max(0.001, float64(c.Lo)+m))
			c.Hi = float32(max(0.001, float64(c.Hi)+m))
			did = true
		}
		if did {
			moved++
		}
	}
	cnt.add(RuleRecentShiftAS, moved)
	return changed, nil
}

// meanSD is the mean and the sample standard deviation of v (len ≥ 2).
func meanSD(v []float64) (mean, sd float64) {
	for _, x := range v {
		mean += x
	}
	mean /= float64(len(v))
	for _, x := range v {
		sd += (x - mean) * (x - mean)
	}
	return mean, math.Sqrt(sd / float64(len(v)-1))
}

// cellIndex finds an aggregate's cells by network, with its PoPs mapped
// to another PoP list's indexes.
type cellIndex struct {
	agg   *store.Aggregate
	remap []int // agg's PoP index → the list's; -1: not in it
}

func newCellIndex(agg *store.Aggregate, pops []popmap.Label) *cellIndex {
	x := &cellIndex{agg: agg, remap: make([]int, len(agg.PoPs))}
	for i, l := range agg.PoPs {
		j, ok := slices.BinarySearch(pops, popmap.Label(l))
		x.remap[i] = -1
		if ok {
			x.remap[i] = j
		}
	}
	return x
}

// cells are network's cells (anycast included).
func (x *cellIndex) cells(network uint64) []store.Cell { return x.agg.NetworkCells(network) }

// pop maps a cell's PoP index to the list's (false: anycast, or a PoP
// the list does not have).
func (x *cellIndex) pop(p uint16) (uint16, bool) {
	if p == store.AnycastPoP || int(p) >= len(x.remap) || x.remap[p] < 0 {
		return 0, false
	}
	return uint16(x.remap[p]), true
}

// find is network's cell of PoP p (an index into the list), or nil.
func (x *cellIndex) find(network uint64, p uint16) *store.Cell {
	cs := x.cells(network)
	for i := range cs {
		if q, ok := x.pop(cs[i].PoP); ok && q == p {
			return &cs[i]
		}
	}
	return nil
}

// cell is the network's cell of PoP p, or nil.
func (n *Network) cell(p uint16) *store.Cell {
	for i := range n.cells {
		if n.cells[i].PoP == p {
			return &n.cells[i]
		}
	}
	return nil
}
