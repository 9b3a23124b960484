package ui

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
)

// WriteCSV writes a level's hexagons as kepler.gl reads them: a hex_id
// column that kepler.gl detects as an H3 index, then the aggregates.
func (m *Model) WriteCSV(w io.Writer, res int) error {
	lv, ok := m.levels[res]
	if !ok {
		return fmt.Errorf("ui: resolution %d is not aggregated (have %v)", res, m.opts.Resolutions)
	}
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "hex_id,networks,weight,pop,pop_share,samples,p75_ms,gain_ms,source,country\n")
	for i := range lv.cells {
		h := m.hexJSON(&lv.cells[i])
		fmt.Fprintf(bw, "%s,%d,%s,%s,%s,%s,%s,%s,%s,%s\n", h.H, h.N, ftoa(h.W), h.PoP, ftoa(h.Share), ftoa(h.Samples),
			optf(h.P75), optf(h.Gain), h.Src, h.CC)
	}
	return bw.Flush()
}

// WriteGeoJSON writes a level's hexagons as a GeoJSON FeatureCollection
// (RFC 7946: exterior rings counter-clockwise, as h3 gives them).
func (m *Model) WriteGeoJSON(w io.Writer, res int) error {
	lv, ok := m.levels[res]
	if !ok {
		return fmt.Errorf("ui: resolution %d is not aggregated (have %v)", res, m.opts.Resolutions)
	}
	type feature struct {
		Type       string         `json:"type"`
		Geometry   map[string]any `json:"geometry"`
		Properties hexJSON        `json:"properties"`
	}
	fc := struct {
		Type     string    `json:"type"`
		Features []feature `json:"features"`
	}{Type: "FeatureCollection", Features: make([]feature, 0, len(lv.cells))}
	for i := range lv.cells {
		h := m.hexJSON(&lv.cells[i])
		ring := append(append([][2]float64{}, h.B...), h.B[0])
		h.B = nil
		fc.Features = append(fc.Features, feature{"Feature", map[string]any{"type": "Polygon", "coordinates": [][][2]float64{ring}}, h})
	}
	return json.NewEncoder(w).Encode(fc)
}

func ftoa(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

func optf(v *float64) string {
	if v == nil {
		return ""
	}
	return ftoa(*v)
}

func (s *Server) exportCSV(w http.ResponseWriter, r *http.Request) {
	lv, err := s.level(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "text/csv")
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=steer-hexes-res%d.csv", lv.res))
	_ = s.m.WriteCSV(w, lv.res)
}

func (s *Server) exportGeoJSON(w http.ResponseWriter, r *http.Request) {
	lv, err := s.level(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/geo+json")
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=steer-hexes-res%d.geojson", lv.res))
	_ = s.m.WriteGeoJSON(w, lv.res)
}
