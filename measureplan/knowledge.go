package measureplan

import (
	"context"
	"math"
	"slices"
	"time"

	"github.com/steer-gslb/steer/store"
)

// The spread model is the store's (store.Spread): SpreadBase ms plus
// SpreadShare of the p75.
const (
	SpreadBase  = store.SpreadBase
	SpreadShare = store.SpreadShare
)

// Knowledge is what is known per client network and PoP: the planner's
// input for every network, built from a store aggregate ([Knowledge.Update])
// and read concurrently ([Knowledge.Lookup]); it is immutable once built.
// The zero value and [NewKnowledge]'s know nothing: every PoP of every
// network is never measured.
type Knowledge struct {
	labels []string       // PoP order of Lookup's result
	index  map[string]int // label → position in labels
	nets   []uint64       // sorted network keys
	start  []uint32       // cells of nets[k]: cells[start[k]:start[k+1]]
	cells  []cell
	at     time.Time // the aggregate's time
}

type cell struct {
	pop uint16 // index in labels
	st  PoPState
}

// NewKnowledge returns an empty Knowledge over the PoPs labels, in the
// order Lookup reports them.
func NewKnowledge(labels []string) *Knowledge {
	k := &Knowledge{labels: slices.Clone(labels), index: make(map[string]int, len(labels)), start: []uint32{0}}
	for i, l := range labels {
		k.index[l] = i
	}
	return k
}

// PoPs returns the labels, in Lookup's order.
func (k *Knowledge) PoPs() []string { return k.labels }

// Networks is the number of networks with at least one known PoP.
func (k *Knowledge) Networks() int { return len(k.nets) }

// At is when the aggregate it was built from was read (zero: empty).
func (k *Knowledge) At() time.Time { return k.at }

// Update returns a new Knowledge over the same PoPs from agg (read at now,
// with Aggregate's quantile taken as the p75): counts and estimates from
// agg, spreads from the spread model, and last-sample times carried over
// from k where a cell's count did not change, now where it grew or is
// new. (An aggregate has no sample times: the last sample of a cell is
// dated to the refresh that first saw it, so at the first refresh every
// cell counts as fresh.) PoPs of agg that k does not know and the anycast
// cells are ignored.
func (k *Knowledge) Update(agg *store.Aggregate, now time.Time) *Knowledge {
	nk := &Knowledge{labels: k.labels, index: k.index, at: now, start: make([]uint32, 0, len(agg.Networks)+1)}
	if nk.index == nil {
		nk.index = map[string]int{}
	}
	remap := make([]int, len(agg.PoPs))
	for i, l := range agg.PoPs {
		remap[i] = -1
		if j, ok := nk.index[l]; ok {
			remap[i] = j
		}
	}
	nk.cells = make([]cell, 0, len(agg.Cells))
	unix := now.Unix()
	var prev []PoPState
	for i := 0; i < len(agg.Cells); {
		net := agg.Cells[i].Network
		j := i
		for j < len(agg.Cells) && agg.Cells[j].Network == net {
			j++
		}
		prev = k.Lookup(net, prev)
		first := len(nk.cells)
		for _, c := range agg.Cells[i:j] {
			if c.PoP == store.AnycastPoP || int(c.PoP) >= len(remap) || remap[c.PoP] < 0 || c.Count == 0 {
				continue
			}
			pop := remap[c.PoP]
			v := c.Value(agg.Quantile)
			if !(v > 0) || math.IsInf(v, 0) {
				continue
			}
			last := unix
			if old := prev[pop]; old.Count == c.Count && old.Last != 0 {
				last = old.Last
			}
			nk.cells = append(nk.cells, cell{pop: uint16(pop), st: PoPState{
				Count: c.Count, P75: float32(v), Spread: float32(store.Spread(v)), Last: last,
			}})
		}
		if len(nk.cells) > first {
			slices.SortFunc(nk.cells[first:], func(a, b cell) int { return int(a.pop) - int(b.pop) })
			nk.nets = append(nk.nets, net)
			nk.start = append(nk.start, uint32(first))
		}
		i = j
	}
	nk.start = append(nk.start, uint32(len(nk.cells)))
	return nk
}

// Lookup returns what is known about network per PoP, in PoPs' order, in
// dst (reused when large enough): zero PoPStates for PoPs never measured
// from it, and for every PoP of a network it knows nothing about.
func (k *Knowledge) Lookup(network uint64, dst []PoPState) []PoPState {
	n := len(k.labels)
	if cap(dst) < n {
		dst = make([]PoPState, n)
	}
	dst = dst[:n]
	clear(dst)
	if i, ok := slices.BinarySearch(k.nets, network); ok {
		for _, c := range k.cells[k.start[i]:k.start[i+1]] {
			dst[c.pop] = c.st
		}
	}
	return dst
}

// PlannerShift is the change test of a knowledge refresh (Refresh): a
// cell whose recent samples differ from the whole store's by 2 standard
// errors and 2 ms, one recent sample being enough. It is bolder than the
// builder's (3 standard errors, 3 samples): a false alarm costs the
// client one more PoP to time, and the samples it brings are what the
// builder's own test then needs.
var PlannerShift = store.ShiftTest{Z: 2, MinMs: 2, MinRecent: 1}

// Refresh reads a new Knowledge from st at now (the collector's periodic
// refresh): every cell of the whole store at the p75 (Update). With
// recent > 0 it also reads the last recent of the store and the whole
// store's lower quantile (for each cell's own spread,
// store.SampleSpread), and a cell whose recent samples shifted
// (PlannerShift) takes the recent samples' state: few samples, so an
// uncertain estimate, which the policy re-measures. That is how a PoP
// that got better (a peering added) is timed again after one exploratory
// sample finds it, and how the best PoP's loss is spread to its rivals.
func (k *Knowledge) Refresh(ctx context.Context, st store.Reader, now time.Time, recent time.Duration) (*Knowledge, int, error) {
	const q = 0.75
	whole, err := st.Aggregate(ctx, store.Clean{}, q)
	if err != nil {
		return nil, 0, err
	}
	nk := k.Update(whole, now)
	if recent <= 0 {
		return nk, 0, nil
	}
	lower, err := st.Aggregate(ctx, store.Clean{}, q/3)
	if err != nil {
		return nil, 0, err
	}
	rec, err := st.Aggregate(ctx, store.Clean{Since: now.Add(-recent)}, q)
	if err != nil {
		return nil, 0, err
	}
	return nk, nk.shifts(whole, lower, rec, q, now), nil
}

// shifts replaces the cells of k (just built from whole) whose samples in
// rec shifted; lower is whole at q/3. It returns how many it replaced.
func (k *Knowledge) shifts(whole, lower, rec *store.Aggregate, q float64, now time.Time) int {
	n := 0
	for _, c := range rec.Cells {
		if c.PoP == store.AnycastPoP || int(c.PoP) >= len(rec.PoPs) {
			continue
		}
		label := rec.PoPs[c.PoP]
		pop, ok := k.index[label]
		if !ok {
			continue
		}
		i, ok := slices.BinarySearch(k.nets, c.Network)
		if !ok {
			continue
		}
		cells := k.cells[k.start[i]:k.start[i+1]]
		j := slices.IndexFunc(cells, func(x cell) bool { return int(x.pop) == pop })
		w := findCell(whole, c.Network, label)
		if j < 0 || w == nil || w.Count != cells[j].st.Count {
			continue
		}
		wv, lowV := w.Value(whole.Quantile), math.NaN()
		if l := findCell(lower, c.Network, label); l != nil && l.Count == w.Count {
			lowV = l.Value(lower.Quantile)
		}
		sigma := store.SampleSpread(wv, lowV, q, q/3, int(w.Count))
		v := c.Value(rec.Quantile)
		if !store.Shifted(wv, int(w.Count), v, int(c.Count), sigma, q, PlannerShift) {
			continue
		}
		cells[j].st = PoPState{Count: c.Count, P75: float32(v), Spread: float32(store.Spread(v)), Last: now.Unix()}
		n++
	}
	return n
}

// findCell is an aggregate's cell of network and the PoP label, or nil.
func findCell(agg *store.Aggregate, network uint64, label string) *store.Cell {
	cs := agg.NetworkCells(network)
	for i := range cs {
		if c := &cs[i]; c.PoP != store.AnycastPoP && int(c.PoP) < len(agg.PoPs) && agg.PoPs[c.PoP] == label {
			return c
		}
	}
	return nil
}
