package ui

import (
	"cmp"
	"math"
	"slices"

	"github.com/steer-gslb/steer/planner"
	"github.com/steer-gslb/steer/sim"
)

// Strategies scored per network, in table order.
var strategies = []string{"geo", "anycast", "map", "perfect"}

const (
	stGeo = iota
	stAnycast
	stMap
	stPerfect
	stAgainst // only with --against
)

// Gain histogram bins: 0.5 ms from gainMin to gainMax; outside values go to
// the first or last bin.
const (
	gainMin  = -200.0
	gainMax  = 500.0
	gainStep = 0.5
)

// Evaluation is the evaluation view: what each steering gives every user of
// the simulated world, per network (its own map entry, else the fallback), by
// true median RTT weighted by traffic.
type Evaluation struct {
	Strategies []string `json:"strategies"`
	// Gains are the per-user gain distributions of the map over each
	// baseline: gain = latency under the baseline − under the map (ms;
	// positive = the map is faster).
	Gains []GainDist `json:"gains"`
	// Regions are p50/p75/p95 per strategy for the world, each continent
	// and the heaviest countries.
	Regions []Region `json:"regions"`
}

// GainDist is a weighted gain distribution and its readings.
type GainDist struct {
	Over string `json:"over"` // the baseline
	// Bins are histogram bin starts (ms) and the share of traffic in each.
	Min, Step float64   `json:"-"`
	X         []float64 `json:"x"`
	Share     []float64 `json:"share"`
	// Readings: the share of traffic whose gain is at least 2, 20 and
	// 200 ms, and that loses at least 2 ms.
	Over2   float64 `json:"over2"`
	Over20  float64 `json:"over20"`
	Over200 float64 `json:"over200"`
	Worse2  float64 `json:"worse2"`
	Mean    float64 `json:"mean"`
}

// Region is one row of the regional table.
type Region struct {
	Kind   string       `json:"kind"` // "world", "continent" or "country"
	Name   string       `json:"name"`
	Weight float64      `json:"weight"` // share of traffic
	P      [][3]float64 `json:"p"`      // per strategy: p50, p75, p95 (ms)
}

type evalRow struct {
	weight  float32
	country [2]byte
	lat     [5]float32 // by strategy (stAgainst only with --against)
}

type evalBuilder struct {
	against string // "" = no against column
	rows    []evalRow
}

func newEvalBuilder(gainName string) *evalBuilder {
	eb := &evalBuilder{}
	if gainName != "gain over geo" {
		eb.against = gainName[len("gain over "):]
	}
	return eb
}

func (eb *evalBuilder) add(r *sim.TruthRecord, latMap, latAgainst float64) {
	row := evalRow{weight: float32(r.Weight)}
	copy(row.country[:], r.Country)
	geo := r.Geo
	if geo < 0 {
		geo = r.Anycast
	}
	row.lat[stGeo] = float32(r.Quantile(geo, 0.5))
	row.lat[stAnycast] = float32(r.Quantile(r.Anycast, 0.5))
	row.lat[stMap] = float32(latMap)
	row.lat[stPerfect] = float32(r.Quantile(r.Best(0.5), 0.5))
	row.lat[stAgainst] = float32(latAgainst)
	eb.rows = append(eb.rows, row)
}

func (eb *evalBuilder) finish() *Evaluation {
	ev := &Evaluation{Strategies: slices.Clone(strategies)}
	ns := len(strategies)
	if eb.against != "" {
		ev.Strategies = append(ev.Strategies, eb.against)
		ns++
	}
	ev.Gains = append(ev.Gains, eb.gain("geo", stGeo), eb.gain("anycast", stAnycast))
	if eb.against != "" {
		ev.Gains = append(ev.Gains, eb.gain(eb.against, stAgainst))
	}
	var total float64
	for _, r := range eb.rows {
		total += float64(r.weight)
	}
	all := make([]int32, len(eb.rows))
	byCountry := map[string][]int32{}
	byContinent := map[string][]int32{}
	for i, r := range eb.rows {
		all[i] = int32(i)
		c := string(r.country[:])
		byCountry[c] = append(byCountry[c], int32(i))
		if ct := planner.Continent(c); ct != "" {
			byContinent[ct] = append(byContinent[ct], int32(i))
		}
	}
	ev.Regions = append(ev.Regions, eb.region("world", "World", all, total, ns))
	for _, k := range sortedByWeight(byContinent, eb.rows) {
		ev.Regions = append(ev.Regions, eb.region("continent", k, byContinent[k], total, ns))
	}
	for i, k := range sortedByWeight(byCountry, eb.rows) {
		if i == 40 {
			break
		}
		ev.Regions = append(ev.Regions, eb.region("country", k, byCountry[k], total, ns))
	}
	return ev
}

// gain is the distribution of latency under strategy s minus under the map.
func (eb *evalBuilder) gain(name string, s int) GainDist {
	n := int((gainMax-gainMin)/gainStep) + 1
	g := GainDist{Over: name, Min: gainMin, Step: gainStep, X: make([]float64, n), Share: make([]float64, n)}
	for i := range g.X {
		g.X[i] = gainMin + float64(i)*gainStep
	}
	var total, sum float64
	for _, r := range eb.rows {
		d := float64(r.lat[s] - r.lat[stMap])
		w := float64(r.weight)
		total += w
		sum += d * w
		k := int(math.Floor((d - gainMin) / gainStep))
		g.Share[min(max(k, 0), n-1)] += w
		switch {
		case d >= 200:
			g.Over200 += w
			fallthrough
		case d >= 20:
			g.Over20 += w
			fallthrough
		case d >= 2:
			g.Over2 += w
		case d <= -2:
			g.Worse2 += w
		}
	}
	if total > 0 {
		for i := range g.Share {
			g.Share[i] /= total
		}
		g.Over2, g.Over20, g.Over200, g.Worse2, g.Mean = g.Over2/total, g.Over20/total, g.Over200/total, g.Worse2/total, sum/total
	}
	return g
}

// region scores one group of rows.
func (eb *evalBuilder) region(kind, name string, idx []int32, total float64, ns int) Region {
	reg := Region{Kind: kind, Name: name, P: make([][3]float64, ns)}
	type lw struct{ l, w float64 }
	xs := make([]lw, len(idx))
	var w float64
	for _, i := range idx {
		w += float64(eb.rows[i].weight)
	}
	if total > 0 {
		reg.Weight = w / total
	}
	for s := range ns {
		for k, i := range idx {
			xs[k] = lw{float64(eb.rows[i].lat[s]), float64(eb.rows[i].weight)}
		}
		slices.SortFunc(xs, func(a, b lw) int { return cmp.Compare(a.l, b.l) })
		for q, p := range []float64{0.5, 0.75, 0.95} {
			var acc float64
			for _, x := range xs {
				acc += x.w
				if acc >= p*w {
					reg.P[s][q] = math.Round(x.l*10) / 10
					break
				}
			}
		}
	}
	return reg
}

// sortedByWeight are a grouping's keys, heaviest group first.
func sortedByWeight(g map[string][]int32, rows []evalRow) []string {
	w := map[string]float64{}
	keys := make([]string, 0, len(g))
	for k, idx := range g {
		keys = append(keys, k)
		for _, i := range idx {
			w[k] += float64(rows[i].weight)
		}
	}
	slices.SortFunc(keys, func(a, b string) int {
		if c := cmp.Compare(w[b], w[a]); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	return keys
}
