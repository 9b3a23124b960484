package builder

import (
	"math"
	"net/netip"
	"runtime"
	"sync"

	"github.com/gaissmai/bart"

	"github.com/steer-gslb/steer/store"
)

// estimates holds, per measured network and PoP, the sample count, the
// network's own percentile and the pooled estimate the map ranks by.
type estimates struct {
	nPoP  int
	count []uint16  // [net*nPoP+p]
	own   []float32 // own percentile; NaN without samples
	est   []float32 // pooled estimate; +Inf when nothing is known
	level []float32 // per network: mean own percentile over its PoPs
}

func (e *estimates) row(i int) []float32 { return e.est[i*e.nPoP : (i+1)*e.nPoP] }

// Percentile of sorted values: the pinned quantile (store.Quantile, type
// 7 on float32 values, DuckDB's quantile_cont) that every store engine's
// cells give. It is the estimate the builder ranks PoPs on (and steer
// explain's store estimates).
func Percentile(sorted []float32, q float64) float64 { return store.Quantile(sorted, q) }

// ownEstimates computes each network's own percentile per PoP, in parallel.
func ownEstimates(d *Data, q float64) *estimates {
	np := len(d.PoPs)
	e := &estimates{
		nPoP:  np,
		count: make([]uint16, len(d.Networks)*np),
		own:   make([]float32, len(d.Networks)*np),
		est:   make([]float32, len(d.Networks)*np),
		level: make([]float32, len(d.Networks)),
	}
	var wg sync.WaitGroup
	workers := runtime.GOMAXPROCS(0)
	for w := range workers {
		wg.Go(func() {
			for i := w; i < len(d.Networks); i += workers {
				own := e.own[i*np : (i+1)*np]
				cnt := e.count[i*np : (i+1)*np]
				for p := range own {
					own[p] = float32(math.NaN())
				}
				sum, k := 0.0, 0
				d.Networks[i].PoPCells(q, func(p, n int, v float64) {
					own[p] = float32(v)
					cnt[p] = uint16(min(n, math.MaxUint16))
					sum += float64(own[p])
					k++
				})
				e.level[i] = float32(math.NaN())
				if k > 0 {
					e.level[i] = float32(sum / float64(k))
				}
			}
		})
	}
	wg.Wait()
	return e
}

// profile accumulates a group's relative latency per PoP: Σ c·(own − level)
// and Σ c over its members.
type profile struct {
	sum []float64
	n   []float64
}

func newProfile(np int) *profile { return &profile{make([]float64, np), make([]float64, np)} }

func (g *profile) add(e *estimates, i int) {
	lv := float64(e.level[i])
	for p := range g.sum {
		c := float64(e.count[i*e.nPoP+p])
		if c == 0 {
			continue
		}
		g.sum[p] += c * (float64(e.own[i*e.nPoP+p]) - lv)
		g.n[p] += c
	}
}

// pool fills est: each network's own percentile shrunk toward its group's
// profile (the announced prefix's, itself shrunk toward its AS's), shifted
// to the network's own level. A cell with c samples weighs its own value
// c and the group's prior; a PoP the network never measured gets the
// group's value outright. Without a group (no route, or alone in it) the
// own value stands and unmeasured PoPs stay unknown (+Inf).
//
// Why relative profiles: networks of one prefix are mostly in one city
// behind one ISP, so their latencies to the PoPs differ by an access term
// that is nearly the same for every PoP; the profile carries the shape,
// the level carries the access term.
func pool(d *Data, e *estimates, routes *bart.Table[route], prior float64, minSamples int, cnt *Counts) {
	np := e.nPoP
	pfxOf := make([]netip.Prefix, len(d.Networks))
	asOf := make([]uint32, len(d.Networks))
	byPfx := map[netip.Prefix]*profile{}
	byAS := map[uint32]*profile{}
	for i := range d.Networks {
		if math.IsNaN(float64(e.level[i])) {
			continue
		}
		if pfx, r, ok := routes.LookupPrefixLPM(d.Networks[i].Prefix); ok {
			pfxOf[i], asOf[i] = pfx, r.asn
			g := byPfx[pfx]
			if g == nil {
				g = newProfile(np)
				byPfx[pfx] = g
			}
			g.add(e, i)
			a := byAS[r.asn]
			if a == nil {
				a = newProfile(np)
				byAS[r.asn] = a
			}
			a.add(e, i)
		}
	}
	sparse := 0
	for i := range d.Networks {
		own := e.own[i*np : (i+1)*np]
		counts := e.count[i*np : (i+1)*np]
		est := e.est[i*np : (i+1)*np]
		lv := float64(e.level[i])
		gp, ga := byPfx[pfxOf[i]], byAS[asOf[i]]
		for p := range est {
			c := float64(counts[p])
			// the group's relative value at p without this network's own
			// samples (leave one out), the prefix shrunk toward the AS
			var rel, relN float64
			if ga != nil && prior > 0 {
				mine := 0.0
				if c > 0 {
					mine = c * (float64(own[p]) - lv)
				}
				an, as := ga.n[p]-c, ga.sum[p]-mine
				pn, ps := gp.n[p]-c, gp.sum[p]-mine
				if an > 0.5 {
					aRel := as / an
					rel, relN = aRel, an
					if pn > 0.5 {
						rel = (ps + prior*aRel) / (pn + prior)
						relN = pn + prior
					}
				}
			}
			switch {
			case c > 0 && relN > 0:
				// shrink only as far as the group's own evidence allows
				k := prior * relN / (relN + prior)
				est[p] = float32((c*float64(own[p]) + k*(rel+lv)) / (c + k))
				if int(c) < minSamples {
					sparse++
				}
			case c > 0:
				est[p] = own[p]
			case relN > 0:
				est[p] = float32(rel + lv)
			default:
				est[p] = float32(math.Inf(1))
			}
		}
	}
	cnt.add(RuleSparsePooled, sparse)
}
