package probe

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// discardWriter is a ResponseWriter that keeps one header map, so that the
// benchmark measures the handler and not a recorder.
type discardWriter struct {
	h      http.Header
	status int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *discardWriter) WriteHeader(status int)      { w.status = status }

// BenchmarkHandler is the handler alone: a GET answered from precomputed
// headers. Budget: 0 allocs/op.
func BenchmarkHandler(b *testing.B) {
	h := Handler("fra")
	req := httptest.NewRequest(http.MethodGet, Path, nil)
	w := &discardWriter{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(w, req)
	}
	if w.status != http.StatusNoContent {
		b.Fatalf("status %d", w.status)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}

func TestHandlerAllocs(t *testing.T) {
	h := Handler("fra")
	req := httptest.NewRequest(http.MethodGet, Path, nil)
	w := &discardWriter{h: http.Header{}}
	if n := testing.AllocsPerRun(100, func() { h.ServeHTTP(w, req) }); n != 0 {
		t.Errorf("Handler GET: %v allocs/op, want 0", n)
	}
}

// BenchmarkHandlerLoopback is the endpoint as a client sees it: net/http
// server on 127.0.0.1, keep-alive HTTP/1.1 GETs from one client, one at a
// time (latency, not throughput).
func BenchmarkHandlerLoopback(b *testing.B) {
	srv := httptest.NewServer(Handler("fra"))
	defer srv.Close()
	client := srv.Client()
	ctx := context.Background()
	url := srv.URL + Path
	b.ReportAllocs()
	for b.Loop() {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusNoContent {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}

// BenchmarkMeasureTarget is one target's measurement on loopback: a fresh
// TLS connection and two requests (what a round costs the client per PoP).
func BenchmarkMeasureTarget(b *testing.B) {
	srv := probeServer(b, "fra", 0)
	newRT := transportFactory(srv.Client())
	t := Target{"fra", srv.URL + Path}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if r := measureTarget(ctx, newRT, t, DefaultTimeout); r.Err != nil {
			b.Fatal(r.Err)
		}
	}
}
