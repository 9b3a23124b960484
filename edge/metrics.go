package edge

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// metrics are the proxy core's Prometheus metrics, on their own registry
// (served at the admin listener's /metrics).
type metrics struct {
	reg *prometheus.Registry

	requests     *prometheus.CounterVec   // by route and status class
	duration     *prometheus.HistogramVec // by route
	upstreamErrs *prometheus.CounterVec   // by upstream and kind
	pinFailures  *prometheus.CounterVec   // by upstream
	retries      *prometheus.CounterVec   // by upstream
	tokens       *prometheus.CounterVec   // by route, mode and result
	certReloads  *prometheus.CounterVec   // by result
	// configReloads counts config reloads by result (ok, error);
	// configLastOK is 1 when the last one succeeded, configLastOKTime when.
	configReloads    *prometheus.CounterVec
	configLastOK     prometheus.Gauge
	configLastOKTime prometheus.Gauge
	handshakes       *prometheus.CounterVec // client TLS handshakes by version
	draining         prometheus.Gauge
	inflight         prometheus.Gauge
	bytesIn          prometheus.Counter   // request body bytes read from clients
	bytesOut         prometheus.Counter   // response body bytes written to clients
	upConns          *prometheus.GaugeVec // open upstream connections, by upstream
}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "steer_edge_requests_total", Help: "Requests served, by route and status class.",
		}, []string{"route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "steer_edge_request_duration_seconds", Help: "Request duration from header read to last byte written.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"route"}),
		upstreamErrs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "steer_edge_upstream_errors_total", Help: "Requests that got no upstream response, by upstream and kind.",
		}, []string{"upstream", "kind"}),
		pinFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "steer_edge_upstream_pin_failures_total", Help: "Upstream TLS handshakes refused because no certificate matched a pin.",
		}, []string{"upstream"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "steer_edge_upstream_retries_total", Help: "Idempotent requests retried after a connection error.",
		}, []string{"upstream"}),
		tokens: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "steer_edge_tokens_total", Help: "Steering tokens checked, by route, mode and result (ok, missing or the rejection reason).",
		}, []string{"route", "mode", "result"}),
		certReloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "steer_edge_cert_reloads_total", Help: "Certificate reloads, by result.",
		}, []string{"result"}),
		configReloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "steer_edge_config_reloads_total", Help: "Config reloads (SIGHUP or a change of the file), by result: ok, or error (the previous config keeps serving).",
		}, []string{"result"}),
		configLastOK: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "steer_edge_config_last_reload_successful", Help: "Whether the last config reload succeeded (1) or not (0).",
		}),
		configLastOKTime: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "steer_edge_config_last_reload_success_timestamp_seconds", Help: "Unix time of the last config load that succeeded (the start counts).",
		}),
		handshakes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "steer_edge_tls_handshakes_total", Help: "Client TLS handshakes completed, by version and resumption.",
		}, []string{"version", "resumed"}),
		draining: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "steer_edge_draining", Help: "1 while the edge drains.",
		}),
		inflight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "steer_edge_inflight_requests", Help: "Requests being served.",
		}),
		upConns: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "steer_edge_upstream_connections", Help: "Open connections to each upstream (idle and busy): the pool's state.",
		}, []string{"upstream"}),
	}
	bytes := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "steer_edge_bytes_total", Help: "Body bytes to and from clients, by direction (in: request bodies, out: responses).",
	}, []string{"dir"})
	m.bytesIn, m.bytesOut = bytes.WithLabelValues("in"), bytes.WithLabelValues("out")
	m.configReloads.WithLabelValues("ok")
	m.configReloads.WithLabelValues("error")
	m.reg.MustRegister(m.requests, m.duration, m.upstreamErrs, m.pinFailures, m.retries, m.tokens,
		m.certReloads, m.configReloads, m.configLastOK, m.configLastOKTime, m.handshakes, m.draining, m.inflight, bytes, m.upConns,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func codeClass(code int) string {
	switch {
	case code < 200:
		return "1xx"
	case code < 300:
		return "2xx"
	case code < 400:
		return "3xx"
	case code < 500:
		return "4xx"
	}
	return "5xx"
}
