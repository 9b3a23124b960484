package steering

import (
	"bytes"
	"net/netip"
	"testing"

	"github.com/steer-gslb/steer/config"
	"github.com/steer-gslb/steer/geoip"
	"github.com/steer-gslb/steer/popmap"
)

func table(t *testing.T, js string) *popmap.Table {
	t.Helper()
	m, err := popmap.Parse([]byte(js))
	if err != nil {
		t.Fatal(err)
	}
	tb, err := popmap.Compile(m)
	if err != nil {
		t.Fatal(err)
	}
	return tb
}

func TestDecide(t *testing.T) {
	pops := NewPoPs([]config.PoP{
		{Label: "fra", IPv4: []netip.Addr{netip.MustParseAddr("192.0.2.10")}, State: config.StateUp},
		{Label: "ams", IPv4: []netip.Addr{netip.MustParseAddr("192.0.2.20")}, IPv6: []netip.Addr{netip.MustParseAddr("2001:db8::20")}, State: config.StateUp},
		{Label: "lhr", IPv4: []netip.Addr{netip.MustParseAddr("192.0.2.30")}, State: config.StateDrain},
		{Label: "sin", IPv4: []netip.Addr{netip.MustParseAddr("192.0.2.40")}, State: config.StateDown},
	})
	ecs := table(t, `{"map": [
		{"networks": ["10.0.0.0/8"], "labels": ["fra", "ams"]},
		{"networks": ["10.1.0.0/16"], "labels": ["lhr", "ams"]},
		{"networks": ["10.2.0.0/16"], "labels": ["sin", "lhr"]},
		{"networks": ["10.3.0.0/24"], "labels": ["fra"]},
		{"networks": ["10.3.0.128/25"], "labels": ["ams"]}]}`)
	res := table(t, `{"map": [{"networks": ["198.51.100.7/32"], "labels": ["ams"]}]}`)
	def := config.Addrs{IPv4: []netip.Addr{netip.MustParseAddr("192.0.2.1")}}
	chain := NewChainWith(config.DefaultSteering(), ecs, res, pops, def, Options{})
	noResolver := netip.MustParseAddr("203.0.113.9")
	tests := []struct {
		name     string
		fam      Family
		ecs      string
		resolver netip.Addr
		pop      int
		src      Source
		scope    int
	}{
		{"ECS hit", FamilyV4, "10.9.0.0/24", noResolver, 0, SourceECS, 13},
		{"drained first choice skipped", FamilyV4, "10.1.2.0/24", noResolver, 1, SourceECS, 16},
		{"down then drained: next step", FamilyV4, "10.2.2.0/24", noResolver, -1, SourceDefault, 16},
		{"ECS miss falls to the resolver map, scope of the miss", FamilyV4, "11.0.0.0/24", netip.MustParseAddr("198.51.100.7"), 1, SourceResolver, 8},
		{"ECS miss, resolver miss: default", FamilyV4, "11.0.0.0/24", noResolver, -1, SourceDefault, 8},
		{"no ECS: resolver decides, scope 0", FamilyV4, "", netip.MustParseAddr("198.51.100.7"), 1, SourceResolver, 0},
		{"ECS /0 is no client information", FamilyV4, "0.0.0.0/0", netip.MustParseAddr("198.51.100.7"), 1, SourceResolver, 0},
		{"AAAA skips PoPs without IPv6", FamilyV6, "10.9.0.0/24", noResolver, 1, SourceECS, 13},
		{"AAAA with no usable PoP and no IPv6 default: nothing", FamilyV6, "10.2.2.0/24", noResolver, -1, SourceNone, 16},
		{"source longer than the cap: scope at most the cap", FamilyV4, "10.3.0.200/32", noResolver, 0, SourceECS, 24},
		{"v4-mapped ECS answered in its own terms", FamilyV4, "::ffff:10.9.0.0/120", noResolver, 0, SourceECS, 96 + 13},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var p netip.Prefix
			if tc.ecs != "" {
				p = netip.MustParsePrefix(tc.ecs)
			}
			d := chain.Decide(tc.fam, Client{ECS: p, Resolver: tc.resolver})
			if d.PoP != tc.pop || d.Source != tc.src || d.Scope != tc.scope {
				t.Errorf("Decide(%s) = pop %d %s /%d, want pop %d %s /%d", tc.ecs, d.PoP, d.Source, d.Scope, tc.pop, tc.src, tc.scope)
			}
		})
	}
}

func TestDecideGeo(t *testing.T) {
	var buf bytes.Buffer
	if err := geoip.Write(&buf, []geoip.Entry{{Prefix: netip.MustParsePrefix("100.64.0.0/10"), Lat: 1.35, Lon: 103.82, Country: "SG"}}); err != nil {
		t.Fatal(err)
	}
	db, err := geoip.FromBytes(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	pops := NewPoPs([]config.PoP{
		{Label: "fra", Lat: 50.11, Lon: 8.68, IPv4: []netip.Addr{netip.MustParseAddr("192.0.2.10")}, State: config.StateUp},
		{Label: "sin", Lat: 1.35, Lon: 103.82, IPv4: []netip.Addr{netip.MustParseAddr("192.0.2.40")}, State: config.StateUp},
		{Label: "syd", Lat: -33.87, Lon: 151.21, IPv4: []netip.Addr{netip.MustParseAddr("192.0.2.50")}, State: config.StateUp},
	})
	def := config.Addrs{IPv4: []netip.Addr{netip.MustParseAddr("192.0.2.1")}}
	ecs := table(t, `{"map": [{"networks": ["10.0.0.0/8"], "labels": ["fra"]}]}`)
	chain := NewChainWith(config.DefaultSteering(), ecs, nil, pops, def, Options{GeoDB: db})
	resolver := netip.MustParseAddr("198.51.100.7")
	d := chain.Decide(FamilyV4, Client{ECS: netip.MustParsePrefix("100.64.7.0/24"), Resolver: resolver})
	if d.PoP != 1 || d.Source != SourceGeo || d.Scope != 10 {
		t.Errorf("geo: %+v, want sin from geo with the GeoIP network's scope /10", d)
	}
	// Outside the GeoIP data: default, scoped by the empty GeoIP network.
	d = chain.Decide(FamilyV4, Client{ECS: netip.MustParsePrefix("100.0.0.0/24"), Resolver: resolver})
	if d.PoP != -1 || d.Source != SourceDefault || d.Scope < 8 || d.Scope > 24 {
		t.Errorf("outside GeoIP: %+v", d)
	}
	// Without ECS the resolver's own location decides; no scope.
	d = chain.Decide(FamilyV4, Client{Resolver: netip.MustParseAddr("100.64.0.53")})
	if d.PoP != 1 || d.Source != SourceGeo || d.Scope != 0 {
		t.Errorf("geo by resolver: %+v", d)
	}
	// sin drained: the next nearest usable PoP (Sydney) from Singapore.
	pops2 := NewPoPs([]config.PoP{pops.List()[0], {Label: "sin", Lat: 1.35, Lon: 103.82, IPv4: []netip.Addr{netip.MustParseAddr("192.0.2.40")}, State: config.StateDrain}, pops.List()[2]})
	chain2 := NewChainWith(config.DefaultSteering(), ecs, nil, pops2, def, Options{GeoDB: db})
	if d := chain2.Decide(FamilyV4, Client{ECS: netip.MustParsePrefix("100.64.7.0/24")}); d.PoP != 2 {
		t.Errorf("drained sin: %+v, want syd", d)
	}
}

// The overlay: load-move patches, anycast state, health with fail-open
// and fail-closed.
func TestOverlay(t *testing.T) {
	v4 := func(s string) []netip.Addr { return []netip.Addr{netip.MustParseAddr(s)} }
	list := []config.PoP{
		{Label: "fra", IPv4: v4("192.0.2.10"), State: config.StateUp},
		{Label: "ams", IPv4: v4("192.0.2.20"), State: config.StateUp},
		{Label: "lhr", IPv4: v4("192.0.2.30"), State: config.StateUp},
	}
	ecs := table(t, `{"map": [
		{"networks": ["10.0.0.0/16"], "labels": ["fra", "ams", "lhr"]},
		{"networks": ["10.0.1.0/24"], "labels": ["fra", "ams", "lhr"]}]}`)
	def := config.Addrs{IPv4: v4("192.0.2.1")}
	cl := func(p string) Client {
		return Client{ECS: netip.MustParsePrefix(p), Resolver: netip.MustParseAddr("203.0.113.9")}
	}
	state := func(st map[popmap.Label]config.State, down map[popmap.Label]bool) *PoPs {
		return NewPoPsWith(list, func(i int) (config.State, bool) {
			s := list[i].State
			if x, ok := st[list[i].Label]; ok {
				s = x
			}
			return s, !down[list[i].Label]
		})
	}
	up := state(nil, nil)

	t.Run("patch moves one network and narrows the scope", func(t *testing.T) {
		patch := table(t, `{"map": [{"networks": ["10.0.1.0/24"], "labels": ["ams", "lhr"]}]}`)
		c := NewChainWith(config.DefaultSteering(), ecs, nil, up, def, Options{ECSPatch: patch})
		for _, tc := range []struct {
			ecs   string
			pop   int
			scope int
		}{
			{"10.0.1.0/24", 1, 24}, // moved to ams
			{"10.0.0.0/24", 0, 24}, // same map answer as 10.0.1.0/24, but the patch splits their /23
			{"10.0.2.0/24", 0, 23},
			{"10.0.128.0/24", 0, 17},
		} {
			d := c.Decide(FamilyV4, cl(tc.ecs))
			if d.PoP != tc.pop || d.Source != SourceECS || d.Scope != tc.scope {
				t.Errorf("Decide(%s) = %+v, want pop %d /%d", tc.ecs, d, tc.pop, tc.scope)
			}
		}
	})
	t.Run("anycast state answers anycast for its first-choice networks", func(t *testing.T) {
		c := NewChainWith(config.DefaultSteering(), ecs, nil, state(map[popmap.Label]config.State{"fra": config.StateAnycast}, nil), def, Options{})
		d := c.Decide(FamilyV4, cl("10.0.0.0/24"))
		if d.PoP != -1 || !d.Anycast || d.Source != SourceECS {
			t.Errorf("anycast fra: %+v, want an anycast answer from the ECS step", d)
		}
		// A network whose first usable choice is another PoP is unaffected.
		c = NewChainWith(config.DefaultSteering(), ecs, nil, state(map[popmap.Label]config.State{"fra": config.StateDrain, "lhr": config.StateAnycast}, nil), def, Options{})
		if d := c.Decide(FamilyV4, cl("10.0.0.0/24")); d.PoP != 1 || d.Anycast {
			t.Errorf("drained fra, anycast lhr: %+v, want ams", d)
		}
	})
	t.Run("unhealthy PoPs are skipped", func(t *testing.T) {
		c := NewChainWith(config.DefaultSteering(), ecs, nil, state(nil, map[popmap.Label]bool{"fra": true}), def, Options{})
		if d := c.Decide(FamilyV4, cl("10.0.0.0/24")); d.PoP != 1 {
			t.Errorf("fra unhealthy: %+v, want ams", d)
		}
	})
	allDown := map[popmap.Label]bool{"fra": true, "ams": true, "lhr": true}
	t.Run("all down, fail open: answer as if all were up", func(t *testing.T) {
		c := NewChainWith(config.DefaultSteering(), ecs, nil, state(nil, allDown), def, Options{Open: up})
		if d := c.Decide(FamilyV4, cl("10.0.0.0/24")); d.PoP != 0 || d.Source != SourceECS {
			t.Errorf("fail open: %+v, want fra from the map", d)
		}
	})
	t.Run("all down, fail closed: the default addresses", func(t *testing.T) {
		c := NewChainWith(config.DefaultSteering(), ecs, nil, state(nil, allDown), def, Options{Open: up, FailClosed: true})
		if d := c.Decide(FamilyV4, cl("10.0.0.0/24")); d.PoP != -1 || d.Source != SourceDefault {
			t.Errorf("fail closed: %+v, want the default answer", d)
		}
	})
	t.Run("drained is not unhealthy: fail open keeps admin state", func(t *testing.T) {
		st := state(map[popmap.Label]config.State{"fra": config.StateDrain}, map[popmap.Label]bool{"ams": true, "lhr": true})
		open := state(map[popmap.Label]config.State{"fra": config.StateDrain}, nil)
		c := NewChainWith(config.DefaultSteering(), ecs, nil, st, def, Options{Open: open})
		if d := c.Decide(FamilyV4, cl("10.0.0.0/24")); d.PoP != 1 {
			t.Errorf("fra drained, others unhealthy, fail open: %+v, want ams (health ignored, drain kept)", d)
		}
	})
}
