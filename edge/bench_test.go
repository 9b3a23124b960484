package edge

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/steer-gslb/steer/probe"
)

// benchWriter is a ResponseWriter that keeps nothing, reused across
// iterations so that only the handler's allocations are counted.
type benchWriter struct {
	h    http.Header
	code int
}

func (w *benchWriter) Header() http.Header         { return w.h }
func (w *benchWriter) WriteHeader(code int)        { w.code = code }
func (w *benchWriter) Write(b []byte) (int, error) { return len(b), nil }

// benchServer is an edge (not serving: ServeHTTP is called directly) in
// front of a plain HTTP origin.
func benchServer(b *testing.B) *Server {
	b.Helper()
	o := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "ok")
	}))
	b.Cleanup(o.Close)
	dir := b.TempDir()
	newTestCA(b).issue(b, dir, "edge", "edge.test")
	path := filepath.Join(dir, "edge.yaml")
	yml := edgeYAML("upstreams:\n  - {name: dc1, url: '" + o.URL + "'}\n")
	if err := os.WriteFile(path, []byte(yml), 0o600); err != nil {
		b.Fatal(err)
	}
	cfg, err := LoadConfig(path)
	if err != nil {
		b.Fatal(err)
	}
	s, err := New(cfg, Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(s.closeListeners)
	return s
}

// BenchmarkServeHTTPProbe is the edge's own work per request: request ID,
// headers, metrics, the snapshot, /rum/probe answered locally.
func BenchmarkServeHTTPProbe(b *testing.B) {
	s := benchServer(b)
	req := httptest.NewRequest(http.MethodGet, probe.Path, nil)
	w := &benchWriter{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		clear(w.h)
		s.ServeHTTP(w, req)
	}
	if w.code != http.StatusNoContent {
		b.Fatalf("probe answered %d", w.code)
	}
}

// BenchmarkServeHTTPProxy is a proxied GET to a loopback origin over a
// kept-alive connection (the reverse proxy's and transport's allocations
// included).
func BenchmarkServeHTTPProxy(b *testing.B) {
	s := benchServer(b)
	w := &benchWriter{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		clear(w.h)
		req := httptest.NewRequest(http.MethodGet, "/x", nil)
		s.ServeHTTP(w, req)
	}
	if w.code != http.StatusOK {
		b.Fatalf("proxy answered %d", w.code)
	}
}
