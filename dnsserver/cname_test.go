package dnsserver

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/steer-gslb/steer/config"
	"github.com/steer-gslb/steer/control"
	"github.com/steer-gslb/steer/popmap"
)

// edgeRecords are static records giving each example PoP's edge name
// (fra.edge.example.net, …) and the anycast one their addresses.
var edgeRecords = func() string {
	var b strings.Builder
	for _, e := range []struct{ name, v4, v6 string }{
		{"fra", "192.0.2.10", "2001:db8::10"}, {"ams", "192.0.2.20", "2001:db8::20"},
		{"lhr", "192.0.2.30", "2001:db8::30"}, {"iad", "198.51.100.10", "2001:db8::40"},
		{"sin", "198.51.100.20", "2001:db8::50"}, {"gru", "198.51.100.30", "2001:db8::60"},
		{"anycast", "192.0.2.1", "2001:db8::1"},
	} {
		fmt.Fprintf(&b, "      - {name: %s.edge, ttl: 300, static: {ipv4: [%q], ipv6: [%q]}}\n", e.name, e.v4, e.v6)
	}
	return b.String()
}()

// cnameEdits add CNAME records to the example config (after its last
// record): cdn, steered to {pop}.edge in the zone with anycast.edge as
// default; img, steered out of the zone; shop, a static CNAME out of the
// zone; alias, a static CNAME to the steered www; home, one to the apex;
// and c1 → … → c9 → www, a chain longer than maxChain.
var cnameEdits = func() []string {
	var chain strings.Builder
	for i := 1; i <= 9; i++ {
		next := fmt.Sprintf("c%d", i+1)
		if i == 9 {
			next = "www"
		}
		fmt.Fprintf(&chain, "      - {name: c%d, static: {cname: %s}}\n", i, next)
	}
	const last = "          txt: [\"v=spf1 -all\"]\n"
	return []string{last, last + `      - name: cdn
        ttl: 20
        steering: [ecs, resolver, geo, default]
        ecs_map: map.json
        resolver_map: map.json
        cname_template: "{pop}.edge"
        default: {cname: anycast.edge}
      - name: img
        steering: [ecs, default]
        ecs_map: map.json
        cname_template: "img-{pop}.cdn.example.com."
        default: {cname: img.cdn.example.com.}
      - {name: shop, ttl: 600, static: {cname: shops.example.com.}}
      - {name: alias, static: {cname: www}}
      - {name: home, static: {cname: "@"}}
` + edgeRecords + chain.String()}
}()

// rrs formats a section as "name ttl TYPE data" items joined by "; ".
func rrs(section []dns.RR) string {
	var out []string
	for _, rr := range section {
		h := rr.Header()
		data := ""
		switch v := rr.(type) {
		case *dns.CNAME:
			data = v.Target
		case *dns.A:
			data = v.A.String()
		case *dns.AAAA:
			data = v.AAAA.String()
		case *dns.NS:
			data = v.Ns
		case *dns.SOA:
			data = v.Ns
		case *dns.HINFO:
			data = v.Cpu
		}
		out = append(out, fmt.Sprintf("%s %d %s %s", h.Name, h.Ttl, dns.TypeToString[h.Rrtype], data))
	}
	return strings.Join(out, "; ")
}

const soa = "example.net. 60 SOA ns1.example.net."

// cnameCases are queries at CNAME names of the cnameEdits config; shared
// with the fuzz seeds.
var cnameCases = []struct {
	name   string
	qname  string
	qtype  uint16
	subnet string // as in newQuery
	rcode  int
	answer string
	ns     string // authority section
	scope  int    // -1: no ECS option expected in the reply
}{
	{"steered CNAME in zone, ECS picks fra", "cdn.example.net.", dns.TypeA, "203.0.113.0/24", 0,
		"cdn.example.net. 20 CNAME fra.edge.example.net.; fra.edge.example.net. 300 A 192.0.2.10", "", 24},
	{"AAAA gets the same CNAME", "cdn.example.net.", dns.TypeAAAA, "203.0.113.0/24", 0,
		"cdn.example.net. 20 CNAME fra.edge.example.net.; fra.edge.example.net. 300 AAAA 2001:db8::10", "", 24},
	{"ECS v6 picks sin", "cdn.example.net.", dns.TypeAAAA, "2001:db8:20::/56", 0,
		"cdn.example.net. 20 CNAME sin.edge.example.net.; sin.edge.example.net. 300 AAAA 2001:db8::50", "", 48},
	{"geo picks sin", "cdn.example.net.", dns.TypeA, "100.64.7.0/24", 0,
		"cdn.example.net. 20 CNAME sin.edge.example.net.; sin.edge.example.net. 300 A 198.51.100.20", "", 10},
	{"default step: the default CNAME", "cdn.example.net.", dns.TypeA, "192.0.2.0/24", 0,
		"cdn.example.net. 20 CNAME anycast.edge.example.net.; anycast.edge.example.net. 300 A 192.0.2.1", "", 6},
	{"ECS source 0: scope 0", "cdn.example.net.", dns.TypeA, "0.0.0.0/0", 0,
		"cdn.example.net. 20 CNAME anycast.edge.example.net.; anycast.edge.example.net. 300 A 192.0.2.1", "", 0},
	{"no EDNS", "cdn.example.net.", dns.TypeA, "-", 0,
		"cdn.example.net. 20 CNAME anycast.edge.example.net.; anycast.edge.example.net. 300 A 192.0.2.1", "", -1},
	{"query name's case kept", "CdN.ExAmple.NET.", dns.TypeA, "203.0.113.0/24", 0,
		"CdN.ExAmple.NET. 20 CNAME fra.edge.example.net.; fra.edge.example.net. 300 A 192.0.2.10", "", 24},
	{"type the target lacks: CNAME and NODATA", "cdn.example.net.", dns.TypeTXT, "203.0.113.0/24", 0,
		"cdn.example.net. 20 CNAME fra.edge.example.net.", soa, 24},
	{"type CNAME: not followed", "cdn.example.net.", dns.TypeCNAME, "203.0.113.0/24", 0,
		"cdn.example.net. 20 CNAME fra.edge.example.net.", "", 24},
	{"ANY: the CNAME alone", "cdn.example.net.", dns.TypeANY, "203.0.113.0/24", 0,
		"cdn.example.net. 20 CNAME fra.edge.example.net.", "", 24},
	{"steered CNAME out of zone", "img.example.net.", dns.TypeA, "203.0.113.0/24", 0,
		"img.example.net. 30 CNAME img-fra.cdn.example.com.", "", 24},
	{"steered out of zone, default", "img.example.net.", dns.TypeAAAA, "192.0.2.0/24", 0,
		"img.example.net. 30 CNAME img.cdn.example.com.", "", 6},
	{"static CNAME out of zone", "shop.example.net.", dns.TypeA, "203.0.113.0/24", 0,
		"shop.example.net. 600 CNAME shops.example.com.", "", 0},
	{"static CNAME to a steered name: its scope", "alias.example.net.", dns.TypeA, "203.0.113.0/24", 0,
		"alias.example.net. 30 CNAME www.example.net.; www.example.net. 30 A 192.0.2.10", "", 24},
	{"static CNAME to the apex, SOA", "home.example.net.", dns.TypeSOA, "", 0,
		"home.example.net. 30 CNAME example.net.; example.net. 3600 SOA ns1.example.net.", "", -1},
	{"static CNAME to the apex, NS", "home.example.net.", dns.TypeNS, "-", 0,
		"home.example.net. 30 CNAME example.net.; example.net. 3600 NS ns1.example.net.", "", -1},
	{"static CNAME to the apex, A: NODATA", "home.example.net.", dns.TypeA, "-", 0,
		"home.example.net. 30 CNAME example.net.", soa, -1},
	{"chain longer than maxChain ends with its 8th CNAME", "c1.example.net.", dns.TypeA, "-", 0,
		"c1.example.net. 30 CNAME c2.example.net.; c2.example.net. 30 CNAME c3.example.net.; " +
			"c3.example.net. 30 CNAME c4.example.net.; c4.example.net. 30 CNAME c5.example.net.; " +
			"c5.example.net. 30 CNAME c6.example.net.; c6.example.net. 30 CNAME c7.example.net.; " +
			"c7.example.net. 30 CNAME c8.example.net.; c8.example.net. 30 CNAME c9.example.net.", "", -1},
	{"chain of maxChain names is whole", "c3.example.net.", dns.TypeA, "203.0.113.0/24", 0,
		"c3.example.net. 30 CNAME c4.example.net.; c4.example.net. 30 CNAME c5.example.net.; " +
			"c5.example.net. 30 CNAME c6.example.net.; c6.example.net. 30 CNAME c7.example.net.; " +
			"c7.example.net. 30 CNAME c8.example.net.; c8.example.net. 30 CNAME c9.example.net.; " +
			"c9.example.net. 30 CNAME www.example.net.; www.example.net. 30 A 192.0.2.10", "", 24},
	{"below a CNAME: NXDOMAIN", "x.cdn.example.net.", dns.TypeA, "", dns.RcodeNameError, "", soa, -1},
	{"the edge name itself", "fra.edge.example.net.", dns.TypeA, "203.0.113.0/24", 0,
		"fra.edge.example.net. 300 A 192.0.2.10", "", 0},
}

func TestCNAMEAnswers(t *testing.T) {
	s, r, _ := testServer(t, cnameEdits...)
	for _, tc := range cnameCases {
		t.Run(tc.name, func(t *testing.T) {
			for _, tcp := range []bool{false, true} {
				m := ask(t, s, r, newQuery(tc.qname, tc.qtype, tc.subnet), tcp)
				if m.Rcode != tc.rcode || !m.Authoritative || m.Truncated {
					t.Fatalf("tcp %v: rcode %s aa %v tc %v, want %s aa", tcp, dns.RcodeToString[m.Rcode], m.Authoritative, m.Truncated, dns.RcodeToString[tc.rcode])
				}
				if got := rrs(m.Answer); got != tc.answer {
					t.Errorf("tcp %v: answer\n%s\nwant\n%s", tcp, got, tc.answer)
				}
				if got := rrs(m.Ns); got != tc.ns {
					t.Errorf("tcp %v: authority %q, want %q", tcp, got, tc.ns)
				}
				e := ecsOf(m)
				switch {
				case tc.scope < 0 && e != nil:
					t.Errorf("reply carries ECS %v, the query had none", e)
				case tc.scope >= 0 && e == nil:
					t.Errorf("reply has no ECS option")
				case e != nil && int(e.SourceScope) != tc.scope:
					t.Errorf("scope = %d, want %d", e.SourceScope, tc.scope)
				}
			}
		})
	}
	// A steered CNAME is never taken by the fast path, which writes
	// addresses only.
	snap := s.snap.Load()
	wire, _ := newQuery("cdn.example.net.", dns.TypeA, "203.0.113.0/24").Pack()
	if err := parseQuery(&r.q, wire); err != nil || r.fastAnswer(snap, resolver, false, nil) != nil {
		t.Errorf("fast path answered a CNAME name (parse error %v)", err)
	}
}

// TestCNAMEDecision: a CNAME record's PoP is chosen by state and health,
// not by the PoP's addresses, so every query type gets the same CNAME; a
// drained PoP is skipped and one in anycast state gives the default.
func TestCNAMEDecision(t *testing.T) {
	edits := append([]string{
		"    ipv4: [\"192.0.2.10\"]\n    ipv6: [\"2001:db8::10\"]\n", "    ipv6: [\"2001:db8::10\"]\n", // fra: IPv6 only
		"  - label: lhr\n", "  - label: lhr\n    state: drain\n",
		"  - label: iad\n", "  - label: iad\n    state: anycast\n",
	}, cnameEdits...)
	s, r, _ := testServer(t, edits...)
	for _, tc := range []struct {
		qname, subnet string
		qtype         uint16
		want          string
	}{
		{"www.example.net.", "203.0.113.0/24", dns.TypeA, "www.example.net. 30 A 192.0.2.20"}, // fra has no IPv4: ams
		{"cdn.example.net.", "203.0.113.0/24", dns.TypeA, "cdn.example.net. 20 CNAME fra.edge.example.net.; fra.edge.example.net. 300 A 192.0.2.10"},
		{"cdn.example.net.", "203.0.113.0/24", dns.TypeTXT, "cdn.example.net. 20 CNAME fra.edge.example.net."},
		{"cdn.example.net.", "198.18.16.0/24", dns.TypeA, "cdn.example.net. 20 CNAME ams.edge.example.net.; ams.edge.example.net. 300 A 192.0.2.20"},               // lhr drained
		{"cdn.example.net.", "198.19.0.0/24", dns.TypeAAAA, "cdn.example.net. 20 CNAME anycast.edge.example.net.; anycast.edge.example.net. 300 AAAA 2001:db8::1"}, // iad anycast
	} {
		if got := rrs(ask(t, s, r, newQuery(tc.qname, tc.qtype, tc.subnet), false).Answer); got != tc.want {
			t.Errorf("%s %s from %s: %s, want %s", tc.qname, dns.TypeToString[tc.qtype], tc.subnet, got, tc.want)
		}
	}
}

// TestCNAMEChainEnds builds snapshots from configs that Validate would
// reject (a loop, a dangling target) and from one it accepts (a target
// below the RUM record, not followed): the answer ends, bounded and
// well-formed.
func TestCNAMEChainEnds(t *testing.T) {
	_, r, dir := testServer(t, cnameEdits...)
	for _, tc := range []struct {
		name    string
		targets map[string]string // owner → new static CNAME target
		qname   string
		rcode   int
		answer  string
		ns      string
		valid   bool // Validate accepts the config
	}{
		{"loop", map[string]string{"shop.example.net.": "alias.example.net.", "alias.example.net.": "shop.example.net."}, "shop.example.net.", 0,
			"shop.example.net. 600 CNAME alias.example.net.; alias.example.net. 30 CNAME shop.example.net.", "", false},
		{"to itself", map[string]string{"shop.example.net.": "shop.example.net."}, "shop.example.net.", 0,
			"shop.example.net. 600 CNAME shop.example.net.", "", false},
		{"dangling", map[string]string{"alias.example.net.": "nope.example.net."}, "alias.example.net.", dns.RcodeNameError,
			"alias.example.net. 30 CNAME nope.example.net.", soa, false},
		{"into the RUM record", map[string]string{"alias.example.net.": "x.rum.example.net."}, "alias.example.net.", 0,
			"alias.example.net. 30 CNAME x.rum.example.net.", "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := config.Load(filepath.Join(dir, "steer.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			for i := range cfg.Zones[0].Records {
				if rc := &cfg.Zones[0].Records[i]; tc.targets[rc.Name] != "" {
					rc.Static.CNAME = tc.targets[rc.Name]
				}
			}
			if err := cfg.Validate(); (err == nil) != tc.valid {
				t.Fatalf("Validate() = %v, want valid %v", err, tc.valid)
			}
			snap, err := build(cfg, fileID{}, nil, 1, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			if snap.geoDB != nil {
				t.Cleanup(func() { _ = snap.geoDB.Close() })
			}
			wire, _ := newQuery(tc.qname, dns.TypeA, "").Pack()
			out := r.answer(snap, wire, resolver, false, nil)
			var m dns.Msg
			if err := m.Unpack(out); err != nil {
				t.Fatal(err)
			}
			if m.Rcode != tc.rcode || rrs(m.Answer) != tc.answer || rrs(m.Ns) != tc.ns {
				t.Errorf("rcode %s answer %q authority %q\nwant %s %q %q", dns.RcodeToString[m.Rcode], rrs(m.Answer), rrs(m.Ns), dns.RcodeToString[tc.rcode], tc.answer, tc.ns)
			}
		})
	}
}

// TestCNAMEQueryLog: a RUM record answering CNAMEs logs A and AAAA queries
// with the PoP its chain chose, as a RUM record of addresses does.
func TestCNAMEQueryLog(t *testing.T) {
	edits := append(append([]string(nil), cnameEdits...),
		"        rum: true\n", "        rum: true\n        cname_template: \"{pop}.edge\"\n",
		"          ipv4: [\"192.0.2.1\"]\n          ipv6: [\"2001:db8::1\"]\n      - name: \"@\"", "          cname: anycast.edge\n      - name: \"@\"")
	s, r, dir := testServer(t, edits...)
	for _, q := range []struct {
		qname  string
		qtype  uint16
		subnet string
		want   string
	}{
		{"k3f9q2x7w1.rum.example.net.", dns.TypeA, "203.0.113.0/24", "k3f9q2x7w1.rum.example.net. 0 CNAME fra.edge.example.net.; fra.edge.example.net. 300 A 192.0.2.10"},
		{"a1.rum.example.net.", dns.TypeAAAA, "2001:db8:20::/56", "a1.rum.example.net. 0 CNAME sin.edge.example.net.; sin.edge.example.net. 300 AAAA 2001:db8::50"},
		{"b2.rum.example.net.", dns.TypeA, "192.0.2.0/24", "b2.rum.example.net. 0 CNAME anycast.edge.example.net.; anycast.edge.example.net. 300 A 192.0.2.1"},
		{"c3.rum.example.net.", dns.TypeTXT, "203.0.113.0/24", "c3.rum.example.net. 0 CNAME fra.edge.example.net."}, // answered, not logged
	} {
		if got := rrs(ask(t, s, r, newQuery(q.qname, q.qtype, q.subnet), false).Answer); got != q.want {
			t.Errorf("%s: %s, want %s", q.qname, got, q.want)
		}
	}
	s.qlog.close() // flushes
	b, err := os.ReadFile(filepath.Join(dir, "queries.ndjson"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	want := []string{
		`"qname":"k3f9q2x7w1.rum.example.net.","qtype":"A","resolver":"127.0.0.1","ecs":"203.0.113.0/24","pop":"fra","source":"ecs"}`,
		`"qname":"a1.rum.example.net.","qtype":"AAAA","resolver":"127.0.0.1","ecs":"2001:db8:20::/56","pop":"sin","source":"ecs"}`,
		`"qname":"b2.rum.example.net.","qtype":"A","resolver":"127.0.0.1","ecs":"192.0.2.0/24","source":"default"}`,
	}
	if len(lines) != len(want) {
		t.Fatalf("query log has %d lines, want %d:\n%s", len(lines), len(want), b)
	}
	for i, w := range want {
		if !strings.HasSuffix(lines[i], w) {
			t.Errorf("line %d = %s\nwant suffix %s", i, lines[i], w)
		}
	}
}

// BenchmarkAnswerCNAME measures CNAME answers, which take the miekg/dns
// path.
func BenchmarkAnswerCNAME(b *testing.B) {
	s, r, _ := testServer(b, cnameEdits...)
	snap := s.snap.Load()
	for _, c := range []struct {
		name string
		q    *dns.Msg
	}{
		{"steered-in-zone-A", newQuery("cdn.example.net.", dns.TypeA, "203.0.113.0/24")},
		{"static-out-of-zone-A", newQuery("shop.example.net.", dns.TypeA, "203.0.113.0/24")},
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

// TestFaultCNAMEReload: a config whose CNAMEs loop or dangle is refused on
// reload with an error naming the record, and the old answers stay; the
// good config back reloads. (Answers of a broken chain that reaches a
// snapshot anyway are bounded: TestCNAMEChainEnds.)
func TestFaultCNAMEReload(t *testing.T) {
	s, r, dir := testServer(t, cnameEdits...)
	path := filepath.Join(dir, "steer.yaml")
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := "shop.example.net. 600 CNAME shops.example.com."
	for _, tc := range []struct{ name, old, new, err string }{
		{"loop", "{name: alias, static: {cname: www}}", "{name: alias, static: {cname: shop2}}\n      - {name: shop2, static: {cname: alias}}",
			"zones[0].records[6].static.cname: CNAME loop: alias.example.net. → shop2.example.net. → alias.example.net."},
		{"loop through a PoP", "{name: fra.edge, ttl: 300, static: {ipv4: [\"192.0.2.10\"], ipv6: [\"2001:db8::10\"]}}", "{name: fra.edge, static: {cname: cdn}}",
			`zones[0].records[3].cname_template: CNAME loop: cdn.example.net. → fra.edge.example.net. → cdn.example.net.`},
		{"dangling", "{name: shop, ttl: 600, static: {cname: shops.example.com.}}", "{name: shop, static: {cname: shops}}",
			`zones[0].records[5].static.cname: target "shops.example.net." does not exist in zone "example.net."`},
		{"apex", `      - name: "@"
        static:
          txt: ["v=spf1 -all"]`, `      - name: "@"
        static:
          cname: www`, "zones[0].records[2].static.cname: the zone apex cannot be a CNAME"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(string(good), tc.old) {
				t.Fatalf("%q not in the config", tc.old)
			}
			if err := os.WriteFile(path, []byte(strings.Replace(string(good), tc.old, tc.new, 1)), 0o644); err != nil {
				t.Fatal(err)
			}
			serial := s.snap.Load().serial
			err := s.Reload("test")
			if err == nil || !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), path) {
				t.Fatalf("Reload() = %v, want an error naming %s and %q", err, path, tc.err)
			}
			t.Logf("Reload() = %v", err)
			if s.snap.Load().serial != serial {
				t.Errorf("a new snapshot was swapped in")
			}
			if got := rrs(ask(t, s, r, newQuery("shop.example.net.", dns.TypeA, ""), false).Answer); got != want {
				t.Errorf("after the failed reload: %s, want %s", got, want)
			}
			if err := os.WriteFile(path, good, 0o644); err != nil {
				t.Fatal(err)
			}
			if err := s.Reload("test"); err != nil {
				t.Fatalf("the good config back: %v", err)
			}
		})
	}
}

// TestCNAMEOverlay: a CNAME record follows the overlay like a record of
// addresses: local health, and a control state's per-record PoP state.
func TestCNAMEOverlay(t *testing.T) {
	s, r, _ := testServer(t, cnameEdits...)
	cdn := func() string {
		return rrs(ask(t, s, r, newQuery("cdn.example.net.", dns.TypeA, "203.0.113.0/24"), false).Answer)
	}
	www := func() string {
		return rrs(ask(t, s, r, newQuery("www.example.net.", dns.TypeA, "203.0.113.0/24"), false).Answer)
	}
	const (
		fra = "cdn.example.net. 20 CNAME fra.edge.example.net.; fra.edge.example.net. 300 A 192.0.2.10"
		ams = "cdn.example.net. 20 CNAME ams.edge.example.net.; ams.edge.example.net. 300 A 192.0.2.20"
	)
	if got := cdn(); got != fra {
		t.Fatalf("before: %s, want %s", got, fra)
	}
	s.setOverlay(func(ov *overlay) { ov.local = func(l popmap.Label) bool { return l != "fra" } })
	if got := cdn(); got != ams {
		t.Errorf("fra unhealthy: %s, want %s", got, ams)
	}
	s.setOverlay(func(ov *overlay) {
		ov.local = nil
		st := &control.State{PoPs: map[popmap.Label]*control.PoPState{}}
		for _, p := range s.snap.Load().cfg.PoPs {
			st.PoPs[p.Label] = &control.PoPState{Admin: config.StateUp, Health: control.HealthUp}
		}
		st.PoPs["fra"].Records = map[string]config.State{"cdn.example.net.": config.StateDrain}
		ov.ctl, ov.ctlHealth = st, true
	})
	if got := cdn(); got != ams {
		t.Errorf("fra drained for cdn: %s, want %s", got, ams)
	}
	if got := www(); got != "www.example.net. 30 A 192.0.2.10" {
		t.Errorf("fra drained for cdn only, www: %s, want fra's address", got)
	}
}
