package mapeval

import (
	"cmp"
	"math"
	"net/netip"
	"path/filepath"
	"slices"
	"testing"

	"github.com/steer-gslb/steer/geoip"
	"github.com/steer-gslb/steer/popmap"
	"github.com/steer-gslb/steer/sim"
)

// world writes a small simulated world and returns its directory.
func world(t *testing.T) string {
	t.Helper()
	o := sim.DefaultOptions()
	o.Networks, o.Seed, o.Measured = 3000, 5, 0.05
	w, err := sim.Plan(o)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if _, err := sim.Generate(w, dir, nil); err != nil {
		t.Fatal(err)
	}
	return dir
}

type rec struct {
	net      netip.Prefix
	w        float64
	res      netip.Addr
	ecs      bool
	measured bool
	geo, any int
	lat      []float64
}

func readAll(t *testing.T, dir string) (*sim.TruthHeader, []rec) {
	t.Helper()
	var out []rec
	h, err := sim.ReadTruth(filepath.Join(dir, sim.FileTruth), func(h *sim.TruthHeader, r *sim.TruthRecord) error {
		x := rec{net: r.Network, w: r.Weight, res: r.Resolver, ecs: r.ResolverECS, measured: r.Measured, geo: r.Geo, any: r.Anycast}
		for p := range h.PoPs {
			x.lat = append(x.lat, r.Quantile(p, 0.5))
		}
		out = append(out, x)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return h, out
}

func argmin(xs []float64) int {
	b := 0
	for i := range xs {
		if xs[i] < xs[b] {
			b = i
		}
	}
	return b
}

// refP75 is a slow, independent traffic-weighted p75 (0.1 ms bins, as the
// histograms).
func refPct(vals, ws []float64, q float64) float64 {
	type vw struct{ v, w float64 }
	var xs []vw
	var total float64
	for i := range vals {
		xs = append(xs, vw{math.Round(vals[i]*10) / 10, ws[i]})
		total += ws[i]
	}
	slices.SortFunc(xs, func(a, b vw) int { return cmp.Compare(a.v, b.v) })
	cum := 0.0
	for _, x := range xs {
		cum += x.w
		if x.w > 0 && cum >= q*total*(1-1e-12) {
			return x.v
		}
	}
	return math.NaN()
}

func TestEvaluate(t *testing.T) {
	dir := world(t)
	h, recs := readAll(t, dir)
	truth := filepath.Join(dir, sim.FileTruth)
	db, err := geoip.Open(filepath.Join(dir, sim.FileGeoIP))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = db.Close() }()

	// A geo map (no map, GeoIP fallback) scores exactly what the truth's
	// geo column says.
	geo, err := Evaluate(Input{Truth: truth, Geo: db})
	if err != nil {
		t.Fatal(err)
	}
	var vals, ws []float64
	var reg, tw float64
	for _, r := range recs {
		p := r.geo
		if p < 0 {
			p = r.any
		}
		vals, ws = append(vals, r.lat[p]), append(ws, r.w)
		reg += r.w * (r.lat[p] - r.lat[argmin(r.lat)])
		tw += r.w
	}
	if got, want := geo.PerNetwork.P75, refPct(vals, ws, 0.75); got != want {
		t.Errorf("geo p75 %v, independent %v", got, want)
	}
	if got, want := geo.PerNetwork.Regret, reg/tw; math.Abs(got-want) > 1e-6*want {
		t.Errorf("geo regret %v, independent %v", got, want)
	}
	if geo.PerNetwork.Coverage != 0 || geo.PerNetwork.Networks != len(recs) {
		t.Errorf("geo: %+v", geo.PerNetwork)
	}

	// A perfect map: every network's best PoP, and each resolver without
	// ECS its clients' best PoP (computed here independently).
	sums := map[netip.Addr][]float64{}
	m := &popmap.Map{}
	for _, r := range recs {
		m.Entries = append(m.Entries, popmap.Entry{Networks: []netip.Prefix{r.net}, Labels: []popmap.Label{h.PoPs[argmin(r.lat)].Label}})
		if !r.ecs {
			s := sums[r.res]
			if s == nil {
				s = make([]float64, len(h.PoPs))
				sums[r.res] = s
			}
			for p := range s {
				s[p] += r.w * r.lat[p]
			}
		}
	}
	perNet, err := popmap.Compile(m)
	if err != nil {
		t.Fatal(err)
	}
	res, err := Evaluate(Input{Truth: truth, Map: perNet, Geo: db})
	if err != nil {
		t.Fatal(err)
	}
	if s := res.PerNetwork; s.Regret != 0 || s.AtBest != 1 || s.Coverage != 1 || s.P75 != res.BestPerNetwork.P75 {
		t.Errorf("perfect per-network map: %+v (best %+v)", s, res.BestPerNetwork)
	}
	if res.Served.Regret <= res.BestServed.Regret {
		t.Errorf("without resolver entries, serving (regret %v) should be worse than the best per resolver (%v)", res.Served.Regret, res.BestServed.Regret)
	}
	for r, s := range sums {
		m.Entries = append(m.Entries, popmap.Entry{Networks: []netip.Prefix{netip.PrefixFrom(r, r.BitLen())}, Labels: []popmap.Label{h.PoPs[argmin(s)].Label}})
	}
	full, err := popmap.Compile(m)
	if err != nil {
		t.Fatal(err)
	}
	res2, err := Evaluate(Input{Truth: truth, Map: full, Geo: db})
	if err != nil {
		t.Fatal(err)
	}
	if d := math.Abs(res2.Served.Regret - res2.BestServed.Regret); d > 1e-9 || res2.Served.P75 != res2.BestServed.P75 {
		t.Errorf("with resolver entries, served %+v != best served %+v", res2.Served, res2.BestServed)
	}
	if res2.BestServed.Regret < res2.BestPerNetwork.Regret || res2.BestServed.Regret == 0 {
		t.Errorf("one PoP per resolver cannot beat one per network: %v vs %v", res2.BestServed.Regret, res2.BestPerNetwork.Regret)
	}
	// and the latency map beats geo, as the world was built to show
	if res.PerNetwork.P75 >= geo.PerNetwork.P75 {
		t.Errorf("perfect map p75 %v not better than geo %v", res.PerNetwork.P75, geo.PerNetwork.P75)
	}

	if _, err := Evaluate(Input{Truth: truth, Quantile: 1.5}); err == nil {
		t.Error("quantile 1.5 accepted")
	}
	if _, err := Evaluate(Input{Truth: filepath.Join(dir, "nope")}); err == nil {
		t.Error("a missing truth file accepted")
	}
}

// TestBlockOracle: the per-block oracle can only do as well as or better
// than any per-block choice, the geo map among them (GeoIP gives a whole
// block one location, so one nearest PoP), and no better than each
// network at its own best.
func TestBlockOracle(t *testing.T) {
	dir := world(t)
	db, err := geoip.Open(filepath.Join(dir, sim.FileGeoIP))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = db.Close() }()
	geo, err := Evaluate(Input{Truth: filepath.Join(dir, sim.FileTruth), Geo: db})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	var regret, geoRegret, traffic float64
	n := 0
	for _, c := range geo.Classes {
		names = append(names, c.Name)
		regret += c.Oracle.Regret * c.Oracle.Traffic
		geoRegret += c.Geo.Regret * c.Geo.Traffic
		traffic += c.Oracle.Traffic
		n += c.Oracle.Networks
		if c.Map != c.Geo {
			t.Errorf("%s: with no map, the map's score %+v differs from the geo map's %+v", c.Name, c.Map, c.Geo)
		}
	}
	if !slices.Equal(names, []string{ClassMeasured, ClassFallback}) {
		t.Errorf("classes %q, want measured and fallback (no map)", names)
	}
	regret /= traffic
	if n != geo.PerNetwork.Networks {
		t.Errorf("classes hold %d networks, the world has %d", n, geo.PerNetwork.Networks)
	}
	if d := geoRegret/traffic - geo.PerNetwork.Regret; math.Abs(d) > 1e-6 {
		t.Errorf("classes' geo regret differs from the whole view's by %g ms", d)
	}
	if !(regret >= 0) || regret > geo.PerNetwork.Regret+1e-9 {
		t.Errorf("block oracle regret %.3f ms, geo map %.3f ms: the oracle must be in [0, geo]", regret, geo.PerNetwork.Regret)
	}
	if regret < 0.01 {
		t.Errorf("block oracle regret %.3f ms: blocks hold networks with different best PoPs, so it cannot be ~0", regret)
	}
}

// TestClasses: the per-network view splits by where each answer came from,
// as the Source function names it, and the classes add up to the whole.
func TestClasses(t *testing.T) {
	dir := world(t)
	h, recs := readAll(t, dir)
	db, err := geoip.Open(filepath.Join(dir, sim.FileGeoIP))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = db.Close() }()
	// measured networks and every other unmeasured one at their best PoP
	m := &popmap.Map{}
	from := map[netip.Prefix]string{}
	unmeasured := 0
	for _, r := range recs {
		if !r.measured {
			if unmeasured++; unmeasured%2 == 0 {
				continue
			}
			from[r.net] = "best-guess"
		}
		m.Entries = append(m.Entries, popmap.Entry{Networks: []netip.Prefix{r.net}, Labels: []popmap.Label{h.PoPs[argmin(r.lat)].Label}})
	}
	tab, err := popmap.Compile(m)
	if err != nil {
		t.Fatal(err)
	}
	res, err := Evaluate(Input{Truth: filepath.Join(dir, sim.FileTruth), Map: tab, Geo: db,
		Source: func(p netip.Prefix) string { return from[p] }})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	n := 0
	var oracle, equal float64
	for _, c := range res.Classes {
		names = append(names, c.Name)
		n += c.Map.Networks
		oracle += c.Oracle.Regret * c.Oracle.Traffic
		equal += c.OracleEqual.Regret * c.OracleEqual.Traffic
		switch c.Name {
		case ClassMeasured, "best-guess":
			if c.Map.Regret != 0 || c.Map.Coverage != 1 {
				t.Errorf("%s: every network at its best, scored %+v", c.Name, c.Map)
			}
		case ClassFallback:
			if c.Map != c.Geo || c.Map.Coverage != 0 {
				t.Errorf("fallback: map %+v, geo %+v: the same choices must score the same", c.Map, c.Geo)
			}
		}
		if c.Geo.Regret < c.Map.Regret {
			t.Errorf("%s: geo regret %.2f below the map's %.2f", c.Name, c.Geo.Regret, c.Map.Regret)
		}
	}
	if !slices.Equal(names, []string{ClassMeasured, "best-guess", ClassFallback}) {
		t.Errorf("classes %q", names)
	}
	if n != len(recs) || n != res.PerNetwork.Networks {
		t.Errorf("classes hold %d networks, the world %d", n, len(recs))
	}
	if c := res.Classes[1]; c.Map.Networks != (unmeasured+1)/2 {
		t.Errorf("best-guess class: %d networks, %d were given entries", c.Map.Networks, (unmeasured+1)/2)
	}
	// over every network, the traffic-weighted oracle is the best per block
	if oracle > equal+1e-6 {
		t.Errorf("traffic-weighted oracle %.3f worse than the equal-weight one %.3f", oracle, equal)
	}
}

// TestExtrapolated: the extrapolated networks' regret against OracleEqual,
// traffic-weighted and with every network counted once, checked against an
// independent computation on a map that sends two of every three networks
// without beacons to their second-best PoP.
func TestExtrapolated(t *testing.T) {
	dir := world(t)
	h, recs := readAll(t, dir)
	db, err := geoip.Open(filepath.Join(dir, sim.FileGeoIP))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = db.Close() }()
	second := func(lat []float64) int {
		b, s := argmin(lat), -1
		for p := range lat {
			if p != b && (s < 0 || lat[p] < lat[s]) {
				s = p
			}
		}
		return s
	}
	m := &popmap.Map{}
	from := map[netip.Prefix]string{}
	blockSums := map[netip.Prefix][]float64{}
	blockOfRec := make([]netip.Prefix, len(recs))
	for i, r := range recs {
		_, blk, ok := db.Locate(r.net.Addr())
		if !ok && !blk.IsValid() {
			blk = r.net
		}
		blockOfRec[i] = blk
		s := blockSums[blk]
		if s == nil {
			s = make([]float64, len(r.lat))
			blockSums[blk] = s
		}
		for p := range s {
			s[p] += r.lat[p]
		}
		p := argmin(r.lat)
		if !r.measured {
			if i%3 == 0 {
				continue // no entry: the fallback
			}
			from[r.net] = "second"
			p = second(r.lat)
		}
		m.Entries = append(m.Entries, popmap.Entry{Networks: []netip.Prefix{r.net}, Labels: []popmap.Label{h.PoPs[p].Label}})
	}
	tab, err := popmap.Compile(m)
	if err != nil {
		t.Fatal(err)
	}
	res, err := Evaluate(Input{Truth: filepath.Join(dir, sim.FileTruth), Map: tab, Geo: db,
		Source: func(p netip.Prefix) string { return from[p] }})
	if err != nil {
		t.Fatal(err)
	}
	// independently: the "second" networks' regret, and OracleEqual's
	// (each block's PoP least in the plain sum of its networks' latencies)
	var n int
	var w, reg, regOnce, eq, eqOnce float64
	for i, r := range recs {
		if from[r.net] != "second" {
			continue
		}
		best := r.lat[argmin(r.lat)]
		d := r.lat[second(r.lat)] - best
		de := r.lat[argmin(blockSums[blockOfRec[i]])] - best
		n++
		w += r.w
		reg += r.w * d
		eq += r.w * de
		regOnce += d
		eqOnce += de
	}
	if n == 0 {
		t.Fatal("no networks without beacons in the world")
	}
	got := Extrapolated(res.Classes)
	near := func(a, b float64) bool { return math.Abs(a-b) <= 1e-6*max(1, math.Abs(b)) }
	if got.Networks != n || !near(got.Traffic, w) {
		t.Errorf("extrapolated: %d networks, traffic %g; want %d, %g", got.Networks, got.Traffic, n, w)
	}
	for _, c := range []struct {
		name      string
		got, want float64
	}{
		{"regret", got.Regret, reg / w}, {"equal oracle", got.OracleEqual, eq / w},
		{"regret counted once", got.RegretOnce, regOnce / float64(n)}, {"equal oracle counted once", got.OracleEqualOnce, eqOnce / float64(n)},
		{"the class's own regret", got.Regret, res.Extrapolated.Regret},
	} {
		if !near(c.got, c.want) {
			t.Errorf("%s: %.6f ms, want %.6f", c.name, c.got, c.want)
		}
	}
	if got.Regret <= 0 || got.OracleEqualOnce <= 0 {
		t.Fatalf("degenerate world: regret %v, equal oracle %v", got.Regret, got.OracleEqualOnce)
	}
	rw, ro, ok := got.Ratio()
	if !ok || !near(rw, reg/eq) || !near(ro, regOnce/eqOnce) {
		t.Errorf("ratios %v, %v (%v); want %v, %v", rw, ro, ok, reg/eq, regOnce/eqOnce)
	}
	// the measured class (every network at its best) counts nowhere
	for _, c := range res.Classes {
		if c.Name == ClassMeasured && (c.MapOnce != 0 || c.Map.Regret != 0) {
			t.Errorf("measured networks at their best: regret %v, counted once %v", c.Map.Regret, c.MapOnce)
		}
	}
	if e := Extrapolated(nil); e != (Extrapolation{}) {
		t.Errorf("no classes: %+v", e)
	}
	if _, _, ok := Extrapolated(nil).Ratio(); ok {
		t.Error("no classes: a ratio")
	}
}

// TestClosedPoPIsNoGeoAnswer: in a timed world's period before a PoP
// opens, the geo strategy never answers with that PoP (its truth column
// is ClosedRTT), while after the opening it may.
func TestClosedPoPIsNoGeoAnswer(t *testing.T) {
	o := sim.DefaultOptions()
	o.Networks, o.Seed, o.Measured, o.Days = 3000, 5, 0.05, 2
	ev, err := sim.ParseEvent("day=1,kind=pop-open,pop=fra")
	if err != nil {
		t.Fatal(err)
	}
	o.Events = []sim.Event{ev}
	w, err := sim.Plan(o)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if _, err := sim.Generate(w, dir, nil); err != nil {
		t.Fatal(err)
	}
	db, err := geoip.Open(filepath.Join(dir, sim.FileGeoIP))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = db.Close() }()
	before, err := sim.TruthAt(dir, o.Start)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		truth  string
		closed bool
	}{{before, true}, {filepath.Join(dir, sim.FileTruth), false}} {
		r, err := Evaluate(Input{Truth: c.truth, Geo: db})
		if err != nil {
			t.Fatal(err)
		}
		// a geo answer at a closed PoP costs ClosedRTT (10 s): the geo
		// map's mean regret (~30 ms on this world) would show it
		t.Logf("%s: geo map regret %.1f ms", filepath.Base(c.truth), r.PerNetwork.Regret)
		if c.closed && r.PerNetwork.Regret > 100 {
			t.Errorf("%s: the geo map's mean regret is %.0f ms: it answers with the PoP not open yet", filepath.Base(c.truth), r.PerNetwork.Regret)
		}
	}
}
