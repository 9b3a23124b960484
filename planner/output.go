package planner

import (
	"encoding/json"
	"fmt"
	"image/color"
	"io"
	"math"

	"github.com/golang/geo/s2"

	"github.com/steer-gslb/steer/internal/plot"
)

// GeoJSON types (RFC 7946), just what the planner writes.
type (
	featureCollection struct {
		Type     string    `json:"type"`
		Features []feature `json:"features"`
	}
	feature struct {
		Type       string         `json:"type"`
		Geometry   geometry       `json:"geometry"`
		Properties map[string]any `json:"properties"`
	}
	geometry struct {
		Type        string `json:"type"`
		Coordinates any    `json:"coordinates"`
	}
)

// round5 keeps 5 decimals of a degree (about a metre).
func round5(v float64) float64 { return math.Round(v*1e5) / 1e5 }

// round3 keeps 3 decimals of a derived value (km, ms).
func round3(v float64) float64 { return math.Round(v*1e3) / 1e3 }

func pointGeometry(lat, lon float64) geometry {
	return geometry{"Point", []float64{round5(lon), round5(lat)}}
}

// cellGeometry is a cell's outline: a Polygon, or a MultiPolygon of its two
// halves when it straddles the antimeridian (RFC 7946 §3.1.9).
func cellGeometry(id s2.CellID) geometry {
	c := s2.CellFromCellID(id)
	ring := make([][2]float64, 4)
	lo, hi := math.Inf(1), math.Inf(-1)
	for k := range 4 {
		ll := s2.LatLngFromPoint(c.Vertex(k))
		ring[k] = [2]float64{ll.Lng.Degrees(), ll.Lat.Degrees()}
		lo, hi = min(lo, ring[k][0]), max(hi, ring[k][0])
	}
	if hi-lo <= 180 {
		return geometry{"Polygon", [][][]float64{closeRing(ring, 0)}}
	}
	for k := range ring { // straddling: make the longitudes contiguous past 180
		if ring[k][0] < 0 {
			ring[k][0] += 360
		}
	}
	east := clipX(ring, 180, true)  // the part at or west of 180°
	west := clipX(ring, 180, false) // the part east of it, shifted back by 360°
	return geometry{"MultiPolygon", [][][][]float64{{closeRing(east, 0)}, {closeRing(west, -360)}}}
}

// clipX clips a convex ring to x ≤ at (below) or x ≥ at (Sutherland–Hodgman).
func clipX(ring [][2]float64, at float64, below bool) [][2]float64 {
	in := func(p [2]float64) bool { return (p[0] <= at) == below || p[0] == at }
	var out [][2]float64
	for i, p := range ring {
		q := ring[(i+1)%len(ring)]
		if in(p) {
			out = append(out, p)
		}
		if in(p) != in(q) {
			t := (at - p[0]) / (q[0] - p[0])
			out = append(out, [2]float64{at, p[1] + t*(q[1]-p[1])})
		}
	}
	return out
}

// closeRing returns the ring as GeoJSON positions, longitudes shifted by
// dx, first position repeated at the end.
func closeRing(ring [][2]float64, dx float64) [][]float64 {
	out := make([][]float64, 0, len(ring)+1)
	for _, p := range ring {
		out = append(out, []float64{round5(p[0] + dx), round5(p[1])})
	}
	return append(out, out[0])
}

// WriteGeoJSON writes the plan as a GeoJSON FeatureCollection: every
// weighted cell (kind "cell": its outline, weight, name, country, nearest
// PoP and distance before and after, loss per unit of weight before and
// after), the existing PoPs (kind "pop") and the new sites (kind "site",
// with their rank and the reduction each brings).
func (pl *Plan) WriteGeoJSON(w io.Writer) error {
	p := pl.Problem
	fc := featureCollection{Type: "FeatureCollection", Features: make([]feature, 0, len(p.Cells)+len(pl.Sites))}
	label := func(site int) any {
		if site < 0 {
			return nil
		}
		return pl.siteTitle(site)
	}
	for i, c := range p.Cells {
		b, a := pl.Before[i], pl.After[i]
		props := map[string]any{
			"kind": "cell", "cell": c.ID.ToToken(), "weight": c.Weight, "name": c.Place.Name, "country": c.Place.Country,
			"centroid":   []float64{round5(c.Lon), round5(c.Lat)},
			"pop_before": label(b.Site), "km_before": nil, "loss_before": nil,
			"pop_after": label(a.Site), "km_after": round3(a.Km), "loss_after": round3(p.Loss.Of(a.Km)),
		}
		if b.Site >= 0 {
			props["km_before"], props["loss_before"] = round3(b.Km), round3(p.Loss.Of(b.Km))
		}
		fc.Features = append(fc.Features, feature{"Feature", cellGeometry(c.ID), props})
	}
	for _, s := range p.Existing {
		fc.Features = append(fc.Features, feature{"Feature", pointGeometry(s.Lat, s.Lon), map[string]any{
			"kind": "pop", "label": s.Label, "name": s.Name, "country": s.Country,
		}})
	}
	for i, st := range pl.Steps {
		props := map[string]any{
			"kind": "site", "rank": i + 1, "name": st.Site.Name, "country": st.Site.Country,
			"cell": CellOf(st.Site.Lat, st.Site.Lon).ToToken(), "loss_unit": p.Loss.Unit(),
			"mean_loss_after": round3(pl.Mean(st.After)), "cells_served": len(st.Moves),
			"mean_loss_before": nil, "reduction": nil, "reduction_pct": nil,
		}
		if !math.IsInf(st.Before, 1) {
			props["mean_loss_before"] = round3(pl.Mean(st.Before))
			props["reduction"] = round3(pl.Mean(st.Before - st.After))
			props["reduction_pct"] = round3(100 * (st.Before - st.After) / st.Before)
		}
		fc.Features = append(fc.Features, feature{"Feature", pointGeometry(st.Site.Lat, st.Site.Lon), props})
	}
	enc := json.NewEncoder(w)
	if err := enc.Encode(fc); err != nil {
		return fmt.Errorf("writing GeoJSON: %w", err)
	}
	return nil
}

// Chart colors: cells pale so that the PoPs stand out.
var (
	cellColor = color.RGBA{0x6b, 0x9b, 0xc8, 0xff}
	popColor  = color.RGBA{0x20, 0x20, 0x20, 0xff}
	siteColor = color.RGBA{0xd6, 0x27, 0x28, 0xff}
)

// MapChart draws the plan on a world frame: the weighted cells (dot area
// by weight), the existing PoPs and the new sites, labelled "+1 Mumbai".
func (pl *Plan) MapChart(title, weightUnit string) *plot.Points {
	p := pl.Problem
	cells := plot.PointSet{Name: fmt.Sprintf("s2 level-%d cells (area: %s)", Level, cmpOr(weightUnit, "weight")), Color: cellColor}
	for _, c := range p.Cells {
		cells.Points = append(cells.Points, plot.Point{Lon: c.Lon, Lat: c.Lat, Weight: c.Weight})
	}
	sets := []plot.PointSet{cells}
	if len(p.Existing) > 0 {
		pops := plot.PointSet{Name: "existing PoPs", Color: popColor}
		for _, s := range p.Existing {
			pops.Points = append(pops.Points, plot.Point{Lon: s.Lon, Lat: s.Lat, Weight: 1, Label: s.Title()})
		}
		sets = append(sets, pops)
	}
	if len(pl.Steps) > 0 {
		sites := plot.PointSet{Name: "new sites (rank)", Color: siteColor}
		for i, st := range pl.Steps {
			sites.Points = append(sites.Points, plot.Point{Lon: st.Site.Lon, Lat: st.Site.Lat, Weight: 1, Label: fmt.Sprintf("+%d %s", i+1, st.Site.Name)})
		}
		sets = append(sets, sites)
	}
	return &plot.Points{Title: title, Sets: sets, MaxRadius: 12, Width: 1400, Height: 760}
}

// CurveChart draws the loss curve: mean loss against the number of PoPs,
// the thinned existing PoPs and the new sites as two series that meet at
// the existing count.
func (pl *Plan) CurveChart(title string) *plot.Lines {
	p := pl.Problem
	n := len(p.Existing)
	old := plot.XY{Name: "existing PoPs, least needed dropped first", Markers: true, Color: popColor}
	add := plot.XY{Name: "+ new sites (greedy)", Markers: true, Color: siteColor}
	for _, c := range pl.Curve() {
		x, y := float64(c.PoPs), pl.Mean(c.Loss)
		if c.PoPs <= n {
			old.X, old.Y = append(old.X, x), append(old.Y, y)
		}
		if c.PoPs >= n && (c.PoPs > n || len(pl.Steps) > 0) && !math.IsInf(y, 0) {
			add.X, add.Y = append(add.X, x), append(add.Y, y)
		}
	}
	var series []plot.XY
	if len(old.X) > 0 {
		series = append(series, old)
	}
	if len(add.X) > 0 {
		series = append(series, add)
	}
	return &plot.Lines{Title: title, XLabel: "number of PoPs", YLabel: "mean " + p.Loss.Quantity() + " (" + p.Loss.Unit() + ")",
		Series: series, Width: 1000, Height: 560}
}
