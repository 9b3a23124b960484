package hilbert

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"testing"
)

// FuzzParseTilePath: the tile-path parser never panics, and what it accepts
// is a tile, with a valid mode, that prints back to a path it parses the
// same.
func FuzzParseTilePath(f *testing.F) {
	for _, tt := range tilePathTests {
		f.Add(tt.path)
	}
	for _, tt := range handlerStatusTests {
		f.Add(tt.target)
	}
	f.Fuzz(func(t *testing.T, p string) {
		tp, err := ParseTilePath(p)
		if err != nil {
			if err.Error() == "" {
				t.Fatalf("ParseTilePath(%q): empty error", p)
			}
			return
		}
		if err := CheckTile(tp.Z, tp.X, tp.Y); err != nil {
			t.Fatalf("ParseTilePath(%q) = %+v, not a tile: %v", p, tp, err)
		}
		if err := checkMode(tp.Mode); err != nil {
			t.Fatalf("ParseTilePath(%q) = %+v: %v", p, tp, err)
		}
		if again, err := ParseTilePath(tp.String()); err != nil || again != tp {
			t.Fatalf("ParseTilePath(%q) = %+v, but its String %q parses to %+v, %v", p, tp, tp.String(), again, err)
		}
	})
}

// FuzzHandler: any request target gets an answer the handler means (200,
// 304, 400, 404), never a panic or a 500, and a 200 JSON answer names a
// valid network.
func FuzzHandler(f *testing.F) {
	for _, tt := range handlerStatusTests {
		f.Add(tt.target)
	}
	g := NewGrid()
	g.Set(netip.MustParsePrefix("192.0.2.0/24"), 2)
	l := &layers{}
	l.pop.Store(g)
	h := NewHandler(l.get, Options{})
	f.Fuzz(func(t *testing.T, target string) {
		u, err := url.ParseRequestURI(target)
		if err != nil {
			return
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, &http.Request{Method: http.MethodGet, URL: u, Header: http.Header{}})
		switch w.Code {
		case http.StatusOK, http.StatusNotModified, http.StatusBadRequest, http.StatusNotFound:
		default:
			t.Fatalf("GET %q: status %d: %s", target, w.Code, w.Body)
		}
		if w.Code == http.StatusOK && w.Header().Get("Content-Type") == "application/json" {
			var a struct{ Network string }
			if err := json.Unmarshal(w.Body.Bytes(), &a); err != nil {
				t.Fatalf("GET %q: %v: %s", target, err, w.Body)
			}
			if _, err := netip.ParsePrefix(a.Network); err != nil {
				t.Fatalf("GET %q: network %q: %v", target, a.Network, err)
			}
		}
	})
}
