package builder

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/steer-gslb/steer/popmap"
	"github.com/steer-gslb/steer/rum"
	"github.com/steer-gslb/steer/store"
	"github.com/steer-gslb/steer/store/duckstore"
)

// cleanBeacon adds the honest measurements of a network: near at 20-22 ms,
// far at 40-42 ms (p75: 21.5 against 41.5).
func cleanBeacon(s *beaconSet, pfx string) { cleanTestBeacon(s, pfx, "") }

// cleanTestBeacon is cleanBeacon with a DNS test name.
func cleanTestBeacon(s *beaconSet, pfx, dnsTest string) {
	s.add(pfx, "qpc", dnsTest,
		smp{pop: near, rtt: 20}, smp{pop: near, rtt: 21}, smp{pop: near, rtt: 22},
		smp{pop: far, rtt: 40}, smp{pop: far, rtt: 41}, smp{pop: far, rtt: 42})
}

// closeBeacon adds honest measurements of a network where the PoPs are
// close: near at 20-21 ms, far at 24-25 ms (p75: 20.75 against 24.75),
// the case a tick-counting clock turns around.
func closeBeacon(s *beaconSet, pfx string) {
	s.add(pfx, "qpc", "",
		smp{pop: near, rtt: 20}, smp{pop: near, rtt: 20.5}, smp{pop: near, rtt: 21},
		smp{pop: far, rtt: 24}, smp{pop: far, rtt: 24.5}, smp{pop: far, rtt: 25})
}

// dirtyNets fills a store with, for every test network, the honest beacon
// base writes and reps beacons of dirt from a clock named timer.
func dirtyNets(base func(*beaconSet, string), reps int, timer string, dirt ...smp) func(*testing.T, *duckstore.DB) []string {
	return func(t *testing.T, st *duckstore.DB) []string {
		var s beaconSet
		for _, n := range testNets {
			base(&s, n)
			for range reps {
				s.add(n, timer, "", dirt...)
			}
		}
		s.store(t, st)
		return nil
	}
}

var testNets = []string{"192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24"}

const year = 365 * 24 * time.Hour

// ruleCase is a store whose dirty input, without rule, makes the map send
// clients (networks) and resolvers (addresses) to far instead of near.
type ruleCase struct {
	rule      Rule
	why       string
	fill      func(t *testing.T, st *duckstore.DB) (bgp []string)
	clients   []string // client networks to look up
	resolvers []string // resolver addresses to look up
	count     int      // what the rule counts when on
}

var ruleCases = []ruleCase{
	{
		rule: RuleHTTPSOnly,
		why:  "a middlebox answers plain HTTP and TCP probes to far in 1-3 ms",
		fill: dirtyNets(cleanBeacon, 2, "qpc",
			smp{pop: far, rtt: 1, probe: rum.ProbeHTTP}, smp{pop: far, rtt: 1.5, probe: rum.ProbeHTTP},
			smp{pop: far, rtt: 2, probe: rum.ProbeHTTP}, smp{pop: far, rtt: 2.5, probe: rum.ProbeHTTP},
			smp{pop: far, rtt: 3, probe: rum.ProbeHTTP}, smp{pop: far, rtt: 1.2, probe: rum.ProbeTCP},
			smp{pop: far, rtt: 2.2, probe: rum.ProbeTCP}, smp{pop: near, rtt: 20.5}),
		clients: testNets,
		count:   3 * 2 * 7,
	},
	{
		rule: RuleImpossibleRTT,
		why:  "broken clocks report near at 500 s to 1e9 ms and far at sub-microsecond or negative RTTs",
		fill: func(t *testing.T, st *duckstore.DB) []string {
			var s beaconSet
			for _, n := range testNets {
				cleanBeacon(&s, n)
				s.add(n, "qpc", "", smp{pop: near, rtt: 1e9}, smp{pop: near, rtt: 1e6}, smp{pop: near, rtt: 5e5})
				s.add(n, "qpc", "", smp{pop: far, rtt: 0.0004}, smp{pop: far, rtt: 0.0002},
					smp{pop: far, rtt: 0.0009}, smp{pop: far, rtt: 0})
			}
			s.store(t, st)
			return nil
		},
		clients: testNets,
		count:   3 * 7,
	},
	{
		rule: RuleBadClock,
		why:  "samples stamped two years back (before a route change, when far was fast) and three years ahead",
		fill: dirtyNets(cleanBeacon, 2, "qpc",
			smp{pop: far, rtt: 8, at: -2 * year}, smp{pop: far, rtt: 9, at: -2 * year},
			smp{pop: far, rtt: 10, at: -2 * year}, smp{pop: far, rtt: 8.5, at: -2 * year},
			smp{pop: near, rtt: 90, at: 3 * year}),
		clients: testNets,
		count:   3 * 2 * 5,
	},
	{
		rule: RuleTickTimer,
		why:  "GetTickCount reads the 24 ms PoP as 15-16 ms and the 20 ms PoP as 31-32 ms, in beacons too short for the detector",
		fill: dirtyNets(closeBeacon, 3, "GetTickCount64",
			smp{pop: near, rtt: 31}, smp{pop: near, rtt: 32},
			smp{pop: far, rtt: 15}, smp{pop: far, rtt: 16}),
		clients: testNets,
		count:   3 * 3 * 4,
	},
	{
		rule: RuleTickDetected,
		why:  "an undeclared 64 Hz clock reads the 24 ms PoP as 15.6 ms and the 20 ms PoP as 31.25 ms",
		fill: dirtyNets(closeBeacon, 2, "",
			smp{pop: near, rtt: 31.2}, smp{pop: near, rtt: 31.25}, smp{pop: near, rtt: 31.3},
			smp{pop: far, rtt: 15.6}, smp{pop: far, rtt: 15.625}, smp{pop: far, rtt: 15.7}),
		clients: testNets,
		count:   3 * 2 * 6,
	},
	{
		rule: RuleDNSDuplicate,
		why: "the test names of another resolver's clients (for whom far is best) are queried again " +
			"by resolver 198.51.100.53, a prefetch, after their own resolver queried them first",
		fill: func(t *testing.T, st *duckstore.DB) []string {
			var s beaconSet
			var qs []rum.LogEntry
			// 192.0.2.0/24 resolves through 198.51.100.53: near is its best
			for _, name := range []string{"t1a.rum.example.net", "t1b.rum.example.net"} {
				cleanTestBeacon(&s, "192.0.2.0/24", name)
				qs = append(qs, query(name, "198.51.100.53", time.Second))
			}
			// 203.0.113.0/24 resolves through 100.64.0.53: far is its best
			for _, name := range []string{"t2a.rum.example.net", "t2b.rum.example.net", "t2c.rum.example.net"} {
				s.add("203.0.113.0/24", "qpc", name,
					smp{pop: near, rtt: 80}, smp{pop: near, rtt: 81}, smp{pop: near, rtt: 82},
					smp{pop: far, rtt: 20}, smp{pop: far, rtt: 21}, smp{pop: far, rtt: 22})
				qs = append(qs, query(name, "100.64.0.53", time.Second), query(strings.ToUpper(name), "198.51.100.53", 5*time.Second))
			}
			s.store(t, st)
			if _, err := st.AddQueries(context.Background(), qs); err != nil {
				t.Fatal(err)
			}
			return nil
		},
		resolvers: []string{"198.51.100.53"},
		count:     3,
	},
	{
		rule: RuleSparsePooled,
		why: "a network's single sample at far is noisy-low (10 ms where its /16 neighbours measure " +
			"80-84 ms); alone it wins over its own 20-22 ms at near",
		fill: func(t *testing.T, st *duckstore.DB) []string {
			var s beaconSet
			for _, g := range []string{"10.1", "10.2"} {
				for _, m := range []string{".1.0/24", ".2.0/24", ".3.0/24"} {
					s.add(g+m, "qpc", "",
						smp{pop: near, rtt: 20}, smp{pop: near, rtt: 21}, smp{pop: near, rtt: 22},
						smp{pop: near, rtt: 23}, smp{pop: near, rtt: 24},
						smp{pop: far, rtt: 80}, smp{pop: far, rtt: 81}, smp{pop: far, rtt: 82},
						smp{pop: far, rtt: 83}, smp{pop: far, rtt: 84})
				}
				s.add(g+".9.0/24", "qpc", "",
					smp{pop: near, rtt: 20}, smp{pop: near, rtt: 21}, smp{pop: near, rtt: 22},
					smp{pop: far, rtt: 10})
			}
			s.store(t, st)
			return []string{writePyASN(t, map[string]uint32{"10.1.0.0/16": 64501, "10.2.0.0/16": 64502})}
		},
		clients: []string{"10.1.9.0/24", "10.2.9.0/24"},
		count:   2,
	},
}

// TestRulesMatter builds each rule's dirty store with the rule on and off:
// on, every client network (or resolver) gets the truly better PoP and the
// report counts what the rule did; off, the dirt wins and the map picks the
// worse PoP, and the rule counts nothing.
func TestRulesMatter(t *testing.T) {
	for _, c := range ruleCases {
		t.Run(c.rule, func(t *testing.T) {
			t.Parallel()
			st := openStore(t)
			bgp := c.fill(t, st)
			for _, skip := range []bool{false, true} {
				opt := Options{}
				want := popmap.Label(near)
				if skip {
					opt.Skip = map[Rule]bool{c.rule: true}
					want = far
				}
				res := build(t, st, bgp, opt)
				for _, n := range c.clients {
					if got := firstFor(res.Table, n); got != want {
						t.Errorf("skip=%v: %s gets %q, want %q (%s)", skip, n, got, want, c.why)
					}
				}
				for _, a := range c.resolvers {
					if got := firstForResolver(res.Table, a); got != want {
						t.Errorf("skip=%v: resolver %s gets %q, want %q (%s)", skip, a, got, want, c.why)
					}
				}
				rc := ruleCount(t, res.Report, c.rule)
				switch {
				case rc.Off != skip:
					t.Errorf("skip=%v: report says off=%v", skip, rc.Off)
				case !skip && rc.Count != c.count:
					t.Errorf("rule on: report counts %d %s, want %d", rc.Count, rc.Unit, c.count)
				case skip && rc.Count != 0:
					t.Errorf("rule off: report still counts %d %s", rc.Count, rc.Unit)
				}
			}
		})
	}
}

// cleanStore is a store holding a clean beacon and a close one for each
// test network.
func cleanStore(t *testing.T) (*duckstore.DB, *beaconSet) {
	t.Helper()
	st := openStore(t)
	s := &beaconSet{}
	for _, n := range testNets {
		cleanBeacon(s, n)
		closeBeacon(s, n)
	}
	s.store(t, st)
	return st, s
}

// TestRulesCleanInputUnchanged: on clean input, switching a cleaning rule
// off changes nothing (the rules only remove dirt).
func TestRulesCleanInputUnchanged(t *testing.T) {
	st, _ := cleanStore(t)
	for _, r := range []Rule{RuleHTTPSOnly, RuleImpossibleRTT, RuleBadClock, RuleTickTimer, RuleTickDetected} {
		res := build(t, st, nil, Options{Skip: map[Rule]bool{r: true}})
		for _, n := range testNets {
			if got := firstFor(res.Table, n); got != near {
				t.Errorf("skip %s: %s gets %q, want %q", r, n, got, near)
			}
		}
		if res.Report.Inputs.Samples != 3*12 {
			t.Errorf("skip %s: %d samples used, want %d", r, res.Report.Inputs.Samples, 3*12)
		}
	}
}

func TestPercentile(t *testing.T) {
	for _, c := range []struct {
		v    []float32
		q    float64
		want float64
	}{
		{[]float32{7}, 0.75, 7},
		{[]float32{7}, 0, 7},
		{[]float32{1, 2, 3, 4}, 0, 1},
		{[]float32{1, 2, 3, 4}, 1, 4},
		{[]float32{1, 2, 3, 4}, 0.5, 2.5},   // pos 1.5
		{[]float32{1, 2, 3, 4}, 0.75, 3.25}, // pos 2.25
		{[]float32{10, 20}, 0.75, 17.5},     // pos 0.75
		{[]float32{20, 21, 22}, 0.75, 21.5}, // pos 1.5
		{[]float32{1, 2, 3, 4, 5}, 0.75, 4}, // pos 3 exactly
		{[]float32{0, 100}, 0.1, 10},
		{[]float32{5, 5, 5, 9}, 0.9, 7.8}, // pos 2.7: 5·0.3 + 9·0.7
	} {
		if got := Percentile(c.v, c.q); math.Abs(got-c.want) > 1e-9 {
			t.Errorf("Percentile(%v, %v) = %v, want %v", c.v, c.q, got, c.want)
		}
	}
	if got := Percentile(nil, 0.5); !math.IsNaN(got) {
		t.Errorf("Percentile(nil) = %v, want NaN", got)
	}
}

func TestQuantized(t *testing.T) {
	for _, c := range []struct {
		name string
		v    []float64
		want bool
	}{
		{"tick multiples", []float64{15.625, 31.25, 46.875, 62.5, 78.125}, true},
		{"16 ms multiples", []float64{16, 32, 48, 64, 80}, true},
		{"rounded ticks", []float64{15.6, 31.3, 46.9, 62.5, 15.7, 31.2}, true},
		{"only four", []float64{15.625, 31.25, 46.875, 62.5}, false},
		{"fine clock", []float64{20, 21, 22, 23, 24}, false},
		{"9 of 10 on the grid", []float64{15.625, 31.25, 46.875, 62.5, 78.125, 93.75, 109.375, 125, 140.625, 20}, true},
		{"8 of 10 on the grid", []float64{15.625, 31.25, 46.875, 62.5, 78.125, 93.75, 109.375, 125, 22, 20}, false},
		{"4 of 5 on the grid", []float64{15.625, 31.25, 46.875, 62.5, 20}, false},
		{"mixed grids", []float64{46.875, 46.875, 46.875, 48, 48}, false}, // 3 on one, 2 on the other
		{"just inside 1 ms", []float64{61.51, 61.51, 61.51, 61.51, 61.51}, true},
		{"just outside 1 ms", []float64{61.49, 61.49, 61.49, 61.49, 61.49}, false},
		{"GetTickCount truncated to whole ms", []float64{15, 31, 46, 62, 78, 93}, true},
		{"sub-5 ms values are not ticks", []float64{0.3, 0.2, 0.1, 0.4, 0.5}, false},
	} {
		if got := store.Quantized(c.v); got != c.want {
			t.Errorf("%s: store.Quantized(%v) = %v, want %v", c.name, c.v, got, c.want)
		}
	}
}

func TestIsHeldOut(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	ids := make([]uint64, 100_000)
	for i := range ids {
		ids[i] = r.Uint64()
	}
	prev := make([]bool, len(ids))
	for _, share := range []float64{0, 0.01, 0.07, 0.1, 0.25, 0.5, 0.9, 0.999} {
		n := 0
		for i, id := range ids {
			h := IsHeldOut(id, share)
			if h != IsHeldOut(id, share) {
				t.Fatalf("IsHeldOut(%d, %v) is not deterministic", id, share)
			}
			if prev[i] && !h {
				t.Errorf("id %d held out at a smaller share but not at %v", id, share)
			}
			prev[i] = h
			if h {
				n++
			}
		}
		// binomial: sd ≤ 0.0016 at 100k; 0.005 is 3 sd and more
		if got := float64(n) / float64(len(ids)); math.Abs(got-share) > 0.005 {
			t.Errorf("share %v: %v of 100k ids held out", share, got)
		}
	}
	if IsHeldOut(r.Uint64(), 0) {
		t.Error("an id held out at share 0")
	}
	for range 1000 {
		if !IsHeldOut(r.Uint64(), 1) {
			t.Fatal("an id not held out at share 1")
		}
	}
}

// TestHoldOutSplitAgrees: the store's split is IsHeldOut of the beacon
// IDs, and train and hold-out partition the store.
func TestHoldOutSplitAgrees(t *testing.T) {
	st := openStore(t)
	var s beaconSet
	for i := range 2000 {
		pfx := fmt.Sprintf("10.%d.%d.0/24", i/256, i%256)
		s.add(pfx, "qpc", "", smp{pop: near, rtt: 20 + float64(i%7)}, smp{pop: far, rtt: 40})
	}
	s.store(t, st)
	ctx := context.Background()
	for _, share := range []float64{0.07, 0.1, 0.5} {
		rows, err := st.Query(ctx, `SELECT id FROM beacons`)
		if err != nil {
			t.Fatal(err)
		}
		goHeld := 0
		for rows.Next() {
			var id uint64
			if err := rows.Scan(&id); err != nil {
				t.Fatal(err)
			}
			if IsHeldOut(id, share) {
				goHeld++
			}
		}
		_ = rows.Close()
		opt := Options{HoldOut: share}
		train, err := Load(ctx, st, opt, TrainBeacons, 0.75)
		if err != nil {
			t.Fatal(err)
		}
		held, err := Load(ctx, st, opt, HoldoutBeacons, 0.75)
		if err != nil {
			t.Fatal(err)
		}
		if held.Beacons != goHeld || train.Beacons+held.Beacons != 2000 {
			t.Errorf("share %v: train %d + held out %d beacons, want %d held out of 2000", share, train.Beacons, held.Beacons, goHeld)
		}
	}
}

// parseRulesCases are ParseRules' table, also the fuzz target's seeds.
var parseRulesCases = []struct {
	in   []string
	want []Rule
	err  bool
}{
	{nil, nil, false},
	{[]string{"https-only"}, []Rule{RuleHTTPSOnly}, false},
	{[]string{"tick-timer", "tick-detected", "tick-timer"}, []Rule{RuleTickTimer, RuleTickDetected}, false},
	{[]string{"sparse-pooled", "dns-duplicate", "bad-clock", "impossible-rtt"},
		[]Rule{RuleSparsePooled, RuleDNSDuplicate, RuleBadClock, RuleImpossibleRTT}, false},
	{[]string{""}, nil, true},
	{[]string{"HTTPS-only"}, nil, true},
	{[]string{" https-only"}, nil, true},
	{[]string{"https-only", "no-such-rule"}, nil, true},
	{[]string{"https-only,bad-clock"}, nil, true}, // one value per flag
}

func TestParseRules(t *testing.T) {
	for _, c := range parseRulesCases {
		got, err := ParseRules(c.in)
		if (err != nil) != c.err {
			t.Errorf("ParseRules(%q): error %v, want error %v", c.in, err, c.err)
			continue
		}
		if err != nil {
			if got != nil {
				t.Errorf("ParseRules(%q): %v with the error", c.in, got)
			}
			if !strings.Contains(err.Error(), "https-only") {
				t.Errorf("ParseRules(%q): error %q does not list the rules", c.in, err)
			}
			continue
		}
		if len(got) != len(c.want) {
			t.Errorf("ParseRules(%q) = %v, want %v", c.in, got, c.want)
		}
		for _, r := range c.want {
			if !got[r] {
				t.Errorf("ParseRules(%q) = %v, missing %s", c.in, got, r)
			}
		}
	}
	// every rule parses by its own name, but the ones that only count
	for _, r := range Rules {
		if _, ok := countOnly[r]; ok {
			if _, err := ParseRules([]string{r}); err == nil {
				t.Errorf("ParseRules(%q): a count-only rule switched off", r)
			}
			continue
		}
		if got, err := ParseRules([]string{r}); err != nil || !got[r] || len(got) != 1 {
			t.Errorf("ParseRules(%q) = %v, %v", r, got, err)
		}
	}
}

// TestBuildHoldOutNone: Options.HoldOut < 0 means no hold-out, so a build
// uses every beacon.
func TestBuildHoldOutNone(t *testing.T) {
	st, s := cleanStore(t)
	held := 0
	for _, b := range s.bs {
		if IsHeldOut(store.BeaconID(&b.Beacon), 0.1) {
			held++
		}
	}
	if held == 0 {
		t.Fatal("no beacon of the test falls in the default 10 % hold-out: the test shows nothing")
	}
	res, err := Build(context.Background(), Input{Store: st, Options: Options{HoldOut: -1}})
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Report.Inputs.Beacons; got != len(s.bs) {
		t.Errorf("HoldOut -1 used %d of %d beacons", got, len(s.bs))
	}
}
