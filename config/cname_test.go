package config

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// cnameYAML is a config with a query log, two PoPs and the zone
// example.net (name server ns1 in the zone) whose records are the given
// YAML sequence items.
func cnameYAML(records string) string {
	return `query_log: q.ndjson
pops:
  - {label: fra, lat: 50.1, lon: 8.7, ipv4: ["192.0.2.10"]}
  - {label: ams, lat: 52.4, lon: 4.9, ipv6: ["2001:db8::20"]}
zones:
  - name: example.net
    ns:
      - {name: ns1.example.net, ipv4: ["192.0.2.53"]}
    records:
` + records
}

// cnameCases are the CNAME table tests of the config; FuzzParse is seeded
// with them.
var cnameCases = []struct {
	name    string
	records string
	err     string // "" = valid
	check   func(t *testing.T, c *Config)
}{
	{"static out of zone", `
      - {name: shop, static: {cname: shops.example.com.}}`, "", func(t *testing.T, c *Config) {
		r := c.Zones[0].Records[0]
		if r.Static.CNAME != "shops.example.com." || !r.IsCNAME() || r.Steered() {
			t.Errorf("record = %+v %+v", r, r.Static)
		}
	}},
	{"static relative, apex and origin-suffixed targets", `
      - {name: www, static: {ipv4: ["192.0.2.1"]}}
      - {name: w3, static: {cname: www}}
      - {name: home, static: {cname: "@"}}
      - {name: web, static: {cname: WWW.Example.Net}}`, "", func(t *testing.T, c *Config) {
		for i, want := range []string{"", "www.example.net.", "example.net.", "www.example.net."} {
			if got := c.Zones[0].Records[i].Static.CNAME; got != want {
				t.Errorf("records[%d].static.cname = %q, want %q", i, got, want)
			}
		}
	}},
	{"CNAME with a name below it, chain of two", `
      - {name: b, static: {cname: c}}
      - {name: a.b, static: {txt: ["x"]}}
      - {name: c, static: {cname: d.example.org.}}`, "", nil},
	{"steered, zone-relative template, default cname", `
      - {name: fra.edge, static: {ipv4: ["192.0.2.10"]}}
      - {name: ams.edge, static: {ipv6: ["2001:db8::20"]}}
      - name: cdn
        steering: [ecs, default]
        ecs_map: m.json
        cname_template: "{pop}.edge"
        default: {cname: anycast.cdn.example.com.}`, "", func(t *testing.T, c *Config) {
		r := &c.Zones[0].Records[2]
		if r.CNAMETemplate != "{pop}.edge.example.net." || r.DefaultCNAME != "anycast.cdn.example.com." || !r.Steered() || !r.IsCNAME() {
			t.Errorf("record = %+v", r)
		}
		if got := r.CNAMEFor("ams"); got != "ams.edge.example.net." {
			t.Errorf("CNAMEFor(ams) = %q", got)
		}
	}},
	{"steered, absolute template without default", `
      - {name: img, steering: [ecs], ecs_map: m.json, cname_template: "img-{pop}.CDN.example.com."}`, "", func(t *testing.T, c *Config) {
		if got := c.Zones[0].Records[0].CNAMEFor("fra"); got != "img-fra.cdn.example.com." {
			t.Errorf("CNAMEFor(fra) = %q", got)
		}
	}},
	{"steered RUM record answering CNAMEs", `
      - {name: rum, rum: true, steering: [ecs], ecs_map: m.json, cname_template: "{pop}.rum-edge.example.com."}`,
		"", func(t *testing.T, c *Config) {
			if r := c.Zones[0].Records[0]; !r.RUM || r.CNAMEFor("fra") != "fra.rum-edge.example.com." {
				t.Errorf("record = %+v", r)
			}
		}},

	{"static cname next to addresses", `
      - {name: shop, static: {cname: x.example.com., ipv4: ["192.0.2.1"]}}`,
		"zones[0].records[0].static.cname: a CNAME cannot sit next to other data (ipv4, ipv6, txt) at the same name", nil},
	{"bad target", `
      - {name: shop, static: {cname: "a..b"}}`,
		`zones[0].records[0].static.cname: invalid domain name "a..b.example.net.": bad label ""`, nil},
	{"target is the owner", `
      - {name: shop, static: {cname: shop.example.net.}}`,
		`zones[0].records[0].static.cname: a CNAME cannot point at its own name "shop.example.net."`, nil},
	{"apex", `
      - {name: "@", static: {cname: example.com.}}`,
		"zones[0].records[0].static.cname: the zone apex cannot be a CNAME (it holds the zone's SOA and NS records)", nil},
	{"apex steered", `
      - {name: "@", steering: [ecs], ecs_map: m.json, cname_template: "{pop}.cdn.example.com."}`,
		"zones[0].records[0].cname_template: the zone apex cannot be a CNAME", nil},
	{"name server's name", `
      - {name: ns1, static: {cname: ns.example.com.}}`,
		`zones[0].records[0].static.cname: "ns1.example.net." is the name server ns[0] of the zone, which cannot be a CNAME`, nil},
	{"next to another record", `
      - {name: shop, static: {txt: ["x"]}}
      - {name: shop, static: {cname: x.example.com.}}`,
		`zones[0].records[1].name: duplicate record "shop.example.net." (also records[0]): a CNAME cannot share its name with other data`, nil},
	{"dangling in-zone target", `
      - {name: shop, static: {cname: nope}}`,
		`zones[0].records[0].static.cname: target "nope.example.net." does not exist in zone "example.net."`, nil},
	{"loop", `
      - {name: a, static: {cname: b}}
      - {name: b, static: {cname: c}}
      - {name: c, static: {cname: a}}`,
		"zones[0].records[0].static.cname: CNAME loop: a.example.net. → b.example.net. → c.example.net. → a.example.net.", nil},
	{"static with a template", `
      - {name: shop, static: {cname: x.example.com.}, cname_template: "{pop}.example.com."}`,
		"zones[0].records[0].static: a static record takes no steering, ecs_map, resolver_map, default or cname_template", nil},
	{"template without {pop}", `
      - {name: cdn, steering: [ecs], ecs_map: m.json, cname_template: "edge.example.com."}`,
		`zones[0].records[0].cname_template: "edge.example.com." has no {pop}`, nil},
	{"template with another placeholder", `
      - {name: cdn, steering: [ecs], ecs_map: m.json, cname_template: "{pop}.{dc}.example.com."}`,
		`zones[0].records[0].cname_template: "{pop}.{dc}.example.com.": the only placeholder is {pop}`, nil},
	{"template giving a bad name", `
      - {name: cdn, steering: [ecs], ecs_map: m.json, cname_template: "{pop}-.example.com."}`,
		`zones[0].records[0].cname_template: "{pop}-.example.com." for PoP "fra": invalid domain name "fra-.example.com.": bad label "fra-"`, nil},
	{"template giving the record's name", `
      - {name: ams, steering: [ecs], ecs_map: m.json, cname_template: "{pop}"}`,
		`zones[0].records[0].cname_template: "{pop}.example.net." gives the record's own name "ams.example.net." for PoP "ams"`, nil},
	{"template dangling for one PoP", `
      - {name: fra.edge, static: {ipv4: ["192.0.2.10"]}}
      - {name: cdn, steering: [ecs], ecs_map: m.json, cname_template: "{pop}.edge"}`,
		`zones[0].records[1].cname_template: target "ams.edge.example.net." (PoP "ams") does not exist in zone "example.net." (the answer would be NXDOMAIN)`, nil},
	{"template with default addresses", `
      - {name: cdn, steering: [ecs, default], ecs_map: m.json, cname_template: "{pop}.example.com.", default: {ipv4: ["192.0.2.1"]}}`,
		"zones[0].records[0].default: a record with cname_template answers names: give default.cname, not addresses", nil},
	{"template with default step and no default cname", `
      - {name: cdn, steering: [ecs, default], ecs_map: m.json, cname_template: "{pop}.example.com."}`,
		"zones[0].records[0].default.cname: required when steering has default (the record answers CNAMEs)", nil},
	{"default cname without default step", `
      - {name: cdn, steering: [ecs], ecs_map: m.json, cname_template: "{pop}.example.com.", default: {cname: any.example.com.}}`,
		"zones[0].records[0].default.cname: set but steering has no default", nil},
	{"default cname of an address record", `
      - {name: www, steering: [ecs, default], ecs_map: m.json, default: {cname: any.example.com.}}`,
		"zones[0].records[0].default.cname: only for a record with cname_template", nil},
	{"default cname is the owner", `
      - {name: cdn, steering: [ecs, default], ecs_map: m.json, cname_template: "{pop}.example.com.", default: {cname: cdn}}`,
		`zones[0].records[0].default.cname: a CNAME cannot point at its own name "cdn.example.net."`, nil},
	{"steered loop through a PoP target", `
      - {name: cdn, steering: [ecs], ecs_map: m.json, cname_template: "{pop}.edge"}
      - {name: fra.edge, static: {cname: cdn}}
      - {name: ams.edge, static: {ipv6: ["2001:db8::20"]}}`,
		"zones[0].records[0].cname_template: CNAME loop: cdn.example.net. → fra.edge.example.net. → cdn.example.net.", nil},
}

func TestCNAMEConfig(t *testing.T) {
	for _, tc := range cnameCases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse([]byte(cnameYAML(tc.records)), "cname.yaml")
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("Parse() = %v, want an error containing %q", err, tc.err)
				}
				if !strings.HasPrefix(err.Error(), "config cname.yaml: zones[0].records[") {
					t.Errorf("error %q does not name the record", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse() = %v", err)
			}
			if tc.check != nil {
				tc.check(t, c)
			}
		})
	}
}

// TestCNAMEValidateGo checks the CNAME rules on a Config built in Go, where
// names are not made absolute for the caller.
func TestCNAMEValidateGo(t *testing.T) {
	base := func() *Config {
		c := Defaults()
		c.File = "go"
		c.PoPs = []PoP{{Label: "fra", Lat: 50, Lon: 8, IPv4: []netip.Addr{netip.MustParseAddr("192.0.2.1")}, Capacity: 1, State: StateUp}}
		c.Zones = []Zone{{
			Name: "example.net.", TTL: 3600,
			SOA: SOA{MName: "ns.example.org.", RName: "hostmaster.example.net.", Serial: 1, Refresh: 1, Retry: 1, Expire: 1},
			NS:  []NameServer{{Name: "ns.example.org."}},
			Records: []Record{{
				Name: "cdn.example.net.", TTL: 30, Steering: []Step{StepECS, StepDefault}, ECSMap: "/m.json",
				CNAMETemplate: "{pop}.cdn.example.com.", DefaultCNAME: "any.cdn.example.com.",
			}},
		}}
		return c
	}
	if err := base().Validate(); err != nil {
		t.Fatalf("Validate() = %v", err)
	}
	tests := []struct {
		name string
		edit func(r *Record)
		want string
	}{
		{"relative template", func(r *Record) { r.CNAMETemplate = "{pop}.cdn" },
			`config go: zones[0].records[0].cname_template: "{pop}.cdn" gives "fra.cdn" for PoP "fra", which is not canonical (want "fra.cdn.")`},
		{"upper-case default", func(r *Record) { r.DefaultCNAME = "ANY.example.com." },
			`config go: zones[0].records[0].default.cname: name "ANY.example.com." is not canonical (want "any.example.com.")`},
		{"static cname not absolute", func(r *Record) {
			*r = Record{Name: r.Name, TTL: 30, Static: &Static{CNAME: "x.example.com"}}
		}, `config go: zones[0].records[0].static.cname: name "x.example.com" is not canonical (want "x.example.com.")`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := base()
			tc.edit(&c.Zones[0].Records[0])
			if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Validate() = %v, want %q", err, tc.want)
			}
		})
	}
}

// TestExampleCNAME loads examples/steer.yaml with its commented CNAME
// records uncommented, so that the documented example stays valid.
func TestExampleCNAME(t *testing.T) {
	const f = "../examples/steer.yaml"
	b, err := os.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	i := strings.Index(text, "      # CNAME records")
	if i < 0 {
		t.Fatalf("%s: no commented CNAME records", f)
	}
	lines := strings.Split(text[i:], "\n")
	n := 0
	for j, l := range lines {
		rest, ok := strings.CutPrefix(l, "      # ")
		if ok && (strings.HasPrefix(rest, "- ") || strings.HasPrefix(rest, "  ")) {
			lines[j] = "      " + rest
			n++
		}
	}
	if n < 10 {
		t.Fatalf("uncommented only %d lines", n)
	}
	// Load opens none of the files the config names: any directory does.
	p := filepath.Join(t.TempDir(), "steer.yaml")
	if err := os.WriteFile(p, []byte(text[:i]+strings.Join(lines, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := Load(p)
	if err != nil {
		t.Fatalf("the example with its CNAME records: %v", err)
	}
	got := map[string]*Record{}
	for j := range c.Zones[0].Records {
		got[c.Zones[0].Records[j].Name] = &c.Zones[0].Records[j]
	}
	if r := got["shop.example.net."]; r == nil || r.Static.CNAME != "shops.example.com." {
		t.Errorf("shop = %+v", r)
	}
	if r := got["cdn.example.net."]; r == nil || r.CNAMEFor("gru") != "gru.edge.example.net." || r.DefaultCNAME != "anycast.edge.example.net." {
		t.Errorf("cdn = %+v", r)
	}
}
