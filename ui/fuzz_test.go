package ui

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// FuzzAPI sends any request target to the explorer: every answer is a
// status the API uses, never a panic. Seeded from TestAPI's requests.
func FuzzAPI(f *testing.F) {
	for _, s := range []string{
		"/api/summary", "/api/hexes?res=3", "/api/hexes?res=8", "/api/hexes?res=x",
		"/api/cell?res=4&lat=51.5&lon=-0.1", "/api/cell?res=4&lat=abc", "/api/cell?res=4&id=zz",
		"/api/cell?res=2&id=8243affffffffff", "/api/network?net=194.170.189.0/24", "/api/network?net=nonsense",
		"/api/explain?ip=bad", "/api/explain?ip=2001:db8::1", "/api/eval", "/api/plan", "/api/debug/ABC",
		"/export/hexes.csv?res=3", "/export/hexes.geojson?res=1", "/tiles/pop/0/0/0.png", "/tiles/nope/0/0/0.png",
		"/tiles/pop/9/0/0.png", "/hilbert/at?mode=pop&z=4&x=10&y=10", "/hilbert/where?ip=1.2.3.4&z=6",
		"/index.html", "/vendor/d3.min.js", "/%zz",
	} {
		f.Add(s)
	}
	m := loadWorld(f, true)
	s := NewServer(m, nil)
	f.Fuzz(func(t *testing.T, target string) {
		req, err := http.NewRequest(http.MethodGet, "http://ui"+target, nil)
		if err != nil || req.URL.Path == "" || req.URL.Path[0] != '/' {
			return
		}
		w := httptest.NewRecorder()
		s.ServeHTTP(w, req)
		switch w.Code {
		case 200, 301, 304, 307, 308, 400, 404, 405, 422:
		default:
			t.Fatalf("%s: status %d: %s", target, w.Code, w.Body)
		}
	})
}
