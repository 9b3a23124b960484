package builder

import (
	"context"
	"math"
	"net/netip"
	"slices"

	"github.com/steer-gslb/steer/geoip"
	"github.com/steer-gslb/steer/internal/wstats"
	"github.com/steer-gslb/steer/mapeval"
	"github.com/steer-gslb/steer/popmap"
	"github.com/steer-gslb/steer/store"
)

// HeldOut is the evaluation data: the held-out beacons' samples, cleaned by
// the same rules as the build's, reduced to each network's median RTT per
// PoP and to anycast, plus the held-out DNS test join. Only networks that
// measured every PoP are scored, so that every map is scored on the same
// networks and every choice has a measured latency.
type HeldOut struct {
	PoPs     []popmap.Label
	nets     []heldNet
	join     *joinData
	Beacons  int
	Networks int // networks scored
}

type heldNet struct {
	prefix  netip.Prefix
	key     uint64
	lat     []float32 // median RTT per PoP
	anycast float32   // median anycast RTT; NaN if none
	w       float64
	best    float32
}

// LoadHeldOut reads the held-out split of st (Options.HoldOut must be the
// build's).
func LoadHeldOut(ctx context.Context, st store.Reader, opt Options) (*HeldOut, error) {
	opt.defaults()
	d, err := Load(ctx, st, opt, HoldoutBeacons, 0.5)
	if err != nil {
		return nil, err
	}
	var cnt Counts
	j, err := loadJoin(ctx, st, opt, HoldoutBeacons, &cnt)
	if err != nil {
		return nil, err
	}
	h := &HeldOut{PoPs: d.PoPs, join: j, Beacons: d.Beacons}
	for i := range d.Networks {
		n := &d.Networks[i]
		lat := make([]float32, len(d.PoPs))
		for p := range lat {
			lat[p] = float32(math.NaN())
		}
		k := 0
		n.PoPCells(0.5, func(p, _ int, v float64) {
			lat[p] = float32(v)
			k++
		})
		if k < len(d.PoPs) {
			continue
		}
		ac, _ := n.Anycast(0.5)
		hn := heldNet{prefix: n.Prefix, key: n.Key, lat: lat, anycast: float32(ac), w: float64(n.Beacons)}
		hn.best = slices.Min(lat)
		h.nets = append(h.nets, hn)
	}
	h.Networks = len(h.nets)
	return h, nil
}

// Strategy is how a query is answered (mapeval.Chooser): a map's entry
// (ECS prefix or resolver address), else the GeoIP-nearest of Sites, else
// anycast. A nil Map is the geo map; nil Map and Geo is anycast.
type Strategy struct {
	Map   *popmap.Table
	Geo   *geoip.DB
	Sites []geoip.Site
}

// Score is a strategy's result on held-out data, traffic-weighted (by
// beacons): latency percentiles, mean regret against each network's (or
// resolver's) best PoP, share at the best, coverage by map entries.
type Score = wstats.Score

// Scores are a strategy's two views.
type Scores struct {
	PerNetwork Score `json:"per_network"` // each client network by its own entry
	Served     Score `json:"served"`      // each DNS test through its resolver, as DNS serves it
}

// Score scores a strategy in both views.
func (h *HeldOut) Score(s *Strategy) Scores {
	ch := mapeval.NewChooser(s.Map, s.Geo, s.Sites, h.PoPs)
	latAt := func(n *heldNet, p int) float64 {
		if p < 0 {
			if math.IsNaN(float64(n.anycast)) {
				return float64(slices.Max(n.lat)) // no anycast sample: the worst case
			}
			return float64(n.anycast)
		}
		return float64(n.lat[p])
	}
	var pn, sv wstats.Scorer
	byKey := map[uint64]*heldNet{}
	for i := range h.nets {
		n := &h.nets[i]
		byKey[n.key] = n
		p, covered := ch.Choose(n.prefix, n.prefix.Addr())
		pn.Add(n.w, latAt(n, p), float64(n.best), covered)
	}
	// served: per resolver, its held-out clients
	addrs := make([]netip.Addr, 0, len(h.join.resolvers))
	for a := range h.join.resolvers {
		addrs = append(addrs, a)
	}
	slices.SortFunc(addrs, netip.Addr.Compare)
	sums := make([]float64, len(h.PoPs))
	for _, a := range addrs {
		r := h.join.resolvers[a]
		ecs := r.ecsShare() >= 0.5
		rp, rcov := ch.Choose(netip.Prefix{}, a)
		clear(sums)
		var cs []*heldNet
		var ws []float64
		for _, c := range r.clients {
			if n := byKey[c.network]; n != nil {
				cs = append(cs, n)
				ws = append(ws, c.weight)
				for p := range sums {
					sums[p] += c.weight * float64(n.lat[p])
				}
			}
		}
		if len(cs) == 0 {
			continue
		}
		bestP := 0
		for p := range sums {
			if sums[p] < sums[bestP] {
				bestP = p
			}
		}
		for k, n := range cs {
			if ecs {
				p, cov := ch.Choose(n.prefix, n.prefix.Addr())
				sv.Add(ws[k], latAt(n, p), float64(n.best), cov)
				continue
			}
			sv.Add(ws[k], latAt(n, rp), float64(n.lat[bestP]), rcov)
		}
	}
	return Scores{PerNetwork: pn.Score(), Served: sv.Score()}
}
