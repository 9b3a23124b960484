package dnsserver

import (
	"strconv"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/steer-gslb/steer/steering"
)

// Query counters are kept per socket goroutine (uncontended atomics) and
// summed at scrape time, so counting costs a few nanoseconds per query.
var (
	qtypeNames = [...]string{"A", "AAAA", "SOA", "NS", "TXT", "ANY", "other"}
	rcodeNames = [...]string{"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", "BADVERS", "other"}
)

const (
	numQtypes = len(qtypeNames)
	numRcodes = len(rcodeNames)
)

func qtypeIndex(t uint16) int {
	switch t {
	case typeA:
		return 0
	case typeAAAA:
		return 1
	case typeSOA:
		return 2
	case typeNS:
		return 3
	case typeTXT:
		return 4
	case typeANY:
		return 5
	}
	return 6
}

func rcodeIndex(rc int) int {
	switch rc {
	case dns.RcodeSuccess:
		return 0
	case dns.RcodeFormatError:
		return 1
	case dns.RcodeServerFailure:
		return 2
	case dns.RcodeNameError:
		return 3
	case dns.RcodeNotImplemented:
		return 4
	case dns.RcodeRefused:
		return 5
	case dns.RcodeBadVers:
		return 6
	}
	return 7
}

type workerStats struct {
	queries   [numQtypes][numRcodes][steering.NumSources]atomic.Uint64
	ecs       atomic.Uint64
	dropped   atomic.Uint64
	truncated atomic.Uint64
	rrl       [numRRLCategories][2]atomic.Uint64 // limited UDP responses: [category][dropped, slipped] (rrl.go)
}

func (w *workerStats) count(qtype uint16, rcode int, src steering.Source) {
	w.queries[qtypeIndex(qtype)][rcodeIndex(rcode)][src].Add(1)
}

type metrics struct {
	reg *prometheus.Registry
	srv *Server

	queries, ecs, dropped, truncated *prometheus.Desc
	mapInfo, mapEntries, mapNets     *prometheus.Desc
	mapVersion, mapAge, serial       *prometheus.Desc
	popUse, ctlAge, ctlIndex, ctlOK  *prometheus.Desc
	moves                            *prometheus.Desc
	overlays                         prometheus.Counter

	lastOK       prometheus.Gauge
	lastOKTime   prometheus.Gauge
	reloads      *prometheus.CounterVec
	reloadTime   prometheus.Histogram
	qlogDropped  prometheus.Counter
	qlogReopened *prometheus.CounterVec
}

func newMetrics(reg *prometheus.Registry, s *Server) *metrics {
	m := &metrics{
		reg:        reg,
		srv:        s,
		queries:    prometheus.NewDesc("steer_dns_queries_total", "DNS queries answered, by query type, response code and the steering step that decided.", []string{"qtype", "rcode", "source"}, nil),
		ecs:        prometheus.NewDesc("steer_dns_queries_ecs_total", "DNS queries that carried an EDNS Client Subnet option.", nil, nil),
		dropped:    prometheus.NewDesc("steer_dns_queries_dropped_total", "Messages dropped unanswered (shorter than a header, or responses).", nil, nil),
		truncated:  prometheus.NewDesc("steer_dns_responses_truncated_total", "UDP responses sent with TC set.", nil, nil),
		mapInfo:    prometheus.NewDesc("steer_dns_map_info", "Maps being served, with their meta.version.", []string{"path", "version"}, nil),
		mapVersion: prometheus.NewDesc("steer_dns_map_version", "meta.version of each map being served (0 when absent): the version `steer publish` made current when file is a map directory's current.json.", []string{"file"}, nil),
		mapEntries: prometheus.NewDesc("steer_dns_map_entries", "Entries of each map being served.", []string{"path"}, nil),
		mapNets:    prometheus.NewDesc("steer_dns_map_networks", "Networks of each map being served, by family.", []string{"path", "family"}, nil),
		mapAge:     prometheus.NewDesc("steer_dns_map_age_seconds", "Seconds since each served map was loaded.", []string{"path"}, nil),
		serial:     prometheus.NewDesc("steer_dns_snapshot_serial", "Serial of the snapshot being served (1 at start, +1 per successful reload).", nil, nil),
		popUse:     prometheus.NewDesc("steer_dns_pop_state", "1 for how each PoP is answered now (ok, skip: drained, down or unhealthy, anycast), by address family.", []string{"pop", "family", "state"}, nil),
		ctlAge:     prometheus.NewDesc("steer_dns_control_contact_age_seconds", "Seconds since the control server last answered (-1: never); the state and map being served are at least this old.", nil, nil),
		ctlIndex:   prometheus.NewDesc("steer_dns_control_state_index", "Index of the last control-server state applied.", nil, nil),
		ctlOK:      prometheus.NewDesc("steer_dns_control_health_from_control", "1 while the control server's combined health view decides, 0 while the server's own checks do.", nil, nil),
		moves:      prometheus.NewDesc("steer_dns_load_moves", "Networks the load controller's moves override in the served map (networks of the patch: the moved ones and those nested in them).", nil, nil),
		overlays: prometheus.NewCounter(prometheus.CounterOpts{Name: "steer_dns_overlay_applies_total",
			Help: "PoP state changes (admin, health, load moves) applied over the compiled maps without a reload."}),
		lastOK: prometheus.NewGauge(prometheus.GaugeOpts{Name: "steer_dns_config_last_reload_successful",
			Help: "Whether the last reload of config, maps and GeoIP succeeded (1) or not (0)."}),
		lastOKTime: prometheus.NewGauge(prometheus.GaugeOpts{Name: "steer_dns_config_last_reload_success_timestamp_seconds",
			Help: "Unix time of the last successful reload."}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "steer_dns_reloads_total",
			Help: "Reload attempts by result."}, []string{"result"}),
		reloadTime: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "steer_dns_reload_duration_seconds",
			Help: "Time to load and compile a new snapshot.", Buckets: prometheus.ExponentialBuckets(0.001, 2, 14)}),
		qlogDropped: prometheus.NewCounter(prometheus.CounterOpts{Name: "steer_dns_querylog_dropped_total",
			Help: "RUM query-log lines dropped because the writer fell behind."}),
		qlogReopened: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "steer_dns_querylog_reopened_total",
			Help: "Times the RUM query log was reopened: rotated by size (size) or found moved or removed, by logrotate or by hand (moved)."}, []string{"reason"}),
	}
	reg.MustRegister(m, m.lastOK, m.lastOKTime, m.reloads, m.reloadTime, m.qlogDropped, m.qlogReopened, m.overlays)
	m.reloads.WithLabelValues("success")
	m.reloads.WithLabelValues("failure")
	return m
}

func (m *metrics) reloaded(snap *snapshot, err error, took time.Duration) {
	if err != nil {
		m.lastOK.Set(0)
		m.reloads.WithLabelValues("failure").Inc()
		return
	}
	m.lastOK.Set(1)
	m.lastOKTime.Set(float64(snap.built.UnixNano()) / 1e9)
	m.reloads.WithLabelValues("success").Inc()
	m.reloadTime.Observe(took.Seconds())
}

// Describe implements prometheus.Collector.
func (m *metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{m.queries, m.ecs, m.dropped, m.truncated, m.mapInfo, m.mapVersion, m.mapEntries, m.mapNets, m.mapAge, m.serial, m.popUse, m.ctlAge, m.ctlIndex, m.ctlOK, m.moves} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (m *metrics) Collect(ch chan<- prometheus.Metric) {
	var sum workerStats
	var ecs, dropped, truncated uint64
	for _, w := range m.srv.stats {
		for a := range numQtypes {
			for b := range numRcodes {
				for c := range steering.NumSources {
					sum.queries[a][b][c].Add(w.queries[a][b][c].Load())
				}
			}
		}
		ecs += w.ecs.Load()
		dropped += w.dropped.Load()
		truncated += w.truncated.Load()
	}
	for a := range numQtypes {
		for b := range numRcodes {
			for c := range steering.NumSources {
				if v := sum.queries[a][b][c].Load(); v > 0 {
					ch <- prometheus.MustNewConstMetric(m.queries, prometheus.CounterValue, float64(v), qtypeNames[a], rcodeNames[b], c.String())
				}
			}
		}
	}
	ch <- prometheus.MustNewConstMetric(m.ecs, prometheus.CounterValue, float64(ecs))
	ch <- prometheus.MustNewConstMetric(m.dropped, prometheus.CounterValue, float64(dropped))
	ch <- prometheus.MustNewConstMetric(m.truncated, prometheus.CounterValue, float64(truncated))
	snap := m.srv.snap.Load()
	if snap == nil {
		return
	}
	ch <- prometheus.MustNewConstMetric(m.serial, prometheus.GaugeValue, float64(snap.serial))
	for path, lm := range snap.maps {
		t := lm.table
		ch <- prometheus.MustNewConstMetric(m.mapInfo, prometheus.GaugeValue, 1, path, strconv.FormatInt(t.Meta().Version, 10))
		ch <- prometheus.MustNewConstMetric(m.mapVersion, prometheus.GaugeValue, float64(lm.version), path)
		ch <- prometheus.MustNewConstMetric(m.mapEntries, prometheus.GaugeValue, float64(t.Entries()), path)
		n4, n6 := t.Networks()
		ch <- prometheus.MustNewConstMetric(m.mapNets, prometheus.GaugeValue, float64(n4), path, "ipv4")
		ch <- prometheus.MustNewConstMetric(m.mapNets, prometheus.GaugeValue, float64(n6), path, "ipv6")
		ch <- prometheus.MustNewConstMetric(m.mapAge, prometheus.GaugeValue, time.Since(lm.loaded).Seconds(), path)
	}
	useNames := [...]string{steering.UseOK: "ok", steering.UseSkip: "skip", steering.UseAnycast: "anycast"}
	for i, p := range snap.cfg.PoPs {
		for f, fam := range []string{"ipv4", "ipv6"} {
			u := snap.pops.Use(steering.Family(f), i)
			for v, name := range useNames {
				ch <- prometheus.MustNewConstMetric(m.popUse, prometheus.GaugeValue, b2f(steering.Use(v) == u), string(p.Label), fam, name)
			}
		}
	}
	if f := m.srv.follower; f != nil {
		age := -1.0
		if lc := f.LastContact(); !lc.IsZero() {
			age = time.Since(lc).Seconds()
		}
		ch <- prometheus.MustNewConstMetric(m.ctlAge, prometheus.GaugeValue, age)
		ch <- prometheus.MustNewConstMetric(m.ctlIndex, prometheus.GaugeValue, float64(m.srv.stateIndex.Load()))
		ch <- prometheus.MustNewConstMetric(m.ctlOK, prometheus.GaugeValue, b2f(snap.ov.ctlHealth))
	}
	n := 0
	if snap.ov.patch != nil {
		n4, n6 := snap.ov.patch.Networks()
		n = n4 + n6
	}
	ch <- prometheus.MustNewConstMetric(m.moves, prometheus.GaugeValue, float64(n))
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// overlayApplied counts a state change applied without a reload.
func (m *metrics) overlayApplied(*snapshot) { m.overlays.Inc() }
