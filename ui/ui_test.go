package ui

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"

	h3 "github.com/uber/h3-go/v4"
)

func get(t *testing.T, srv *httptest.Server, path string, want int) []byte {
	t.Helper()
	resp, err := http.Get(srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != want {
		t.Fatalf("GET %s: %s (want %d): %s", path, resp.Status, want, b)
	}
	return b
}

// TestHexagonsAddUp checks the aggregation against the world: every
// network is in exactly one hexagon per resolution, the weights add up, and
// the hexagon of the heaviest network says the PoP the map gives it.
func TestHexagonsAddUp(t *testing.T) {
	m := loadWorld(t, false)
	tw := getWorld(t)
	if m.summary.Placement != "truth" || m.summary.Networks < 2500 {
		t.Fatalf("summary %+v", m.summary)
	}
	for res, lv := range m.levels {
		var n int
		var w float64
		for i := range lv.cells {
			n += len(lv.cells[i].members)
			w += lv.cells[i].weight
		}
		if n != len(m.points) || math.Abs(w-m.summary.Weight) > 1e-6*m.summary.Weight {
			t.Errorf("res %d: %d networks, weight %g; want %d, %g", res, n, w, len(m.points), m.summary.Weight)
		}
	}
	top := tw.nets[0]
	c := m.levels[4].cellAt(top.lat, top.lon)
	if c == nil {
		t.Fatalf("no cell at %v,%v", top.lat, top.lon)
	}
	if c.id != h3.LatLngToCell(h3.LatLng{Lat: top.lat, Lng: top.lon}, 4) {
		t.Errorf("cell %v is not the h3 cell of the network", c.id)
	}
	p := &m.points[c.members[0]]
	if p.net != top.net && p.weight < float32(top.weight) {
		t.Errorf("the cell's heaviest network is %v, want %v or a heavier one", p.net, top.net)
	}
	found := false
	for _, i := range c.members {
		if q := &m.points[i]; q.net == top.net {
			found = true
			if got := m.pops[q.pop].Label; got != top.pop {
				t.Errorf("%v: PoP %s, want %s", top.net, got, top.pop)
			}
			if got := sourceNames[q.source]; got != top.source {
				t.Errorf("%v: source %s, want %s", top.net, got, top.source)
			}
		}
	}
	if !found {
		t.Errorf("%v is not in its cell", top.net)
	}
}

func TestAPI(t *testing.T) {
	m := loadWorld(t, true)
	tw := getWorld(t)
	srv := httptest.NewServer(NewServer(m, nil))
	defer srv.Close()

	var sum Summary
	if err := json.Unmarshal(get(t, srv, "/api/summary", 200), &sum); err != nil {
		t.Fatal(err)
	}
	if sum.Against != tw.against || !sum.HasEval || !sum.HasExplain || !sum.HasChange || len(sum.PoPs) < 10 {
		t.Errorf("summary: %+v", sum)
	}
	var hexes struct {
		Cells []hexJSON `json:"cells"`
	}
	if err := json.Unmarshal(get(t, srv, "/api/hexes?res=3", 200), &hexes); err != nil {
		t.Fatal(err)
	}
	if len(hexes.Cells) != len(m.levels[3].cells) || len(hexes.Cells[0].B) < 5 {
		t.Fatalf("%d hexes, want %d", len(hexes.Cells), len(m.levels[3].cells))
	}
	get(t, srv, "/api/hexes?res=8", 400)
	get(t, srv, "/api/hexes?res=x", 400)

	// A click at the heaviest IPv4 network's location lists it with its PoP.
	top := tw.top4()
	var cell struct {
		hexJSON
		Networks []networkJSON `json:"networks"`
	}
	b := get(t, srv, "/api/cell?res=4&lat="+ftoa(top.lat)+"&lon="+ftoa(top.lon), 200)
	if err := json.Unmarshal(b, &cell); err != nil {
		t.Fatal(err)
	}
	var hit *networkJSON
	for i := range cell.Networks {
		if cell.Networks[i].Net == top.net.String() {
			hit = &cell.Networks[i]
		}
	}
	if hit == nil || hit.PoP != top.pop || hit.Source != top.source {
		t.Fatalf("cell at the top network: %s; want %v at %s (%s)", b, top.net, top.pop, top.source)
	}
	get(t, srv, "/api/cell?res=4&lat=-89&lon=0", 404)
	get(t, srv, "/api/cell?res=4&lat=abc", 400)
	get(t, srv, "/api/cell?res=4&id=zz", 400)

	// Explaining the network gives the map's PoP and the entry's origin.
	var nw struct {
		RTTs    []struct{ PoP string }
		Explain struct {
			PoPs     []string
			Source   string
			ECSEntry *struct{ Origin string } `json:"ecsEntry"`
		}
	}
	if err := json.Unmarshal(get(t, srv, "/api/network?net="+url.QueryEscape(top.net.String()), 200), &nw); err != nil {
		t.Fatal(err)
	}
	if len(nw.RTTs) == 0 || nw.RTTs[0].PoP != top.pop || len(nw.Explain.PoPs) == 0 || nw.Explain.PoPs[0] != top.pop ||
		nw.Explain.ECSEntry == nil || nw.Explain.ECSEntry.Origin != top.source {
		t.Errorf("network %v: %+v; want PoP %s from %s", top.net, nw, top.pop, top.source)
	}
	get(t, srv, "/api/network?net=nonsense", 400)
	get(t, srv, "/api/explain?ip=bad", 400)

	// The evaluation: the map (the truth's best two) beats geo and anycast.
	var ev Evaluation
	if err := json.Unmarshal(get(t, srv, "/api/eval", 200), &ev); err != nil {
		t.Fatal(err)
	}
	if len(ev.Gains) != 3 || ev.Regions[0].Name != "World" || len(ev.Strategies) != 5 {
		t.Fatalf("eval: %d gains, regions %v, strategies %v", len(ev.Gains), ev.Regions[:1], ev.Strategies)
	}
	world := ev.Regions[0].P
	if !(world[stMap][1] < world[stGeo][1] && world[stPerfect][1] <= world[stMap][1]) {
		t.Errorf("world p75: geo %v, map %v, perfect %v", world[stGeo][1], world[stMap][1], world[stPerfect][1])
	}
	var share float64
	for _, s := range ev.Gains[0].Share {
		share += s
	}
	if math.Abs(share-1) > 1e-6 || ev.Gains[0].Over2 <= 0 || ev.Gains[0].Over20 > ev.Gains[0].Over2 {
		t.Errorf("gain over geo: shares sum to %v, over2 %v, over20 %v", share, ev.Gains[0].Over2, ev.Gains[0].Over20)
	}

	// Exports: kepler.gl's hex_id column, GeoJSON polygons.
	rows, err := csv.NewReader(bytes.NewReader(get(t, srv, "/export/hexes.csv?res=3", 200))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if rows[0][0] != "hex_id" || len(rows) != len(m.levels[3].cells)+1 {
		t.Fatalf("csv: header %v, %d rows", rows[0], len(rows))
	}
	if c := h3.Cell(h3.IndexFromString(rows[1][0])); !c.IsValid() || c.Resolution() != 3 {
		t.Errorf("csv hex_id %q is not a res-3 h3 cell", rows[1][0])
	}
	if n, _ := strconv.Atoi(rows[1][1]); n < 1 {
		t.Errorf("csv networks %q", rows[1][1])
	}
	var fc struct {
		Features []struct {
			Geometry struct {
				Type        string
				Coordinates [][][2]float64
			}
		}
	}
	if err := json.Unmarshal(get(t, srv, "/export/hexes.geojson?res=3", 200), &fc); err != nil {
		t.Fatal(err)
	}
	ring := fc.Features[0].Geometry.Coordinates[0]
	if fc.Features[0].Geometry.Type != "Polygon" || ring[0] != ring[len(ring)-1] {
		t.Errorf("geojson: %+v", fc.Features[0].Geometry)
	}

	// Hilbert tiles and lookups.
	if b := get(t, srv, "/tiles/pop/0/0/0.png", 200); !bytes.HasPrefix(b, []byte("\x89PNG")) {
		t.Errorf("tile is not a PNG")
	}
	get(t, srv, "/tiles/change/4/3/3.png", 200)
	get(t, srv, "/tiles/nope/0/0/0.png", 404)
	get(t, srv, "/tiles/pop/9/0/0.png", 400)
	get(t, srv, "/tiles/pop/0/0/0.gif", 400)
	var where struct{ X, Y int }
	a := top.net.Addr()
	if err := json.Unmarshal(get(t, srv, "/hilbert/where?ip="+a.String()+"&z=4", 200), &where); err != nil {
		t.Fatal(err)
	}
	var at struct{ Network, Label string }
	if err := json.Unmarshal(get(t, srv, "/hilbert/at?mode=pop&z=4&x="+strconv.Itoa(where.X)+"&y="+strconv.Itoa(where.Y), 200), &at); err != nil {
		t.Fatal(err)
	}
	if at.Label != top.pop || !strings.HasPrefix(top.net.String(), strings.TrimSuffix(at.Network, "0/24")) {
		t.Errorf("hilbert at %v: %+v, want %s at %v", where, at, top.pop, top.net)
	}
}

func TestLoadErrors(t *testing.T) {
	tw := getWorld(t)
	for _, tc := range []struct {
		f    Files
		want string
	}{
		{Files{}, "a map is required"},
		{Files{Map: tw.mapPath + ".missing"}, "no such file"},
		{Files{Map: tw.mapPath, World: tw.mapPath}, "not a directory"},
	} {
		o, _, err := Open(tc.f)
		if err == nil {
			_, err = Load(o)
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.f, err, tc.want)
		}
	}
	if _, err := Load(Options{Map: tw.mapPath}); err == nil || !strings.Contains(err.Error(), "GeoIP") {
		t.Errorf("no truth, no GeoIP: %v", err)
	}
}
