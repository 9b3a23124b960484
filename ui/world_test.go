package ui

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/steer-gslb/steer/popmap"
	"github.com/steer-gslb/steer/rttfile"
	"github.com/steer-gslb/steer/sim"
)

// testWorld is a small simulated world and a map built from its truth: one
// entry per network ranking its two best PoPs, with a sources file (measured
// networks "measured", the rest split among the extrapolation rules) and an
// RTT file (weights for measured networks). Built once per test binary.
type testWorld struct {
	dir, mapPath, against string
	nets                  []testNet // heaviest first
}

type testNet struct {
	net      netip.Prefix
	lat, lon float64
	weight   float64
	pop      string // first label in the map
	source   string
	geoPoP   string // the truth's geo baseline
}

// top4 is the heaviest IPv4 network.
func (tw *testWorld) top4() testNet {
	for _, n := range tw.nets {
		if n.net.Addr().Is4() {
			return n
		}
	}
	panic("no IPv4 network in the test world")
}

var (
	worldOnce sync.Once
	world     *testWorld
	worldErr  error
)

func getWorld(t testing.TB) *testWorld {
	t.Helper()
	worldOnce.Do(func() {
		dir, err := os.MkdirTemp("", "steer-ui-test-")
		if err != nil {
			worldErr = err
			return
		}
		world, worldErr = makeWorld(dir, 3000)
	})
	if worldErr != nil {
		t.Fatal(worldErr)
	}
	return world
}

// makeWorld writes a world of n networks and its maps into dir.
func makeWorld(dir string, n int) (*testWorld, error) {
	o := sim.DefaultOptions()
	o.Networks, o.Seed, o.Measured = n, 7, 0.3
	w, err := sim.Plan(o)
	if err != nil {
		return nil, err
	}
	if _, err := sim.Generate(w, dir, nil); err != nil {
		return nil, err
	}
	tw := &testWorld{dir: dir, mapPath: filepath.Join(dir, "latency.json"), against: filepath.Join(dir, "other.json")}
	m, other := &popmap.Map{Meta: popmap.Meta{Version: 3}}, &popmap.Map{}
	var rtts []rttfile.Entry
	srcs := []byte("# test sources\n")
	rules := []string{"extrapolate-as", "extrapolate-prefix", "extrapolate-geo", "resolver"}
	i := 0
	_, err = sim.ReadTruth(filepath.Join(dir, sim.FileTruth), func(h *sim.TruthHeader, r *sim.TruthRecord) error {
		i++
		if i%10 == 0 {
			return nil // every tenth network has no entry: the fallback
		}
		order := make([]int, len(h.PoPs))
		for k := range order {
			order[k] = k
		}
		slices.SortFunc(order, func(a, b int) int {
			qa, qb := r.Quantile(a, 0.5), r.Quantile(b, 0.5)
			if qa < qb {
				return -1
			}
			if qa > qb {
				return 1
			}
			return 0
		})
		labels := []popmap.Label{h.PoPs[order[0]].Label, h.PoPs[order[1]].Label}
		m.Entries = append(m.Entries, popmap.Entry{Networks: []netip.Prefix{r.Network}, Labels: labels})
		other.Entries = append(other.Entries, popmap.Entry{Networks: []netip.Prefix{r.Network}, Labels: []popmap.Label{h.PoPs[r.Anycast].Label}})
		src := rules[i%len(rules)]
		e := rttfile.Entry{Network: r.Network, Weight: 1}
		if r.Measured {
			src, e.Weight = "measured", float64(2+i%4)
		}
		for _, k := range order[:2] {
			e.Ranked = append(e.Ranked, rttfile.Choice{Label: h.PoPs[k].Label, RTT: r.Quantile(k, 0.75)})
		}
		rtts = append(rtts, e)
		srcs = fmt.Appendf(srcs, "%s\t%s\n", r.Network, src)
		geo := ""
		if r.Geo >= 0 {
			geo = string(h.PoPs[r.Geo].Label)
		}
		tw.nets = append(tw.nets, testNet{net: r.Network, lat: r.Lat, lon: r.Lon, weight: r.Weight, pop: string(labels[0]), source: src, geoPoP: geo})
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(tw.nets, func(a, b testNet) int {
		if a.weight > b.weight {
			return -1
		}
		if a.weight < b.weight {
			return 1
		}
		return 0
	})
	for path, mm := range map[string]*popmap.Map{tw.mapPath: m, tw.against: other} {
		f, err := os.Create(path)
		if err != nil {
			return nil, err
		}
		if err := mm.Encode(f); err != nil {
			return nil, err
		}
		if err := f.Close(); err != nil {
			return nil, err
		}
	}
	f, err := os.Create(filepath.Join(dir, "latency.rtt.tsv"))
	if err != nil {
		return nil, err
	}
	if err := rttfile.Write(f, rtts); err != nil {
		return nil, err
	}
	if err := f.Close(); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "latency.sources.tsv"), srcs, 0o644); err != nil {
		return nil, err
	}
	// A plan as steer plan --out writes it: one new site and the loss curve.
	plan := `{"type":"FeatureCollection","features":[{"type":"Feature","geometry":{"type":"Point","coordinates":[3.39,6.45]},` +
		`"properties":{"kind":"site","rank":1,"name":"Lagos","country":"NG"}}],` +
		`"curve":[{"pops":19,"loss":61.2,"kind":"existing","site":"syd"},{"pops":20,"loss":58.1,"kind":"existing","site":"lhr"},` +
		`{"pops":21,"loss":52.4,"kind":"new","site":"+Lagos"}],"curve_label":"mean RTT (ms)"}`
	if err := os.WriteFile(filepath.Join(dir, "plan.geojson"), []byte(plan), 0o644); err != nil {
		return nil, err
	}
	return tw, nil
}

// loadWorld loads the explorer on the test world.
func loadWorld(t testing.TB, against bool) *Model {
	t.Helper()
	tw := getWorld(t)
	f := Files{Map: tw.mapPath, World: tw.dir}
	if against {
		f.Against, f.Plan = tw.against, filepath.Join(tw.dir, "plan.geojson")
	}
	o, closer, err := Open(f)
	if err != nil {
		t.Fatal(err)
	}
	if closer != nil {
		t.Cleanup(func() { _ = closer.Close() })
	}
	m, err := Load(o)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestMain(m *testing.M) {
	code := m.Run()
	if world != nil {
		_ = os.RemoveAll(world.dir)
	}
	os.Exit(code)
}
