package sim

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/steer-gslb/steer/config"
	"github.com/steer-gslb/steer/popmap"
)

// PoPSpec places a PoP in one of the measured cities.
type PoPSpec struct {
	Label popmap.Label
	City  string // a WonderProxy server name or city ("Frankfurt", "SaoPaulo", "Sao Paulo")
}

// DefaultPoPs is the footprint of a young CDN: dense in Europe and North
// America, a few sites in Asia-Pacific and one in South America, nothing in
// Africa, the Middle East or India. Those users are the ones a geo map
// sends the wrong way.
var DefaultPoPs = []PoPSpec{
	{"lhr", "London"}, {"ams", "Amsterdam"}, {"fra", "Frankfurt"}, {"cdg", "Paris"},
	{"osl", "Oslo"}, {"mad", "Madrid"}, {"waw", "Warsaw"}, {"mxp", "Milan"},
	{"iad", "Washington"}, {"lga", "NewYork"}, {"ord", "Chicago"}, {"dfw", "Dallas"},
	{"lax", "LosAngeles"}, {"sea", "Seattle"}, {"mia", "Miami"},
	{"gru", "SaoPaulo"},
	{"nrt", "Tokyo"}, {"hkg", "HongKong"}, {"sin", "Singapore"}, {"syd", "Sydney"},
}

// Noise sets the shares of production defects written into the beacons and
// the DNS log. Each is a probability per beacon, per sample or per query,
// as its comment says.
type Noise struct {
	TickTimer   float64 `json:"tick_timer"`   // beacons from Windows desktops with a GetTickCount-class timer (~15.6 ms steps)
	Hijacked    float64 `json:"hijacked"`     // beacons whose plain-HTTP probes a captive portal or proxy answered
	PlainProbe  float64 `json:"plain_probe"`  // beacons probing over http or tcp with real (unhijacked) values
	Duplicate   float64 `json:"duplicate"`    // beacons delivered twice
	LostProbe   float64 `json:"lost_probe"`   // samples lost (not in the beacon)
	BadValue    float64 `json:"bad_value"`    // samples with negative, zero, sub-microsecond or absurd RTTs
	FutureTS    float64 `json:"future_ts"`    // beacons stamped far in the future (a wrong client clock)
	AncientTS   float64 `json:"ancient_ts"`   // beacons stamped years in the past
	DNSLost     float64 `json:"dns_lost"`     // DNS tests whose query never reached the authoritative server
	DNSDup      float64 `json:"dns_dup"`      // DNS tests whose query arrives twice (retry after a lost answer)
	DNSPrefetch float64 `json:"dns_prefetch"` // DNS tests the resolver queries again later (prefetch)
}

// DefaultNoise is what production RUM pipelines report, roughly.
var DefaultNoise = Noise{
	TickTimer: 0.12, Hijacked: 0.02, PlainProbe: 0.03, Duplicate: 0.015,
	LostProbe: 0.02, BadValue: 0.003, FutureTS: 0.003, AncientTS: 0.003,
	DNSLost: 0.04, DNSDup: 0.03, DNSPrefetch: 0.01,
}

// Options size and shape a world. The zero value is not useful: start from
// DefaultOptions.
type Options struct {
	Seed     uint64
	Networks int     // client networks (IPv4 /24s and IPv6 /56s)
	IPv6     float64 // share of an IPv6-announcing ISP's networks that are IPv6 /56s

	Measured   float64 // share of networks that send beacons
	BeaconsMin int     // beacons per measured network, uniform in [min, max]
	BeaconsMax int

	// EdgeRequests is the mean number of edge access-log lines per
	// network (FileEdge): each network's count is Poisson with this mean
	// times its traffic weight over the mean weight, at most 8 times it.
	// 0 writes an empty log.
	EdgeRequests float64

	PoPs []PoPSpec

	Start    time.Time     // beacons are stamped in [Start, Start+Duration)
	Duration time.Duration //
	Zone     string        // the DNS zone; random names go under rum.<Zone>

	PublicResolvers float64  // mean share of an ISP's networks using a public resolver
	ISPResolverECS  float64  // share of ISPs whose resolvers send ECS
	GeoWrongCity    float64  // share of address blocks a GeoIP database places in the wrong city
	GeoWrongCountry float64  // ... in the wrong country
	DNSTest         float64  // share of beacons carrying a random-name DNS test
	Exclude         []string // ISO country codes with no users in the world

	// Scatter scatters networks away from their block's home city, where
	// GeoIP places the whole block: each block draws a share, uniform over
	// [0, 2×Scatter] (over [2×Scatter−1, 1] above 0.5), and each of its
	// networks after the first lives, with that probability, in a city of
	// the country drawn by population (at times the home city again).
	Scatter float64

	// Days > 0 runs the world over that many days from Start (Duration
	// becomes Days×24 h): clients of the measured networks arrive in
	// proportion to their traffic with a diurnal cycle, BeaconsPerDay
	// beacons a day in all on average (BeaconsMin/Max do not apply),
	// Events change the truth from their day on, and the truth is written
	// per period (see the package doc, Time). 0 is the static world.
	Days          int
	BeaconsPerDay int
	Events        []Event

	Noise Noise
}

// DefaultOptions is the default world: about 100k networks, 30 % of them
// measured with 2–5 beacons each, full production noise. Mainland China is
// excluded by default: global CDNs serve it through separate in-country
// networks (an ICP licence is required), and its measured cross-border RTTs
// of 200–600 ms would otherwise dominate every population-weighted figure.
func DefaultOptions() Options {
	return Options{
		Seed:            1,
		Networks:        100_000,
		IPv6:            0.15,
		Measured:        0.30,
		BeaconsMin:      2,
		BeaconsMax:      5,
		EdgeRequests:    2,
		PoPs:            DefaultPoPs,
		Start:           time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC),
		Duration:        24 * time.Hour,
		Zone:            "example.net",
		PublicResolvers: 0.15,
		ISPResolverECS:  0.10,
		GeoWrongCity:    0.05,
		GeoWrongCountry: 0.02,
		Scatter:         0.15,
		BeaconsPerDay:   20_000,
		DNSTest:         0.8,
		Exclude:         []string{"CN"},
		Noise:           DefaultNoise,
	}
}

// Validate reports every bad option at once.
func (o *Options) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if o.Networks < 1 || o.Networks > 20_000_000 {
		bad("networks: %d out of range [1, 20000000]", o.Networks)
	}
	share := func(name string, v float64) {
		if !(v >= 0 && v <= 1) {
			bad("%s: %v is not a share in [0, 1]", name, v)
		}
	}
	share("ipv6", o.IPv6)
	share("measured", o.Measured)
	share("public-resolvers", o.PublicResolvers)
	share("isp-resolver-ecs", o.ISPResolverECS)
	share("geo-wrong-city", o.GeoWrongCity)
	share("geo-wrong-country", o.GeoWrongCountry)
	share("scatter", o.Scatter)
	share("dns-test", o.DNSTest)
	n := o.Noise
	for _, s := range []struct {
		name string
		v    float64
	}{
		{"noise.tick-timer", n.TickTimer}, {"noise.hijacked", n.Hijacked}, {"noise.plain-probe", n.PlainProbe},
		{"noise.duplicate", n.Duplicate}, {"noise.lost-probe", n.LostProbe}, {"noise.bad-value", n.BadValue},
		{"noise.future-ts", n.FutureTS}, {"noise.ancient-ts", n.AncientTS}, {"noise.dns-lost", n.DNSLost},
		{"noise.dns-dup", n.DNSDup}, {"noise.dns-prefetch", n.DNSPrefetch},
	} {
		share(s.name, s.v)
	}
	if o.BeaconsMin < 1 || o.BeaconsMax < o.BeaconsMin || o.BeaconsMax > 1000 {
		bad("beacons: range %d-%d invalid (need 1 <= min <= max <= 1000)", o.BeaconsMin, o.BeaconsMax)
	}
	if !(o.EdgeRequests >= 0 && o.EdgeRequests <= 1000) {
		bad("edge-requests: %v out of range [0, 1000]", o.EdgeRequests)
	}
	if len(o.PoPs) == 0 || len(o.PoPs) > 64 {
		bad("pops: %d PoPs (need 1 to 64)", len(o.PoPs))
	}
	seen := map[popmap.Label]bool{}
	for _, p := range o.PoPs {
		// the config's rule: beacons (package rum) and the DNS server
		// accept exactly these labels
		if err := config.CheckLabel(p.Label); err != nil {
			bad("pops: %v", err)
		}
		if seen[p.Label] {
			bad("pops: label %q twice", p.Label)
		}
		seen[p.Label] = true
	}
	for _, c := range o.Exclude {
		if len(c) != 2 || strings.ToUpper(c) != c {
			bad("exclude: %q is not an ISO 3166-1 alpha-2 code", c)
		}
	}
	if o.Days < 0 || o.Days > 366 {
		bad("days: %d out of range [0, 366]", o.Days)
	}
	if o.Days > 0 && (o.BeaconsPerDay < 1 || o.BeaconsPerDay > 100_000_000) {
		bad("beacons-per-day: %d out of range [1, 100000000]", o.BeaconsPerDay)
	}
	errs = append(errs, o.validateEvents()...)
	if o.Duration <= 0 {
		bad("duration: %v must be positive", o.Duration)
	}
	if o.Zone == "" || strings.HasSuffix(o.Zone, ".") || strings.ContainsAny(o.Zone, " \t/") {
		bad("zone: %q is not a zone name (no trailing dot)", o.Zone)
	}
	return errors.Join(errs...)
}

// ParsePoPs parses "label=City,label=City,...".
func ParsePoPs(s string) ([]PoPSpec, error) {
	var out []PoPSpec
	for item := range strings.SplitSeq(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		l, c, ok := strings.Cut(item, "=")
		if !ok || l == "" || c == "" {
			return nil, fmt.Errorf("pops: %q is not label=City", item)
		}
		out = append(out, PoPSpec{popmap.Label(strings.TrimSpace(l)), strings.TrimSpace(c)})
	}
	if len(out) == 0 {
		return nil, errors.New("pops: empty list")
	}
	return out, nil
}

// FormatPoPs is the inverse of ParsePoPs.
func FormatPoPs(ps []PoPSpec) string {
	var b strings.Builder
	for i, p := range ps {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(string(p.Label))
		b.WriteByte('=')
		b.WriteString(p.City)
	}
	return b.String()
}
