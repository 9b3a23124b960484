package dnsserver

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
)

// startServer runs the example config on 127.0.0.1:0 with real sockets.
func startServer(t *testing.T) *Server {
	t.Helper()
	s := quietServer(t, exampleConfig(t, `dns: ["127.0.0.1:5353"]`, `dns: ["127.0.0.1:0"]`, `admin: "127.0.0.1:9153"`, `admin: "127.0.0.1:0"`))
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestUDPAndTCP(t *testing.T) {
	s := startServer(t)
	addr := s.Addrs()[0].String()
	for _, proto := range []string{"udp", "tcp"} {
		c := &dns.Client{Net: proto, Timeout: 2 * time.Second}
		resp, _, err := c.Exchange(newQuery("www.example.net.", dns.TypeA, "203.0.113.0/24"), addr)
		if err != nil {
			t.Fatalf("%s: %v", proto, err)
		}
		if answers(resp) != "192.0.2.10" || ecsOf(resp).SourceScope != 24 {
			t.Errorf("%s: %v", proto, resp)
		}
	}
	// AXFR over TCP is refused.
	c := &dns.Client{Net: "tcp", Timeout: 2 * time.Second}
	resp, _, err := c.Exchange(newQuery("example.net.", dns.TypeAXFR, "-"), addr)
	if err != nil || resp.Rcode != dns.RcodeRefused {
		t.Errorf("AXFR: %v %v", resp, err)
	}
	// Several queries pipelined on one TCP connection, answered in order.
	conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close() }()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	dc := &dns.Conn{Conn: conn}
	subnets := []string{"203.0.113.0/24", "198.18.16.0/24", "100.64.7.0/24"}
	for i, sn := range subnets {
		q := newQuery("www.example.net.", dns.TypeA, sn)
		q.Id = uint16(100 + i)
		if err := dc.WriteMsg(q); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{"192.0.2.10", "192.0.2.30", "198.51.100.20"}
	for i := range subnets {
		r, err := dc.ReadMsg()
		if err != nil {
			t.Fatal(err)
		}
		if r.Id != uint16(100+i) || answers(r) != want[i] {
			t.Errorf("pipelined %d: id %d answer %s, want %s", i, r.Id, answers(r), want[i])
		}
	}
}

// TestMetricsLint scrapes /metrics and checks names and help with promlint.
func TestMetricsLint(t *testing.T) {
	s := startServer(t)
	c := &dns.Client{Net: "udp", Timeout: 2 * time.Second}
	for _, q := range []*dns.Msg{newQuery("www.example.net.", dns.TypeA, "203.0.113.0/24"), newQuery("nope.example.net.", dns.TypeA, "")} {
		if _, _, err := c.Exchange(q, s.Addrs()[0].String()); err != nil {
			t.Fatal(err)
		}
	}
	resp, err := http.Get("http://" + s.AdminAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, _ := io.ReadAll(resp.Body)
	problems, err := promlint.New(bytes.NewReader(body)).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("metric %s: %s", p.Metric, p.Text)
	}
	for _, want := range []string{
		`steer_dns_queries_total{qtype="A",rcode="NOERROR",source="ecs"} 1`,
		`steer_dns_queries_total{qtype="A",rcode="NXDOMAIN",source="none"} 1`,
		`steer_dns_queries_ecs_total 1`,
		`steer_dns_config_last_reload_successful 1`,
		`steer_dns_snapshot_serial 1`,
		`steer_dns_map_entries{path=`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

// TestOversizeDatagramDropped: a datagram longer than any query is dropped
// and counted, and the loop keeps answering.
func TestOversizeDatagramDropped(t *testing.T) {
	s := startServer(t)
	c, err := net.Dial("udp", s.Addrs()[0].String())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Close() }()
	big, _ := newQuery("www.example.net.", dns.TypeA, "").Pack()
	big = append(big, make([]byte, 5000)...)
	if _, err := c.Write(big); err != nil {
		t.Fatal(err)
	}
	cl := &dns.Client{Net: "udp", Timeout: 2 * time.Second}
	resp, _, err := cl.Exchange(newQuery("www.example.net.", dns.TypeA, "203.0.113.0/24"), s.Addrs()[0].String())
	if err != nil || answers(resp) != "192.0.2.10" {
		t.Fatalf("after an oversize datagram: %v %v", resp, err)
	}
	// The two datagrams may reach different SO_REUSEPORT sockets: poll.
	deadline := time.After(5 * time.Second)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		var dropped uint64
		for _, st := range s.stats {
			dropped += st.dropped.Load()
		}
		if dropped == 1 {
			return
		}
		select {
		case <-deadline:
			t.Fatalf("dropped = %d, want 1", dropped)
		case <-tick.C:
		}
	}
}
