package edgemetrics

import (
	"crypto/tls"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := New(reg)
	m.Request("origin", 200, 3*time.Millisecond, 10, 1024)
	m.Request("origin", 204, time.Millisecond, 0, 0)
	m.Request("origin", 503, time.Second, 0, 100)
	m.Request("probe", 999, 0, 0, 0)
	m.Handshake(tls.VersionTLS13, nil)
	m.Handshake(tls.VersionTLS12, nil)
	m.Handshake(0, errors.New("bad"))
	m.SetDraining(true)
	m.SetPool("dc1", 3, 2)
	m.PinFailure("dc1")
	m.Token("valid")
	m.Token("expired")
	for _, c := range []struct {
		c    prometheus.Collector
		want float64
	}{
		{m.Requests.WithLabelValues("2xx", "origin"), 2},
		{m.Requests.WithLabelValues("5xx", "origin"), 1},
		{m.Requests.WithLabelValues("other", "probe"), 1},
		{m.Bytes.WithLabelValues("in"), 10},
		{m.Bytes.WithLabelValues("out"), 1124},
		{m.TLSHandshakes.WithLabelValues("1.3"), 1},
		{m.TLSHandshakes.WithLabelValues("1.2"), 1},
		{m.TLSHandshakeError, 1},
		{m.Draining, 1},
		{m.UpstreamPool.WithLabelValues("dc1", "idle"), 3},
		{m.UpstreamPool.WithLabelValues("dc1", "active"), 2},
		{m.PinFailures.WithLabelValues("dc1"), 1},
		{m.Tokens.WithLabelValues("expired"), 1},
	} {
		if got := testutil.ToFloat64(c.c); got != c.want {
			t.Errorf("%v = %v, want %v", c.c, got, c.want)
		}
	}
	if n := testutil.CollectAndCount(m.RequestDuration); n != 2 {
		t.Errorf("%d duration series, want 2 routes", n)
	}
	// Every documented name is registered.
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, mf := range mfs {
		names = append(names, mf.GetName())
	}
	for _, want := range []string{"steer_edge_requests_total", "steer_edge_request_duration_seconds", "steer_edge_upstream_pool",
		"steer_edge_upstream_pin_failures_total", "steer_edge_tls_handshakes_total", "steer_edge_tls_handshake_errors_total",
		"steer_edge_bytes_total", "steer_edge_draining", "steer_edge_tokens_total"} {
		if !strings.Contains(strings.Join(names, " "), want) {
			t.Errorf("%s not registered (have %v)", want, names)
		}
	}
	m.SetDraining(false)
	if testutil.ToFloat64(m.Draining) != 0 {
		t.Error("draining still 1")
	}
}

func TestRequestAllocs(t *testing.T) {
	m := New(nil)
	m.Request("origin", 200, time.Millisecond, 1, 1)
	if n := testing.AllocsPerRun(1000, func() { m.Request("origin", 200, time.Millisecond, 1, 1) }); n != 0 {
		t.Errorf("Request allocates %v times", n)
	}
}

func BenchmarkRequest(b *testing.B) {
	m := New(nil)
	b.ReportAllocs()
	for b.Loop() {
		m.Request("origin", 200, time.Millisecond, 100, 1000)
	}
}
