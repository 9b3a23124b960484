package builder

import (
	"context"
	"math"
	"slices"
	"time"

	"github.com/steer-gslb/steer/popmap"
	"github.com/steer-gslb/steer/store"
)

// Continuous builds (issue 20): a map rebuilt every few hours from a long
// window of samples lags behind a change (a peering link lost, a re-route)
// for as long as the old samples dominate the window; one built from the
// last hour alone flaps on noise. The builder reads both: the long window
// (Options.Window, all of the store by default) and a recent one
// (Options.Recent). A network whose recent samples to some PoP differ from
// its whole-window estimate by more than noise explains (Shifted) is
// re-estimated from its recent samples (rule recent-shift, counted per
// network): each PoP with at least MinRecent recent samples takes its
// recent quantile, the others keep the window's. Every other network keeps
// the whole window's estimates, and the stability rule still applies to
// all, so that noise moves nothing.

// ShiftTest is the change detector's settings.
type ShiftTest struct {
	// Z is how many standard errors of the difference a shift must
	// exceed; MinMs the smallest shift (ms) that counts at all.
	Z, MinMs float64
	// MinRecent is the fewest recent samples of a (network, PoP) to test.
	MinRecent int
}

// Shifted reports whether a (network, PoP)'s quantile q over its recent
// samples (recent, from nRecent samples) differs from the quantile over
// the whole window (whole, from nWhole samples, the recent ones
// included) by more than noise, given the per-sample spread sigma (ms:
// SampleSpread).
//
// Noise: the quantile q of n samples of an exponential tail with spread
// σ has a standard error of σ·sqrt(q/(1−q)/n); the recent samples are
// part of the whole window, so the difference of the two quantiles has a
// variance of about σ²·q/(1−q)·(1/nRecent − 1/nWhole). A shift exceeds Z
// of those standard errors and MinMs. Nothing is a shift when every
// sample is recent (no older data to differ from) or when either value
// is not a finite positive number.
func Shifted(whole float64, nWhole int, recent float64, nRecent int, sigma, q float64, t ShiftTest) bool {
	if nRecent < max(t.MinRecent, 1) || nRecent >= nWhole || !(whole > 0) || !(recent > 0) ||
		math.IsInf(whole, 0) || math.IsInf(recent, 0) || !(q > 0 && q < 1) || !(sigma > 0) {
		return false
	}
	d := math.Abs(recent - whole)
	if d < t.MinMs {
		return false
	}
	se := sigma * math.Sqrt(q/(1-q)*(1/float64(nRecent)-1/float64(nWhole)))
	return d > t.Z*se
}

// MinSpreadSamples is the fewest samples of a (network, PoP) whose own
// dispersion SampleSpread trusts; under it, the store's spread model.
const MinSpreadSamples = 8

// SampleSpread is the per-sample spread (ms) of a (network, PoP) whose
// n samples have the quantiles hi at qHi and lo at qLo < qHi: for an
// exponential tail of spread σ, hi − lo = σ·ln((1−qLo)/(1−qHi)), so σ is
// that difference over the logarithm. Under MinSpreadSamples samples,
// and when the quantiles make no sense, it is the store's model
// (store.Spread(hi)). It is at least 0.3 ms plus 2 % of hi: RTTs timed
// to 0.1 ms by a browser can have the same value at both quantiles.
func SampleSpread(hi, lo, qHi, qLo float64, n int) float64 {
	floor := 0.3 + 0.02*hi
	if n < MinSpreadSamples || !(lo <= hi) || !(qLo >= 0 && qLo < qHi && qHi < 1) || math.IsInf(hi, 0) {
		return max(store.Spread(hi), floor)
	}
	return max((hi-lo)/math.Log((1-qLo)/(1-qHi)), floor)
}

// shiftTest is the options' detector.
func (o *Options) shiftTest() ShiftTest {
	return ShiftTest{Z: o.ShiftZ, MinMs: o.ShiftMs, MinRecent: o.MinRecent}
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
// the whole window at the lower quantile d.Quantile/3 (SampleSpread). It
// counts the networks re-estimated (RuleRecentShift) and returns how
// many.
func recentShifts(ctx context.Context, st store.Reader, opt Options, d *Data, cnt *Counts) (int, error) {
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
	changed := 0
	for k := range d.Networks {
		n := &d.Networks[k]
		mine := recent.cells(n.Key)
		if len(mine) == 0 {
			continue
		}
		shifted := false
		for _, rcell := range mine {
			p, ok := recent.pop(rcell.PoP)
			if !ok {
				continue
			}
			w := n.cell(p)
			if w == nil {
				continue
			}
			whole, lo := w.Value(q), math.NaN()
			if lc := lows.find(n.Key, p); lc != nil && lc.Count == w.Count {
				lo = lc.Value(qLo)
			}
			sigma := SampleSpread(whole, lo, q, qLo, int(w.Count))
			if Shifted(whole, int(w.Count), rcell.Value(q), int(rcell.Count), sigma, q, t) {
				shifted = true
				break
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
	return changed, nil
}

// cellIndex finds an aggregate's cells by network, with its PoPs mapped
// to another PoP list's indexes.
type cellIndex struct {
	agg   *store.Aggregate
	start map[uint64]int // network → its first cell
	remap []int          // agg's PoP index → the list's; -1: not in it
}

func newCellIndex(agg *store.Aggregate, pops []popmap.Label) *cellIndex {
	x := &cellIndex{agg: agg, start: make(map[uint64]int, len(agg.Networks)), remap: make([]int, len(agg.PoPs))}
	for i, l := range agg.PoPs {
		j, ok := slices.BinarySearch(pops, popmap.Label(l))
		x.remap[i] = -1
		if ok {
			x.remap[i] = j
		}
	}
	for i := len(agg.Cells) - 1; i >= 0; i-- {
		x.start[agg.Cells[i].Network] = i
	}
	return x
}

// cells are network's cells (anycast included).
func (x *cellIndex) cells(network uint64) []store.Cell {
	i, ok := x.start[network]
	if !ok {
		return nil
	}
	j := i
	for j < len(x.agg.Cells) && x.agg.Cells[j].Network == network {
		j++
	}
	return x.agg.Cells[i:j]
}

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
