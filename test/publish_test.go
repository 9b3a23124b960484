package test

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/steer-gslb/steer/mapstore"
	"github.com/steer-gslb/steer/popmap"
)

// TestPublishFollowed runs the DNS server on a config whose ecs_map and
// resolver_map are a map directory's current.json and publishes through
// package mapstore (what steer publish and steer rollback do): each switch
// of the symlink must be served, and reported by steer_dns_map_version; a
// candidate the gate calls worse must change nothing.
func TestPublishFollowed(t *testing.T) {
	s := layoutSteer(t, nil)
	mapsDir := filepath.Join(s.dir, "maps")
	current := filepath.Join(mapsDir, "current.json")
	// Point every map of the config at the directory's current.json.
	b, err := os.ReadFile(s.cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	cfg := strings.ReplaceAll(string(b), "_map: map.json", "_map: maps/current.json")
	refs := 0
	for line := range strings.SplitSeq(cfg, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "#") && strings.Contains(line, "maps/current.json") {
			refs++
		}
	}
	if refs != 4 { // the example's commented CNAME record has two more
		t.Fatalf("config %s: want 4 map references to rewrite:\n%s", s.cfgPath, b)
	}
	if err := os.WriteFile(s.cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}

	d, err := mapstore.Open(mapsDir)
	if err != nil {
		t.Fatal(err)
	}
	tracked := netip.MustParsePrefix("203.0.113.0/24")
	// The gate scores a map by the first PoP it gives the tracked /24:
	// a tiny stand-in for held-out scoring (lower regret is better).
	regret := map[popmap.Label]float64{"ams": 2, "lhr": 5, "sin": 9}
	first := func(tab *popmap.Table) popmap.Label {
		ls, _ := tab.LookupPrefix(tracked)
		if len(ls) == 0 {
			return ""
		}
		return ls[0]
	}
	gate := func(cand, cur *popmap.Table) (mapstore.GateVerdict, error) {
		a, b := regret[first(cand)], regret[first(cur)]
		return mapstore.GateVerdict{Metric: "regret_ms", Candidate: a, Current: b, Worse: a > b}, nil
	}
	candidate := func(name string, pop popmap.Label) string {
		p := filepath.Join(s.dir, name)
		writeMap(t, p, mapOf(t, 77, "203.0.113.0/24="+string(pop)+",fra", "198.18.0.0/24=gru"))
		return p
	}

	// A, the first version: no gate needed.
	res, err := d.Publish(candidate("a.json", "ams"), mapstore.PublishOptions{Gate: gate})
	if err != nil || res.Version != 1 {
		t.Fatalf("publishing A: %+v %v", res, err)
	}
	s.start(t, s.newServer(t))

	// serves polls until the tracked /24 is answered with pop's addresses
	// and the server reports version on /metrics.
	serves := func(t *testing.T, pop popmap.Label, version int, what string) {
		t.Helper()
		want := s.popAddr4(t, pop)
		start := time.Now()
		eventually(t, 10*time.Second, fmt.Sprintf("%s: %s answered by %s and steer_dns_map_version %d", what, tracked, pop, version), func() bool {
			r, err := query(s.addr, netip.Addr{}, "www.example.net.", dns.TypeA, tracked, 2*time.Second)
			return err == nil && slices.Equal(answerAddrs(r), want) &&
				s.metrics(t).sum("steer_dns_map_version", map[string]string{"file": current}) == float64(version)
		})
		t.Logf("%s: served after %v", what, time.Since(start).Round(time.Millisecond))
		ms := s.metrics(t)
		if n := ms.sum("steer_dns_map_version", nil); n != float64(version) {
			t.Errorf("%s: steer_dns_map_version sums to %v over all files, want %d (one file: %s)", what, n, version, current)
		}
		if v := s.srv.MapVersions(); len(v) != 1 || v[current] != int64(version) {
			t.Errorf("%s: MapVersions() = %v, want {%s: %d}", what, v, current, version)
		}
	}
	serves(t, "ams", 1, "A published first")

	// B scores worse than A but is forced.
	res, err = d.Publish(candidate("b.json", "lhr"), mapstore.PublishOptions{Gate: gate, Force: true})
	if err != nil || res.Version != 2 || !res.Forced || res.Gate == nil || !res.Gate.Worse {
		t.Fatalf("publishing B forced: %+v %v", res, err)
	}
	serves(t, "lhr", 2, "B forced")

	// C scores worse than B and is not forced: refused, nothing changes.
	serial := s.srv.Serial()
	_, err = d.Publish(candidate("c.json", "sin"), mapstore.PublishOptions{Gate: gate})
	if !errors.Is(err, mapstore.ErrWorse) || !strings.Contains(err.Error(), "regret_ms 9 (candidate) vs 5 (current)") {
		t.Fatalf("publishing C: %v, want a refusal naming both scores", err)
	}
	if cur, _, err := d.Current(); cur != 2 || err != nil {
		t.Fatalf("after the refusal: current version %d (%v), want 2", cur, err)
	}
	r, err := query(s.addr, netip.Addr{}, "www.example.net.", dns.TypeA, tracked, 2*time.Second)
	if err != nil || !slices.Equal(answerAddrs(r), s.popAddr4(t, "lhr")) {
		t.Fatalf("after the refusal: %v %v, want lhr's %v", r, err, s.popAddr4(t, "lhr"))
	}
	if got := s.srv.Serial(); got != serial {
		t.Errorf("after the refusal: snapshot serial %d, want %d (no reload)", got, serial)
	}

	// Rollback: back to A.
	res, err = d.Rollback()
	if err != nil || res.Version != 1 || res.Previous != 2 {
		t.Fatalf("rollback: %+v %v", res, err)
	}
	serves(t, "ams", 1, "rolled back to A")

	// The failures counter shows no reload ever failed on a half-switched link.
	if f := s.srv.ReloadFailures(); f != 0 {
		t.Errorf("%d reloads failed, want 0", f)
	}
}
