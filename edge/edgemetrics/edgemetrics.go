// Package edgemetrics defines the edge proxy's Prometheus metrics
// (namespace steer_edge_), in one place so that their names and labels are
// fixed and documented, and with methods that keep the request path free
// of allocations (series are resolved once and cached).
//
//	steer_edge_requests_total{code,route}          requests answered; code is the status class (1xx..5xx)
//	steer_edge_request_duration_seconds{route}     histogram, arrival to last byte written
//	steer_edge_upstream_pool{upstream,state}       upstream connections by state (idle, active)
//	steer_edge_upstream_pin_failures_total{upstream} upstream certificates refused for a wrong SPKI pin
//	steer_edge_tls_handshakes_total{version}       client TLS handshakes completed (1.2, 1.3)
//	steer_edge_tls_handshake_errors_total          client TLS handshakes failed
//	steer_edge_bytes_total{dir}                    body bytes, dir = in (from clients) or out (to clients)
//	steer_edge_draining                            1 while the edge drains, else 0
//	steer_edge_tokens_total{result}                steering tokens checked: valid, invalid, expired, missing
package edgemetrics

import (
	"crypto/tls"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics holds the edge's metrics. Its methods are safe for concurrent use.
type Metrics struct {
	Requests          *prometheus.CounterVec   // code, route
	RequestDuration   *prometheus.HistogramVec // route
	UpstreamPool      *prometheus.GaugeVec     // upstream, state
	PinFailures       *prometheus.CounterVec   // upstream
	TLSHandshakes     *prometheus.CounterVec   // version
	TLSHandshakeError prometheus.Counter
	Bytes             *prometheus.CounterVec // dir
	Draining          prometheus.Gauge
	Tokens            *prometheus.CounterVec // result

	bytesIn, bytesOut prometheus.Counter
	tls12, tls13      prometheus.Counter

	mu     sync.RWMutex
	routes map[string]*route
}

type route struct {
	codes [6]prometheus.Counter // by status class; [0] other
	dur   prometheus.Observer
}

// DurationBuckets are the request-duration histogram's buckets (seconds):
// 1 ms to 60 s.
var DurationBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}

// New creates the metrics and registers them with reg (nil: not registered).
func New(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "steer_edge_requests_total",
			Help: "Requests answered, by status class (1xx..5xx) and route."}, []string{"code", "route"}),
		RequestDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "steer_edge_request_duration_seconds",
			Help: "Time from a request's arrival to the last byte of its response, by route.", Buckets: DurationBuckets}, []string{"route"}),
		UpstreamPool: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "steer_edge_upstream_pool",
			Help: "Connections to each upstream, by state (idle, active)."}, []string{"upstream", "state"}),
		PinFailures: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "steer_edge_upstream_pin_failures_total",
			Help: "Upstream TLS connections refused because no certificate matched a configured SPKI pin."}, []string{"upstream"}),
		TLSHandshakes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "steer_edge_tls_handshakes_total",
			Help: "Client TLS handshakes completed, by protocol version."}, []string{"version"}),
		TLSHandshakeError: prometheus.NewCounter(prometheus.CounterOpts{Name: "steer_edge_tls_handshake_errors_total",
			Help: "Client TLS handshakes that failed."}),
		Bytes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "steer_edge_bytes_total",
			Help: "Body bytes, by direction: in (read from clients), out (written to clients)."}, []string{"dir"}),
		Draining: prometheus.NewGauge(prometheus.GaugeOpts{Name: "steer_edge_draining",
			Help: "1 while the edge drains (health checks fail, new connections stop after the grace period), else 0."}),
		Tokens: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "steer_edge_tokens_total",
			Help: "Steering tokens checked, by result (valid, invalid, expired, missing)."}, []string{"result"}),
		routes: map[string]*route{},
	}
	m.bytesIn, m.bytesOut = m.Bytes.WithLabelValues("in"), m.Bytes.WithLabelValues("out")
	m.tls12, m.tls13 = m.TLSHandshakes.WithLabelValues("1.2"), m.TLSHandshakes.WithLabelValues("1.3")
	if reg != nil {
		reg.MustRegister(m.Requests, m.RequestDuration, m.UpstreamPool, m.PinFailures, m.TLSHandshakes,
			m.TLSHandshakeError, m.Bytes, m.Draining, m.Tokens)
	}
	return m
}

var classes = [6]string{"other", "1xx", "2xx", "3xx", "4xx", "5xx"}

func (m *Metrics) route(name string) *route {
	m.mu.RLock()
	r := m.routes[name]
	m.mu.RUnlock()
	if r != nil {
		return r
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if r = m.routes[name]; r != nil {
		return r
	}
	r = &route{dur: m.RequestDuration.WithLabelValues(name)}
	for i, c := range classes {
		r.codes[i] = m.Requests.WithLabelValues(c, name)
	}
	m.routes[name] = r
	return r
}

// Request counts one answered request of a route (a configured route's
// name: keep the set small) with its status, duration and body bytes. It
// does not allocate once the route has been seen.
func (m *Metrics) Request(routeName string, status int, d time.Duration, bytesIn, bytesOut int64) {
	r := m.route(routeName)
	c := status / 100
	if c < 1 || c > 5 {
		c = 0
	}
	r.codes[c].Inc()
	r.dur.Observe(d.Seconds())
	if bytesIn > 0 {
		m.bytesIn.Add(float64(bytesIn))
	}
	if bytesOut > 0 {
		m.bytesOut.Add(float64(bytesOut))
	}
}

// Handshake counts a completed client TLS handshake of version v
// (tls.VersionTLS12, tls.VersionTLS13), or a failed one when err != nil.
func (m *Metrics) Handshake(v uint16, err error) {
	switch {
	case err != nil:
		m.TLSHandshakeError.Inc()
	case v == tls.VersionTLS13:
		m.tls13.Inc()
	case v == tls.VersionTLS12:
		m.tls12.Inc()
	default:
		m.TLSHandshakes.WithLabelValues("other").Inc()
	}
}

// SetDraining sets the drain gauge.
func (m *Metrics) SetDraining(on bool) {
	if on {
		m.Draining.Set(1)
	} else {
		m.Draining.Set(0)
	}
}

// SetPool sets an upstream's idle and active connection counts.
func (m *Metrics) SetPool(upstream string, idle, active int) {
	m.UpstreamPool.WithLabelValues(upstream, "idle").Set(float64(idle))
	m.UpstreamPool.WithLabelValues(upstream, "active").Set(float64(active))
}

// PinFailure counts an upstream certificate refused for a wrong pin.
func (m *Metrics) PinFailure(upstream string) { m.PinFailures.WithLabelValues(upstream).Inc() }

// Token counts a steering-token check by result (valid, invalid, expired,
// missing).
func (m *Metrics) Token(result string) { m.Tokens.WithLabelValues(result).Inc() }
