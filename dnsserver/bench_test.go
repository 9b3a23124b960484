package dnsserver

import (
	"testing"

	"github.com/miekg/dns"
)

// BenchmarkAnswer measures the handler alone (no sockets) for the common
// query, A with ECS answered from the map, and for queries that take the
// miekg/dns path.
func BenchmarkAnswer(b *testing.B) {
	s, r, _ := testServer(b)
	snap := s.snap.Load()
	for _, c := range []struct {
		name string
		q    *dns.Msg
	}{
		{"fast-ecs-A", newQuery("www.example.net.", dns.TypeA, "203.0.113.0/24")},
		{"fast-geo-A", newQuery("www.example.net.", dns.TypeA, "100.64.7.0/24")},
		{"slow-SOA", newQuery("example.net.", dns.TypeSOA, "")},
		{"slow-NXDOMAIN", newQuery("nope.example.net.", dns.TypeA, "203.0.113.0/24")},
	} {
		wire, _ := c.q.Pack()
		out := make([]byte, 0, 4096)
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if r.answer(snap, wire, resolver, false, out) == nil {
					b.Fatal("no answer")
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "queries/s")
		})
	}
}
