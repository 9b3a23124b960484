//go:build cgo

package main

import (
	"bytes"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"

	"github.com/steer-gslb/steer/explain"
	"github.com/steer-gslb/steer/popmap"
	"github.com/steer-gslb/steer/sim"
)

// TestExplainWorld is issue 16's "Explain names the right rule" on a
// built simulator world (5k networks): for a measured network, an
// AS-extrapolated one, a resolver's entry and a GeoIP fallback, picked from
// the build's MAP.sources.tsv and the world's truth, `steer explain --json`
// reports the deciding step and the entry's origin; the text form and the
// store's estimates are checked on the measured network.
func TestExplainWorld(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 5k-network world")
	}
	worldDir, storeDir := smallWorld(t, 5000)
	mapPath := filepath.Join(t.TempDir(), "map.json")
	var out, errb bytes.Buffer
	if rc := run([]string{"build", "--store", storeDir, "--out", mapPath, "--bgp", filepath.Join(worldDir, sim.FileMRT),
		"--geoip", filepath.Join(worldDir, sim.FileGeoIP)}, &out, &errb); rc != 0 {
		t.Fatalf("build: rc %d: %s", rc, errb.String())
	}
	src, err := explain.LoadSources(explain.SourcesPath(mapPath))
	if err != nil {
		t.Fatal(err)
	}
	_, tab, err := popmap.Load(mapPath)
	if err != nil {
		t.Fatal(err)
	}
	origin := func(a netip.Addr) string { _, o, _ := src.Lookup(a); return o }

	// Pick one address of each kind from the truth and the sources file.
	var measured, extrapAS, resolver, geoAddr netip.Addr
	var measuredNet netip.Prefix
	geoPoP := ""
	_, err = sim.ReadTruth(filepath.Join(worldDir, sim.FileTruth), func(h *sim.TruthHeader, r *sim.TruthRecord) error {
		a := r.Network.Addr().Next()
		switch o := origin(a); {
		case !measured.IsValid() && r.Measured && o == explain.OriginMeasured:
			measured, measuredNet = a, r.Network
		case !extrapAS.IsValid() && !r.Measured && o == explain.OriginExtrapolateAS:
			extrapAS = a
		case !geoAddr.IsValid() && r.Geo >= 0 && o == "":
			if l, _ := tab.Lookup(a); len(l) == 0 {
				geoAddr, geoPoP = a, string(h.PoPs[r.Geo].Label)
			}
		}
		if !resolver.IsValid() && origin(r.Resolver) == explain.OriginResolver {
			resolver = r.Resolver
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for name, a := range map[string]netip.Addr{"measured": measured, "AS-extrapolated": extrapAS, "resolver": resolver, "GeoIP fallback": geoAddr} {
		if !a.IsValid() {
			t.Fatalf("the world has no %s network to explain", name)
		}
	}
	cfg := filepath.Join(worldDir, sim.FileConfig)
	explainJSON := func(t *testing.T, args ...string) *explain.Report {
		t.Helper()
		var out, errb bytes.Buffer
		args = append([]string{"explain", "--config", cfg, "--map", mapPath, "--json"}, args...)
		if rc := run(args, &out, &errb); rc != 0 {
			t.Fatalf("%v: rc %d: %s", args, rc, errb.String())
		}
		r, err := explain.DecodeJSON(out.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	for _, tc := range []struct {
		name   string
		args   []string
		source string
		entry  func(*explain.Report) *explain.Entry
		origin string
	}{
		{"measured network", []string{measured.String()}, "ecs", func(r *explain.Report) *explain.Entry { return r.ECSEntry }, explain.OriginMeasured},
		{"AS-extrapolated network", []string{extrapAS.String()}, "ecs", func(r *explain.Report) *explain.Entry { return r.ECSEntry }, explain.OriginExtrapolateAS},
		{"resolver without ECS", []string{"--ecs", "0.0.0.0/0", resolver.String()}, "resolver", func(r *explain.Report) *explain.Entry { return r.ResolverEntry }, explain.OriginResolver},
		{"GeoIP fallback", []string{geoAddr.String()}, "geo", nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := explainJSON(t, tc.args...)
			if r.Source != tc.source {
				t.Errorf("source %q, want %q", r.Source, tc.source)
			}
			if len(r.PoPs) == 0 {
				t.Fatalf("no PoP: %+v", r)
			}
			if tc.entry == nil {
				if r.ECSEntry != nil || r.ResolverEntry != nil {
					t.Errorf("map entries %+v %+v for an address the map does not cover", r.ECSEntry, r.ResolverEntry)
				}
				if r.Geo == nil || r.Geo.Nearest != geoPoP || r.PoPs[0] != geoPoP || !r.Geo.Prefix.Contains(geoAddr) || r.Scope != r.Geo.Prefix.Bits() {
					t.Errorf("geo %+v, pops %v, scope /%d: want the truth's nearest PoP %s for the GeoIP network", r.Geo, r.PoPs, r.Scope, geoPoP)
				}
				return
			}
			e := tc.entry(r)
			if e == nil || e.Origin != tc.origin || !e.Prefix.Contains(r.Addr) {
				t.Fatalf("entry %+v, want one of origin %s containing %s", e, tc.origin, r.Addr)
			}
			if r.PoPs[0] != e.Labels[0] {
				t.Errorf("answer %s, want the entry's first label %s (every PoP of the world is up)", r.PoPs[0], e.Labels[0])
			}
			// The build's expected RTTs (MAP.rtt.tsv beside the map), for the
			// entries the build ranked on an estimate.
			if tc.origin == explain.OriginMeasured && (len(e.Expected) == 0 || e.Expected[0].PoP != e.Labels[0] || !(e.Expected[0].RTTMs > 0)) {
				t.Errorf("measured entry's expected RTTs %+v, want the first label's estimate first", e.Expected)
			}
		})
	}

	t.Run("text and store estimates", func(t *testing.T) {
		var out, errb bytes.Buffer
		if rc := run([]string{"explain", "--config", cfg, "--map", mapPath, "--store", storeDir, measured.String()}, &out, &errb); rc != 0 {
			t.Fatalf("rc %d: %s", rc, errb.String())
		}
		s := out.String()
		r := explainJSON(t, measured.String())
		cap24 := netip.PrefixFrom(measured, 24).Masked()
		for _, want := range []string{
			measured.String() + ": " + r.PoPs[0] + " (www.",
			"source ecs, scope /",
			"client:       subnet " + cap24.String() + ", resolver " + measured.String(),
			"ecs map:      " + r.ECSEntry.Prefix.String() + " → " + strings.Join(r.ECSEntry.Labels, " ") + " (measured)",
			"ranked:       " + strings.Join(r.PoPs, " "),
			"estimates:    network " + measuredNet.String(),
			" samples  p75 ",
		} {
			if !strings.Contains(s, want) {
				t.Errorf("text lacks %q:\n%s", want, s)
			}
		}
		t.Logf("steer explain %s:\n%s", measured, s)
	})

	t.Run("errors", func(t *testing.T) {
		for _, tc := range []struct {
			args []string
			rc   int
			want string
		}{
			{[]string{"explain", "--config", cfg, "not-an-ip"}, 2, `bad address "not-an-ip"`},
			{[]string{"explain", measured.String()}, 2, "--config FILE (offline) or --server URL is required"},
			{[]string{"explain", "--config", cfg, "--ecs", "10.0.0.1/99", measured.String()}, 2, "--ecs"},
			{[]string{"explain", "--config", cfg, "--record", "nope", measured.String()}, 1, `no record "nope"`},
			{[]string{"explain", "--config", cfg, "--map", filepath.Join(worldDir, "missing.json"), measured.String()}, 1, "missing.json"},
		} {
			var out, errb bytes.Buffer
			if rc := run(tc.args, &out, &errb); rc != tc.rc || !strings.Contains(errb.String(), tc.want) {
				t.Errorf("%v: rc %d, stderr %q; want rc %d naming %q", tc.args[1:], rc, errb.String(), tc.rc, tc.want)
			}
		}
	})
}
