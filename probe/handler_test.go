package probe

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestHandler sends every method to a real server on 127.0.0.1 and checks
// status, headers and body, with and without an Origin (a browser's
// cross-origin fetch).
func TestHandler(t *testing.T) {
	srv := httptest.NewServer(Handler("fra"))
	t.Cleanup(srv.Close)
	probeHeaders := map[string]string{
		"Cache-Control":                 "no-store",
		"Timing-Allow-Origin":           "*",
		"Access-Control-Allow-Origin":   "*",
		"Access-Control-Expose-Headers": "X-Edge-PoP, X-Request-ID",
		"X-Edge-PoP":                    "fra",
	}
	preflight := map[string]string{
		"Cache-Control":                "no-store",
		"Access-Control-Allow-Origin":  "*",
		"Access-Control-Allow-Methods": "GET, HEAD, OPTIONS",
		"Access-Control-Max-Age":       "86400",
		"X-Edge-PoP":                   "fra",
	}
	for _, tc := range []struct {
		method  string
		origin  bool
		status  int
		headers map[string]string
		absent  []string
		body    string
	}{
		{"GET", false, 204, probeHeaders, []string{"Set-Cookie", "Content-Type"}, ""},
		{"GET", true, 204, probeHeaders, nil, ""},
		{"HEAD", true, 204, probeHeaders, nil, ""},
		{"OPTIONS", true, 204, preflight, []string{"Timing-Allow-Origin"}, ""},
		{"POST", true, 405, map[string]string{"Allow": "GET, HEAD, OPTIONS", "Cache-Control": "no-store"}, []string{"X-Edge-PoP", "Access-Control-Allow-Origin"}, "method not allowed\n"},
		{"PUT", false, 405, map[string]string{"Allow": "GET, HEAD, OPTIONS"}, nil, "method not allowed\n"},
		{"DELETE", false, 405, map[string]string{"Allow": "GET, HEAD, OPTIONS"}, nil, "method not allowed\n"},
	} {
		name := tc.method
		if tc.origin {
			name += "/cors"
		}
		t.Run(name, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, srv.URL+Path, strings.NewReader(""))
			if err != nil {
				t.Fatal(err)
			}
			if tc.origin {
				req.Header.Set("Origin", "https://www.example.org")
				if tc.method == "OPTIONS" {
					req.Header.Set("Access-Control-Request-Method", "GET")
				}
			}
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Errorf("%s: status %d, want %d", tc.method, resp.StatusCode, tc.status)
			}
			for k, v := range tc.headers {
				if got := resp.Header.Values(k); len(got) != 1 || got[0] != v {
					t.Errorf("%s: %s = %q, want %q", tc.method, k, got, v)
				}
			}
			for _, k := range tc.absent {
				if got := resp.Header.Values(k); len(got) != 0 {
					t.Errorf("%s: %s = %q, want none", tc.method, k, got)
				}
			}
			if string(body) != tc.body {
				t.Errorf("%s: body %q, want %q", tc.method, body, tc.body)
			}
		})
	}
}

// TestHandlerSharedHeaders: a wrapper that adds to a header the handler
// set must not change what later responses get (the values are shared).
func TestHandlerSharedHeaders(t *testing.T) {
	h := Handler("ams")
	for i := range 2 {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", Path, nil))
		if got := rec.Header().Values("Cache-Control"); len(got) != 1 || got[0] != "no-store" {
			t.Fatalf("response %d: Cache-Control = %q", i, got)
		}
		rec.Header().Add("Cache-Control", "private")
		rec.Header().Add("X-Edge-PoP", "other")
	}
}

func TestHandlerBadLabel(t *testing.T) {
	for _, l := range []string{"", "FRA", "anycast", "fra\r\nSet-Cookie: x", strings.Repeat("a", 33)} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Handler(%q) did not panic", l)
				}
			}()
			Handler(l)
		}()
	}
}
