package test

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/steer-gslb/steer/config"
	"github.com/steer-gslb/steer/internal/syncbuf"
	"github.com/steer-gslb/steer/sim"
)

// TestSimWorldServes runs the real DNS server on a simulated world's own
// configuration (its PoPs, GeoIP database and empty map) and checks that
// every sampled network gets the PoP the ground truth says a geo map gives
// it: the world's files fit together as the server reads them.
func TestSimWorldServes(t *testing.T) {
	dir := t.TempDir()
	o := sim.DefaultOptions()
	o.Networks, o.Seed, o.Measured = 2000, 11, 0.1
	w, err := sim.Plan(o)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sim.Generate(w, dir, nil); err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, sim.FileConfig)
	editYAML(t, cfgPath, map[string]string{
		"listen.dns":   `["127.0.0.1:0"]`,
		"listen.admin": `"127.0.0.1:0"`,
	})
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	s := &steerServer{dir: dir, cfgPath: cfgPath, cfg: cfg, logs: &syncbuf.Buffer{}}
	s.start(t, s.newServer(t))

	type want struct {
		net  netip.Prefix
		addr netip.Addr
	}
	var cases []want
	h, err := sim.ReadTruth(filepath.Join(dir, sim.FileTruth), func(h *sim.TruthHeader, r *sim.TruthRecord) error {
		if len(cases) >= 300 {
			return nil
		}
		a := netip.MustParseAddr("192.0.2.1") // the record's default (anycast)
		if r.Geo >= 0 {
			pop, ok := cfg.PoP(h.PoPs[r.Geo].Label)
			if !ok {
				return fmt.Errorf("truth PoP %s not in the config", h.PoPs[r.Geo].Label)
			}
			a = pop.IPv4[0]
			if r.Network.Addr().Is6() {
				a = pop.IPv6[0]
			}
		} else if r.Network.Addr().Is6() {
			a = netip.MustParseAddr("2001:db8::1")
		}
		cases = append(cases, want{r.Network, a})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(h.PoPs) != len(cfg.PoPs) || len(cases) < 300 {
		t.Fatalf("%d truth PoPs, %d config PoPs, %d networks", len(h.PoPs), len(cfg.PoPs), len(cases))
	}
	for _, c := range cases {
		qt := dns.TypeA
		if c.net.Addr().Is6() {
			qt = dns.TypeAAAA
		}
		r, err := query(s.addr, netip.Addr{}, "www."+o.Zone, qt, c.net, 2*time.Second)
		if err != nil {
			t.Fatalf("%v: %v", c.net, err)
		}
		got := answerAddrs(r)
		if len(got) != 1 || got[0] != c.addr {
			t.Errorf("%v: answer %v, truth's geo PoP has %v", c.net, got, c.addr)
		}
	}
}
