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
// included) by more than noise.
//
// Noise: a sample's spread is the store's model (store.Spread of the
// whole-window quantile), σ; the quantile q of n samples of an
// exponential tail with that spread has a standard error of
// σ·sqrt(q/(1−q)/n); the recent samples are part of the whole window, so
// the difference of the two quantiles has a variance of about
// σ²·q/(1−q)·(1/nRecent − 1/nWhole). A shift exceeds Z of those standard
// errors and MinMs. Nothing is a shift when every sample is recent (no
// older data to differ from) or when either value is not a finite
// positive number.
func Shifted(whole float64, nWhole int, recent float64, nRecent int, q float64, t ShiftTest) bool {
	if nRecent < max(t.MinRecent, 1) || nRecent >= nWhole || !(whole > 0) || !(recent > 0) ||
		math.IsInf(whole, 0) || math.IsInf(recent, 0) || !(q > 0 && q < 1) {
		return false
	}
	d := math.Abs(recent - whole)
	if d < t.MinMs {
		return false
	}
	sigma := store.Spread(whole)
	se := sigma * math.Sqrt(q/(1-q)*(1/float64(nRecent)-1/float64(nWhole)))
	return d > t.Z*se
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
// d.Quantile). It counts them (RuleRecentShift) and returns how many.
func recentShifts(ctx context.Context, st store.Reader, opt Options, d *Data, cnt *Counts) (int, error) {
	rc := opt.clean(TrainBeacons)
	rc.Since = opt.now().Add(-opt.Recent)
	agg, err := st.Aggregate(ctx, rc, d.Quantile)
	if err != nil {
		return 0, err
	}
	// the recent PoPs by the whole window's index (a recent PoP the window
	// does not know cannot happen: the window holds the recent samples)
	remap := make([]int, len(agg.PoPs))
	for i, l := range agg.PoPs {
		j, ok := slices.BinarySearch(d.PoPs, popmap.Label(l))
		remap[i] = -1
		if ok {
			remap[i] = j
		}
	}
	t := opt.shiftTest()
	q := d.Quantile
	changed := 0
	cells := agg.Cells
	k := 0 // d.Networks index
	for _, na := range agg.Networks {
		j := 0
		for j < len(cells) && cells[j].Network == na.Network {
			j++
		}
		mine := cells[:j]
		cells = cells[j:]
		for k < len(d.Networks) && d.Networks[k].Key < na.Network {
			k++
		}
		if k == len(d.Networks) || d.Networks[k].Key != na.Network {
			continue // dropped from the window's data (edge-only)
		}
		n := &d.Networks[k]
		shifted := false
		for _, rcell := range mine {
			if rcell.PoP == store.AnycastPoP || int(rcell.PoP) >= len(remap) || remap[rcell.PoP] < 0 {
				continue
			}
			p := uint16(remap[rcell.PoP])
			if w := n.cell(p); w != nil && Shifted(w.Value(q), int(w.Count), rcell.Value(q), int(rcell.Count), q, t) {
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
			if rcell.PoP == store.AnycastPoP || int(rcell.PoP) >= len(remap) || remap[rcell.PoP] < 0 || int(rcell.Count) < t.MinRecent {
				continue
			}
			rcell.PoP = uint16(remap[rcell.PoP])
			for i := range out {
				if out[i].PoP == rcell.PoP {
					out[i] = rcell
				}
			}
		}
		n.cells = out
	}
	cnt.add(RuleRecentShift, changed)
	return changed, nil
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
