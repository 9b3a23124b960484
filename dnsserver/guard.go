package dnsserver

import (
	"errors"
	"fmt"
	"io"
	"syscall"

	"github.com/prometheus/client_golang/prometheus"
)

// guard is the server's defence against floods and hostile clients: the
// response rate limiter of UDP answers (rrl.go), the TCP connection table
// (tcp.go) and the locks that keep a second server off our ports
// (portlock_linux.go).
type guard struct {
	rrl   rrlHolder
	tcp   tcpTable
	locks []io.Closer
}

// releasePorts drops the port locks (at Close, once the sockets are shut).
func (g *guard) releasePorts() {
	for _, l := range g.locks {
		_ = l.Close()
	}
	g.locks = nil
}

// inUse words EADDRINUSE for the operator.
func inUse(err error) error {
	if errors.Is(err, syscall.EADDRINUSE) {
		return fmt.Errorf("address in use by another program: %w", err)
	}
	return err
}

// guardMetrics exports the guard's counters (registered by New).
type guardMetrics struct {
	s                                      *Server
	rrl, tcpOpen, tcpRefused, tcpReclaimed *prometheus.Desc
}

func newGuardMetrics(s *Server) *guardMetrics {
	return &guardMetrics{
		s: s,
		rrl: prometheus.NewDesc("steer_dns_rrl_responses_total",
			"UDP responses held back by response rate limiting, by category (answer, error: no answer records) and action (dropped, or slipped: sent truncated so that a real client retries over TCP).",
			[]string{"category", "action"}, nil),
		tcpOpen: prometheus.NewDesc("steer_dns_tcp_connections", "TCP connections open.", nil, nil),
		tcpRefused: prometheus.NewDesc("steer_dns_tcp_connections_refused_total",
			"TCP connections closed on accept: the client prefix held server.tcp.max_per_client (per_client), or max_connections were open and none idle (full).",
			[]string{"reason"}, nil),
		tcpReclaimed: prometheus.NewDesc("steer_dns_tcp_connections_reclaimed_total",
			"Idle TCP connections closed early: to make room for a new one at max_connections (evicted), or after busy_idle_timeout with more than half the slots taken (busy_idle_timeout).",
			[]string{"reason"}, nil),
	}
}

// Describe implements prometheus.Collector.
func (m *guardMetrics) Describe(ch chan<- *prometheus.Desc) {
	ch <- m.rrl
	ch <- m.tcpOpen
	ch <- m.tcpRefused
	ch <- m.tcpReclaimed
}

// Collect implements prometheus.Collector.
func (m *guardMetrics) Collect(ch chan<- prometheus.Metric) {
	var rrl [numRRLCategories][2]uint64
	for _, w := range m.s.stats {
		for c := range numRRLCategories {
			for a := range 2 {
				rrl[c][a] += w.rrl[c][a].Load()
			}
		}
	}
	for c := range numRRLCategories {
		for a := range 2 {
			ch <- prometheus.MustNewConstMetric(m.rrl, prometheus.CounterValue, float64(rrl[c][a]), rrlCategoryNames[c], rrlActionNames[a])
		}
	}
	t := &m.s.guard.tcp
	ch <- prometheus.MustNewConstMetric(m.tcpOpen, prometheus.GaugeValue, float64(t.openConns()))
	for r := range numTCPRefused {
		ch <- prometheus.MustNewConstMetric(m.tcpRefused, prometheus.CounterValue, float64(t.refused[r].Load()), tcpRefusedNames[r])
	}
	for r := range numTCPReclaimed {
		ch <- prometheus.MustNewConstMetric(m.tcpReclaimed, prometheus.CounterValue, float64(t.reclaimed[r].Load()), tcpReclaimedNames[r])
	}
}
