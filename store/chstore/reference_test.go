package chstore

import (
	"cmp"
	"slices"

	"github.com/steer-gslb/steer/rum"
	"github.com/steer-gslb/steer/store"
)

// refAggregate is the DuckDB store's loader (the builder's cleaning
// rules) written plainly over beacons in memory, each stored once: the
// reference the pushed-down SQL is compared with on random worlds.
func refAggregate(bs []store.Beacon, c store.Clean, q float64) *store.Aggregate {
	c.Defaults()
	// PoPs: every target but anycast; without EdgeRTT not edge beacons'
	popSet := map[string]bool{}
	for _, b := range bs {
		if b.Agent.Kind == store.EdgeKind && !c.EdgeRTT {
			continue
		}
		for _, s := range b.Samples {
			if s.Target != rum.Anycast {
				popSet[s.Target] = true
			}
		}
	}
	agg := &store.Aggregate{Quantile: q, Counts: map[store.Rule]int{}}
	for p := range popSet {
		agg.PoPs = append(agg.PoPs, p)
	}
	slices.Sort(agg.PoPs)
	add := func(r store.Rule, n int) {
		if n != 0 {
			agg.Counts[r] += n
		}
	}
	type cellKey struct {
		net uint64
		pop uint16
	}
	vals := map[cellKey][]float32{}
	nets := map[uint64]*store.NetworkAgg{}
	maxRTT := c.MaxRTT.Seconds() * 1000
	future, past := c.MaxClockAhead.Microseconds(), c.MaxAge.Microseconds()
	for _, b := range bs {
		id := store.BeaconID(&b.Beacon)
		edge := b.Agent.Kind == store.EdgeKind
		if edge && (!c.EdgeRTT || c.Split == store.HoldoutBeacons) {
			continue
		}
		if !c.Since.IsZero() && b.Received.Before(c.Since) {
			continue
		}
		held := store.IsHeldOut(id, c.HoldOut) && !edge
		if c.Split == store.TrainBeacons && held || c.Split == store.HoldoutBeacons && !held {
			continue
		}
		k, _ := store.NetworkKey(b.ClientSubnet)
		if nets[k] == nil {
			nets[k] = &store.NetworkAgg{Network: k}
		}
		recv := b.Received.UnixMicro()
		var pops []uint16
		var rtts []float64
		for _, s := range b.Samples {
			if edge && (s.Target == rum.Anycast || s.Target != s.ServedBy) {
				continue
			}
			if s.Probe != rum.ProbeHTTPS && !edge && !c.Skip[store.RuleHTTPSOnly] {
				add(store.RuleHTTPSOnly, 1)
				continue
			}
			v := s.RTTms
			if !c.Skip[store.RuleImpossibleRTT] && (!(v >= 0.001) || v > maxRTT) {
				add(store.RuleImpossibleRTT, 1)
				continue
			}
			ts := s.TS.UnixMicro()
			if !c.Skip[store.RuleBadClock] && (ts > recv+future || ts < recv-past) {
				add(store.RuleBadClock, 1)
				continue
			}
			p := uint16(store.AnycastPoP)
			if s.Target != rum.Anycast {
				i, ok := slices.BinarySearch(agg.PoPs, s.Target)
				if !ok {
					continue
				}
				p = uint16(i)
			}
			pops = append(pops, p)
			rtts = append(rtts, v)
		}
		if len(rtts) == 0 {
			continue
		}
		if store.IsTickTimer(b.Agent.Timer) && !c.Skip[store.RuleTickTimer] {
			add(store.RuleTickTimer, len(rtts))
			continue
		}
		if !c.Skip[store.RuleTickDetected] && store.Quantized(rtts) {
			add(store.RuleTickDetected, len(rtts))
			continue
		}
		n := nets[k]
		n.Beacons++
		for i, v := range rtts {
			vals[cellKey{k, pops[i]}] = append(vals[cellKey{k, pops[i]}], float32(v))
			if pops[i] == store.AnycastPoP {
				continue
			}
			if edge {
				n.EdgeSamples++
			} else {
				n.RUMSamples++
			}
		}
	}
	for _, n := range nets {
		agg.Networks = append(agg.Networks, *n)
	}
	slices.SortFunc(agg.Networks, func(a, b store.NetworkAgg) int { return cmp.Compare(a.Network, b.Network) })
	for ck, xs := range vals {
		slices.Sort(xs)
		i := store.QuantileRank(len(xs), q)
		agg.Cells = append(agg.Cells, store.Cell{Network: ck.net, PoP: ck.pop, Count: uint32(len(xs)), Lo: xs[i], Hi: xs[min(i+1, len(xs)-1)]})
	}
	slices.SortFunc(agg.Cells, func(a, b store.Cell) int {
		if c := cmp.Compare(a.Network, b.Network); c != 0 {
			return c
		}
		return cmp.Compare(a.PoP, b.PoP)
	})
	return agg
}
