package builder

import (
	"context"
	"fmt"
	"math"
	"net/netip"

	"github.com/steer-gslb/steer/popmap"
	"github.com/steer-gslb/steer/store"
)

// Data is what the builder (or the evaluator) keeps of the store after
// cleaning: per client network, per PoP, the count of kept samples and
// their quantile (at Data.Quantile), as the store's engine aggregated
// them (store.Reader.Aggregate).
type Data struct {
	PoPs     []popmap.Label // PoP labels seen as sample targets, sorted
	Networks []Network      // sorted by Key
	Counts   Counts         // what the cleaning rules did
	Beacons  int            // beacons used
	Samples  int            // samples used (to PoPs, not anycast)
	Quantile float64        // of the cells, 0..1
}

// Network is one client subnet's cleaned measurements.
type Network struct {
	Key     uint64 // store.NetworkKey
	Prefix  netip.Prefix
	Beacons int32 // beacons it contributed
	cells   []store.Cell
	anycast store.Cell // samples to the anycast address; Count 0 if none
}

// PoPCells calls fn with each PoP index that has samples, their count and
// their quantile (Data.Quantile), in PoP order.
func (n *Network) PoPCells(q float64, fn func(p, count int, value float64)) {
	for i := range n.cells {
		c := &n.cells[i]
		fn(int(c.PoP), int(c.Count), c.Value(q))
	}
}

// Anycast is the network's quantile q of its samples to the anycast
// address and their count (NaN, 0 without any).
func (n *Network) Anycast(q float64) (float64, int) {
	if n.anycast.Count == 0 {
		return math.NaN(), 0
	}
	return n.anycast.Value(q), int(n.anycast.Count)
}

// dropSamples releases every network's cells.
func (d *Data) dropSamples() {
	for i := range d.Networks {
		d.Networks[i].cells = nil
	}
}

// Split chooses which beacons a build or an evaluation reads.
type Split = store.Split

const (
	AllBeacons     = store.AllBeacons     // every beacon
	TrainBeacons   = store.TrainBeacons   // beacons not held out (the build's)
	HoldoutBeacons = store.HoldoutBeacons // held-out beacons (the evaluator's)
)

// IsHeldOut reports whether a beacon (by its store ID) is held out for
// evaluation when share of beacons are (store.IsHeldOut).
func IsHeldOut(id uint64, share float64) bool { return store.IsHeldOut(id, share) }

// clean is the store read's share of the options.
func (o *Options) clean(split Split) store.Clean {
	c := store.Clean{Split: split, HoldOut: o.HoldOut, MaxRTT: o.MaxRTT, MaxClockAhead: o.MaxClockAhead,
		MaxAge: o.MaxAge, Skip: o.Skip, EdgeRTT: o.EdgeRTT}
	if o.Window > 0 {
		c.Since = o.now().Add(-o.Window)
	}
	return c
}

// Load reads the beacons of split from st, cleaned, aggregated per
// (network, PoP) at quantile q (0..1) by the store's engine.
func Load(ctx context.Context, st store.Reader, opt Options, split Split, q float64) (*Data, error) {
	opt.defaults()
	agg, err := st.Aggregate(ctx, opt.clean(split), q)
	if err != nil {
		return nil, fmt.Errorf("builder: reading the store: %w", err)
	}
	if len(agg.PoPs) >= store.AnycastPoP {
		return nil, fmt.Errorf("builder: %d sample targets, more than %d", len(agg.PoPs), store.AnycastPoP-1)
	}
	d := &Data{Quantile: q, Counts: Counts{}}
	for r, n := range agg.Counts {
		d.Counts.add(r, n)
	}
	for _, p := range agg.PoPs {
		d.PoPs = append(d.PoPs, popmap.Label(p))
	}
	edgeOnly := opt.EdgeRTT && !opt.Skip[RuleEdgeOnly]
	cells := agg.Cells
	d.Networks = make([]Network, 0, len(agg.Networks))
	for _, na := range agg.Networks {
		j := 0
		for j < len(cells) && cells[j].Network == na.Network {
			j++
		}
		mine := cells[:j:j]
		cells = cells[j:]
		pfx := store.NetworkPrefix(na.Network)
		if !pfx.IsValid() {
			return nil, fmt.Errorf("builder: the store returned network key %#x, not a client subnet", na.Network)
		}
		if edgeOnly && na.EdgeSamples > 0 && na.RUMSamples == 0 {
			// RuleEdgeOnly: a network whose only kept samples are edge RTTs.
			// They measure the one PoP DNS sends it to; given a row of one
			// PoP the builder would map it there, pinning it to today's
			// answer, and its one-PoP level would skew the pooled profiles
			// of its prefix and AS (and break their agreement).
			d.Counts.add(RuleEdgeOnly, int(na.EdgeSamples))
			continue
		}
		n := Network{Key: na.Network, Prefix: pfx, Beacons: na.Beacons}
		for k, c := range mine {
			if c.PoP == store.AnycastPoP {
				n.anycast = c
				mine = mine[:k]
				break
			}
			if int(c.PoP) >= len(d.PoPs) {
				return nil, fmt.Errorf("builder: the store returned PoP index %d of %d", c.PoP, len(d.PoPs))
			}
		}
		n.cells = mine
		for _, c := range mine {
			d.Samples += int(c.Count)
		}
		d.Beacons += int(n.Beacons)
		d.Networks = append(d.Networks, n)
	}
	if len(cells) != 0 {
		return nil, fmt.Errorf("builder: the store returned %d cells of networks it did not list (or out of order)", len(cells))
	}
	return d, nil
}
