package control

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/steer-gslb/steer/config"
)

type metrics struct {
	index    prometheus.Gauge
	mapVer   prometheus.Gauge
	calls    *prometheus.CounterVec
	admin    *prometheus.GaugeVec
	health   *prometheus.GaugeVec
	votes    *prometheus.GaugeVec
	load     *prometheus.GaugeVec
	moved    *prometheus.GaugeVec
	movedShr *prometheus.GaugeVec
	servers  prometheus.GaugeFunc
	steps    *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer, s *Server) *metrics {
	m := &metrics{
		index: prometheus.NewGauge(prometheus.GaugeOpts{Name: "steer_control_state_index",
			Help: "Index of the fleet state (+1 per change the fleet sees)."}),
		mapVer: prometheus.NewGauge(prometheus.GaugeOpts{Name: "steer_control_map_version",
			Help: "The active map version (0 before the first publish)."}),
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "steer_control_api_requests_total",
			Help: "API calls by route and HTTP status."}, []string{"route", "code"}),
		admin: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "steer_control_pop_admin_state",
			Help: "1 for each PoP's operator state (up, drain, down, anycast)."}, []string{"pop", "state"}),
		health: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "steer_control_pop_health_up",
			Help: "The fleet's combined health view of each PoP: 1 up or unknown, 0 down (majority of fresh views)."}, []string{"pop"}),
		votes: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "steer_control_pop_health_votes",
			Help: "Fresh health views of each PoP by view (up, down)."}, []string{"pop", "view"}),
		load: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "steer_control_pop_load_ratio",
			Help: "Last reported load of each PoP as a share of its capacity."}, []string{"pop"}),
		moved: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "steer_control_pop_moved_networks",
			Help: "Networks the load controller has moved off each PoP."}, []string{"pop"}),
		movedShr: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "steer_control_pop_moved_ratio",
			Help: "Share of each PoP's mapped traffic weight the load controller has moved off it."}, []string{"pop"}),
		steps: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "steer_control_load_periods_total",
			Help: "Load-controller periods by outcome (unchanged, moved, off)."}, []string{"outcome"}),
	}
	m.servers = prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "steer_control_fleet_servers",
		Help: "DNS servers whose last report is within the health TTL."}, func() float64 {
		n := 0
		for _, mb := range s.Fleet().Servers {
			if mb.Fresh {
				n++
			}
		}
		return float64(n)
	})
	reg.MustRegister(m.index, m.mapVer, m.calls, m.admin, m.health, m.votes, m.load, m.moved, m.movedShr, m.servers, m.steps)
	return m
}

// update sets the state gauges from st.
func (m *metrics) update(st *State) {
	m.index.Set(float64(st.Index))
	if st.Map != nil {
		m.mapVer.Set(float64(st.Map.Version))
	} else {
		m.mapVer.Set(0)
	}
	for l, p := range st.PoPs {
		pop := string(l)
		for _, s := range []config.State{config.StateUp, config.StateDrain, config.StateDown, config.StateAnycast} {
			v := 0.0
			if p.Admin == s {
				v = 1
			}
			m.admin.WithLabelValues(pop, string(s)).Set(v)
		}
		up := 1.0
		if !p.Healthy() {
			up = 0
		}
		m.health.WithLabelValues(pop).Set(up)
		m.votes.WithLabelValues(pop, "up").Set(float64(p.VotesUp))
		m.votes.WithLabelValues(pop, "down").Set(float64(p.VotesDown))
		m.load.WithLabelValues(pop).Set(p.Load)
		m.moved.WithLabelValues(pop).Set(float64(p.MovedNetworks))
		m.movedShr.WithLabelValues(pop).Set(p.MovedShare)
	}
}
