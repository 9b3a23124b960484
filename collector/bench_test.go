package collector

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/steer-gslb/steer/store/duckstore"
)

// BenchmarkServeBeacon is the collector's request path in-process: parse,
// truncate, group commit into the spool (fdatasync), answer; the loader
// moves the beacons into DuckDB meanwhile. Parallel requests share group
// commits, as under real load. Reports beacons/s; allocations per request
// are reported with it.
func BenchmarkServeBeacon(b *testing.B) {
	dir := b.TempDir()
	st, err := duckstore.Open(filepath.Join(dir, "store"), duckstore.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = st.Close() }()
	cfg := Defaults()
	cfg.Tokens = []string{token}
	cfg.Rate, cfg.Burst = 1e6, 1e6 // the limiter's work, never its refusal
	now := time.Date(2026, 11, 21, 10, 0, 30, 0, time.UTC)
	srv, err := New(cfg, st, Options{SpoolDir: filepath.Join(dir, "spool"), Now: func() time.Time { return now }})
	if err != nil {
		b.Fatal(err)
	}
	var n atomic.Int64
	b.SetParallelism(16)
	b.ReportAllocs()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			r := httptest.NewRequest(http.MethodPost, "/beacon", strings.NewReader(benchBeacon(i)))
			r.RemoteAddr = fmt.Sprintf("198.51.%d.%d:1000", i>>8&0xff, i&0xff)
			r.Header.Set("Authorization", "Bearer "+token)
			w := httptest.NewRecorder()
			srv.ServeHTTP(w, r)
			if w.Code != 200 {
				b.Errorf("%d %s", w.Code, w.Body.String())
				return
			}
		}
	})
	b.ReportMetric(float64(n.Load())/time.Since(start).Seconds(), "beacons/s")
	b.StopTimer()
	if err := srv.Close(); err != nil {
		b.Fatal(err)
	}
}

// benchBeacon is a distinct 20-sample beacon.
func benchBeacon(i int64) string {
	var sb strings.Builder
	sb.WriteString(`{"v":1,"agent":{"kind":"desktop","platform":"linux","timer":"monotonic"},"samples":[`)
	for k := range 20 {
		if k > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, `{"ts":"2026-11-21T10:00:%02d.123Z","target":"p%d","probe":"https","rtt_ms":%d.%03d}`, k, k, i%500, k)
	}
	sb.WriteString(`]}`)
	return sb.String()
}
