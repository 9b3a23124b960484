package config

import (
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestLimits(t *testing.T) {
	c, err := Load("testdata/limits.good.yaml")
	if err != nil {
		t.Fatal(err)
	}
	wantRRL := RRL{
		ResponsesPerSecond: 100, ErrorsPerSecond: 20, Window: 5 * time.Second, Slip: 3, IPv4Prefix: 22, IPv6Prefix: 48,
		Exempt:    []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24"), netip.MustParsePrefix("2001:db8:53::/48"), netip.MustParsePrefix("198.51.100.53/32")},
		TableSize: 100000,
	}
	if !reflect.DeepEqual(c.Server.RRL, wantRRL) || !c.Server.RRL.On() {
		t.Errorf("RRL = %+v, want %+v", c.Server.RRL, wantRRL)
	}
	if want := (TCP{MaxConnections: 2000, MaxPerClient: 100, BusyIdleTimeout: 2 * time.Second, IOTimeout: 500 * time.Millisecond}); c.Server.TCP != want {
		t.Errorf("TCP = %+v, want %+v", c.Server.TCP, want)
	}
}

// TestLimitsDefaults: RRL is off unless a rate is set; errors follow the
// answer rate unless set; defaults that would exceed another setting
// follow it.
func TestLimitsDefaults(t *testing.T) {
	const zones = "\nzones: [{name: example.net, ns: [{name: ns.example.org.}], records: [{name: \"@\", static: {txt: [x]}}]}]\n"
	parse := func(server string) Server {
		t.Helper()
		c, err := Parse([]byte("server: "+server+zones), "limits.yaml")
		if err != nil {
			t.Fatal(err)
		}
		return c.Server
	}
	s := parse("{}")
	if s.RRL.On() || !reflect.DeepEqual(s.RRL, DefaultRRL()) || s.TCP != DefaultTCP() {
		t.Errorf("defaults: RRL %+v (on %v), TCP %+v", s.RRL, s.RRL.On(), s.TCP)
	}
	if s := parse("{rrl: {responses_per_second: 7}}"); s.RRL.ErrorsPerSecond != 7 || !s.RRL.On() {
		t.Errorf("errors_per_second absent: %d, want 7", s.RRL.ErrorsPerSecond)
	}
	if s := parse("{rrl: {responses_per_second: 7, errors_per_second: 0}}"); s.RRL.ErrorsPerSecond != 0 {
		t.Errorf("errors_per_second 0: %d", s.RRL.ErrorsPerSecond)
	}
	if s := parse("{rrl: {errors_per_second: 3}}"); !s.RRL.On() || s.RRL.ResponsesPerSecond != 0 {
		t.Errorf("errors only: %+v", s.RRL)
	}
	if s := parse("{tcp: {max_connections: 10}}"); s.TCP.MaxPerClient != 10 {
		t.Errorf("max_per_client with 10 connections: %d, want 10", s.TCP.MaxPerClient)
	}
	if s := parse("{tcp_idle_timeout: 300ms}"); s.TCP.BusyIdleTimeout != 300*time.Millisecond {
		t.Errorf("busy_idle_timeout with a 300ms idle timeout: %v", s.TCP.BusyIdleTimeout)
	}
	// Out-of-range integers are reported, not wrapped.
	_, err := Parse([]byte("server: {rrl: {responses_per_second: 99999999999}}"+zones), "limits.yaml")
	if err == nil || !strings.Contains(err.Error(), "server.rrl.responses_per_second: must be in 0..1000000") {
		t.Errorf("huge rate: %v", err)
	}
}

// TestValidateLimitsGo: Validate catches limits set in Go.
func TestValidateLimitsGo(t *testing.T) {
	c := Defaults()
	c.File = "go"
	c.Zones = []Zone{{Name: "example.net.", TTL: 3600, SOA: SOA{MName: "ns.example.org.", RName: "h.example.net.", Serial: 1, Refresh: 1, Retry: 1, Expire: 1},
		NS: []NameServer{{Name: "ns.example.org."}}, Records: []Record{{Name: "example.net.", Static: &Static{TXT: []string{"x"}}}}}}
	if err := c.Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	c.Server.RRL.Exempt = []netip.Prefix{{}}
	c.Server.TCP.MaxPerClient = 0
	err := c.Validate()
	for _, want := range []string{"server.rrl.exempt[0]: invalid prefix", "server.tcp.max_per_client: must be in 1..max_connections (512), got 0"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v, want %q", err, want)
		}
	}
}
