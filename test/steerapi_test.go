package test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/miekg/dns"

	"github.com/steer-gslb/steer/dnsserver"
	steerv1 "github.com/steer-gslb/steer/gen/steer/v1"
	"github.com/steer-gslb/steer/gen/steer/v1/steerv1connect"
	"github.com/steer-gslb/steer/geoip"
	"github.com/steer-gslb/steer/steerapi"
)

// apiPoPs are the PoPs of the steering API tests: label, IPv4, IPv6, lat, lon.
var apiPoPs = []struct {
	label, v4, v6 string
	lat, lon      float64
}{
	{"fra", "192.0.2.10", "2001:db8::10", 50.1, 8.7},
	{"ams", "192.0.2.20", "2001:db8::20", 52.4, 4.9},
	{"lhr", "192.0.2.30", "2001:db8::30", 51.5, -0.1},
	{"iad", "198.51.100.10", "2001:db8::40", 39.0, -77.5},
	{"sin", "198.51.100.20", "2001:db8::50", 1.35, 103.8},
	{"gru", "198.51.100.30", "2001:db8::60", -23.6, -46.6},
}

// apiWorld is a generated map and GeoIP database: geo4/geo6 and map
// networks to draw test addresses from.
type apiWorld struct {
	dir     string
	mapNets []netip.Prefix
	geoNets []netip.Prefix
}

// writeAPIWorld writes DIR/map.json (entries random v4 and v6 networks
// with random rankings, plus 127.0.0.1/32, the loopback resolver, so that
// the resolver step decides over loopback) and DIR/geo.mmdb.
func writeAPIWorld(t *testing.T, rng *rand.Rand, entries int) *apiWorld {
	t.Helper()
	w := &apiWorld{dir: t.TempDir()}
	seen := map[netip.Prefix]bool{}
	var b strings.Builder
	b.WriteString(`{"meta": {"version": 7}, "map": [` + "\n")
	labels := func() string {
		perm := rng.Perm(len(apiPoPs))[:1+rng.IntN(4)]
		var ls []string
		for _, i := range perm {
			ls = append(ls, `"`+apiPoPs[i].label+`"`)
		}
		return strings.Join(ls, ", ")
	}
	fmt.Fprintf(&b, `{"networks": ["127.0.0.1/32"], "labels": [%s]}`, labels())
	for len(w.mapNets) < entries {
		var p netip.Prefix
		if rng.IntN(3) > 0 {
			p = netip.PrefixFrom(randV4(rng), 12+rng.IntN(17)).Masked()
		} else {
			p = netip.PrefixFrom(randV6(rng), 24+rng.IntN(41)).Masked()
		}
		if seen[p] || p.Overlaps(netip.MustParsePrefix("127.0.0.0/8")) {
			continue
		}
		seen[p] = true
		w.mapNets = append(w.mapNets, p)
		fmt.Fprintf(&b, ",\n"+`{"networks": ["%s"], "labels": [%s]}`, p, labels())
	}
	b.WriteString("\n]}\n")
	if err := os.WriteFile(filepath.Join(w.dir, "map.json"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	var geo []geoip.Entry
	for range 600 {
		var p netip.Prefix
		if rng.IntN(2) == 0 {
			p = netip.PrefixFrom(randV4(rng), 8+rng.IntN(9)).Masked()
		} else {
			p = netip.PrefixFrom(randV6(rng), 16+rng.IntN(17)).Masked()
		}
		w.geoNets = append(w.geoNets, p)
		geo = append(geo, geoip.Entry{Prefix: p, Lat: rng.Float64()*160 - 80, Lon: rng.Float64()*360 - 180})
	}
	var db bytes.Buffer
	if err := geoip.Write(&db, geo); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(w.dir, "geo.mmdb"), db.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return w
}

func randV4(rng *rand.Rand) netip.Addr {
	var a [4]byte
	binary.BigEndian.PutUint32(a[:], rng.Uint32())
	return netip.AddrFrom4(a)
}

func randV6(rng *rand.Rand) netip.Addr {
	var a [16]byte
	binary.BigEndian.PutUint64(a[:8], rng.Uint64())
	binary.BigEndian.PutUint64(a[8:], rng.Uint64())
	a[0] = 0x20 | a[0]&0x1f // 2000::/3, never v4-mapped
	return netip.AddrFrom16(a)
}

// within returns a random address inside p.
func within(rng *rand.Rand, p netip.Prefix) netip.Addr {
	r := randV4(rng)
	if p.Addr().Is6() {
		r = randV6(rng)
	}
	a, rb := p.Addr().AsSlice(), r.AsSlice()
	for i := range a {
		bit := i * 8
		switch {
		case bit >= p.Bits():
			a[i] = rb[i]
		case bit+8 > p.Bits():
			m := byte(0xff >> (p.Bits() - bit))
			a[i] = a[i]&^m | rb[i]&m
		}
	}
	out, _ := netip.AddrFromSlice(a)
	return out
}

// writeAPIConfig writes the config: record www steers ecs → geo → default
// (an ip-only Resolve is then exactly a query carrying ECS ip/32 from any
// resolver), record res ecs → resolver → geo → default; drain names a
// drained PoP.
func (w *apiWorld) writeConfig(t *testing.T, drain string) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("listen:\n  dns: [\"127.0.0.1:0\"]\n  api: \"127.0.0.1:0\"\n  udp_sockets: 1\ngeoip: geo.mmdb\nreload:\n  watch: false\npops:\n")
	for _, p := range apiPoPs {
		fmt.Fprintf(&b, "  - label: %s\n    lat: %v\n    lon: %v\n    ipv4: [%q]\n    ipv6: [%q]\n", p.label, p.lat, p.lon, p.v4, p.v6)
		if p.label == drain {
			b.WriteString("    state: drain\n")
		}
	}
	b.WriteString(`zones:
  - name: example.net
    ns:
      - name: ns1.example.net
        ipv4: ["127.0.0.1"]
    records:
      - name: www
        steering: [ecs, geo, default]
        ecs_map: map.json
        default:
          ipv4: ["192.0.2.1"]
          ipv6: ["2001:db8::1"]
      - name: res
        steering: [ecs, resolver, geo, default]
        ecs_map: map.json
        resolver_map: map.json
        default:
          ipv4: ["192.0.2.1"]
          ipv6: ["2001:db8::1"]
`)
	path := filepath.Join(w.dir, "steer.yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// startAPIServer starts a DNS server with the steering API on loopback.
func startAPIServer(t *testing.T, path string) *dnsserver.Server {
	t.Helper()
	srv, err := dnsserver.New(path, dnsserver.Options{API: steerapi.New, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	return srv
}

// apiCase is one client: the Resolve request and the equivalent DNS query.
type apiCase struct {
	req   *steerv1.ResolveRequest
	qname string
	qtype uint16
	ecs   netip.Prefix // the query's ECS option; invalid = none
}

// randomCase draws a client: IPv4, IPv6 or v4-mapped, inside a map
// network, a GeoIP network or anywhere; ip-only (record www, the query
// carries ECS ip/32 or /128) or with an ECS subnet from the loopback
// resolver (record res), or without client information (ECS /0).
func (w *apiWorld) randomCase(rng *rand.Rand) apiCase {
	var a netip.Addr
	switch rng.IntN(3) {
	case 0:
		a = within(rng, w.mapNets[rng.IntN(len(w.mapNets))])
	case 1:
		a = within(rng, w.geoNets[rng.IntN(len(w.geoNets))])
	default:
		if rng.IntN(2) == 0 {
			a = randV4(rng)
		} else {
			a = randV6(rng)
		}
	}
	mapped := a.Is4() && rng.IntN(4) == 0
	var c apiCase
	switch rng.IntN(10) {
	case 0: // no client information: the resolver decides
		c.req = &steerv1.ResolveRequest{Ip: "127.0.0.1", Ecs: "0.0.0.0/0", Record: "res.example.net"}
		c.qname = "res.example.net."
	case 1, 2, 3, 4: // ip-only
		ip := a
		if mapped {
			ip = netip.AddrFrom16(a.As16())
		}
		c.req = &steerv1.ResolveRequest{Ip: ip.String(), Record: "www.example.net"}
		c.qname = "www.example.net."
		c.ecs = netip.PrefixFrom(a, a.BitLen())
	default: // ECS from the loopback resolver
		bits := rng.IntN(a.BitLen() + 1)
		e := netip.PrefixFrom(a, bits).Masked()
		if mapped {
			e = netip.PrefixFrom(netip.AddrFrom16(a.As16()), 96+bits).Masked()
		}
		c.req = &steerv1.ResolveRequest{Ip: "127.0.0.1", Ecs: e.String(), Record: "res.example.net"}
		c.qname = "res.example.net."
		c.ecs = e
	}
	c.qtype = dns.TypeA
	if a.Is6() && c.ecs.IsValid() && c.req.Ecs == "" {
		c.qtype = dns.TypeAAAA // the ip's family, by default
	}
	if c.req.Ecs != "" && rng.IntN(2) == 0 {
		c.qtype = dns.TypeAAAA
		c.req.Family = "AAAA"
	}
	return c
}

// dnsPoP asks the DNS server and returns the PoP label the answer's
// addresses belong to ("default", or "none" for NODATA), the addresses and
// the ECS scope.
func dnsPoP(t *testing.T, cl *dns.Client, addr string, c apiCase) (string, []string, int) {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(c.qname, c.qtype)
	opt := &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT, Class: 1232}}
	if c.ecs.IsValid() {
		fam := uint16(1)
		if c.ecs.Addr().Is6() {
			fam = 2
		}
		opt.Option = append(opt.Option, &dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: fam, SourceNetmask: uint8(c.ecs.Bits()), Address: c.ecs.Addr().AsSlice()})
	}
	m.Extra = append(m.Extra, opt)
	r, _, err := cl.Exchange(m, addr)
	if err != nil {
		t.Fatalf("DNS %s %s ECS %v: %v", c.qname, dns.TypeToString[c.qtype], c.ecs, err)
	}
	var addrs []string
	for _, rr := range r.Answer {
		switch rr := rr.(type) {
		case *dns.A:
			addrs = append(addrs, rr.A.String())
		case *dns.AAAA:
			addrs = append(addrs, rr.AAAA.String())
		}
	}
	scope := 0
	if o := r.IsEdns0(); o != nil {
		for _, e := range o.Option {
			if s, ok := e.(*dns.EDNS0_SUBNET); ok {
				scope = int(s.SourceScope)
			}
		}
	}
	label := "none"
	for _, p := range apiPoPs {
		if len(addrs) == 1 && (addrs[0] == p.v4 || addrs[0] == p.v6) {
			label = p.label
		}
	}
	if len(addrs) == 1 && (addrs[0] == "192.0.2.1" || addrs[0] == "2001:db8::1") {
		label = "default"
	}
	return label, addrs, scope
}

// apiPoP is the PoP label a Resolve response says DNS answers.
func apiPoP(r *steerv1.ResolveResponse) string {
	switch {
	case len(r.Pops) > 0:
		return r.Pops[0].Label
	case r.Source == "default" || r.Anycast:
		return "default"
	}
	return "none"
}

// TestSteeringAPIMatchesDNS is issue 16's first "done when": 10,000
// random clients (IPv4, IPv6, v4-mapped; ip-only, with ECS, without client
// information) resolved through Resolve (a Connect client over HTTP on
// loopback) and through real DNS queries to the same running server get
// the same PoP and scope; then again after a reload that drains a PoP,
// which no answer then names. ResolveBatch gives the same answers as
// Resolve.
func TestSteeringAPIMatchesDNS(t *testing.T) {
	rng := rand.New(rand.NewPCG(16, 1))
	w := writeAPIWorld(t, rng, 4000)
	path := w.writeConfig(t, "")
	srv := startAPIServer(t, path)
	client := steerv1connect.NewSteeringServiceClient(http.DefaultClient, "http://"+srv.APIAddr())
	dnsc := &dns.Client{Net: "udp", Timeout: 2 * time.Second}
	dnsAddr := srv.Addrs()[0].String()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	run := func(n int, drained string) map[string]int {
		sources := map[string]int{}
		var batch []*steerv1.ResolveRequest
		var want []*steerv1.ResolveResponse
		for i := range n {
			c := w.randomCase(rng)
			resp, err := client.Resolve(ctx, connect.NewRequest(c.req))
			if err != nil {
				t.Fatalf("case %d: Resolve(%v): %v", i, c.req, err)
			}
			r := resp.Msg
			label, addrs, scope := dnsPoP(t, dnsc, dnsAddr, c)
			got := apiPoP(r)
			if got != label || int(r.Scope) != scope {
				t.Fatalf("case %d: %v: Resolve says %s scope %d (source %s), DNS (%s ECS %v) %s %v scope %d",
					i, c.req, got, r.Scope, r.Source, dns.TypeToString[c.qtype], c.ecs, label, addrs, scope)
			}
			if len(r.Pops) > 0 && !slices.Equal(r.Pops[0].Addresses, addrs) {
				t.Fatalf("case %d: %v: Resolve's addresses %v, DNS answers %v", i, c.req, r.Pops[0].Addresses, addrs)
			}
			for _, p := range r.Pops {
				if p.Label == drained {
					t.Fatalf("case %d: %v: drained PoP %s ranked: %v", i, c.req, drained, r.Pops)
				}
			}
			if r.MapVersion != 7 {
				t.Fatalf("case %d: map version %d, want 7", i, r.MapVersion)
			}
			sources[r.Source]++
			if i < 2000 {
				// Explain takes the same decision on the same snapshot.
				q := c.req
				ex, err := client.Explain(ctx, connect.NewRequest(&steerv1.ExplainRequest{Ip: q.Ip, Ecs: q.Ecs, Record: q.Record, Family: q.Family}))
				if err != nil {
					t.Fatalf("case %d: Explain(%v): %v", i, q, err)
				}
				var labels []string
				for _, p := range r.Pops {
					labels = append(labels, p.Label)
				}
				// Explain lists a geo decision's fallbacks by distance, Resolve
				// only its answer: the first must agree, and a map's ranking
				// all of it.
				e := ex.Msg
				same := len(e.Pops) > 0 && len(labels) > 0 && e.Pops[0] == labels[0] || len(e.Pops) == 0 && len(labels) == 0
				if r.Source == "ecs" || r.Source == "resolver" {
					same = slices.Equal(e.Pops, labels)
				}
				if e.Source != r.Source || e.Scope != r.Scope || !same {
					t.Fatalf("case %d: %v: Explain says %s/%d/%v, Resolve %s/%d/%v", i, q, e.Source, e.Scope, e.Pops, r.Source, r.Scope, labels)
				}
				if drained != "" && !slices.ContainsFunc(ex.Msg.Skipped, func(s *steerv1.ExplainSkip) bool { return s.Pop == drained }) &&
					ex.Msg.EcsEntry != nil && len(ex.Msg.EcsEntry.Labels) > 0 && ex.Msg.EcsEntry.Labels[0] == drained && r.Source == "ecs" {
					t.Fatalf("case %d: %v: the ECS entry's first choice %s is drained but Explain does not say it was skipped: %v", i, q, drained, ex.Msg)
				}
			}
			if len(batch) < 2000 {
				batch = append(batch, c.req)
				want = append(want, r)
			}
		}
		b, err := client.ResolveBatch(ctx, connect.NewRequest(&steerv1.ResolveBatchRequest{Requests: batch}))
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range b.Msg.Responses {
			if apiPoP(r) != apiPoP(want[i]) || r.Scope != want[i].Scope || r.Source != want[i].Source {
				t.Fatalf("batch %d: %v: %s/%d/%s, Resolve %s/%d/%s", i, batch[i], apiPoP(r), r.Scope, r.Source, apiPoP(want[i]), want[i].Scope, want[i].Source)
			}
		}
		return sources
	}
	sources := run(10000, "")
	t.Logf("sources: %v", sources)
	for _, s := range []string{"ecs", "resolver", "geo", "default"} {
		if sources[s] == 0 {
			t.Errorf("no decision by %s among 10,000: %v", s, sources)
		}
	}

	// Drain fra: the next requests see the reloaded snapshot.
	w.writeConfig(t, "fra")
	if err := srv.Reload("test"); err != nil {
		t.Fatal(err)
	}
	sources = run(2000, "fra")
	t.Logf("sources with fra drained: %v", sources)
}

// TestSteeringAPIJSON: the JSON form with plain HTTP, as curl sends it,
// returns the documented shape, and malformed requests get a Connect
// error naming the field.
func TestSteeringAPIJSON(t *testing.T) {
	rng := rand.New(rand.NewPCG(16, 2))
	w := writeAPIWorld(t, rng, 50)
	srv := startAPIServer(t, w.writeConfig(t, ""))
	url := "http://" + srv.APIAddr() + "/steer.v1.SteeringService/"
	post := func(method, body string) (int, map[string]any) {
		t.Helper()
		resp, err := http.Post(url+method, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = resp.Body.Close() }()
		b, _ := io.ReadAll(resp.Body)
		var out map[string]any
		if err := json.Unmarshal(b, &out); err != nil {
			t.Fatalf("%s %s: %d, not JSON: %q", method, body, resp.StatusCode, b)
		}
		return resp.StatusCode, out
	}

	e := w.mapNets[0]
	code, out := post("Resolve", fmt.Sprintf(`{"ip": "127.0.0.1", "ecs": %q}`, e))
	if code != 200 {
		t.Fatalf("Resolve: %d %v", code, out)
	}
	pops, _ := out["pops"].([]any)
	if len(pops) == 0 || out["source"] != "ecs" || out["mapVersion"] != "7" || out["scope"] == nil {
		t.Fatalf("Resolve %v: got %v; want pops, source ecs, scope, mapVersion \"7\"", e, out)
	}
	first, _ := pops[0].(map[string]any)
	if first["label"] == "" || first["addresses"] == nil {
		t.Errorf("first PoP %v: want label and addresses", first)
	}
	if _, ok := out["token"]; ok {
		t.Errorf("token set: %v", out)
	}

	// An address nowhere in the map or the GeoIP database: the default.
	code, out = post("Resolve", `{"ip": "2001:db8:ffff::1"}`)
	if sc, _ := out["scope"].(float64); code != 200 || out["source"] != "default" || len(out["pops"].([]any)) != 0 || sc < 1 || sc > 56 {
		t.Errorf("Resolve 2001:db8:ffff::1: %d %v; want source default, no pops, scope in 1..56", code, out)
	}

	for _, c := range []struct{ method, body, field string }{
		{"Resolve", `{}`, "ip: required"},
		{"Resolve", `{"ip": "203.0.113.300"}`, "ip: "},
		{"Resolve", `{"ip": "fe80::1%eth0"}`, "ip: "},
		{"Resolve", `{"ip": "203.0.113.9", "ecs": "203.0.113.0"}`, "ecs: "},
		{"Resolve", `{"ip": "203.0.113.9", "ecs": "203.0.113.0/33"}`, "ecs: "},
		{"Resolve", `{"ip": "203.0.113.9", "record": "nope.example.net"}`, `record "nope.example.net"`},
		{"Resolve", `{"ip": "203.0.113.9", "family": "MX"}`, "family: "},
		{"ResolveBatch", `{"requests": [{"ip": "203.0.113.9"}, {"ip": "x"}]}`, "requests[1].ip: "},
		{"Resolve", `{"ip": 5}`, ""},
	} {
		code, out := post(c.method, c.body)
		msg, _ := out["message"].(string)
		if code != 400 || out["code"] != "invalid_argument" || !strings.HasPrefix(msg, c.field) {
			t.Errorf("%s %s: %d %v; want 400 invalid_argument, message starting %q", c.method, c.body, code, out, c.field)
		}
	}
	// A batch too large.
	var b strings.Builder
	b.WriteString(`{"requests": [`)
	for i := range steerapi.MaxBatch + 1 {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"ip": "192.0.2.1"}`)
	}
	b.WriteString("]}")
	code, out = post("ResolveBatch", b.String())
	if msg, _ := out["message"].(string); code != 400 || !strings.HasPrefix(msg, "requests: 10001 requests") {
		t.Errorf("batch of %d: %d %v", steerapi.MaxBatch+1, code, out)
	}
	code, out = post("Explain", fmt.Sprintf(`{"ip": "127.0.0.1", "ecs": %q}`, e))
	if entry, _ := out["ecsEntry"].(map[string]any); code != 200 || out["source"] != "ecs" || entry == nil || len(entry["labels"].([]any)) == 0 {
		t.Errorf("Explain %v: %d %v; want source ecs and the matched ECS entry", e, code, out)
	}
	code, out = post("Explain", `{"ip": "203.0.113.9", "ecs": "nope"}`)
	if msg, _ := out["message"].(string); code != 400 || out["code"] != "invalid_argument" || !strings.HasPrefix(msg, "ecs: ") {
		t.Errorf("Explain with a bad ecs: %d %v", code, out)
	}
}
