package builder

import (
	"bytes"
	"context"
	"math"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gaissmai/bart"

	"github.com/steer-gslb/steer/geoip"
	"github.com/steer-gslb/steer/rttfile"
	"github.com/steer-gslb/steer/sim"
	"github.com/steer-gslb/steer/store/duckstore"
)

// TestBuildRTT: MAP.rtt.tsv lists exactly the map's networks, in Sources
// order, with the beacon weight and the estimate of each ranked PoP for
// measured networks, the joined clients' for a resolver, the group's for
// an extrapolated prefix; and it reads back with rttfile.
func TestBuildRTT(t *testing.T) {
	st := openStore(t)
	var s beaconSet
	qs := addNet(&s, "10.1.0.0/24", 4, map[string]float64{"fra": 10, "ams": 14, "syd": 300}, "198.51.100.53")
	qs = append(qs, addNet(&s, "10.1.1.0/24", 2, map[string]float64{"fra": 20, "ams": 30, "syd": 280}, "198.51.100.53")...)
	s.store(t, st)
	if _, err := st.AddQueries(context.Background(), qs); err != nil {
		t.Fatal(err)
	}
	routes := writePyASN(t, map[string]uint32{"10.1.0.0/16": 64500})
	res := build(t, st, []string{routes}, Options{Prior: -1, MinAgree: 2})
	var buf bytes.Buffer
	if err := res.RTT.WriteTSV(&buf); err != nil {
		t.Fatal(err)
	}
	es, err := rttfile.Read(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != len(res.Sources.Networks) {
		t.Fatalf("%d RTT lines, %d map networks", len(es), len(res.Sources.Networks))
	}
	got := map[netip.Prefix]rttfile.Entry{}
	for i, e := range es {
		if e.Network != res.Sources.Networks[i] {
			t.Fatalf("line %d is %s, the sources' %s", i, e.Network, res.Sources.Networks[i])
		}
		got[e.Network] = e
	}
	// the percentile of 10, 10.01, 10.02, 10.03 is 10.0225: 10.0 at 0.1 ms
	want := map[string]struct {
		w      float64
		ranked string
	}{
		"10.1.0.0/24":      {4, "fra=10,ams=14,syd=300"},
		"10.1.1.0/24":      {2, "fra=20,ams=30,syd=280"},
		"198.51.100.53/32": {6, "fra=13.4,ams=19.4,syd=293.4"},
		// the AS rule: the beacons of the two measured networks inside
		"10.1.0.0/16": {6, "fra=13.4,ams=19.4,syd=293.4"},
	}
	for p, w := range want {
		e, ok := got[netip.MustParsePrefix(p)]
		if !ok {
			t.Errorf("%s: not in the RTT file", p)
			continue
		}
		line := string(rttfile.AppendEntry(nil, &e))
		line = line[strings.LastIndexByte(line, '\t')+1:]
		if math.Abs(e.Weight-w.w) > 1e-9 || line != w.ranked {
			t.Errorf("%s: weight %v, ranked %s; want %v, %s", p, e.Weight, line, w.w, w.ranked)
		}
	}
}

// TestRTTWeights measures the weights MAP.rtt.tsv gives against the
// simulator's truth: for every kind of entry, the true traffic (users) of
// the client networks it answers, scaled to beacons by the measured
// networks' ratio, against the weights written. A map built on a 20k world
// with BGP and GeoIP, as steer build runs.
func TestRTTWeights(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 20k-network world")
	}
	ctx := context.Background()
	dir := t.TempDir()
	o := sim.DefaultOptions()
	o.Networks = 20_000
	w, err := sim.Plan(o)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sim.Generate(w, dir, nil); err != nil {
		t.Fatal(err)
	}
	st, err := duckstore.Open(filepath.Join(dir, "store"), duckstore.Options{Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	imp := duckstore.ImportOptions{Received: o.Start.Add(o.Duration)}
	for _, f := range []string{sim.FileBeacons, sim.FileDNSLog} {
		if _, err := duckstore.ImportFile(ctx, st, filepath.Join(dir, f), imp); err != nil {
			t.Fatal(err)
		}
	}
	geo, err := geoip.Open(filepath.Join(dir, sim.FileGeoIP))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = geo.Close() })
	res, err := Build(ctx, Input{Store: st, BGP: []string{filepath.Join(dir, sim.FileBGP)}, GeoIP: geo})
	if err != nil {
		t.Fatal(err)
	}
	// every client network's true traffic goes to its longest map network,
	// as DNS answers it when its resolver sends ECS (a resolver's entry
	// weighs its joined clients, which their own entries weigh again: both
	// are keys to the same traffic)
	idx := &bart.Table[int]{}
	for k, p := range res.Sources.Networks {
		idx.Insert(p, k)
	}
	truth := make([]float64, len(res.Sources.Networks))
	var measuredUsers, outside float64
	if _, err := sim.ReadTruth(filepath.Join(dir, sim.FileTruth), func(_ *sim.TruthHeader, r *sim.TruthRecord) error {
		_, k, ok := idx.LookupPrefixLPM(r.Network)
		if !ok {
			outside += r.Weight
			return nil
		}
		truth[k] += r.Weight
		if k, ok := idx.Get(r.Network); ok && res.Sources.From[k] == FromMeasured {
			measuredUsers += r.Weight
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	var measuredBeacons float64
	byKind := map[string]*[2]float64{} // written weight, true traffic in beacons
	for k, from := range res.Sources.From {
		if from == FromMeasured {
			measuredBeacons += res.RTT.Weight[k]
		}
	}
	scale := measuredBeacons / measuredUsers // beacons per user, from the measured networks
	var x, y []float64
	for k, from := range res.Sources.From {
		if byKind[from] == nil {
			byKind[from] = &[2]float64{}
		}
		byKind[from][0] += res.RTT.Weight[k]
		byKind[from][1] += truth[k] * scale
		if from != FromMeasured && from != FromResolver {
			x, y = append(x, res.RTT.Weight[k]), append(y, truth[k]*scale)
		}
	}
	for _, from := range SourceNames {
		if v := byKind[from]; v != nil && from != FromResolver {
			t.Logf("%-20s written %9.0f  true %9.0f  (ratio %.2f)", from, v[0], v[1], v[0]/v[1])
		}
	}
	t.Logf("traffic outside the map: %.1f %% of users", 100*outside/(outside+sum(truth)))
	r := correlation(x, y)
	t.Logf("extrapolated entries: %d, correlation of written and true weight %.2f", len(x), r)
	// the written weight is the measured sample of what the entry answers:
	// the truth times s/(1-s), s the measured share
	want := o.Measured / (1 - o.Measured)
	if ratio := sum(x) / sum(y); ratio < 0.6*want || ratio > 1.4*want {
		t.Errorf("extrapolated entries weigh %.0f in all, their true traffic %.0f: ratio %.2f, want %.2f ± 40 %%", sum(x), sum(y), ratio, want)
	}
	if r < 0.4 {
		t.Errorf("extrapolated weights correlate %.2f with the truth, want ≥ 0.4", r)
	}
}

func sum(v []float64) float64 {
	s := 0.0
	for _, x := range v {
		s += x
	}
	return s
}

func correlation(x, y []float64) float64 {
	n := float64(len(x))
	mx, my := sum(x)/n, sum(y)/n
	var sxy, sxx, syy float64
	for i := range x {
		sxy += (x[i] - mx) * (y[i] - my)
		sxx += (x[i] - mx) * (x[i] - mx)
		syy += (y[i] - my) * (y[i] - my)
	}
	return sxy / math.Sqrt(sxx*syy)
}
