package config

import (
	"bufio"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/steer-gslb/steer/popmap"
)

func TestGoodConfigs(t *testing.T) {
	files, err := filepath.Glob("testdata/*.good.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no good configs: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			c, err := Load(f)
			if err != nil {
				t.Fatalf("Load(%q) = %v", f, err)
			}
			if err := c.Validate(); err != nil {
				t.Errorf("Validate() after Load = %v", err)
			}
		})
	}
}

// TestBadConfigs loads every testdata/*.bad.yaml; its first line is
// "# error: SUBSTRING", which the error must contain.
func TestBadConfigs(t *testing.T) {
	files, err := filepath.Glob("testdata/*.bad.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 15 {
		t.Fatalf("only %d bad configs", len(files))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			want := expectedError(t, f)
			_, err := Load(f)
			if err == nil {
				t.Fatalf("Load(%q) = nil error, want %q", f, want)
			}
			if !strings.Contains(err.Error(), want) {
				t.Errorf("Load(%q) = %q, want substring %q", f, err, want)
			}
			if !strings.HasPrefix(err.Error(), "config "+f+": ") {
				t.Errorf("Load(%q) = %q, want prefix naming the file", f, err)
			}
		})
	}
}

func expectedError(t *testing.T, f string) string {
	t.Helper()
	fh, err := os.Open(f)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = fh.Close() }()
	line, _ := bufio.NewReader(fh).ReadString('\n')
	want, ok := strings.CutPrefix(strings.TrimSpace(line), "# error: ")
	if !ok || want == "" {
		t.Fatalf("%s: first line must be \"# error: SUBSTRING\", got %q", f, line)
	}
	return want
}

func TestExample(t *testing.T) {
	const f = "../examples/steer.yaml"
	c, err := Load(f)
	if err != nil {
		t.Fatalf("Load(%q) = %v", f, err)
	}
	if got := len(c.PoPs); got != 6 {
		t.Errorf("len(PoPs) = %d, want 6", got)
	}
	want, _ := filepath.Abs("../examples/map.json")
	if got := c.MapFiles(); !slices.Equal(got, []string{want}) {
		t.Errorf("MapFiles() = %v, want [%s]", got, want)
	}
	if _, err := os.Stat(want); err != nil {
		t.Errorf("example map: %v", err)
	}
	if p, ok := c.PoP("iad"); !ok || p.Capacity != 2 || p.City != "Ashburn" {
		t.Errorf("PoP(iad) = %+v, %v", p, ok)
	}
	if c.Listen.Admin != netip.MustParseAddrPort("127.0.0.1:9153") {
		t.Errorf("Listen.Admin = %v", c.Listen.Admin)
	}
}

func TestFull(t *testing.T) {
	c, err := Load("testdata/full.good.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dir, _ := filepath.Abs("testdata")
	ap := netip.MustParseAddrPort
	a := netip.MustParseAddr
	checks := []struct {
		name      string
		got, want any
	}{
		{"Listen.DNS", c.Listen.DNS, []netip.AddrPort{ap("127.0.0.1:5353"), ap("[::1]:5353")}},
		{"Listen.UDPSockets", c.Listen.UDPSockets, 4},
		{"Server.CookieSecret", c.Server.CookieSecret, []byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}},
		{"Server.MaxUDPSize", c.Server.MaxUDPSize, uint16(1400)},
		{"Server.TCPIdleTimeout", c.Server.TCPIdleTimeout, 5 * time.Second},
		{"GeoIP", c.GeoIP, filepath.Join(dir, "geo/world.mmdb")},
		{"QueryLog", c.QueryLog, "/var/log/steer/queries.ndjson"},
		{"Reload", c.Reload, Reload{Watch: false, Debounce: time.Second}},
		{"PoPs[0].Capacity", c.PoPs[0].Capacity, 1.0},
		{"PoPs[0].State", c.PoPs[0].State, StateUp},
		{"PoPs[1]", c.PoPs[1], PoP{Label: "sin-2", Lat: 1.35, Lon: 103.82, IPv6: []netip.Addr{a("2001:db8::20")}, Capacity: 0.5, State: StateDrain}},
		{"Labels", c.Labels(), []popmap.Label{"fra", "sin-2"}},
		{"Zones[0].Name", c.Zones[0].Name, "example.net."},
		{"Zones[0].TTL", c.Zones[0].TTL, uint32(7200)},
		{"Zones[0].SOA", c.Zones[0].SOA, SOA{MName: "ns1.example.net.", RName: "dns-admin.example.org.", Serial: 2026112501, Refresh: 3600, Retry: 600, Expire: 604800, Minimum: 300}},
		{"Zones[0].NS[1].Name", c.Zones[0].NS[1].Name, "ns.other.example."},
		{"www.Name", c.Zones[0].Records[0].Name, "www.example.net."},
		{"www.TTL", c.Zones[0].Records[0].TTL, uint32(DefaultRecordTTL)},
		{"www.Steering", c.Zones[0].Records[0].Steering, DefaultSteering()},
		{"www.ECSMap", c.Zones[0].Records[0].ECSMap, filepath.Join(dir, "maps/ecs.json")},
		{"api.Name", c.Zones[0].Records[1].Name, "api.example.net."},
		{"api.TTL", c.Zones[0].Records[1].TTL, uint32(0)},
		{"api.Steering", c.Zones[0].Records[1].Steering, []Step{StepGeo}},
		{"rum.RUM", c.Zones[0].Records[2].RUM, true},
		{"apex.Name", c.Zones[0].Records[3].Name, "example.net."},
		{"apex.Static", c.Zones[0].Records[3].Static, &Static{TXT: []string{"v=spf1 -all"}}},
		{"apex.Steered", c.Zones[0].Records[3].Steered(), false},
		{"MapFiles", c.MapFiles(), []string{filepath.Join(dir, "maps/ecs.json"), filepath.Join(dir, "maps/resolver.json")}},
		{"Zones[1].SOA.MName", c.Zones[1].SOA.MName, "ns1.sub.example.net."},
		{"Zones[1].SOA.RName", c.Zones[1].SOA.RName, "hostmaster.sub.example.net."},
	}
	for _, tc := range checks {
		if !reflect.DeepEqual(tc.got, tc.want) {
			t.Errorf("%s = %#v, want %#v", tc.name, tc.got, tc.want)
		}
	}
}

func TestDefaults(t *testing.T) {
	c, err := Load("testdata/minimal.good.yaml")
	if err != nil {
		t.Fatal(err)
	}
	d := Defaults()
	if !reflect.DeepEqual(c.Listen, d.Listen) || !reflect.DeepEqual(c.Server, d.Server) || c.Reload != d.Reload {
		t.Errorf("minimal config = %+v %+v %+v, want defaults %+v %+v %+v", c.Listen, c.Server, c.Reload, d.Listen, d.Server, d.Reload)
	}
	if !d.Reload.Watch || d.Reload.Debounce != 100*time.Millisecond || d.Server.MaxUDPSize != 1232 ||
		d.Server.TCPIdleTimeout != 10*time.Second || d.Listen.DNS[0].String() != "127.0.0.1:5353" || d.Listen.Admin.IsValid() {
		t.Errorf("Defaults() = %+v", d)
	}
	z := c.Zones[0]
	if z.Name != "example.net." || z.TTL != 3600 || z.NS[0].Name != "ns1.example.net." {
		t.Errorf("zone = %+v", z)
	}
	want := SOA{MName: "ns1.example.net.", RName: "hostmaster.example.net.", Serial: 1, Refresh: 3600, Retry: 600, Expire: 604800, Minimum: 60}
	if z.SOA != want {
		t.Errorf("SOA = %+v, want %+v", z.SOA, want)
	}
	if _, ok := c.PoP("fra"); ok {
		t.Errorf("PoP(fra) found in a config without PoPs")
	}
}

// TestValidateGo checks Validate on a Config built in Go, as the simulator
// builds one.
func TestValidateGo(t *testing.T) {
	c := Defaults()
	c.File = "sim"
	c.PoPs = []PoP{{Label: "fra", Lat: 50, Lon: 8, IPv4: []netip.Addr{netip.MustParseAddr("192.0.2.1")}, Capacity: 1, State: StateUp}}
	c.Zones = []Zone{{
		Name: "example.net.", TTL: 3600,
		SOA: SOA{MName: "ns1.example.net.", RName: "hostmaster.example.net.", Serial: 1, Refresh: 1, Retry: 1, Expire: 1},
		NS:  []NameServer{{Name: "ns1.example.net.", IPv4: []netip.Addr{netip.MustParseAddr("127.0.0.1")}}},
		Records: []Record{{
			Name: "www.example.net.", TTL: 30, Steering: []Step{StepResolver},
			ResolverMap: "/m.json",
		}},
	}}
	if err := c.Validate(); err != nil {
		t.Fatalf("Validate() = %v", err)
	}
	c.Zones[0].Records[0].Name = "WWW.example.net"
	c.PoPs[0].State = ""
	err := c.Validate()
	for _, want := range []string{
		`config sim: zones[0].records[0].name: name "WWW.example.net" is not canonical (want "www.example.net.")`,
		`config sim: pops[0].state: must be up, drain, down or anycast, got ""`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v, want %q", err, want)
		}
	}
}

func TestParseName(t *testing.T) {
	_, err := Parse([]byte("zones: 1"), "")
	if err == nil || !strings.HasPrefix(err.Error(), "config <input>: zones: cannot unmarshal") {
		t.Errorf("Parse(no name) = %v", err)
	}
	_, err = Load("testdata/does-not-exist.yaml")
	if err == nil || !strings.Contains(err.Error(), "does-not-exist.yaml") {
		t.Errorf("Load(missing) = %v", err)
	}
}

func TestAbsName(t *testing.T) {
	tests := []struct{ in, want string }{
		{"www", "www.example.net."},
		{"WWW.Example.Net", "www.example.net."},
		{"www.example.net.", "www.example.net."},
		{"example.net", "example.net."},
		{"a.b", "a.b.example.net."},
		{"ns.other.org.", "ns.other.org."},
		{"xexample.net", "xexample.net.example.net."},
	}
	for _, tc := range tests {
		got, err := absName(tc.in, "example.net.")
		if err != nil || got != tc.want {
			t.Errorf("absName(%q) = %q, %v, want %q", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"a..b", "-a", "a b", ".", strings.Repeat("a", 64), strings.Repeat("abc.", 70)} {
		if got, err := absName(bad, "example.net."); err == nil {
			t.Errorf("absName(%q) = %q, want error", bad, got)
		}
	}
}

func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.yaml")
	files = append(files, "../examples/steer.yaml")
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, tc := range cnameCases {
		f.Add([]byte(cnameYAML(tc.records)))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data, "fuzz/steer.yaml")
		if err != nil {
			if !strings.HasPrefix(err.Error(), "config fuzz/steer.yaml: ") {
				t.Errorf("error %q does not name the file", err)
			}
			return
		}
		if len(c.Zones) == 0 {
			t.Fatalf("Parse succeeded without zones")
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("Validate() after Parse = %v", err)
		}
	})
}

func TestChecks(t *testing.T) {
	c, err := Load("testdata/checks.good.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		pop  popmap.Label
		want *Check
	}{
		{"fra", &Check{Type: CheckHTTP, URL: "http://192.0.2.10/healthz", Status: 200, Interval: 2 * time.Second, Timeout: time.Second, Rise: 2, Fall: 3}},
		{"ams", &Check{
			Type: CheckHTTPS, URL: "https://192.0.2.20:8443/status?full=1", Host: "ams.example.net", Status: 204,
			Body: `"ok":true`, Insecure: true, Interval: 10 * time.Second, Timeout: 2500 * time.Millisecond, Rise: 1, Fall: 5,
		}},
		{"sin", &Check{Type: CheckTCP, Addr: netip.MustParseAddrPort("[2001:db8::30]:443"), Interval: 100 * time.Millisecond, Timeout: 99 * time.Millisecond, Rise: 100, Fall: 100}},
		{"nrt", nil},
	}
	for _, tc := range tests {
		p, ok := c.PoP(tc.pop)
		if !ok {
			t.Fatalf("PoP(%s) not found", tc.pop)
		}
		if !reflect.DeepEqual(p.Check, tc.want) {
			t.Errorf("PoP(%s).Check = %+v, want %+v", tc.pop, p.Check, tc.want)
		}
	}
}

// TestValidateCheckGo checks Validate on checks built in Go, where no
// defaults are applied.
func TestValidateCheckGo(t *testing.T) {
	base := func() *Config {
		c := Defaults()
		c.File = "go"
		c.PoPs = []PoP{{Label: "fra", Lat: 50, Lon: 8, IPv4: []netip.Addr{netip.MustParseAddr("192.0.2.1")}, Capacity: 1, State: StateUp}}
		c.Zones = []Zone{{
			Name: "example.net.", TTL: 3600,
			SOA:     SOA{MName: "ns.example.org.", RName: "hostmaster.example.net.", Serial: 1, Refresh: 1, Retry: 1, Expire: 1},
			NS:      []NameServer{{Name: "ns.example.org."}},
			Records: []Record{{Name: "example.net.", Static: &Static{TXT: []string{"x"}}}},
		}}
		return c
	}
	tests := []struct {
		name  string
		check Check
		want  string // "" = valid
	}{
		{"tcp", Check{Type: CheckTCP, Addr: netip.MustParseAddrPort("192.0.2.1:80"), Interval: time.Second, Timeout: time.Millisecond, Rise: 1, Fall: 1}, ""},
		{"https", Check{Type: CheckHTTPS, URL: "https://fra.example.net/", Status: 200, Interval: time.Second, Timeout: time.Millisecond, Rise: 1, Fall: 1}, ""},
		{"zero", Check{}, "pops[0].check.type: required"},
		{"http status 0", Check{Type: CheckHTTP, URL: "http://a/", Interval: time.Second, Timeout: time.Millisecond, Rise: 1, Fall: 1}, "pops[0].check.status: must be in 100..599, got 0"},
		{"timeout 0", Check{Type: CheckHTTP, URL: "http://a/", Status: 200, Interval: time.Second, Rise: 1, Fall: 1}, "pops[0].check.timeout: must be > 0 and < interval (1s), got 0s"},
		{"interval", Check{Type: CheckHTTP, URL: "http://a/", Status: 200, Interval: 2 * time.Hour, Timeout: time.Second, Rise: 1, Fall: 1}, "pops[0].check.interval: must be in 100ms..1h0m0s, got 2h0m0s"},
		{"rise", Check{Type: CheckHTTP, URL: "http://a/", Status: 200, Interval: time.Second, Timeout: time.Millisecond, Fall: 1}, "pops[0].check.rise: must be in 1..100, got 0"},
		{"body", Check{Type: CheckHTTP, URL: "http://a/", Status: 200, Body: strings.Repeat("x", MaxCheckBody+1), Interval: time.Second, Timeout: time.Millisecond, Rise: 1, Fall: 1}, "pops[0].check.body: longer than the 65536 bytes"},
		{"tcp unspecified", Check{Type: CheckTCP, Addr: netip.MustParseAddrPort("0.0.0.0:80"), Interval: time.Second, Timeout: time.Millisecond, Rise: 1, Fall: 1}, "pops[0].check.addr: 0.0.0.0:80 is not a unicast address"},
		{"tcp body", Check{Type: CheckTCP, Addr: netip.MustParseAddrPort("192.0.2.1:80"), Body: "ok", Interval: time.Second, Timeout: time.Millisecond, Rise: 1, Fall: 1}, "pops[0].check.body: not used by type tcp"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := base()
			c.PoPs[0].Check = &tc.check
			err := c.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("Validate() = %v, want nil", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("Validate() = %v, want %q", err, tc.want)
			}
		})
	}
}
