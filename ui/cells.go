package ui

import (
	"cmp"
	"math"
	"slices"

	h3 "github.com/uber/h3-go/v4"
)

// level is the points aggregated into the h3 cells of one resolution.
type level struct {
	res   int
	cells []cellAgg
	index map[h3.Cell]int
}

// cellAgg is one hexagon: its networks and what they add up to.
type cellAgg struct {
	id       h3.Cell
	members  []int32 // point indexes, heaviest first
	weight   float64
	popW     []float64 // weight per PoP under map A
	srcW     [7]float64
	samples  float64
	p75      float64 // traffic-weighted p75 of latency under map A (NaN: unknown)
	gain     float64 // traffic-weighted mean latency under B minus under A (NaN: unknown)
	country  string  // the heaviest network's country
	boundary [][2]float64
}

// cellKey caches h3 indexing by location: networks share a few thousand
// locations (cities, GeoIP blocks), so each is indexed once.
type cellKey struct{ lat, lon float32 }

// aggregate builds the level of resolution res.
func aggregate(pts []point, res, npops int) *level {
	lv := &level{res: res, index: map[h3.Cell]int{}}
	cache := map[cellKey]h3.Cell{}
	for i := range pts {
		p := &pts[i]
		k := cellKey{p.lat, p.lon}
		c, ok := cache[k]
		if !ok {
			c = h3.LatLngToCell(h3.LatLng{Lat: float64(p.lat), Lng: float64(p.lon)}, res)
			cache[k] = c
		}
		j, ok := lv.index[c]
		if !ok {
			j = len(lv.cells)
			lv.index[c] = j
			lv.cells = append(lv.cells, cellAgg{id: c, popW: make([]float64, npops)})
		}
		a := &lv.cells[j]
		a.members = append(a.members, int32(i))
		w := float64(p.weight)
		a.weight += w
		if p.pop >= 0 {
			a.popW[p.pop] += w
		}
		a.srcW[p.source] += w
		a.samples += float64(p.samples)
	}
	for j := range lv.cells {
		a := &lv.cells[j]
		sortPoints(a.members, pts)
		a.country = string(pts[a.members[0]].country[:])
		a.p75 = weightedQuantile(a.members, pts, 0.75)
		var gs, gw float64
		for _, i := range a.members {
			p := &pts[i]
			if d := float64(p.latB - p.latA); !math.IsNaN(d) {
				gs += d * float64(p.weight)
				gw += float64(p.weight)
			}
		}
		a.gain = math.NaN()
		if gw > 0 {
			a.gain = gs / gw
		}
		b := a.id.Boundary()
		a.boundary = make([][2]float64, len(b))
		for k, ll := range b {
			a.boundary[k] = [2]float64{round4(ll.Lng), round4(ll.Lat)}
		}
	}
	return lv
}

// weightedQuantile is the q-quantile of the members' latency under map A,
// weighted by traffic; NaN when none is known.
func weightedQuantile(members []int32, pts []point, q float64) float64 {
	type lw struct{ l, w float64 }
	var xs []lw
	var total float64
	for _, i := range members {
		p := &pts[i]
		if !math.IsNaN(float64(p.latA)) {
			xs = append(xs, lw{float64(p.latA), float64(p.weight)})
			total += float64(p.weight)
		}
	}
	if len(xs) == 0 {
		return math.NaN()
	}
	slices.SortFunc(xs, func(a, b lw) int { return cmp.Compare(a.l, b.l) })
	var acc float64
	for _, x := range xs {
		acc += x.w
		if acc >= q*total {
			return x.l
		}
	}
	return xs[len(xs)-1].l
}

func round4(v float64) float64 { return math.Round(v*1e4) / 1e4 }

// dominant is the PoP carrying most of a cell's weight and its share.
func (a *cellAgg) dominant() (int, float64) {
	best, bw := -1, 0.0
	for i, w := range a.popW {
		if w > bw {
			best, bw = i, w
		}
	}
	if best < 0 || a.weight == 0 {
		return best, 0
	}
	return best, bw / a.weight
}

// mainSource is the source carrying most of a cell's weight.
func (a *cellAgg) mainSource() int {
	best := 0
	for i, w := range a.srcW {
		if w > a.srcW[best] {
			best = i
		}
	}
	return best
}

// cellAt is the level's cell containing lat, lon (nil: no network there).
func (lv *level) cellAt(lat, lon float64) *cellAgg {
	return lv.cell(h3.LatLngToCell(h3.LatLng{Lat: lat, Lng: lon}, lv.res))
}

// cell is the level's cell c (nil: no network there).
func (lv *level) cell(c h3.Cell) *cellAgg {
	j, ok := lv.index[c]
	if !ok {
		return nil
	}
	return &lv.cells[j]
}
