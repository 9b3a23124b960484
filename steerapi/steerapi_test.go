package steerapi

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"connectrpc.com/connect"

	"github.com/steer-gslb/steer/dnsserver"
	steerv1 "github.com/steer-gslb/steer/gen/steer/v1"
)

const testConfig = `listen:
  dns: ["127.0.0.1:0"]
geoip: world.mmdb
reload:
  watch: false
pops:
  - {label: fra, lat: 50.1, lon: 8.7, ipv4: ["192.0.2.10"], ipv6: ["2001:db8::10"]}
  - {label: ams, lat: 52.4, lon: 4.9, ipv4: ["192.0.2.20"], ipv6: ["2001:db8::20"]}
  - {label: lhr, lat: 51.5, lon: -0.1, ipv4: ["192.0.2.30"], ipv6: ["2001:db8::30"]}
  - {label: iad, lat: 39.0, lon: -77.5, ipv4: ["198.51.100.10"], ipv6: ["2001:db8::40"]}
  - {label: sin, lat: 1.35, lon: 103.8, ipv4: ["198.51.100.20"], ipv6: ["2001:db8::50"]}
  - {label: gru, lat: -23.6, lon: -46.6, ipv4: ["198.51.100.30"], ipv6: ["2001:db8::60"], state: STATE}
zones:
  - name: example.net
    ns:
      - name: ns1.example.net
        ipv4: ["127.0.0.1"]
    records:
      - name: www
        steering: [ecs, resolver, geo, default]
        ecs_map: map.json
        resolver_map: map.json
        default: {ipv4: ["192.0.2.1"], ipv6: ["2001:db8::1"]}
      - name: cdn
        cname_template: "{pop}.cdn.example.com."
        steering: [ecs, geo]
        ecs_map: map.json
`

// newTestService loads examples/map.json and examples/world.mmdb under
// testConfig (PoP gru in state) into a server that is not started:
// Decide reads its snapshot.
func newTestService(t testing.TB, state string) *Service {
	t.Helper()
	srv, err := dnsserver.New(writeTestConfig(t, state, ""), dnsserver.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return NewService(srv)
}

// writeTestConfig writes testConfig, with extra after its listen block,
// beside copies of examples/map.json and world.mmdb; it returns its path.
func writeTestConfig(t testing.TB, state, extra string) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range []string{"map.json", "world.mmdb"} {
		b, err := os.ReadFile(filepath.Join("..", "examples", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(dir, "steer.yaml")
	cfg := strings.Replace(testConfig, "STATE", state, 1)
	cfg = strings.Replace(cfg, "geoip: world.mmdb\n", extra+"geoip: world.mmdb\n", 1)
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func labels(r *steerv1.ResolveResponse) string {
	var ls []string
	for _, p := range r.Pops {
		ls = append(ls, p.Label+"="+strings.Join(p.Addresses, "+"))
	}
	return strings.Join(ls, ",")
}

func TestResolve(t *testing.T) {
	s := newTestService(t, "up")
	drained := newTestService(t, "drain")
	anycast := newTestService(t, "anycast")
	for _, c := range []struct {
		name string
		s    *Service
		req  *steerv1.ResolveRequest
		pops string
		src  string
		sc   int32
		any  bool
	}{
		{"ecs entry, ranked", s, &steerv1.ResolveRequest{Ip: "203.0.113.9"}, "fra=192.0.2.10,ams=192.0.2.20", "ecs", 24, false},
		{"AAAA for an IPv4 client", s, &steerv1.ResolveRequest{Ip: "203.0.113.9", Family: "aaaa"}, "fra=2001:db8::10,ams=2001:db8::20", "ecs", 24, false},
		{"v4-mapped ip", s, &steerv1.ResolveRequest{Ip: "::ffff:203.0.113.9"}, "fra=192.0.2.10,ams=192.0.2.20", "ecs", 24, false},
		{"ecs given", s, &steerv1.ResolveRequest{Ip: "192.0.2.53", Ecs: "198.18.1.0/24"}, "ams=192.0.2.20,fra=192.0.2.10,lhr=192.0.2.30", "ecs", 23, false},             // one entry for .0/24 and .1/24
		{"ecs host bits masked", s, &steerv1.ResolveRequest{Ip: "192.0.2.53", Ecs: "198.18.1.77/24"}, "ams=192.0.2.20,fra=192.0.2.10,lhr=192.0.2.30", "ecs", 23, false}, // one entry for .0/24 and .1/24
		{"ecs v4-mapped", s, &steerv1.ResolveRequest{Ip: "192.0.2.53", Ecs: "::ffff:198.18.1.0/120"}, "ams=192.0.2.20,fra=192.0.2.10,lhr=192.0.2.30", "ecs", 119, false},
		{"ecs /0: the resolver", s, &steerv1.ResolveRequest{Ip: "198.19.0.1", Ecs: "0.0.0.0/0"}, "iad=198.51.100.10", "resolver", 0, false},
		{"IPv6 entry", s, &steerv1.ResolveRequest{Ip: "2001:db8:20::1"}, "sin=2001:db8::50,iad=2001:db8::40", "ecs", 48, false},
		{"geo", s, &steerv1.ResolveRequest{Ip: "100.64.7.9"}, "sin=198.51.100.20", "geo", 10, false},
		{"default", s, &steerv1.ResolveRequest{Ip: "192.0.2.99"}, "", "default", 6, false}, // nothing in 192.0.0.0/6
		{"drained first choice skipped", drained, &steerv1.ResolveRequest{Ip: "198.19.128.5"}, "iad=198.51.100.10", "ecs", 24, false},
		{"anycast first choice", anycast, &steerv1.ResolveRequest{Ip: "198.19.128.5"}, "", "ecs", 24, true},
		{"cname record", s, &steerv1.ResolveRequest{Ip: "203.0.113.9", Record: "CDN.example.net."}, "fra=,ams=", "ecs", 24, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			var out steerv1.ResolveResponse
			if err := c.s.ResolveInto(c.s.srv.Snapshot(), c.req, &out, nil, ""); err != nil {
				t.Fatal(err)
			}
			if got := labels(&out); got != c.pops || out.Source != c.src || out.Scope != c.sc || out.Anycast != c.any || out.MapVersion != 1 {
				t.Errorf("got pops %q source %s scope %d anycast %v version %d; want %q %s %d %v 1", got, out.Source, out.Scope, out.Anycast, out.MapVersion, c.pops, c.src, c.sc, c.any)
			}
		})
	}
}

func TestResolveErrors(t *testing.T) {
	s := newTestService(t, "up")
	for _, c := range []struct {
		req  *steerv1.ResolveRequest
		want string
	}{
		{&steerv1.ResolveRequest{}, "x.ip: required"},
		{&steerv1.ResolveRequest{Ip: "1.2.3"}, `x.ip: "1.2.3" is not an IP address`},
		{&steerv1.ResolveRequest{Ip: "fe80::1%eth0"}, "x.ip: "},
		{&steerv1.ResolveRequest{Ip: "1.2.3.4", Ecs: "1.2.3.4"}, "x.ecs: "},
		{&steerv1.ResolveRequest{Ip: "1.2.3.4", Ecs: "::/129"}, "x.ecs: "},
		{&steerv1.ResolveRequest{Ip: "1.2.3.4", Family: "TXT"}, "x.family: "},
		{&steerv1.ResolveRequest{Ip: "1.2.3.4", Record: "nope"}, `x.record "nope": not a steered record`},
	} {
		err := s.ResolveInto(s.srv.Snapshot(), c.req, &steerv1.ResolveResponse{}, nil, "x.")
		var ce *connect.Error
		if !errors.As(err, &ce) || ce.Code() != connect.CodeInvalidArgument || !strings.HasPrefix(ce.Message(), c.want) {
			t.Errorf("%v: %v; want invalid_argument %q...", c.req, err, c.want)
		}
	}
}

// TestResolveAllocs: after decoding, Resolve allocates nothing.
func TestResolveAllocs(t *testing.T) {
	s := newTestService(t, "up")
	req := &steerv1.ResolveRequest{Ip: "198.18.1.9"}
	var out steerv1.ResolveResponse
	ranked := make([]int, 0, 16)
	n := testing.AllocsPerRun(200, func() {
		if err := s.ResolveInto(s.srv.Snapshot(), req, &out, ranked, ""); err != nil {
			t.Fatal(err)
		}
	})
	if n != 0 {
		t.Errorf("Resolve allocates %v times, want 0", n)
	}
}

// BenchmarkResolve is Resolve in-process after request decoding: parse,
// decide on the served snapshot, fill a reused response.
func BenchmarkResolve(b *testing.B) {
	s := newTestService(b, "up")
	for _, c := range []struct {
		name string
		req  *steerv1.ResolveRequest
	}{
		{"ecs-v4", &steerv1.ResolveRequest{Ip: "198.18.1.9"}},
		{"ecs-v6", &steerv1.ResolveRequest{Ip: "2001:db8:20::1"}},
		{"geo-v4", &steerv1.ResolveRequest{Ip: "100.64.7.9"}},
	} {
		b.Run(c.name, func(b *testing.B) {
			var out steerv1.ResolveResponse
			ranked := make([]int, 0, 16)
			b.ReportAllocs()
			for b.Loop() {
				if err := s.ResolveInto(s.srv.Snapshot(), c.req, &out, ranked, ""); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "resolves/s")
		})
	}
}

// FuzzResolve: no request makes the decision path panic; a request is
// either an InvalidArgument error or a decision with a known source.
func FuzzResolve(f *testing.F) {
	for _, seed := range [][4]string{
		{"203.0.113.9", "", "", ""}, {"::ffff:203.0.113.9", "", "", "AAAA"}, {"192.0.2.53", "198.18.1.0/24", "", ""},
		{"192.0.2.53", "::ffff:198.18.1.0/120", "www.example.net", "A"}, {"2001:db8:20::1", "", "cdn.example.net.", ""},
		{"1.2.3", "", "", ""}, {"fe80::1%eth0", "", "", ""}, {"1.2.3.4", "::/129", "", ""}, {"1.2.3.4", "", "nope", "MX"},
		{"1.2.3.4", "0.0.0.0/0", "", ""}, {"::", "::/0", "", ""},
	} {
		f.Add(seed[0], seed[1], seed[2], seed[3])
	}
	s := newTestService(f, "up")
	f.Fuzz(func(t *testing.T, ip, ecs, record, family string) {
		var out steerv1.ResolveResponse
		err := s.ResolveInto(s.srv.Snapshot(), &steerv1.ResolveRequest{Ip: ip, Ecs: ecs, Record: record, Family: family}, &out, nil, "")
		if err != nil {
			if connect.CodeOf(err) != connect.CodeInvalidArgument {
				t.Fatalf("error %v is not invalid_argument", err)
			}
			return
		}
		switch out.Source {
		case "ecs", "resolver", "geo", "default", "none":
		default:
			t.Fatalf("source %q", out.Source)
		}
		if len(out.Pops) > 0 && out.Anycast {
			t.Fatalf("anycast with PoPs %v", out.Pops)
		}
	})
}

// TestResolveExpected: with MAP.rtt.tsv beside the map, Resolve gives each
// PoP the build's expected RTT for the client's network; geo and default
// answers and PoPs the build did not estimate have none.
func TestResolveExpected(t *testing.T) {
	path := writeTestConfig(t, "up", "")
	rtt := "# steer build: network<TAB>weight<TAB>label=rtt_ms,...\n203.0.113.0/24\t12\tfra=23.1,ams\n198.19.0.0/16\t3\tiad=80.5\n"
	if err := os.WriteFile(filepath.Join(filepath.Dir(path), "map.rtt.tsv"), []byte(rtt), 0o644); err != nil {
		t.Fatal(err)
	}
	srv, err := dnsserver.New(path, dnsserver.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	s := NewService(srv)
	expected := func(r *steerv1.ResolveResponse) string {
		var b []string
		for _, p := range r.Pops {
			if p.ExpectedRttMs != nil {
				b = append(b, fmt.Sprintf("%s=%g", p.Label, *p.ExpectedRttMs))
			} else {
				b = append(b, p.Label+"=-")
			}
		}
		return strings.Join(b, ",")
	}
	for _, c := range []struct {
		req  *steerv1.ResolveRequest
		want string
	}{
		{&steerv1.ResolveRequest{Ip: "203.0.113.9"}, "fra=23.1,ams=-"},
		{&steerv1.ResolveRequest{Ip: "198.19.0.1", Ecs: "0.0.0.0/0"}, "iad=80.5"},
		{&steerv1.ResolveRequest{Ip: "100.64.7.9"}, "sin=-"},
		{&steerv1.ResolveRequest{Ip: "192.0.2.99"}, ""},
	} {
		var out steerv1.ResolveResponse
		if err := s.ResolveInto(srv.Snapshot(), c.req, &out, nil, ""); err != nil {
			t.Fatal(err)
		}
		if got := expected(&out); got != c.want {
			t.Errorf("%v: expected RTTs %q, want %q", c.req, got, c.want)
		}
	}
	// The shared PoP messages are not modified: a service without the
	// RTT file still answers without them.
	var out steerv1.ResolveResponse
	if err := newTestService(t, "up").ResolveInto(newTestService(t, "up").srv.Snapshot(), &steerv1.ResolveRequest{Ip: "203.0.113.9"}, &out, nil, ""); err != nil {
		t.Fatal(err)
	}
	if got := expected(&out); got != "fra=-,ams=-" {
		t.Errorf("without an RTT file: %q", got)
	}
}
