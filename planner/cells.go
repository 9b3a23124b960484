package planner

import (
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"

	"github.com/golang/geo/s2"

	"github.com/steer-gslb/steer/data"
	"github.com/steer-gslb/steer/geoip"
)

// Level is the s2 cell level the planner works at: 6·4⁷ = 98,304 cells of
// 5,190 km² on average (about 72 km across).
const Level = 7

// NumCells is the number of cells at [Level] on the whole sphere.
const NumCells = 6 << (2 * Level)

// Point is a located weight: a city's population, a row of a weights file,
// or the users of a network the RUM store located by GeoIP (the caller
// fills these; the planner does not read the store).
type Point struct {
	Lat, Lon float64 // degrees
	Weight   float64 // ≥ 0: people, users, requests
	Name     string  // optional: the place, e.g. a city, for explanations
	Country  string  // optional: ISO 3166-1 alpha-2
	// RTTms is the measured RTT (ms) from this point's users to their best
	// existing PoP (real-user measurements); 0 when not measured.
	RTTms float64
}

// Place is a named point: a city.
type Place struct {
	Name, Country string
	Lat, Lon      float64
	Weight        float64
}

// Cell is an s2 cell at [Level] with the weight of the points inside it.
type Cell struct {
	ID       s2.CellID
	Weight   float64 // the sum of its points' weights
	Lat, Lon float64 // the weighted centroid of its points: where its weight sits
	Place    Place   // its heaviest named point (Name "" if it has none), which names the cell
	Points   int     // how many points fell in it
	// MeasuredRTT is the weighted mean of its measured points' RTTs to
	// their best existing PoP (ms); 0 when none is measured. With
	// Problem.Measured, it replaces the distance model for the cell's
	// current loss.
	MeasuredRTT float64
}

// Name is the cell's name: its heaviest named point, else its s2 token.
func (c *Cell) Name() string {
	if c.Place.Name != "" {
		return c.Place.Name
	}
	return "cell " + c.ID.ToToken()
}

// CellOf returns the [Level] cell holding (lat, lon).
func CellOf(lat, lon float64) s2.CellID {
	return s2.CellIDFromLatLng(s2.LatLngFromDegrees(lat, lon)).Parent(Level)
}

// CheckLatLon reports whether lat and lon are finite degrees in range.
func CheckLatLon(lat, lon float64) error {
	if !(lat >= -90 && lat <= 90) {
		return fmt.Errorf("latitude %v outside -90..90", lat)
	}
	if !(lon >= -180 && lon <= 180) {
		return fmt.Errorf("longitude %v outside -180..180", lon)
	}
	return nil
}

// Cells sums the points into [Level] cells. It returns the cells of
// positive weight, sorted by cell id; the sum of their weights is the sum
// of the points' weights (up to float rounding). A point with a bad
// position or a negative, NaN or infinite weight is an error naming it.
func Cells(points []Point) ([]Cell, error) {
	type acc struct {
		cell         Cell
		x, y, z      float64
		heaviest     float64
		rttW, rttSum float64
	}
	byID := map[s2.CellID]*acc{}
	for i, p := range points {
		if err := CheckLatLon(p.Lat, p.Lon); err != nil {
			return nil, fmt.Errorf("point %d: %w", i, err)
		}
		if !(p.Weight >= 0) || math.IsInf(p.Weight, 0) {
			return nil, fmt.Errorf("point %d: weight %v is not a finite number ≥ 0", i, p.Weight)
		}
		if !(p.RTTms >= 0) || math.IsInf(p.RTTms, 0) {
			return nil, fmt.Errorf("point %d: RTT %v ms is not a finite number ≥ 0", i, p.RTTms)
		}
		if p.Weight == 0 {
			continue
		}
		ll := s2.LatLngFromDegrees(p.Lat, p.Lon)
		id := s2.CellIDFromLatLng(ll).Parent(Level)
		a := byID[id]
		if a == nil {
			a = &acc{cell: Cell{ID: id}, heaviest: -1}
			byID[id] = a
		}
		v := s2.PointFromLatLng(ll)
		a.x += p.Weight * v.X
		a.y += p.Weight * v.Y
		a.z += p.Weight * v.Z
		a.cell.Weight += p.Weight
		a.cell.Points++
		if p.RTTms > 0 {
			a.rttW += p.Weight
			a.rttSum += p.Weight * p.RTTms
		}
		if p.Name != "" && p.Weight > a.heaviest {
			a.heaviest = p.Weight
			a.cell.Place = Place{Name: p.Name, Country: p.Country, Lat: p.Lat, Lon: p.Lon, Weight: p.Weight}
		}
	}
	out := make([]Cell, 0, len(byID))
	for _, a := range byID {
		c := a.cell
		ll := s2.LatLngFromPoint(s2.PointFromCoords(a.x, a.y, a.z))
		if n := math.Sqrt(a.x*a.x + a.y*a.y + a.z*a.z); n < 1e-12*c.Weight {
			// Points on opposite sides of a cell cannot cancel out at
			// level 7; this guards against it anyway.
			ll = c.ID.LatLng()
		}
		c.Lat, c.Lon = ll.Lat.Degrees(), ll.Lng.Degrees()
		if a.rttW > 0 {
			c.MeasuredRTT = a.rttSum / a.rttW
		}
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b Cell) int {
		switch {
		case a.ID < b.ID:
			return -1
		case a.ID > b.ID:
			return 1
		}
		return 0
	})
	return out, nil
}

// PopulationPoints turns GeoNames cities into points weighted by
// population, named after the city.
func PopulationPoints(cities []data.City) []Point {
	out := make([]Point, len(cities))
	for i, c := range cities {
		out[i] = Point{Lat: c.Lat, Lon: c.Lon, Weight: float64(c.Population), Name: c.Name, Country: c.Country}
	}
	return out
}

// Site is a place for a PoP: an existing PoP or a candidate for a new one.
type Site struct {
	Label    string // the PoP's label; "" for a candidate
	Name     string // the city (or place) it is in
	Country  string // ISO 3166-1 alpha-2; "" if unknown
	Lat, Lon float64
}

// Title is the site's label when it has one, else its name.
func (s *Site) Title() string {
	if s.Label != "" {
		return s.Label
	}
	return s.Name
}

// CellCandidates returns a candidate site for each cell of at least
// minWeight, in the cells' order: at the cell's heaviest named point when
// that lies in the cell (a city with the people and the interconnection:
// where a PoP would be built), else at the cell's centroid; named after and
// in the country of its Place. A minWeight of 0 keeps every cell; a million
// people keeps the metropolitan areas.
func CellCandidates(cells []Cell, minWeight float64) []Site {
	var out []Site
	for _, c := range cells {
		if c.Weight < minWeight {
			continue
		}
		s := Site{Name: c.Name(), Country: c.Place.Country, Lat: c.Lat, Lon: c.Lon}
		if c.Place.Name != "" && CellOf(c.Place.Lat, c.Place.Lon) == c.ID {
			s.Lat, s.Lon = c.Place.Lat, c.Place.Lon
		}
		out = append(out, s)
	}
	return out
}

// NameCells gives every cell without a named point (weights from a file or
// the RUM store) the nearest city of g as its Place, with weight 0.
func NameCells(cells []Cell, g *Gazetteer) {
	for i := range cells {
		c := &cells[i]
		if c.Place.Name != "" {
			continue
		}
		if city, _, ok := g.Nearest(c.Lat, c.Lon); ok {
			c.Place = Place{Name: city.Name, Country: city.Country, Lat: city.Lat, Lon: city.Lon}
		}
	}
}

// EveryCell returns a candidate at the centre of each of the [NumCells]
// cells of the sphere, populated or not (oceans included), named after and
// in the country of the nearest city of g. It is the "try every cell"
// search of the method's origin; sites at sea are what the min-distance
// and country constraints, or a candidate list, are for.
func EveryCell(g *Gazetteer) []Site {
	out := make([]Site, NumCells)
	first := s2.CellIDFromFace(0).ChildBeginAtLevel(Level)
	workers := runtime.GOMAXPROCS(0)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			// Worker w names cells w, w+workers, …: the nearest-city
			// lookups are the cost, and oceans (slower) are spread evenly.
			for i := w; i < NumCells; i += workers {
				id := first.Advance(int64(i))
				ll := id.LatLng()
				s := Site{Name: "cell " + id.ToToken(), Lat: ll.Lat.Degrees(), Lon: ll.Lng.Degrees()}
				if c, km, ok := g.Nearest(s.Lat, s.Lon); ok {
					s.Country, s.Name = c.Country, nearName(c.Name, km)
				}
				out[i] = s
			}
		})
	}
	wg.Wait()
	return out
}

// nearName names a site by a city some way off: "near Nairobi (12 km)".
func nearName(city string, km float64) string { return fmt.Sprintf("near %s (%.0f km)", city, km) }

// unit is a point on the unit sphere.
type unit struct{ x, y, z float64 }

func unitOf(lat, lon float64) unit {
	p := s2.PointFromLatLng(s2.LatLngFromDegrees(lat, lon))
	return unit{p.X, p.Y, p.Z}
}

func (u unit) dot(v unit) float64 { return u.x*v.x + u.y*v.y + u.z*v.z }

// km is the great-circle distance, from the chord (exact near 0, unlike
// the arc cosine of the dot product).
func (u unit) km(v unit) float64 {
	dx, dy, dz := u.x-v.x, u.y-v.y, u.z-v.z
	return 2 * geoip.EarthRadiusKm * math.Asin(min(1, math.Sqrt(dx*dx+dy*dy+dz*dz)/2))
}
