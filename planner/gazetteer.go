package planner

import (
	"cmp"
	"math"
	"slices"
	"strings"

	"github.com/steer-gslb/steer/data"
	"github.com/steer-gslb/steer/geoip"
)

// Gazetteer finds cities by name and by position.
type Gazetteer struct {
	cities []data.City
	byName map[string][]int // nameKey → indexes, most populous first
	rows   [180][]int       // 1° latitude bands (row 0: −90..−89), indexes sorted by longitude
}

// NewGazetteer indexes cities (usually [data.Cities]).
func NewGazetteer(cities []data.City) *Gazetteer {
	g := &Gazetteer{cities: slices.Clone(cities), byName: map[string][]int{}}
	for i, c := range g.cities {
		k := nameKey(c.Name)
		g.byName[k] = append(g.byName[k], i)
		r := row(c.Lat)
		g.rows[r] = append(g.rows[r], i)
	}
	for _, idx := range g.byName {
		slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(g.cities[b].Population, g.cities[a].Population) })
	}
	for r := range g.rows {
		slices.SortFunc(g.rows[r], func(a, b int) int { return cmp.Compare(g.cities[a].Lon, g.cities[b].Lon) })
	}
	return g
}

// nameKey compares names case-insensitively, ignoring spaces, dots and
// hyphens ("sao paulo", "SaoPaulo", "Winston-Salem").
func nameKey(s string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case ' ', '.', '-', '\t':
			return -1
		}
		return r
	}, strings.ToLower(s))
}

func row(lat float64) int { return min(179, max(0, int(math.Floor(lat+90)))) }

// Lookup returns the most populous city named name (case-insensitive,
// ignoring spaces, dots and hyphens), in country when it is not "".
func (g *Gazetteer) Lookup(name, country string) (data.City, bool) {
	for _, i := range g.byName[nameKey(name)] {
		if country == "" || strings.EqualFold(g.cities[i].Country, country) {
			return g.cities[i], true
		}
	}
	return data.City{}, false
}

// Nearest returns the city nearest to (lat, lon) and its distance in km;
// ok is false when the gazetteer is empty. It scans latitude bands outward
// from the point's own and, in each band, longitudes outward from the
// point's, stopping where a lower bound on the distance passes the best
// found.
func (g *Gazetteer) Nearest(lat, lon float64) (c data.City, km float64, ok bool) {
	const rad = math.Pi / 180
	best, bi := math.Inf(1), -1
	r0 := row(lat)
	cosLat := math.Cos(lat * rad)
	pole := (90 - math.Abs(lat)) * rad * geoip.EarthRadiusKm
	scan := func(r int) {
		idx := g.rows[r]
		if len(idx) == 0 {
			return
		}
		// lb bounds the distance to any point Δλ of longitude away: the
		// distance to that meridian (or to the pole beyond 90°).
		lb := func(dlon float64) float64 {
			if dlon >= 90 {
				return pole
			}
			return math.Asin(min(1, cosLat*math.Sin(dlon*rad))) * geoip.EarthRadiusKm
		}
		n := len(idx)
		start, _ := slices.BinarySearchFunc(idx, lon, func(i int, l float64) int { return cmp.Compare(g.cities[i].Lon, l) })
		// Eastward from the first city at or east of lon, then westward
		// from the one before it; each direction covers its half of the
		// band, where the bound grows with every step.
		for _, east := range [2]bool{true, false} {
			for k := range n {
				j := (start + k) % n
				if !east {
					j = ((start-1-k)%n + n) % n
				}
				ci := &g.cities[idx[j]]
				dlon := math.Abs(ci.Lon - lon)
				if dlon > 180 {
					dlon = 360 - dlon
				}
				if lb(dlon) > best {
					break
				}
				if d := geoip.Distance(lat, lon, ci.Lat, ci.Lon); d < best || (d == best && idx[j] < bi) {
					best, bi = d, idx[j]
				}
			}
		}
	}
	scan(r0)
	for k := 1; k < 180; k++ {
		lo, hi := r0-k, r0+k
		// The nearest latitude of band r0±k is k−1 whole degrees (at
		// least) from the point.
		if float64(k-1)*rad*geoip.EarthRadiusKm > best {
			break
		}
		if lo >= 0 {
			scan(lo)
		}
		if hi < 180 {
			scan(hi)
		}
		if lo < 0 && hi >= 180 {
			break
		}
	}
	if bi < 0 {
		return data.City{}, 0, false
	}
	return g.cities[bi], best, true
}
