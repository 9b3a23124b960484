package planner

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"
)

// handPlan is a plan small enough to check by hand: one PoP "sin" on the
// equator at 0°, Mumbai 35° east of it (3,892 km) and a small town 1° from
// sin; the candidates are Mumbai and a site beside sin.
func handPlan(t *testing.T) *Plan {
	t.Helper()
	p := &Problem{
		Cells: []Cell{
			{ID: CellOf(0, 35), Lat: 0, Lon: 35, Weight: 12.4e6, Points: 3, Place: Place{Name: "Mumbai", Country: "IN", Lat: 0, Lon: 35}},
			{ID: CellOf(0, 1), Lat: 0, Lon: 1, Weight: 50e3, Points: 1, Place: Place{Name: "Town", Country: "SG", Lat: 0, Lon: 1}},
		},
		Candidates: []Site{{Name: "Beside", Country: "SG", Lat: 0, Lon: 0.5}, {Name: "Mumbai", Country: "IN", Lat: 0, Lon: 35}},
		Existing:   []Site{{Label: "sin", Name: "Singapore", Country: "SG"}},
		Loss:       Loss{Kind: L1},
	}
	pl, err := p.Plan(1)
	if err != nil {
		t.Fatal(err)
	}
	return pl
}

func TestExplain(t *testing.T) {
	pl := handPlan(t)
	got := pl.Explain(0, 3, "people")
	want := "Mumbai becomes the nearest PoP for 12.4M people (99.6 %) in 1 cell, 3,892 km from their nearest PoP on average before, " +
		"0 km after; the largest gains: Mumbai (12.4M, 3,892 km from sin → 0 km)."
	if got != want {
		t.Errorf("Explain:\n got %s\nwant %s", got, want)
	}
	var b bytes.Buffer
	Report{WeightUnit: "people", Weights: "test"}.Write(&b, pl)
	for _, s := range []string{
		"demand: 2 s2 level-7 cells holding 12.4M people (4 points: test)",
		"existing: 1 PoP sin",
		// Before: 12.4M × 3,891.83 km (35°) + 50k × 111.19 km (1°), over
		// 12.45M people; after, the town alone: 5.56M / 12.45M.
		"mean distance 3,877 km per person",
		"  1  Mumbai                       IN  17804               0.45 km       -3,876 km (-100.0 %)",
		"    1          3,877             sin",
		"    2           0.45   -100.0 %  +Mumbai",
		"Asia               12.4M  100.0%          3,877           0.45  -100.0 %      1",
	} {
		if !strings.Contains(b.String(), s) {
			t.Errorf("report lacks %q:\n%s", s, b.String())
		}
	}
}

func TestGeoJSON(t *testing.T) {
	pl := handPlan(t)
	var b bytes.Buffer
	if err := pl.WriteGeoJSON(&b); err != nil {
		t.Fatal(err)
	}
	var fc struct {
		Type     string
		Features []struct {
			Geometry   struct{ Type string }
			Properties map[string]any
		}
		Curve []struct {
			PoPs       int
			Loss       float64
			Kind, Site string
		}
		CurveLabel string `json:"curve_label"`
	}
	if err := json.Unmarshal(b.Bytes(), &fc); err != nil {
		t.Fatal(err)
	}
	var curve []curvePoint
	for _, c := range pl.Curve() {
		if m := pl.Mean(c.Loss); !math.IsInf(m, 0) {
			curve = append(curve, curvePoint{PoPs: c.PoPs, Loss: round3(m)})
		}
	}
	if len(fc.Curve) != len(curve) || len(curve) == 0 || !strings.HasPrefix(fc.CurveLabel, "mean ") {
		t.Fatalf("curve %+v (%q), want the %d points of pl.Curve()", fc.Curve, fc.CurveLabel, len(curve))
	}
	for i, c := range fc.Curve {
		if c.PoPs != curve[i].PoPs || c.Loss != curve[i].Loss {
			t.Errorf("curve point %d: %+v, want %+v", i, c, curve[i])
		}
	}
	if last := fc.Curve[len(fc.Curve)-1]; last.Kind != "new" || last.Site != "+Mumbai" {
		t.Errorf("the curve's last point %+v: want the new site +Mumbai", last)
	}
	kinds := map[string]int{}
	for _, f := range fc.Features {
		kinds[f.Properties["kind"].(string)]++
	}
	if fc.Type != "FeatureCollection" || kinds["cell"] != 2 || kinds["pop"] != 1 || kinds["site"] != 1 {
		t.Fatalf("type %s, kinds %v", fc.Type, kinds)
	}
	c := fc.Features[0].Properties
	if c["name"] != "Mumbai" || c["pop_before"] != "sin" || c["pop_after"] != "+Mumbai" || c["km_after"] != 0.0 || math.Abs(c["km_before"].(float64)-3891.828) > 0.001 {
		t.Errorf("cell properties %v", c)
	}
	s := fc.Features[3].Properties
	if s["rank"] != 1.0 || s["name"] != "Mumbai" || math.Abs(s["reduction_pct"].(float64)-99.988) > 0.001 {
		t.Errorf("site properties %v", s)
	}
}

// TestCellGeometry: cells become closed rings within ±180°, split in two at
// the antimeridian.
func TestCellGeometry(t *testing.T) {
	split := 0
	for lon := 179.0; lon < 181; lon += 0.05 {
		for _, lat := range []float64{-17.8, 0.3, 64.7} {
			l := lon
			if l > 180 {
				l -= 360
			}
			g := cellGeometry(CellOf(lat, l))
			var polys [][][][]float64
			switch g.Type {
			case "Polygon":
				polys = [][][][]float64{g.Coordinates.([][][]float64)}
			case "MultiPolygon":
				polys = g.Coordinates.([][][][]float64)
				split++
			default:
				t.Fatalf("cell at %v,%v: %s", lat, l, g.Type)
			}
			for _, poly := range polys {
				ring := poly[0]
				if len(ring) < 4 || ring[0][0] != ring[len(ring)-1][0] || ring[0][1] != ring[len(ring)-1][1] {
					t.Errorf("cell at %v,%v: ring %v not closed", lat, l, ring)
				}
				lo, hi := 180.0, -180.0
				for _, p := range ring {
					lo, hi = math.Min(lo, p[0]), math.Max(hi, p[0])
				}
				if lo < -180 || hi > 180 || hi-lo > 5 {
					t.Errorf("cell at %v,%v: ring spans longitudes %v..%v", lat, l, lo, hi)
				}
			}
		}
	}
	if split == 0 {
		t.Error("no cell near the antimeridian was split")
	}
	if g := cellGeometry(CellOf(48.85, 2.35)); g.Type != "Polygon" {
		t.Errorf("Paris: %s", g.Type)
	}
}
