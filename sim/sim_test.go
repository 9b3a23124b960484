package sim

import (
	"bytes"
	"compress/gzip"
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/gaissmai/bart"

	"github.com/steer-gslb/steer/bgp"
	"github.com/steer-gslb/steer/config"
	"github.com/steer-gslb/steer/data"
	"github.com/steer-gslb/steer/geoip"
	"github.com/steer-gslb/steer/popmap"
	"github.com/steer-gslb/steer/rum"
)

// small worlds shared by the tests: generating one takes about a second.
var (
	worldOnce sync.Once
	worldDir  string
	worldRep  *Report
	worldW    *World
	worldErr  error
)

func smallOptions() Options {
	o := DefaultOptions()
	o.Networks = 5000
	o.Seed = 7
	return o
}

func testWorld(t *testing.T) (string, *World, *Report) {
	t.Helper()
	worldOnce.Do(func() {
		worldDir, worldErr = os.MkdirTemp("", "steer-sim-test-")
		if worldErr != nil {
			return
		}
		worldW, worldErr = Plan(smallOptions())
		if worldErr != nil {
			return
		}
		worldRep, worldErr = Generate(worldW, worldDir, nil)
	})
	if worldErr != nil {
		t.Fatal(worldErr)
	}
	return worldDir, worldW, worldRep
}

func TestMain(m *testing.M) {
	code := m.Run()
	if worldDir != "" {
		_ = os.RemoveAll(worldDir)
	}
	if timedDir != "" { // timed_test.go's shared world
		_ = os.RemoveAll(timedDir)
	}
	os.Exit(code)
}

func TestDeterministic(t *testing.T) {
	dir, _, _ := testWorld(t)
	w2, err := Plan(smallOptions())
	if err != nil {
		t.Fatal(err)
	}
	dir2 := t.TempDir()
	if _, err := Generate(w2, dir2, nil); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) < 11 {
		t.Fatalf("%d files in the world directory, want 11", len(ents))
	}
	for _, e := range ents {
		a, _ := os.ReadFile(filepath.Join(dir, e.Name()))
		b, err := os.ReadFile(filepath.Join(dir2, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a, b) {
			t.Errorf("%s differs between two runs with the same seed", e.Name())
		}
	}
	// and a different seed gives a different world
	o := smallOptions()
	o.Seed++
	w3, err := Plan(o)
	if err != nil {
		t.Fatal(err)
	}
	if reflect.DeepEqual(w2.Blocks, w3.Blocks) {
		t.Error("seeds 7 and 8 planned identical address blocks")
	}
}

// readTruth loads a world's truth as a map by network.
func readTruthMap(t *testing.T, dir string) (*TruthHeader, map[netip.Prefix]TruthRecord) {
	t.Helper()
	m := map[netip.Prefix]TruthRecord{}
	h, err := ReadTruth(filepath.Join(dir, FileTruth), func(_ *TruthHeader, r *TruthRecord) error {
		c := *r
		c.Base, c.Jitter = slices.Clone(r.Base), slices.Clone(r.Jitter)
		if _, dup := m[c.Network]; dup {
			t.Errorf("network %v twice in the truth", c.Network)
		}
		m[c.Network] = c
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return h, m
}

func TestBeaconsParse(t *testing.T) {
	dir, w, rep := testWorld(t)
	_, truth := readTruthMap(t, dir)
	f, err := os.Open(filepath.Join(dir, FileBeacons))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	labels := map[string]bool{rum.Anycast: true}
	for _, p := range w.PoPs {
		labels[string(p.Label)] = true
	}
	rd := rum.NewReader(f)
	var b rum.Beacon
	lines, samples := 0, 0
	seen := map[string]int{}
	for line, ok := rd.Next(); ok; line, ok = rd.Next() {
		lines++
		unknown, err := rum.ParseBeacon(line, rum.Bulk, &b)
		if err != nil {
			t.Fatalf("line %d: %v", rd.Line(), err)
		}
		if unknown != 0 {
			t.Errorf("line %d: %d unknown fields", rd.Line(), unknown)
		}
		tr, ok := truth[b.ClientSubnet]
		if !ok {
			t.Fatalf("line %d: client_subnet %v is no network of the world", rd.Line(), b.ClientSubnet)
		}
		if !tr.Measured {
			t.Errorf("line %d: beacon from %v, which the truth says is unmeasured", rd.Line(), b.ClientSubnet)
		}
		if b.DNSTest != "" && !strings.HasSuffix(b.DNSTest, ".rum."+w.Opt.Zone) {
			t.Errorf("line %d: dns_test %q not under rum.%s", rd.Line(), b.DNSTest, w.Opt.Zone)
		}
		for _, s := range b.Samples {
			if !labels[s.Target] {
				t.Fatalf("line %d: target %q is no PoP", rd.Line(), s.Target)
			}
			if s.ServedBy != "" && (s.Target != rum.Anycast || s.ServedBy != string(w.PoPs[tr.Anycast].Label)) {
				t.Errorf("line %d: served_by %q on target %q (anycast PoP %s)", rd.Line(), s.ServedBy, s.Target, w.PoPs[tr.Anycast].Label)
			}
		}
		seen[string(line)]++
		samples += len(b.Samples)
	}
	if err := rd.Err(); err != nil {
		t.Fatal(err)
	}
	c := rep.Counts
	if lines != c.BeaconLines || samples != c.Samples+(lines-c.Beacons)*0 && samples < c.Samples {
		t.Errorf("read %d lines / %d samples, counts say %d / %d", lines, samples, c.BeaconLines, c.Samples)
	}
	dups := 0
	for _, n := range seen {
		dups += n - 1
	}
	if dups != c.BeaconLines-c.Beacons || dups == 0 {
		t.Errorf("%d duplicate lines, counts say %d", dups, c.BeaconLines-c.Beacons)
	}
}

func TestDNSLogParses(t *testing.T) {
	dir, w, rep := testWorld(t)
	_, truth := readTruthMap(t, dir)
	f, err := os.Open(filepath.Join(dir, FileDNSLog))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	resolvers := map[netip.Addr]bool{}
	for _, r := range w.Resolvers {
		resolvers[r.Addr] = true
	}
	rd := rum.NewReader(f)
	var e rum.LogEntry
	n := 0
	names := map[string]int{}
	for line, ok := rd.Next(); ok; line, ok = rd.Next() {
		n++
		if err := rum.ParseLogEntry(line, &e); err != nil {
			t.Fatalf("line %d: %v", rd.Line(), err)
		}
		if !resolvers[e.Resolver] {
			t.Errorf("line %d: resolver %v is not a resolver of the world", rd.Line(), e.Resolver)
		}
		if e.ECS.IsValid() {
			tr, ok := truth[e.ECS]
			if !ok || !tr.ResolverECS || tr.Resolver != e.Resolver {
				t.Errorf("line %d: ECS %v from %v does not match the truth", rd.Line(), e.ECS, e.Resolver)
			}
		}
		names[e.QName]++
	}
	if err := rd.Err(); err != nil {
		t.Fatal(err)
	}
	if n != rep.Counts.DNSQueries || n == 0 {
		t.Errorf("read %d queries, counts say %d", n, rep.Counts.DNSQueries)
	}
	repeated := 0
	for _, k := range names {
		repeated += k - 1
	}
	if want := rep.Counts.DNSDuplicates + rep.Counts.DNSPrefetches; repeated != want || want == 0 {
		t.Errorf("%d repeated names, counts say %d duplicates + prefetches", repeated, want)
	}
}

func TestBGPFilesParse(t *testing.T) {
	dir, w, _ := testWorld(t)
	want := w.bgpRoutes()
	for _, name := range []string{FileBGP, FileMRT} {
		var got []bgp.Route
		st, err := bgp.ReadFile(filepath.Join(dir, name), func(r bgp.Route) error {
			got = append(got, r)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if st.Truncated {
			t.Errorf("%s: truncated", name)
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: %d routes read back, %d written (or they differ)", name, len(got), len(want))
		}
	}
	// every network's truth AS is its longest-match origin in the table
	var tbl bart.Table[uint32]
	for _, r := range want {
		tbl.Insert(r.Prefix, r.ASN)
	}
	_, truth := readTruthMap(t, dir)
	for p, r := range truth {
		asn, ok := tbl.Lookup(p.Addr())
		if !ok || asn != r.ASN {
			t.Fatalf("%v: truth AS%d, longest match AS%d (%v)", p, r.ASN, asn, ok)
		}
	}
}

func TestGeoIPAndConfig(t *testing.T) {
	dir, w, _ := testWorld(t)
	db, err := geoip.Open(filepath.Join(dir, FileGeoIP))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = db.Close() }()
	cfg, err := config.Load(filepath.Join(dir, FileConfig))
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.PoPs) != len(w.PoPs) {
		t.Fatalf("config has %d PoPs, world %d", len(cfg.PoPs), len(w.PoPs))
	}
	known := map[popmap.Label]bool{}
	for i, p := range cfg.PoPs {
		if p.Label != w.PoPs[i].Label || p.Lat != math.Round(w.PoPs[i].Lat*1e4)/1e4 {
			t.Errorf("config PoP %d: %s at %v, world has %s at %v", i, p.Label, p.Lat, w.PoPs[i].Label, w.PoPs[i].Lat)
		}
		known[p.Label] = true
	}
	for _, mf := range cfg.MapFiles() {
		m, _, err := popmap.Load(mf)
		if err != nil {
			t.Fatal(err)
		}
		if err := m.CheckLabels(func(l popmap.Label) bool { return known[l] }); err != nil {
			t.Fatal(err)
		}
	}
	// a map using every PoP label parses and checks against the config
	var labels []popmap.Label
	for _, p := range w.PoPs {
		labels = append(labels, p.Label)
	}
	m := &popmap.Map{Entries: []popmap.Entry{{Networks: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}, Labels: labels}}}
	var buf bytes.Buffer
	if err := m.Encode(&buf); err != nil {
		t.Fatal(err)
	}
	m2, err := popmap.Parse(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if err := m2.CheckLabels(func(l popmap.Label) bool { return known[l] }); err != nil {
		t.Fatal(err)
	}

	// GeoIP places each network where the truth's geo PoP says, and a share
	// of the networks wrongly.
	h, truth := readTruthMap(t, dir)
	sites := make([]geoip.Site, len(h.PoPs))
	for i, p := range h.PoPs {
		sites[i] = geoip.Site{Label: p.Label, Lat: p.Lat, Lon: p.Lon}
	}
	var far, total float64
	for p, r := range truth {
		loc, _, ok := db.Locate(p.Addr())
		if !ok {
			if r.Geo != -1 {
				t.Fatalf("%v: not in the GeoIP database but truth geo %d", p, r.Geo)
			}
			continue
		}
		if got := geoip.Nearest(loc.Lat, loc.Lon, sites)[0]; r.Geo < 0 || got != h.PoPs[r.Geo].Label {
			t.Fatalf("%v: GeoIP-nearest %s, truth geo %d", p, got, r.Geo)
		}
		total += r.Weight
		if geoip.Distance(loc.Lat, loc.Lon, r.Lat, r.Lon) > 100 {
			far += r.Weight
		}
	}
	// blocks in the wrong city or country, plus the networks of a block
	// that are not in its home city
	if share := far / total; share < 0.05 || share > 0.6 {
		t.Errorf("GeoIP is more than 100 km off for %.1f%% of traffic; want a realistic 5-60%%", 100*share)
	}
}

func TestTruthRoundTrip(t *testing.T) {
	dir, _, _ := testWorld(t)
	h, truth := readTruthMap(t, dir)
	var buf bytes.Buffer
	if err := h.write(&buf); err != nil {
		t.Fatal(err)
	}
	keys := make([]netip.Prefix, 0, len(truth))
	for k := range truth {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b netip.Prefix) int { return a.Addr().Compare(b.Addr()) })
	var line []byte
	for _, k := range keys {
		r := truth[k]
		line = r.append(line[:0], h)
		var back TruthRecord
		back.Base = make([]float32, len(h.PoPs))
		back.Jitter = make([]float32, len(h.PoPs))
		labels := map[string]int{}
		for i, p := range h.PoPs {
			labels[string(p.Label)] = i
		}
		if err := back.parse(bytes.TrimSuffix(line, []byte("\n")), labels); err != nil {
			t.Fatalf("%v: %v", k, err)
		}
		if again := back.append(nil, h); !bytes.Equal(again, line) {
			t.Fatalf("round trip:\n%s\n%s", line, again)
		}
	}
}

func TestTruthErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"x", "not a gzip-compressed truth file"},
	} {
		_, err := readTruth(strings.NewReader(tc.in), func(*TruthHeader, *TruthRecord) error { return nil })
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want %q", tc.in, err, tc.want)
		}
	}
}

// TestSamplesMatchTruth checks the beacons against the truth they were
// drawn from: on clean data with many beacons per network, each (network,
// PoP)'s sample median is close to the true median.
func TestSamplesMatchTruth(t *testing.T) {
	o := DefaultOptions()
	o.Networks, o.Seed, o.Measured, o.BeaconsMin, o.BeaconsMax = 300, 3, 1, 60, 60
	o.Noise = Noise{}
	w, err := Plan(o)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if _, err := Generate(w, dir, nil); err != nil {
		t.Fatal(err)
	}
	_, truth := readTruthMap(t, dir)
	idx := map[string]int{}
	for i, p := range w.PoPs {
		idx[string(p.Label)] = i
	}
	type key struct {
		n netip.Prefix
		p int
	}
	samples := map[key][]float64{}
	f, err := os.Open(filepath.Join(dir, FileBeacons))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	rd := rum.NewReader(f)
	var b rum.Beacon
	for line, ok := rd.Next(); ok; line, ok = rd.Next() {
		if _, err := rum.ParseBeacon(line, rum.Bulk, &b); err != nil {
			t.Fatal(err)
		}
		for _, s := range b.Samples {
			if s.Target == rum.Anycast {
				continue
			}
			if s.Probe != rum.ProbeHTTPS || b.Agent.Timer == "gettickcount" {
				t.Fatalf("clean world wrote a noisy sample: %+v", s)
			}
			k := key{b.ClientSubnet, idx[s.Target]}
			samples[k] = append(samples[k], s.RTTms)
		}
	}
	bad := 0
	for k, xs := range samples {
		sort.Float64s(xs)
		med := xs[len(xs)/2]
		tr := truth[k.n]
		want := tr.Quantile(k.p, 0.5)
		// the median of 60 exponential draws is within ~0.35 means of the truth
		if math.Abs(med-want) > 0.4*float64(tr.Jitter[k.p])+0.2 {
			bad++
		}
	}
	if len(samples) < 300*len(w.PoPs)*9/10 {
		t.Fatalf("only %d (network, PoP) pairs measured", len(samples))
	}
	if bad > len(samples)/100 {
		t.Errorf("%d of %d (network, PoP) sample medians far from the truth", bad, len(samples))
	}
}

func TestNoiseAppears(t *testing.T) {
	_, _, rep := testWorld(t)
	c := rep.Counts
	for name, v := range map[string]int{
		"tick-timer beacons": c.TickBeacons, "hijacked beacons": c.HijackedBeacons, "plain-probe beacons": c.PlainBeacons,
		"bad samples": c.BadSamples, "lost samples": c.Lost, "future beacons": c.FutureBeacons,
		"ancient beacons": c.AncientBeacons, "DNS duplicates": c.DNSDuplicates, "DNS prefetches": c.DNSPrefetches,
		"GeoIP errors": c.GeoWrong, "IPv6 networks": c.IPv6Networks,
	} {
		if v == 0 {
			t.Errorf("no %s in the test world", name)
		}
	}
}

// TestBlocksMostlyOneCity: most of a block's networks are in its home city.
func TestBlocksMostlyOneCity(t *testing.T) {
	_, w, _ := testWorld(t)
	home, all := 0, 0
	for _, b := range w.Blocks {
		for _, p := range b.Parts {
			if p.City == b.Parts[0].City {
				home += p.N
			}
			all += p.N
		}
	}
	if share := float64(home) / float64(all); share < 0.75 || share > 0.95 {
		t.Errorf("%.1f%% of networks in their block's home city; want most, not all", 100*share)
	}
}

// TestScatter: Options.Scatter moves networks away from the city GeoIP
// gives their block: none at 0, more as it grows, never more than asked
// (a draw may land in the home city again), and GeoIP still places each
// block without a deliberate error at its home city.
func TestScatter(t *testing.T) {
	prev := -1.0
	for _, s := range []float64{0, 0.15, 0.5, 0.9} {
		o := smallOptions()
		o.Scatter = s
		w, err := Plan(o)
		if err != nil {
			t.Fatal(err)
		}
		away, all := 0, 0
		for _, b := range w.Blocks {
			home := b.Parts[0].City
			if b.GeoErr == "" && b.Geo != home {
				t.Fatalf("scatter %v: block %v without a GeoIP error placed in city %d, home %d", s, b.Prefix, b.Geo, home)
			}
			for _, p := range b.Parts {
				if p.City != home {
					away += p.N
				}
				all += p.N
			}
		}
		share := float64(away) / float64(all)
		t.Logf("scatter %.2f: %.1f%% of %d networks away from their block's home city", s, 100*share, all)
		switch {
		case s == 0 && away != 0:
			t.Errorf("scatter 0: %d networks away from home", away)
		// a block's first network is always at home, and a draw by
		// population often lands in the home city again: on this world
		// about 37 % of the option is realized
		case s > 0 && (share > s || share < s/4):
			t.Errorf("scatter %v: %.1f%% of networks away from home, want at most %v%% and at least a quarter of it", s, 100*share, 100*s)
		case share <= prev:
			t.Errorf("scatter %v: %.1f%% away, not more than the previous %.1f%%", s, 100*share, 100*prev)
		}
		prev = share
	}
}

// TestAwayShare: a block's share of scattered networks stays in [0, 1],
// averages Scatter, and is today's 0.3×x bit for bit at the default.
func TestAwayShare(t *testing.T) {
	w := &World{Opt: DefaultOptions()}
	for i := range 1000 {
		x := float64(i) / 1000
		if got, want := w.awayShare(x), 0.3*x; got != want {
			t.Fatalf("default scatter: awayShare(%v) = %v, want %v", x, got, want)
		}
	}
	for _, s := range []float64{0, 0.1, 0.5, 0.7, 1} {
		w.Opt.Scatter = s
		var sum float64
		const n = 10000
		for i := range n {
			a := w.awayShare((float64(i) + 0.5) / n)
			if a < 0 || a > 1 {
				t.Fatalf("scatter %v: share %v outside [0, 1]", s, a)
			}
			sum += a
		}
		if mean := sum / n; math.Abs(mean-s) > 1e-9 {
			t.Errorf("scatter %v: mean share %v", s, mean)
		}
	}
}

func TestRangePrefixes(t *testing.T) {
	p := netip.MustParsePrefix("10.0.0.0/16")
	got := rangePrefixes(p, 3, 6)
	want := []string{"10.0.3.0/24", "10.0.4.0/22", "10.0.8.0/24"}
	if len(got) != len(want) {
		t.Fatalf("got %v", got)
	}
	for i := range got {
		if got[i].String() != want[i] {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
	p6 := netip.MustParsePrefix("2001:db8::/48")
	if got := rangePrefixes(p6, 0, 256); len(got) != 1 || got[0] != p6 {
		t.Errorf("whole /48: %v", got)
	}
	if got := unitPrefix(p6, 255); got.String() != "2001:db8:0:ff00::/56" {
		t.Errorf("unit 255: %v", got)
	}
}

func TestOptionsValidate(t *testing.T) {
	for _, tc := range []struct {
		mod  func(*Options)
		want string
	}{
		{func(o *Options) { o.Networks = 0 }, "networks: 0 out of range"},
		{func(o *Options) { o.Measured = 1.5 }, "measured: 1.5 is not a share"},
		{func(o *Options) { o.BeaconsMin, o.BeaconsMax = 5, 2 }, "beacons: range 5-2 invalid"},
		{func(o *Options) { o.PoPs = nil }, "pops: 0 PoPs"},
		{func(o *Options) { o.PoPs = []PoPSpec{{"a b", "London"}} }, `label "a b"`},
		{func(o *Options) { o.PoPs = []PoPSpec{{"anycast", "London"}} }, "reserved"},
		// popmap would take it, but beacons (package rum) would not
		{func(o *Options) { o.PoPs = []PoPSpec{{"FRA", "London"}} }, `label "FRA" must be lowercase`},
		{func(o *Options) { o.PoPs = []PoPSpec{{"x", "London"}, {"x", "Paris"}} }, `label "x" twice`},
		{func(o *Options) { o.Zone = "example.net." }, "zone"},
		{func(o *Options) { o.Exclude = []string{"cn"} }, "exclude"},
		{func(o *Options) { o.Noise.Duplicate = -1 }, "noise.duplicate"},
		{func(o *Options) { o.EdgeRequests = -1 }, "edge-requests: -1 out of range"},
		{func(o *Options) { o.EdgeRequests = math.NaN() }, "edge-requests"},
		{func(o *Options) { o.Scatter = 1.5 }, "scatter: 1.5 is not a share"},
		{func(o *Options) { o.Scatter = math.NaN() }, "scatter: NaN is not a share"},
	} {
		o := DefaultOptions()
		tc.mod(&o)
		err := o.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("error %v, want %q", err, tc.want)
		}
	}
	if _, err := Plan(Options{}); err == nil {
		t.Error("zero options planned a world")
	}
	o := DefaultOptions()
	o.PoPs = []PoPSpec{{"xyz", "Atlantis"}}
	if _, err := Plan(o); err == nil || !strings.Contains(err.Error(), `no measured city "Atlantis"`) {
		t.Errorf("unknown city: %v", err)
	}
	ps, err := ParsePoPs(FormatPoPs(DefaultPoPs))
	if err != nil || !slices.Equal(ps, DefaultPoPs) {
		t.Errorf("ParsePoPs(FormatPoPs) = %v, %v", ps, err)
	}
	for _, bad := range []string{"", "lhr", "=London", "lhr="} {
		if _, err := ParsePoPs(bad); err == nil {
			t.Errorf("ParsePoPs(%q) accepted", bad)
		}
	}
}

// TestFiberStretch refits fiberStretch on the cleaned matrix.
func TestFiberStretch(t *testing.T) {
	m, _, err := data.LoadMatrix()
	if err != nil {
		t.Fatal(err)
	}
	var rs []float64
	for i := range m.N() {
		for j := range m.N() {
			p, ok := m.RTT(i, j)
			if i == j || !ok {
				continue
			}
			a, b := m.Servers[i], m.Servers[j]
			if km := geoip.Distance(a.Lat, a.Lon, b.Lat, b.Lon); km >= 1000 {
				rs = append(rs, p.Min/(km/100))
			}
		}
	}
	sort.Float64s(rs)
	med := rs[len(rs)/2]
	if math.Abs(med-fiberStretch)/med > 0.05 {
		t.Errorf("median stretch over %d pairs is %.3f; fiberStretch = %v", len(rs), med, fiberStretch)
	}
}

// TestRealEffects checks, on the default PoPs and the real matrix, the
// effects that make latency steering worth it (see the issue and README):
// the PoP nearest on the map is not the fastest.
func TestRealEffects(t *testing.T) {
	o := DefaultOptions()
	o.Networks = 1
	w, err := Plan(o)
	if err != nil {
		t.Fatal(err)
	}
	pop := func(l popmap.Label) int {
		for i, p := range w.PoPs {
			if p.Label == l {
				return i
			}
		}
		t.Fatalf("no PoP %s", l)
		return -1
	}
	for _, tc := range []struct {
		city             string
		nearest, fastest popmap.Label
	}{
		{"Johannesburg", "gru", "lhr"}, // 343 ms vs 156 ms
		{"Reykjavik", "osl", "lhr"},
		{"Vienna", "waw", "fra"},
		{"Budapest", "waw", "fra"},
		{"Bratislava", "waw", "fra"},
	} {
		a := w.Matrix.Index(tc.city)
		if a < 0 {
			t.Fatalf("no measured city %s", tc.city)
		}
		s := w.Matrix.Servers[a]
		sites := make([]geoip.Site, len(w.PoPs))
		for i, p := range w.PoPs {
			sites[i] = geoip.Site{Label: p.Label, Lat: p.Lat, Lon: p.Lon}
		}
		if got := geoip.Nearest(s.Lat, s.Lon, sites)[0]; got != tc.nearest {
			t.Errorf("%s: nearest PoP %s, want %s", tc.city, got, tc.nearest)
		}
		best := 0
		for i, p := range w.PoPs {
			if w.mrtt(a, p.server) < w.mrtt(a, w.PoPs[best].server) {
				best = i
			}
		}
		if w.PoPs[best].Label != tc.fastest {
			t.Errorf("%s: fastest PoP %s (%.0f ms), want %s (%.0f ms)", tc.city, w.PoPs[best].Label,
				w.mrtt(a, w.PoPs[best].server), tc.fastest, w.mrtt(a, w.PoPs[pop(tc.fastest)].server))
		}
		if n, f := w.mrtt(a, w.PoPs[pop(tc.nearest)].server), w.mrtt(a, w.PoPs[pop(tc.fastest)].server); n <= f {
			t.Errorf("%s: nearest %s %.0f ms is not slower than %s %.0f ms", tc.city, tc.nearest, n, tc.fastest, f)
		}
	}
}

func TestReport(t *testing.T) {
	dir, _, rep := testWorld(t)
	var a, b bytes.Buffer
	if err := rep.Write(&a); err != nil {
		t.Fatal(err)
	}
	again, err := ReadReport(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := again.Write(&b); err != nil {
		t.Fatal(err)
	}
	if a.String() != b.String() {
		t.Errorf("report from the run and from the truth file differ:\n%s\n---\n%s", a.String(), b.String())
	}
	saved, _ := os.ReadFile(filepath.Join(dir, FileReport))
	if string(saved) != a.String() {
		t.Error("report.txt differs from the report")
	}
	out := a.String()
	for _, want := range []string{"latency-best (perfect map)", "anycast (BGP)", "geo (GeoIP database)", "Worst cases", "Johannesburg, ZA", "best lhr"} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	// a perfect map is never worse than any other strategy
	for s := range nStrat {
		for q := range 3 {
			if rep.pct[stratBest][q] > rep.pct[s][q]+1e-9 {
				t.Errorf("perfect map p%d %.1f worse than %s %.1f", q, rep.pct[stratBest][q], stratNames[s], rep.pct[s][q])
			}
		}
	}
}

// FuzzReadTruth: the truth parser never panics and names the line of what
// it rejects. Seeds: a real truth file's head, and damaged variants.
func FuzzReadTruth(f *testing.F) {
	h := &TruthHeader{PoPs: []TruthPoP{{"lhr", "London", "GB", 51.5, -0.1}, {"gru", "SaoPaulo", "BR", -23.5, -46.6}}}
	var body bytes.Buffer
	if err := h.write(&body); err != nil {
		f.Fatal(err)
	}
	for i, n := range []string{"192.0.2.0/24", "2001:db8:0:100::/56"} {
		rec := TruthRecord{
			Network: netip.MustParsePrefix(n), Weight: 12.5, City: "Johannesburg", Country: "ZA", Lat: -26.2, Lon: 28.04,
			ASN: 3741, Resolver: netip.MustParseAddr("198.51.100.53"), ResolverECS: i == 1, Measured: true,
			Anycast: i, Geo: i - 1, Base: []float32{156.5, 343.4}, Jitter: []float32{1.5, 2.5},
		}
		body.Write(rec.append(nil, h))
	}
	good := body.String()
	f.Add(good)
	f.Add(strings.Replace(good, "/", "|", 1))
	f.Add(strings.Replace(good, "\t", " ", 5))
	f.Add(good[:len(good)/2])
	f.Add(strings.Replace(good, "#pop\tlhr", "#pop\tams", 1))
	f.Add(strings.Replace(good, "network\t", "#closed\tgru\nnetwork\t", 1))
	f.Add(strings.Replace(good, "network\t", "#closed\tzzz\nnetwork\t", 1))
	f.Fuzz(func(t *testing.T, s string) {
		var zb bytes.Buffer
		zw := gzip.NewWriter(&zb)
		if _, err := zw.Write([]byte(s)); err != nil {
			t.Fatal(err)
		}
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
		_, err := readTruth(&zb, func(h *TruthHeader, r *TruthRecord) error {
			if !r.Network.IsValid() || r.Network != r.Network.Masked() || r.Anycast < 0 || r.Anycast >= len(h.PoPs) || r.Geo >= len(h.PoPs) {
				t.Fatalf("accepted a bad record: %+v", r)
			}
			return nil
		})
		if err != nil && !strings.Contains(err.Error(), "line ") && !strings.Contains(err.Error(), "truncated") && !strings.Contains(err.Error(), "gzip") {
			t.Fatalf("error names no line: %v", err)
		}
	})
}
