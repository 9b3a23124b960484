package collector

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/steer-gslb/steer/store/duckstore"
	"github.com/steer-gslb/steer/web"
)

const debugBody = `{"v":1,"page_pop":"fra","dns_test":"abcdefghij12.rum.example.net",
 "pops":[{"label":"fra","rtt_ms":[10.5,12,11],"edge_pop":"fra","request_id":"fra-m1x2k3l4-9f3e2a1b"},
         {"label":"ams","rtt_ms":[30,31,29.5],"edge_pop":"ams"},
         {"label":"sin","error":"failed"}],
 "anycast":{"rtt_ms":[15],"edge_pop":"ams"}}`

// debugFixture is a collector keeping debug reports in its own directory.
func debugFixture(t *testing.T, mod func(*Config), debugDir string) *Server {
	t.Helper()
	cfg := Defaults()
	cfg.Origins = []string{origin}
	cfg.Rate = 0
	if mod != nil {
		mod(cfg)
	}
	st, err := duckstore.Open(t.TempDir(), duckstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	srv, err := New(cfg, st, Options{Registry: prometheus.NewRegistry(), Now: func() time.Time { return now }, DebugDir: debugDir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Error(err)
		}
		if err := st.Close(); err != nil {
			t.Error(err)
		}
	})
	return srv
}

func serve(h http.Handler, method, path, body, remote string, hdr map[string]string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	r.RemoteAddr = remote
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// TestDebugReportRoundTrip posts a report from a web page, finds it stored
// under its ID with the client's /24 only, and reads it back over HTTP and
// from the directory.
func TestDebugReportRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "debug")
	srv := debugFixture(t, nil, dir)
	w := serve(srv, http.MethodPost, "/debug/report", debugBody, "198.51.100.77:40000", map[string]string{"Origin": origin, "Content-Type": "text/plain"})
	if w.Code != http.StatusOK {
		t.Fatalf("POST: %d %s", w.Code, w.Body)
	}
	if got := w.Header().Get("Access-Control-Allow-Origin"); got != origin {
		t.Errorf("Access-Control-Allow-Origin %q, want %q", got, origin)
	}
	var rep web.DebugReport
	if err := json.Unmarshal(w.Body.Bytes(), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Network.String() != "198.51.100.0/24" || rep.Fastest != "fra" || rep.PoPs[0].MedianMs != 11 || len(rep.ID) != 8 {
		t.Errorf("report %+v", rep)
	}
	data, err := os.ReadFile(web.DebugReportPath(dir, rep.ID))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), "198.51.100.77") || !strings.Contains(string(data), `"network": "198.51.100.0/24"`) {
		t.Errorf("stored report:\n%s", data)
	}
	for _, id := range []string{rep.ID, strings.ToLower(rep.ID), rep.ID[:4] + "-" + rep.ID[4:]} {
		g := serve(srv, http.MethodGet, "/debug/report/"+id, "", "192.0.2.1:1", nil)
		var back web.DebugReport
		if g.Code != http.StatusOK || json.Unmarshal(g.Body.Bytes(), &back) != nil || back.ID != rep.ID || back.Fastest != "fra" {
			t.Errorf("GET %s: %d %s", id, g.Code, g.Body)
		}
	}
	back, err := web.ReadDebugReport(dir, rep.ID)
	if err != nil || back.Network != rep.Network || len(back.PoPs) != 3 || back.Anycast == nil || back.Anycast.EdgePoP != "ams" {
		t.Errorf("ReadDebugReport: %+v, %v", back, err)
	}
	if g := serve(srv, http.MethodGet, "/debug/report/0000AAAA", "", "192.0.2.1:1", nil); g.Code != http.StatusNotFound || !strings.Contains(g.Body.String(), "no debug report 0000AAAA") {
		t.Errorf("GET unknown: %d %s", g.Code, g.Body)
	}
	if g := serve(srv, http.MethodGet, "/debug/report/..%2F..%2Fetc", "", "192.0.2.1:1", nil); g.Code != http.StatusBadRequest {
		t.Errorf("GET a path: %d %s", g.Code, g.Body)
	}
	// the page itself, and its script
	if g := serve(srv, http.MethodGet, "/debug", "", "192.0.2.1:1", nil); g.Code != 200 || !strings.Contains(g.Body.String(), `src="/debug/page.js"`) {
		t.Errorf("GET /debug: %d", g.Code)
	}
	if g := serve(srv, http.MethodGet, "/debug/page.js", "", "192.0.2.1:1", nil); g.Code != 200 || !strings.Contains(g.Body.String(), "/debug/report") {
		t.Errorf("GET /debug/page.js: %d", g.Code)
	}
}

// TestDebugReportRejections: every bad report is a 4xx naming the problem,
// and nothing is stored.
func TestDebugReportRejections(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "debug")
	srv := debugFixture(t, nil, dir)
	text := map[string]string{"Content-Type": "text/plain"}
	for _, tc := range []struct {
		name, method, body string
		hdr                map[string]string
		code               int
		want               string
	}{
		{"unknown field", "POST", `{"v":1,"pops":[{"label":"fra","rtt_ms":[1]}],"network":"1.2.3.4/32"}`, text, 400, `unknown field "network"`},
		{"rtt range", "POST", `{"v":1,"pops":[{"label":"fra","rtt_ms":[-1]}]}`, text, 400, "pops[0].rtt_ms[0]: -1 out of range"},
		{"no pops", "POST", `{"v":1,"pops":[]}`, text, 400, "pops: empty"},
		{"not JSON", "POST", `hello`, text, 400, "debug report:"},
		{"too big", "POST", `{"v":1,"user_agent":"` + strings.Repeat("x", web.MaxDebugReportSize) + `"}`, text, 413, "larger than"},
		{"foreign origin", "POST", debugBody, map[string]string{"Origin": "https://evil.example", "Content-Type": "text/plain"}, 403, `Origin "https://evil.example" is not allowed`},
		{"type", "POST", debugBody, map[string]string{"Content-Type": "image/png"}, 415, "Content-Type"},
		{"method", "PUT", debugBody, text, 405, "method PUT not allowed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := serve(srv, tc.method, "/debug/report", tc.body, "198.51.100.77:40000", tc.hdr)
			if w.Code != tc.code || !strings.Contains(w.Body.String(), tc.want) {
				t.Errorf("%d %q, want %d with %q", w.Code, w.Body, tc.code, tc.want)
			}
		})
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("rejected reports left %d files", len(entries))
	}
	// the page's own origin (the collector serving /debug) is allowed
	w := serve(srv, "POST", "/debug/report", debugBody, "198.51.100.77:40000", map[string]string{"Origin": "http://example.com", "Content-Type": "text/plain"})
	if w.Code != 200 {
		t.Errorf("same-origin POST: %d %s", w.Code, w.Body)
	}
	// without a debug directory there are no reports
	off := debugFixture(t, nil, "")
	if w := serve(off, "POST", "/debug/report", debugBody, "198.51.100.77:40000", text); w.Code != 404 || !strings.Contains(w.Body.String(), "no debug reports") {
		t.Errorf("no debug dir: %d %s", w.Code, w.Body)
	}
}

// TestDebugReportMap: with debug.dns_config the report carries the map's
// answer for the client's network.
func TestDebugReportMap(t *testing.T) {
	world := t.TempDir()
	if err := os.WriteFile(filepath.Join(world, "steer.yaml"), []byte(`pops:
  - {label: fra, lat: 50.11, lon: 8.68, ipv4: ["192.0.2.10"]}
  - {label: ams, lat: 52.37, lon: 4.90, ipv4: ["192.0.2.20"]}
zones:
  - name: example.net
    ttl: 3600
    soa: {mname: ns1.example.net, rname: hostmaster.example.net, serial: 1, refresh: 3600, retry: 600, expire: 604800, minimum: 60}
    ns:
      - {name: ns1.example.net, ipv4: ["192.0.2.53"]}
    records:
      - {name: www, ttl: 30, steering: [ecs, default], ecs_map: map.json, default: {ipv4: ["192.0.2.1"]}}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(world, "map.json"), []byte(`{"meta":{"version":5},"map":[{"networks":["198.51.100.0/24"],"labels":["ams","fra"]}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	srv := debugFixture(t, func(c *Config) { c.DebugDNSConfig = filepath.Join(world, "steer.yaml") }, t.TempDir())
	w := serve(srv, "POST", "/debug/report", debugBody, "198.51.100.77:40000", map[string]string{"Content-Type": "text/plain"})
	var rep web.DebugReport
	if w.Code != 200 || json.Unmarshal(w.Body.Bytes(), &rep) != nil {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	if m := rep.Map; m == nil || m.NetworkPoP != "ams" || m.NetworkSource != "ecs" || m.Version != 5 || m.Record != "www.example.net." {
		t.Errorf("map %+v, want ams by ecs, version 5", rep.Map)
	}
	if !strings.Contains(rep.Text(), "the map gives ams, but fra measured fastest") {
		t.Errorf("text:\n%s", rep.Text())
	}
	// a config that does not load is an error at start
	if _, err := New(&Config{DebugDNSConfig: filepath.Join(world, "missing.yaml"), PoP: "x", Rate: 0}, nil, Options{Registry: prometheus.NewRegistry()}); err == nil || !strings.Contains(err.Error(), "debug") {
		t.Errorf("missing dns_config: %v", err)
	}
}
