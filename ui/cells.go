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

// orders are the points' global orders, computed once for every level:
// heaviest first (members are listed in this order) and by latency under
// map A (for the cells' weighted quantiles; points without one left out).
type orders struct {
	byWeight, byLat []int32
}

func newOrders(pts []point) orders {
	var o orders
	o.byWeight = make([]int32, len(pts))
	for i := range pts {
		o.byWeight[i] = int32(i)
		if !math.IsNaN(float64(pts[i].latA)) {
			o.byLat = append(o.byLat, int32(i))
		}
	}
	slices.SortFunc(o.byWeight, func(a, b int32) int {
		if c := cmp.Compare(pts[b].weight, pts[a].weight); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	slices.SortFunc(o.byLat, func(a, b int32) int { return cmp.Compare(pts[a].latA, pts[b].latA) })
	return o
}

// aggregate builds the level of resolution res.
func aggregate(pts []point, o orders, res, npops int) *level {
	lv := &level{res: res, index: map[h3.Cell]int{}}
	cache := map[cellKey]h3.Cell{}
	cellOf := make([]int32, len(pts))
	for _, i := range o.byWeight {
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
		cellOf[i] = int32(j)
		a := &lv.cells[j]
		a.members = append(a.members, i)
		w := float64(p.weight)
		a.weight += w
		if p.pop >= 0 {
			a.popW[p.pop] += w
		}
		a.srcW[p.source] += w
		a.samples += float64(p.samples)
	}
	// p75 per cell: walk every point by latency once, accumulating each
	// cell's weight, and note where it crosses 75 % of the cell's
	// weight with a known latency.
	latW := make([]float64, len(lv.cells))
	for _, i := range o.byLat {
		latW[cellOf[i]] += float64(pts[i].weight)
	}
	acc := make([]float64, len(lv.cells))
	for j := range lv.cells {
		lv.cells[j].p75 = math.NaN()
	}
	for _, i := range o.byLat {
		j := cellOf[i]
		acc[j] += float64(pts[i].weight)
		if a := &lv.cells[j]; math.IsNaN(a.p75) && acc[j] >= 0.75*latW[j] {
			a.p75 = float64(pts[i].latA)
		}
	}
	for j := range lv.cells {
		a := &lv.cells[j]
		a.country = string(pts[a.members[0]].country[:])
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
