package collector

import (
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/steer-gslb/steer/store"
)

// The door's checks beyond the formats' (package rum parses and validates
// the beacon itself, and on purpose accepts implausible values: cleaning
// counts them). What is refused here is policy of the HTTP door, relative
// to the collector's own clock and connection: samples dated outside the
// window the collector accepts, RTTs no network has, and client addresses
// that cannot be a client's network.

// bearerToken returns the credentials of an Authorization header of the
// Bearer scheme. The scheme's name is case-insensitive (RFC 7235 §2.1:
// "Bearer", "bearer" and "BEARER" are the same), and the credentials
// follow one or more spaces.
func bearerToken(h string) (string, bool) {
	scheme, rest, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	t := strings.TrimSpace(rest)
	return t, t != ""
}

// checkSamples applies the sample window and the RTT limit of the config
// to a parsed beacon. where prefixes the message ("line 3: ").
func (s *Server) checkSamples(b *store.Beacon, now time.Time, where string) *rejection {
	c := s.cfg
	for i := range b.Samples {
		sm := &b.Samples[i]
		if c.MaxSampleAge > 0 && now.Sub(sm.TS) > c.MaxSampleAge {
			return reject(http.StatusBadRequest, "too-old", "%sbeacon: samples[%d].ts: %s is more than %v before the collector's clock (max_sample_age)",
				where, i, sm.TS.Format(time.RFC3339), c.MaxSampleAge)
		}
		if c.MaxSampleAhead > 0 && sm.TS.Sub(now) > c.MaxSampleAhead {
			return reject(http.StatusBadRequest, "future", "%sbeacon: samples[%d].ts: %s is more than %v ahead of the collector's clock (max_sample_ahead)",
				where, i, sm.TS.Format(time.RFC3339), c.MaxSampleAhead)
		}
		if c.MaxRTTms > 0 && sm.RTTms > c.MaxRTTms {
			return reject(http.StatusBadRequest, "rtt", "%sbeacon: samples[%d].rtt_ms: %v is over the limit of %v ms (max_rtt_ms)",
				where, i, sm.RTTms, c.MaxRTTms)
		}
	}
	return nil
}

// Address blocks that are not any client's network on the Internet, beyond
// what netip's predicates name (RFC 6890 and the IANA special-purpose
// registries).
var nonGlobal4 = []struct {
	p    netip.Prefix
	kind string
}{
	{netip.MustParsePrefix("0.0.0.0/8"), "reserved"},
	{netip.MustParsePrefix("100.64.0.0/10"), "shared"}, // carrier-grade NAT (RFC 6598)
	{netip.MustParsePrefix("192.0.0.0/24"), "reserved"},
	{netip.MustParsePrefix("192.0.2.0/24"), "documentation"},
	{netip.MustParsePrefix("198.18.0.0/15"), "benchmarking"},
	{netip.MustParsePrefix("198.51.100.0/24"), "documentation"},
	{netip.MustParsePrefix("203.0.113.0/24"), "documentation"},
	{netip.MustParsePrefix("240.0.0.0/4"), "reserved"}, // and the broadcast address
}

var (
	globalUnicast6 = netip.MustParsePrefix("2000::/3")
	nonGlobal6     = []struct {
		p    netip.Prefix
		kind string
	}{
		{netip.MustParsePrefix("2001:db8::/32"), "documentation"},
		{netip.MustParsePrefix("3fff::/20"), "documentation"},
		{netip.MustParsePrefix("2001:2::/48"), "benchmarking"},
	}
)

// nonGlobal returns what kind of address a is when it cannot be a
// client's address on the Internet ("loopback", "private", "link-local",
// "documentation", ...), or "" for a global address. a is unmapped.
func nonGlobal(a netip.Addr) string {
	switch {
	case !a.IsValid():
		return "invalid"
	case a.Zone() != "":
		return "zoned" // scoped to one host's link
	case a.IsUnspecified():
		return "unspecified"
	case a.IsLoopback():
		return "loopback"
	case a.IsMulticast():
		return "multicast"
	case a.IsLinkLocalUnicast():
		return "link-local"
	case a.IsPrivate():
		return "private"
	}
	if a.Is4() {
		for _, r := range nonGlobal4 {
			if r.p.Contains(a) {
				return r.kind
			}
		}
		return ""
	}
	for _, r := range nonGlobal6 {
		if r.p.Contains(a) {
			return r.kind
		}
	}
	if !globalUnicast6.Contains(a) {
		return "reserved" // not allocated for global unicast (NAT64, discard, site-local, ...)
	}
	return ""
}
