package health

import (
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/steer-gslb/steer/popmap"
)

// metrics are the Checker's Prometheus series. A nil *metrics (no registry)
// does nothing. Callers hold Checker.mu, which orders the deletion of a
// retired PoP's series before any series of its successor.
type metrics struct {
	up          *prometheus.GaugeVec
	checks      *prometheus.CounterVec
	transitions *prometheus.CounterVec
	duration    *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer, log *slog.Logger) *metrics {
	m := &metrics{
		up: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "steer_health_up",
			Help: "1 if the PoP is up by its health check (always 1 for a PoP without a check), 0 if down.",
		}, []string{"pop"}),
		checks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "steer_health_checks_total",
			Help: "Health checks run, by PoP and result (ok or fail).",
		}, []string{"pop", "result"}),
		transitions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "steer_health_transitions_total",
			Help: "Health state changes, by PoP and new state (up or down).",
		}, []string{"pop", "to"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "steer_health_check_duration_seconds",
			Help:    "Duration of health checks, by PoP.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"pop"}),
	}
	for _, c := range []prometheus.Collector{m.up, m.checks, m.transitions, m.duration} {
		if err := reg.Register(c); err != nil {
			// New returns no error: the checks matter more than their
			// metrics, which stay unexported.
			log.Warn("registering health metrics", "error", err)
		}
	}
	return m
}

// add creates t's series, so that counters start at 0.
func (m *metrics) add(t *target) {
	if m == nil {
		return
	}
	l := string(t.st.Label)
	m.up.WithLabelValues(l).Set(boolFloat(t.st.Up))
	if t.check == nil {
		return
	}
	m.checks.WithLabelValues(l, "ok")
	m.checks.WithLabelValues(l, "fail")
	m.transitions.WithLabelValues(l, "up")
	m.transitions.WithLabelValues(l, "down")
	m.duration.WithLabelValues(l)
}

// forget deletes a PoP's series.
func (m *metrics) forget(label popmap.Label) {
	if m == nil {
		return
	}
	match := prometheus.Labels{"pop": string(label)}
	m.up.DeletePartialMatch(match)
	m.checks.DeletePartialMatch(match)
	m.transitions.DeletePartialMatch(match)
	m.duration.DeletePartialMatch(match)
}

// observe counts one check of t, whose state is already updated.
func (m *metrics) observe(t *target, ok bool, d time.Duration, changed bool) {
	if m == nil {
		return
	}
	l := string(t.st.Label)
	result := "fail"
	if ok {
		result = "ok"
	}
	m.checks.WithLabelValues(l, result).Inc()
	m.duration.WithLabelValues(l).Observe(d.Seconds())
	if changed {
		m.transitions.WithLabelValues(l, upDown(t.st.Up)).Inc()
		m.up.WithLabelValues(l).Set(boolFloat(t.st.Up))
	}
}

func boolFloat(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
