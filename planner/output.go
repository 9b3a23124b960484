package planner

import (
	"encoding/json"
	"fmt"
	"io"
	"math"

	"github.com/golang/geo/s2"
)

// GeoJSON types (RFC 7946), just what the planner writes.
type (
	featureCollection struct {
		Type     string    `json:"type"`
		Features []feature `json:"features"`
		// Curve is the loss curve (a foreign member, RFC 7946 §6.1): mean
		// loss against the number of PoPs, existing PoPs least needed
		// dropped first, then the new sites.
		Curve      []curvePoint `json:"curve,omitempty"`
		CurveLabel string       `json:"curve_label,omitempty"`
	}
	curvePoint struct {
		PoPs int     `json:"pops"`
		Loss float64 `json:"loss"`
		Kind string  `json:"kind"` // "existing" or "new"
		Site string  `json:"site"` // the PoP this point has and the previous one has not
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
	n := len(p.Existing)
	for _, c := range pl.Curve() {
		m := pl.Mean(c.Loss)
		if math.IsInf(m, 0) || math.IsNaN(m) {
			continue
		}
		kind := "existing"
		if c.PoPs > n {
			kind = "new"
		}
		site := ""
		if c.Site >= 0 {
			site = pl.siteTitle(c.Site)
		}
		fc.Curve = append(fc.Curve, curvePoint{PoPs: c.PoPs, Loss: round3(m), Kind: kind, Site: site})
	}
	fc.CurveLabel = "mean " + p.Loss.Quantity() + " (" + p.Loss.Unit() + ")"
	enc := json.NewEncoder(w)
	if err := enc.Encode(fc); err != nil {
		return fmt.Errorf("writing GeoJSON: %w", err)
	}
	return nil
}
