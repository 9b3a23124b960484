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
	// Regions: the world, each continent, the heaviest countries; each
	// row belongs to up to three of them.
	var total float64
	byCountry := map[string]float64{}
	byContinent := map[string]float64{}
	for _, r := range eb.rows {
		total += float64(r.weight)
		c := string(r.country[:])
		byCountry[c] += float64(r.weight)
		if ct := planner.Continent(c); ct != "" {
			byContinent[ct] += float64(r.weight)
		}
	}
	ev.Regions = append(ev.Regions, Region{Kind: "world", Name: "World"})
	idx := map[string]int{}
	for _, k := range heaviest(byContinent, -1) {
		idx["continent/"+k] = len(ev.Regions)
		ev.Regions = append(ev.Regions, Region{Kind: "continent", Name: k})
	}
	for _, k := range heaviest(byCountry, 40) {
		idx["country/"+k] = len(ev.Regions)
		ev.Regions = append(ev.Regions, Region{Kind: "country", Name: k})
	}
	member := make([][3]int16, len(eb.rows)) // region indexes of each row, -1: none
	weight := make([]float64, len(ev.Regions))
	for i, r := range eb.rows {
		c := string(r.country[:])
		member[i] = [3]int16{0, -1, -1}
		if k, ok := idx["continent/"+planner.Continent(c)]; ok {
			member[i][1] = int16(k)
		}
		if k, ok := idx["country/"+c]; ok {
			member[i][2] = int16(k)
		}
		for _, k := range member[i] {
			if k >= 0 {
				weight[k] += float64(r.weight)
			}
		}
	}
	for k := range ev.Regions {
		ev.Regions[k].P = make([][3]float64, ns)
		if total > 0 {
			ev.Regions[k].Weight = weight[k] / total
		}
	}
	// Per strategy: one sort of every row by latency, then one walk that
	// notes where each region crosses 50, 75 and 95 % of its weight.
	order := make([]int32, len(eb.rows))
	acc := make([]float64, len(ev.Regions))
	next := make([]int, len(ev.Regions))
	qs := [3]float64{0.5, 0.75, 0.95}
	for s := range ns {
		for i := range order {
			order[i] = int32(i)
		}
		slices.SortFunc(order, func(a, b int32) int { return cmp.Compare(eb.rows[a].lat[s], eb.rows[b].lat[s]) })
		clear(acc)
		clear(next)
		for _, i := range order {
			r := &eb.rows[i]
			for _, k := range member[i] {
				if k < 0 {
					continue
				}
				acc[k] += float64(r.weight)
				for next[k] < len(qs) && acc[k] >= qs[next[k]]*weight[k] {
					ev.Regions[k].P[s][next[k]] = math.Round(float64(r.lat[s])*10) / 10
					next[k]++
				}
			}
		}
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

// heaviest are a grouping's keys, heaviest first (ties by name), at most n
// of them (n < 0: all).
func heaviest(w map[string]float64, n int) []string {
	keys := make([]string, 0, len(w))
	for k := range w {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int {
		if c := cmp.Compare(w[b], w[a]); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	if n >= 0 && len(keys) > n {
		keys = keys[:n]
	}
	return keys
}
