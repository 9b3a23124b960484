package explain

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/steer-gslb/steer/config"
	"github.com/steer-gslb/steer/geoip"
	"github.com/steer-gslb/steer/popmap"
	"github.com/steer-gslb/steer/steering"
)

// A hand-made world: five PoPs (lhr drained, sin down, gru without IPv6),
// one map used for ECS and resolvers, a sources file, a GeoIP database.
const testConfig = `
geoip: world.mmdb
pops:
  - {label: fra, lat: 50.11, lon: 8.68, ipv4: ["192.0.2.10"], ipv6: ["2001:db8::10"]}
  - {label: ams, lat: 52.37, lon: 4.90, ipv4: ["192.0.2.20"], ipv6: ["2001:db8::20"]}
  - {label: lhr, lat: 51.51, lon: -0.13, ipv4: ["192.0.2.30"], ipv6: ["2001:db8::30"], state: drain}
  - {label: sin, lat: 1.35, lon: 103.82, ipv4: ["198.51.100.20"], ipv6: ["2001:db8::50"], state: down}
  - {label: gru, lat: -23.55, lon: -46.63, ipv4: ["198.51.100.30"]}
zones:
  - name: example.net
    ttl: 3600
    soa: {mname: ns1.example.net, rname: hostmaster.example.net, serial: 1, refresh: 3600, retry: 600, expire: 604800, minimum: 60}
    ns:
      - {name: ns1.example.net, ipv4: ["127.0.0.1"]}
    records:
      - name: www
        ttl: 30
        steering: [ecs, resolver, geo, default]
        ecs_map: map.json
        resolver_map: map.json
        default: {ipv4: ["192.0.2.1"], ipv6: ["2001:db8::1"]}
      - name: cdn
        ttl: 30
        steering: [ecs, geo, default]
        ecs_map: map.json
        cname_template: "{pop}.cdn.example.org."
        default: {cname: anycast.cdn.example.org.}
      - name: static
        ttl: 30
        static: {ipv4: ["192.0.2.99"]}
`

const testMap = `{"meta": {"version": 7}, "map": [
	{"networks": ["203.0.113.0/24", "2001:db8:10::/48"], "labels": ["fra", "ams"]},
	{"networks": ["198.18.0.0/24"], "labels": ["lhr", "ams", "fra"]},
	{"networks": ["198.18.1.0/24"], "labels": ["sin", "lhr"]},
	{"networks": ["198.18.2.0/24"], "labels": ["gru", "fra"]},
	{"networks": ["198.51.100.53/32"], "labels": ["ams"]},
	{"networks": ["100.64.0.0/16"], "labels": ["ams", "fra"]}]}`

const testSources = `# steer build: network<TAB>source
203.0.113.0/24	measured
2001:db8:10::/48	extrapolate-prefix
198.18.0.0/24	measured
198.18.1.0/24	extrapolate-as
198.18.2.0/24	measured
198.51.100.53/32	resolver
100.64.0.0/16	extrapolate-geo
`

type fixture struct {
	cfg *config.Config
	tab *popmap.Table
	src *Sources
	geo *geoip.DB
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	dir := t.TempDir()
	var db bytes.Buffer
	if err := geoip.Write(&db, []geoip.Entry{
		{Prefix: netip.MustParsePrefix("203.0.113.0/24"), Lat: 50.0, Lon: 8.5, Country: "DE"},
		{Prefix: netip.MustParsePrefix("10.20.0.0/16"), Lat: 1.3, Lon: 103.8, Country: "SG"},
		{Prefix: netip.MustParsePrefix("10.30.0.0/16"), Lat: 51.5, Lon: -0.1, Country: "GB"},
		{Prefix: netip.MustParsePrefix("2001:db8:99::/48"), Lat: 52.4, Lon: 4.9, Country: "NL"},
	}); err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{"steer.yaml": []byte(testConfig), "map.json": []byte(testMap), "world.mmdb": db.Bytes()} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := config.Load(filepath.Join(dir, "steer.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	_, tab, err := popmap.Load(filepath.Join(dir, "map.json"))
	if err != nil {
		t.Fatal(err)
	}
	src, err := ReadSources(strings.NewReader(testSources))
	if err != nil {
		t.Fatal(err)
	}
	g, err := geoip.FromBytes(db.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{cfg, tab, src, g}
}

func (f *fixture) inputs() Inputs {
	return Inputs{Config: f.cfg, ECSMap: f.tab, ResolverMap: f.tab, ECSSources: f.src, ResolverSources: f.src, GeoIP: f.geo}
}

func TestExplain(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name     string
		in       func(*Inputs)
		addr     string
		ecs      string
		source   string
		scope    int
		pops     []string
		answer   []string
		ecsEntry string // "prefix labels origin", "" = nil
		resEntry string
		skipped  []Skip
		geo      string // "country nearest", "" = nil or no location
	}{
		{name: "measured network", addr: "203.0.113.9",
			source: "ecs", scope: 24, pops: []string{"fra", "ams"}, answer: []string{"192.0.2.10"},
			ecsEntry: "203.0.113.0/24 fra,ams measured", geo: "DE fra"},
		{name: "drained first choice skipped", addr: "198.18.0.77",
			source: "ecs", scope: 24, pops: []string{"ams", "fra"}, answer: []string{"192.0.2.20"},
			ecsEntry: "198.18.0.0/24 lhr,ams,fra measured", skipped: []Skip{{"lhr", "drained"}}},
		{name: "down and drained: the next step decides", addr: "198.18.1.5", in: func(in *Inputs) { in.ResolverMap = nil },
			source: "default", scope: 24, pops: []string{}, answer: []string{"192.0.2.1"},
			ecsEntry: "198.18.1.0/24 sin,lhr extrapolate-as", skipped: []Skip{{"sin", "down"}, {"lhr", "drained"}}},
		{name: "IPv6 client, AAAA", addr: "2001:db8:10:5::1",
			source: "ecs", scope: 48, pops: []string{"fra", "ams"}, answer: []string{"2001:db8::10"},
			ecsEntry: "2001:db8:10::/48 fra,ams extrapolate-prefix"},
		{name: "AAAA skips a PoP without IPv6", addr: "198.18.2.1", in: func(in *Inputs) { in.Family = "AAAA" },
			source: "ecs", scope: 24, pops: []string{"fra"}, answer: []string{"2001:db8::10"},
			ecsEntry: "198.18.2.0/24 gru,fra measured", skipped: []Skip{{"gru", "no IPv6 address"}}},
		{name: "v4-mapped address is IPv4", addr: "::ffff:203.0.113.9",
			source: "ecs", scope: 24, pops: []string{"fra", "ams"}, answer: []string{"192.0.2.10"},
			ecsEntry: "203.0.113.0/24 fra,ams measured", geo: "DE fra"},
		{name: "v4-mapped ECS answered in its own terms", addr: "198.51.100.1", ecs: "::ffff:203.0.113.0/120",
			source: "ecs", scope: 96 + 24, pops: []string{"fra", "ams"}, answer: []string{"192.0.2.10"},
			ecsEntry: "203.0.113.0/24 fra,ams measured", geo: "DE fra"},
		{name: "ECS given: the subnet decides, addr is the resolver", addr: "198.51.100.53", ecs: "100.64.3.0/24",
			source: "ecs", scope: 16, pops: []string{"ams", "fra"}, answer: []string{"192.0.2.20"},
			ecsEntry: "100.64.0.0/16 ams,fra extrapolate-geo", resEntry: "198.51.100.53/32 ams resolver"},
		{name: "ECS /0: a resolver's own entry", addr: "198.51.100.53", ecs: "0.0.0.0/0",
			source: "resolver", scope: 0, pops: []string{"ams"}, answer: []string{"192.0.2.20"},
			resEntry: "198.51.100.53/32 ams resolver"},
		{name: "no map entry: GeoIP nearest", addr: "10.20.1.1",
			source: "geo", scope: 16, pops: []string{"fra", "ams", "gru"}, answer: []string{"192.0.2.10"},
			geo: "SG fra"},
		{name: "GeoIP nearest drained: next nearest", addr: "10.30.1.1",
			source: "geo", scope: 16, pops: []string{"ams", "fra", "gru"}, answer: []string{"192.0.2.20"},
			geo: "GB ams"},
		{name: "nothing known: default", addr: "192.0.2.200",
			source: "default", pops: []string{}, answer: []string{"192.0.2.1"}, scope: 6},
		{name: "health: unhealthy fra skipped", addr: "203.0.113.9",
			in: func(in *Inputs) {
				in.State = func(i int) (config.State, bool) { return f.cfg.PoPs[i].State, f.cfg.PoPs[i].Label != "fra" }
			},
			source: "ecs", scope: 24, pops: []string{"ams"}, answer: []string{"192.0.2.20"},
			ecsEntry: "203.0.113.0/24 fra,ams measured", skipped: []Skip{{"fra", "unhealthy"}}, geo: "DE ams"},
		{name: "anycast state", addr: "203.0.113.9",
			in: func(in *Inputs) {
				in.State = func(i int) (config.State, bool) {
					if f.cfg.PoPs[i].Label == "fra" {
						return config.StateAnycast, true
					}
					return f.cfg.PoPs[i].State, true
				}
			},
			source: "ecs", scope: 24, pops: []string{}, answer: []string{"192.0.2.1"},
			ecsEntry: "203.0.113.0/24 fra,ams measured", geo: "DE fra"},
		{name: "load move", addr: "203.0.113.9",
			in: func(in *Inputs) {
				p, err := popmap.Compile(&popmap.Map{Entries: []popmap.Entry{{Networks: []netip.Prefix{netip.MustParsePrefix("203.0.113.0/25")}, Labels: []popmap.Label{"ams"}}}})
				if err != nil {
					t.Fatal(err)
				}
				in.ECSPatch = p
			},
			source: "ecs", scope: 24, pops: []string{"ams"}, answer: []string{"192.0.2.20"},
			ecsEntry: "203.0.113.0/24 fra,ams measured", skipped: []Skip{{"fra", "moved by load to ams"}}, geo: "DE fra"},
		{name: "CNAME record", addr: "198.18.0.77", in: func(in *Inputs) { in.Record = "cdn" },
			source: "ecs", scope: 24, pops: []string{"ams", "fra"}, answer: []string{"ams.cdn.example.org."},
			ecsEntry: "198.18.0.0/24 lhr,ams,fra measured", skipped: []Skip{{"lhr", "drained"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := f.inputs()
			if tc.in != nil {
				tc.in(&in)
			}
			var ecs netip.Prefix
			if tc.ecs != "" {
				ecs = netip.MustParsePrefix(tc.ecs)
			}
			r, err := Explain(in, netip.MustParseAddr(tc.addr), ecs)
			if err != nil {
				t.Fatal(err)
			}
			if r.Source != tc.source || r.Scope != tc.scope || !slices.Equal(r.PoPs, tc.pops) || !slices.Equal(r.Answer, tc.answer) {
				t.Errorf("got source %s scope /%d pops %v answer %v, want %s /%d %v %v", r.Source, r.Scope, r.PoPs, r.Answer, tc.source, tc.scope, tc.pops, tc.answer)
			}
			if got := entryText(r.ECSEntry); got != tc.ecsEntry {
				t.Errorf("ECS entry %q, want %q", got, tc.ecsEntry)
			}
			if got := entryText(r.ResolverEntry); tc.resEntry != "" && got != tc.resEntry {
				t.Errorf("resolver entry %q, want %q", got, tc.resEntry)
			}
			if !slices.Equal(r.Skipped, tc.skipped) && (len(r.Skipped) > 0 || len(tc.skipped) > 0) {
				t.Errorf("skipped %v, want %v", r.Skipped, tc.skipped)
			}
			if tc.geo != "" {
				if r.Geo == nil || r.Geo.Country+" "+r.Geo.Nearest != tc.geo {
					t.Errorf("geo %+v, want %s", r.Geo, tc.geo)
				}
			}
			if r.MapVersion != 7 {
				t.Errorf("map version %d, want 7", r.MapVersion)
			}
			// The decision is the DNS server's: a chain compiled as the
			// server does, asked directly, agrees.
			if in.Chain == nil && in.ECSPatch == nil && in.State == nil {
				rec, _ := findRecord(f.cfg, in.Record)
				fam := steering.FamilyV4
				if r.Family == "AAAA" {
					fam = steering.FamilyV6
				}
				pops := steering.NewPoPs(f.cfg.PoPs)
				res := in.ResolverMap
				if rec.ResolverMap == "" {
					res = nil
				}
				def := rec.Default
				if rec.IsCNAME() {
					pops = steering.NewPoPs(anyFamilyForTest(f.cfg.PoPs))
					def = config.Addrs{IPv4: anyAddr}
				}
				d := steering.NewChainWith(rec.Steering, in.ECSMap, res, pops, def, steering.Options{GeoDB: f.geo}).Decide(fam, Client(netip.MustParseAddr(tc.addr), ecs))
				if d.Source.String() != r.Source || d.Scope != r.Scope || (d.PoP >= 0) != (len(r.PoPs) > 0) || d.PoP >= 0 && string(f.cfg.PoPs[d.PoP].Label) != r.PoPs[0] {
					t.Errorf("chain decides %+v, report %s /%d %v", d, r.Source, r.Scope, r.PoPs)
				}
			}
			// The text names the answer and the deciding step.
			s := r.String()
			if !strings.Contains(s, "source "+tc.source) || len(tc.pops) > 0 && !strings.Contains(s, ": "+tc.pops[0]+" (") {
				t.Errorf("text lacks the answer or source:\n%s", s)
			}
			// JSON round trip (the --server form).
			b, err := json.Marshal(r)
			if err != nil {
				t.Fatal(err)
			}
			back, err := DecodeJSON(b)
			if err != nil {
				t.Fatalf("%v: %s", err, b)
			}
			if back.String() != s {
				t.Errorf("JSON round trip changed the report:\n%s\nvs\n%s", back, s)
			}
		})
	}
}

func anyFamilyForTest(list []config.PoP) []config.PoP {
	out := slices.Clone(list)
	for i := range out {
		if len(out[i].IPv4) == 0 {
			out[i].IPv4 = anyAddr
		}
	}
	return out
}

func entryText(e *Entry) string {
	if e == nil {
		return ""
	}
	return e.Prefix.String() + " " + strings.Join(e.Labels, ",") + " " + e.Origin
}

func TestExplainServerChain(t *testing.T) {
	// With the server's own chain (drain overridden to up there), the
	// chain decides and the report follows it.
	f := newFixture(t)
	in := f.inputs()
	up := func(i int) (config.State, bool) { return config.StateUp, true }
	in.Chain = steering.NewChainWith(config.DefaultSteering(), f.tab, f.tab, steering.NewPoPsWith(f.cfg.PoPs, up), f.cfg.Zones[0].Records[0].Default, steering.Options{GeoDB: f.geo})
	in.State = up
	r, err := Explain(in, netip.MustParseAddr("198.18.0.77"), netip.Prefix{})
	if err != nil {
		t.Fatal(err)
	}
	if r.Source != "ecs" || !slices.Equal(r.PoPs, []string{"lhr", "ams", "fra"}) || len(r.Skipped) != 0 {
		t.Errorf("got %s %v skipped %v, want ecs lhr ams fra, none skipped", r.Source, r.PoPs, r.Skipped)
	}
}

func TestExplainEstimator(t *testing.T) {
	f := newFixture(t)
	in := f.inputs()
	var asked netip.Addr
	in.Estimator = func(a netip.Addr) (netip.Prefix, []Estimate, error) {
		asked = a
		return netip.MustParsePrefix("203.0.113.0/24"), []Estimate{{"ams", 4, 31.5}, {"fra", 12, 18.25}}, nil
	}
	r, err := Explain(in, netip.MustParseAddr("203.0.113.9"), netip.Prefix{})
	if err != nil {
		t.Fatal(err)
	}
	if asked != netip.MustParseAddr("203.0.113.0") {
		t.Errorf("estimator asked for %s, want the client network 203.0.113.0", asked)
	}
	if len(r.Estimates) != 2 || r.Estimates[0].PoP != "fra" || r.Estimates[0].Samples != 12 {
		t.Errorf("estimates %+v, want fra (lowest p75) first", r.Estimates)
	}
	if s := r.String(); !strings.Contains(s, "fra") || !strings.Contains(s, "12 samples  p75    18.2 ms") {
		t.Errorf("text lacks the estimates:\n%s", s)
	}
}

func TestExplainErrors(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		name, want string
		in         func(*Inputs)
		addr       netip.Addr
	}{
		{"no config", "no config", func(in *Inputs) { in.Config = nil }, netip.MustParseAddr("192.0.2.1")},
		{"no address", "no address", nil, netip.Addr{}},
		{"unknown record", `no record "nope"`, func(in *Inputs) { in.Record = "nope" }, netip.MustParseAddr("192.0.2.1")},
		{"static record", "static, not steered", func(in *Inputs) { in.Record = "static.example.net." }, netip.MustParseAddr("192.0.2.1")},
		{"bad family", `family "MX"`, func(in *Inputs) { in.Family = "MX" }, netip.MustParseAddr("192.0.2.1")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := f.inputs()
			if tc.in != nil {
				tc.in(&in)
			}
			_, err := Explain(in, tc.addr, netip.Prefix{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err %v, want one naming %q", err, tc.want)
			}
		})
	}
}
