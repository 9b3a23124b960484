package test

import (
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// TestECSMappedScope sends ECS options of family 2 (IPv6) whose address is
// v4-mapped. steer looks them up as the IPv4 address (popmap: "v4-mapped
// IPv6 is IPv4"), but the scope in the reply belongs to the option's family
// (RFC 7871 §6): an IPv4 scope of /24 must go back as /120 (96 + 24). A
// family-2 scope of 24 tells the resolver the answer holds for all of ::/24,
// every v4-mapped client included, whatever the map says for them.
func TestECSMappedScope(t *testing.T) {
	s := startSteer(t, nil) // the example map: 203.0.113.0/24 → fra, ams
	fra := s.popAddr4(t, "fra")
	for _, tc := range []struct {
		ecs       string
		wantScope int
	}{
		{"203.0.113.77/32", 24},           // family 1, for reference
		{"::ffff:203.0.113.77/128", 120},  // family 2, mapped
		{"::ffff:203.0.113.0/120", 120},   //
		{"::ffff:203.0.113.128/121", 120}, // source longer than the map entry
	} {
		r, err := query(s.addr, netip.Addr{}, "www.example.net.", dns.TypeA, netip.MustParsePrefix(tc.ecs), 2*time.Second)
		if err != nil {
			t.Fatalf("ECS %s: %v", tc.ecs, err)
		}
		if got := answerAddrs(r); !slices.Equal(got, fra) || replyScope(r) != tc.wantScope {
			t.Errorf("ECS %s: %v scope %d, want %v scope %d", tc.ecs, got, replyScope(r), fra, tc.wantScope)
		}
	}
}
