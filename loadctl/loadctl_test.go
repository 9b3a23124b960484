package loadctl

import (
	"fmt"
	"math"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/steer-gslb/steer/popmap"
)

func nw(p string, w float64, ranked ...any) Network {
	n := Network{Prefix: netip.MustParsePrefix(p), Weight: w}
	for i := 0; i < len(ranked); i += 2 {
		n.Ranked = append(n.Ranked, Choice{popmap.Label(ranked[i].(string)), ranked[i+1].(float64)})
	}
	return n
}

func TestNewErrors(t *testing.T) {
	ok := []Network{nw("10.0.0.0/24", 1, "a", 10.0)}
	pops := []PoP{{Label: "a", Capacity: 100}}
	for _, c := range []struct {
		name string
		nets []Network
		pops []PoP
		opt  Options
		err  string
	}{
		{"bad gain", ok, pops, Options{Gain: 1.5}, "gain 1.5 outside (0, 1]"},
		{"bad max move", ok, pops, Options{MaxMove: -1}, "max move -1 outside"},
		{"bad hysteresis", ok, pops, Options{Hysteresis: 1}, "hysteresis 1 outside"},
		{"bad delay", ok, pops, Options{Delay: -1}, "delay -1 outside"},
		{"pop twice", ok, []PoP{{Label: "a", Capacity: 1}, {Label: "a", Capacity: 2}}, Options{}, "PoP a listed twice"},
		{"no label", ok, []PoP{{Capacity: 1}}, Options{}, "a PoP without a label"},
		{"zero capacity", ok, []PoP{{Label: "a"}}, Options{}, "PoP a: capacity 0 is not positive"},
		{"infinite capacity", ok, []PoP{{Label: "a", Capacity: math.Inf(1)}}, Options{}, "PoP a: capacity +Inf"},
		{"target under hysteresis", ok, []PoP{{Label: "a", Capacity: 1, Target: 0.05}}, Options{}, "PoP a: target 0.05 outside (hysteresis 0.1, 10]"},
		{"network twice", []Network{ok[0], ok[0]}, pops, Options{}, "network 10.0.0.0/24 listed twice"},
		{"host bits", []Network{nw("10.0.0.1/24", 1, "a", 1.0)}, pops, Options{}, "network 10.0.0.1/24: not a valid network"},
		{"invalid prefix", []Network{{Weight: 1}}, pops, Options{}, "not a valid network"},
		{"negative weight", []Network{nw("10.0.0.0/24", -1, "a", 1.0)}, pops, Options{}, "weight -1 is not finite"},
		{"NaN weight", []Network{nw("10.0.0.0/24", math.NaN(), "a", 1.0)}, pops, Options{}, "weight NaN"},
		{"ranked twice", []Network{nw("10.0.0.0/24", 1, "a", 1.0, "b", 2.0, "a", 3.0)}, pops, Options{}, "network 10.0.0.0/24: a ranked twice"},
		{"empty label", []Network{nw("10.0.0.0/24", 1, "", 1.0)}, pops, Options{}, "network 10.0.0.0/24: empty label"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := New(c.nets, c.pops, c.opt)
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Fatalf("New error %v, want one containing %q", err, c.err)
			}
		})
	}
}

// smallWorld: PoP a holds four networks of weight 10; b and c have room.
// Added RTT a→next: n3 1 ms (to b), n1 2 ms (to b), n2 5 ms (to c, its
// second choice), n4 30 ms (to c).
func smallWorld() ([]Network, []PoP) {
	nets := []Network{
		nw("10.0.1.0/24", 10, "a", 10.0, "b", 12.0, "c", 30.0),
		nw("10.0.2.0/24", 10, "a", 10.0, "c", 15.0, "b", 20.0),
		nw("10.0.3.0/24", 10, "a", 10.0, "b", 11.0),
		nw("10.0.4.0/24", 10, "a", 10.0, "c", 40.0),
		nw("10.1.0.0/24", 50, "b", 5.0, "c", 9.0),
		nw("10.2.0.0/24", 50, "c", 5.0, "b", 9.0),
	}
	pops := []PoP{{Label: "a", Capacity: 50, Target: 0.8}, {Label: "b", Capacity: 100}, {Label: "c", Capacity: 100}}
	return nets, pops
}

func movesOf(ms []Move) string {
	var s []string
	for _, m := range ms {
		s = append(s, fmt.Sprintf("%s %s>%s@%d", m.Prefix, m.From, m.To, m.At))
	}
	return strings.Join(s, " ")
}

// TestStepSheds: an overloaded PoP sheds Gain × its excess, cheapest
// penalty first, then stops in the band; a drop in load undoes moves
// newest first, only as far as the PoP stays under Target−Hysteresis.
func TestStepSheds(t *testing.T) {
	nets, pops := smallWorld()
	c, err := New(nets, pops, Options{MaxMove: 1})
	if err != nil {
		t.Fatal(err)
	}
	// a: 40 weight at 1.25 per unit = 50 = 100 % (target 40): excess 10,
	// goal 5; each network is 12.5 of load; floor 0.75×50 = 37.5
	steps := []struct {
		load map[popmap.Label]float64
		want string
	}{
		{map[popmap.Label]float64{"a": 50, "b": 50, "c": 50}, "10.0.3.0/24 a>b@1"},
		// 3 networks left at a: 37.5, between the undo limit (35) and the
		// target (40): nothing
		{map[popmap.Label]float64{"a": 37.5, "b": 62.5, "c": 50}, "10.0.3.0/24 a>b@1"},
		// demand up: 3 networks at 1.5 = 45: excess 5, goal 2.5; a move
		// (15) leaves 30 < 37.5: refused; still nothing
		{map[popmap.Label]float64{"a": 45, "b": 65, "c": 50}, "10.0.3.0/24 a>b@1"},
	}
	for i, s := range steps {
		if got := movesOf(c.Step(s.load, nil)); got != s.want {
			t.Fatalf("step %d: moves %q, want %q", i+1, got, s.want)
		}
	}
}

// TestStepOrderAndRoom: networks go least added RTT first to the first
// PoP after their own with room; a full next PoP sends them to the one
// after; a network with nowhere to go stays.
func TestStepOrderAndRoom(t *testing.T) {
	nets, pops := smallWorld()
	pops[0].Capacity = 20 // a: 40 weight, load 40 = 200 %
	c, err := New(nets, pops, Options{Gain: 1, MaxMove: 1})
	if err != nil {
		t.Fatal(err)
	}
	// b has room for one network (10), c for plenty: n3 (1 ms, to b)
	// fills b; n1's b is full, so it goes to c (+20 ms); n2 to c (+5 ms)
	// goes before n1; n4 to c (+30 ms) last.
	got := c.Step(map[popmap.Label]float64{"a": 40, "b": 70, "c": 10}, nil)
	want := "10.0.3.0/24 a>b@1 10.0.2.0/24 a>c@1"
	if movesOf(got) != want {
		t.Fatalf("moves %q, want %q", movesOf(got), want)
	}
	// excess 24 → goal 24: n3 and n2 shed 20, then n1 would leave a at
	// 10 < floor 0.75×20 = 15: refused, n4 too
	if p := got[1].Penalty; p != 50 {
		t.Errorf("penalty of %s: %v, want 10 × 5 ms = 50", got[1].Prefix, p)
	}
	// c's load unknown: n2 would have nowhere to go
	c2, _ := New(nets, pops, Options{Gain: 1, MaxMove: 1})
	if got := movesOf(c2.Step(map[popmap.Label]float64{"a": 40, "b": 70}, nil)); got != "10.0.3.0/24 a>b@1" {
		t.Errorf("c unknown: moves %q, want only n3 to b", got)
	}
	// a's load unknown: nothing
	c3, _ := New(nets, pops, Options{Gain: 1, MaxMove: 1})
	if got := c3.Step(map[popmap.Label]float64{"b": 70, "c": 10}, nil); len(got) != 0 {
		t.Errorf("a unknown: moves %q, want none", movesOf(got))
	}
}

// TestStepUndo: moves are undone newest first when the source falls under
// Target−Hysteresis, as far as it stays under; strictly LIFO.
func TestStepUndo(t *testing.T) {
	nets, pops := smallWorld()
	pops[0].Capacity = 20
	c, err := New(nets, pops, Options{Gain: 1, MaxMove: 1, Hysteresis: 0.2})
	if err != nil {
		t.Fatal(err)
	}
	// floor 0.7×20 = 14: n3, n2 and n1 go (40 → 10 would be too far:
	// n3, n2 leave 20 > 16; n1 leaves 10 < 14: refused)
	c.Step(map[popmap.Label]float64{"a": 40, "b": 70, "c": 10}, nil)
	c.Step(map[popmap.Label]float64{"a": 20, "b": 80, "c": 20}, nil)
	if got := movesOf(c.Moves()); got != "10.0.3.0/24 a>b@1 10.0.2.0/24 a>c@1" {
		t.Fatalf("moves %q", got)
	}
	// demand halves: a (2 networks) at 0.5 per unit = 10 < 0.6×20 = 12:
	// the newest move (n2, 5 of load) comes back only if a stays ≤ 12:
	// 10 + 5 = 15 > 12: nothing
	if got := movesOf(c.Step(map[popmap.Label]float64{"a": 10, "b": 75, "c": 15}, nil)); got != "10.0.3.0/24 a>b@1 10.0.2.0/24 a>c@1" {
		t.Fatalf("undo beyond the limit: moves %q", got)
	}
	// demand lower: 2 networks at 0.25 = 5: n2 back (7.5), n3 back (10)
	if got := c.Step(map[popmap.Label]float64{"a": 5, "b": 72, "c": 12}, nil); len(got) != 0 {
		t.Fatalf("moves %q, want all undone", movesOf(got))
	}
}

// TestStepUndoLIFO: the newest move comes back first, and when it does
// not fit it blocks older ones that would.
func TestStepUndoLIFO(t *testing.T) {
	nets := []Network{
		nw("10.0.1.0/24", 1, "a", 1.0, "b", 2.0),
		nw("10.0.2.0/24", 2, "a", 1.0, "b", 3.0),
		nw("10.0.3.0/24", 8, "a", 1.0),
	}
	pops := []PoP{{Label: "a", Capacity: 10, Target: 0.8}, {Label: "b", Capacity: 100}}
	c, err := New(nets, pops, Options{Gain: 1, MaxMove: 1, Hysteresis: 0.2})
	if err != nil {
		t.Fatal(err)
	}
	// a at 11 (k 1), target 8, floor 7: n1 (+1 ms) then n2 (+2 ms) leave
	c.Step(map[popmap.Label]float64{"a": 11, "b": 0}, nil)
	const both = "10.0.1.0/24 a>b@1 10.0.2.0/24 a>b@1"
	if got := movesOf(c.Moves()); got != both {
		t.Fatalf("moves %q, want %q", got, both)
	}
	// a at 5 (k 0.625), undo limit 6: the newest, n2 (1.25), does not
	// fit; n1 (0.625) would, but waits its turn
	if got := movesOf(c.Step(map[popmap.Label]float64{"a": 5, "b": 3}, nil)); got != both {
		t.Fatalf("moves %q, want %q", got, both)
	}
	// a at 4 (k 0.5): n2 (1) then n1 (0.5) come back
	if got := c.Step(map[popmap.Label]float64{"a": 4, "b": 3}, nil); len(got) != 0 {
		t.Fatalf("moves %q, want none", movesOf(got))
	}
}

// TestStepMaxMove: no more than MaxMove of the total weight moves in a
// period.
func TestStepMaxMove(t *testing.T) {
	nets, pops := smallWorld() // total weight 140
	pops[0].Capacity = 20
	c, err := New(nets, pops, Options{Gain: 1, MaxMove: 0.1}) // 14
	if err != nil {
		t.Fatal(err)
	}
	load := map[popmap.Label]float64{"a": 40, "b": 50, "c": 10}
	if got := c.Step(load, nil); len(got) != 1 {
		t.Fatalf("period 1: moves %q, want one network of 10", movesOf(got))
	}
	load = map[popmap.Label]float64{"a": 30, "b": 60, "c": 10}
	if got := c.Step(load, nil); len(got) != 2 || got[1].At != 2 {
		t.Fatalf("period 2: moves %q, want one more", movesOf(got))
	}
}

// TestStepUnusable: a move whose To becomes unusable is dropped; a PoP
// that is not usable receives nothing; when the source itself is not
// usable the network follows its ranking.
func TestStepUnusable(t *testing.T) {
	nets, pops := smallWorld()
	pops[0].Capacity = 20
	c, err := New(nets, pops, Options{Gain: 1, MaxMove: 1})
	if err != nil {
		t.Fatal(err)
	}
	notB := func(l popmap.Label) bool { return l != "b" }
	// b down: n3 has no other PoP; n2 (+5), n1 (+20 via c)
	got := c.Step(map[popmap.Label]float64{"a": 40, "b": 70, "c": 10}, notB)
	if movesOf(got) != "10.0.2.0/24 a>c@1 10.0.1.0/24 a>c@1" {
		t.Fatalf("b down: moves %q", movesOf(got))
	}
	// c down: both moves go (their networks follow their rankings)
	notC := func(l popmap.Label) bool { return l != "c" }
	if got := c.Step(map[popmap.Label]float64{"a": 20, "b": 70}, notC); len(got) != 0 {
		// a is back at 20+ of 16: it sheds again, to b only
		for _, m := range got {
			if m.To == "c" {
				t.Fatalf("c down: move to c kept: %q", movesOf(got))
			}
		}
	}
	// a down: every move off a is stale
	c2, _ := New(nets, pops, Options{Gain: 1, MaxMove: 1})
	c2.Step(map[popmap.Label]float64{"a": 40, "b": 70, "c": 10}, nil)
	notA := func(l popmap.Label) bool { return l != "a" }
	if got := c2.Step(map[popmap.Label]float64{"b": 70, "c": 30}, notA); len(got) != 0 {
		t.Fatalf("a down: moves %q, want none", movesOf(got))
	}
}

// TestStepUnmanaged: a label no PoP names is never a receiver.
func TestStepUnmanaged(t *testing.T) {
	nets := []Network{nw("10.0.1.0/24", 10, "a", 1.0, "x", 2.0, "b", 3.0), nw("10.0.2.0/24", 10, "a", 1.0)}
	pops := []PoP{{Label: "a", Capacity: 10}, {Label: "b", Capacity: 100}}
	c, err := New(nets, pops, Options{Gain: 1, MaxMove: 1, Hysteresis: 0.5})
	if err != nil {
		t.Fatal(err)
	}
	got := c.Step(map[popmap.Label]float64{"a": 20, "b": 0, "x": 0}, nil)
	if movesOf(got) != "10.0.1.0/24 a>b@1" {
		t.Fatalf("moves %q, want to b past the unmanaged x", movesOf(got))
	}
}

// TestStepDeterministic: the same input in any order gives the same moves.
func TestStepDeterministic(t *testing.T) {
	nets, pops := randomWorld(2000, 8, 3)
	load := naturalLoad(nets, pops, 1)
	for _, p := range pops[:2] {
		load[p.Label] *= 1.6
	}
	run := func(nets []Network, pops []PoP) [][]Move {
		c, err := New(nets, pops, Options{})
		if err != nil {
			t.Fatal(err)
		}
		var out [][]Move
		for range 5 {
			out = append(out, c.Step(load, nil))
		}
		return out
	}
	a := run(nets, pops)
	rng := rand.New(rand.NewPCG(9, 9))
	n2, p2 := slices.Clone(nets), slices.Clone(pops)
	rng.Shuffle(len(n2), func(i, j int) { n2[i], n2[j] = n2[j], n2[i] })
	rng.Shuffle(len(p2), func(i, j int) { p2[i], p2[j] = p2[j], p2[i] })
	if b := run(n2, p2); !reflect.DeepEqual(a, b) {
		t.Fatal("shuffled input: other moves")
	}
	if len(a[4]) == 0 {
		t.Fatal("no moves at all: the test checks nothing")
	}
}

// TestStepDelay: with Delay 1 the controller counts its last period's
// moves as done although the load does not show them yet, and does not
// shed the same excess twice.
func TestStepDelay(t *testing.T) {
	nets, pops := smallWorld()
	pops[0].Capacity = 20
	for _, d := range []struct {
		delay int
		want  int
	}{{0, 3}, {1, 2}} {
		c, err := New(nets, pops, Options{Gain: 0.5, MaxMove: 1, Delay: d.delay})
		if err != nil {
			t.Fatal(err)
		}
		// excess 24, goal 12: two networks (20) go
		c.Step(map[popmap.Label]float64{"a": 40, "b": 70, "c": 10}, nil)
		// the same load again (the moves are not visible yet)
		if got := c.Step(map[popmap.Label]float64{"a": 40, "b": 70, "c": 10}, nil); len(got) != d.want {
			t.Errorf("delay %d: %d moves after the second period (%q), want %d", d.delay, len(got), movesOf(got), d.want)
		}
	}
}

// randomWorld makes n networks over np PoPs, each ranking r of them with
// RTTs rising along the ranking.
func randomWorld(n, np, r int) ([]Network, []PoP) {
	rng := rand.New(rand.NewPCG(uint64(n), uint64(np)))
	var pops []PoP
	for p := range np {
		pops = append(pops, PoP{Label: popmap.Label(fmt.Sprintf("p%02d", p)), Capacity: 1})
	}
	nets := make([]Network, n)
	for i := range nets {
		a := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		nets[i] = Network{Prefix: netip.PrefixFrom(a, 32), Weight: math.Exp(rng.NormFloat64())}
		perm := rng.Perm(np)[:r]
		rtt := 5 + 20*rng.Float64()
		for _, p := range perm {
			nets[i].Ranked = append(nets[i].Ranked, Choice{pops[p].Label, math.Round(rtt*10) / 10})
			rtt += 30 * rng.Float64()
		}
	}
	nat := naturalLoad(nets, pops, 1)
	for p := range pops {
		pops[p].Capacity = max(nat[pops[p].Label], 1) / 0.6
	}
	return nets, pops
}

// naturalLoad is each PoP's weight answered by first choice, × k.
func naturalLoad(nets []Network, _ []PoP, k float64) map[popmap.Label]float64 {
	out := map[popmap.Label]float64{}
	for _, n := range nets {
		out[n.Ranked[0].Label] += k * n.Weight
	}
	return out
}

// BenchmarkStep: one control period over 100k networks and 20 PoPs, two
// of them at 130 % of capacity (the loads do not follow the moves, so each
// period keeps moving up to MaxMove until nothing fits: the steady cost).
func BenchmarkStep(b *testing.B) {
	nets, pops := randomWorld(100_000, 20, 4)
	load := naturalLoad(nets, pops, 1)
	for _, p := range pops[:2] {
		load[p.Label] = 1.3 * p.Capacity
	}
	c, err := New(nets, pops, Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		c.Step(load, nil)
	}
	b.ReportMetric(float64(len(nets))*float64(b.N)/b.Elapsed().Seconds(), "networks/s")
	b.ReportMetric(float64(len(c.Moves())), "moves")
}

// TestRestore: moves restored into a new controller (a restarted control
// server) are its moves, and it carries on from them as the first would.
func TestRestore(t *testing.T) {
	nets, pops := smallWorld()
	pops[0].Capacity = 20
	a, err := New(nets, pops, Options{Gain: 1, MaxMove: 1, Delay: 1})
	if err != nil {
		t.Fatal(err)
	}
	made := a.Step(map[popmap.Label]float64{"a": 40, "b": 70, "c": 10}, nil)
	b, err := New(nets, pops, Options{Gain: 1, MaxMove: 1, Delay: 1})
	if err != nil {
		t.Fatal(err)
	}
	bogus := Move{Prefix: netip.MustParsePrefix("192.0.2.0/24"), From: "a", To: "b"}
	if n := b.Restore(append(slices.Clone(made), bogus, made[0])); n != len(made) {
		t.Fatalf("Restore = %d, want %d (an unknown network and a repeat skipped)", n, len(made))
	}
	if !reflect.DeepEqual(b.Moves(), made) {
		t.Fatalf("restored moves %q, want %q", movesOf(b.Moves()), movesOf(made))
	}
	// the load now shows the moves (a at 20 of 16, both moves too big to
	// repeat): neither controller moves anything more
	load := map[popmap.Label]float64{"a": 20, "b": 80, "c": 20}
	for name, c := range map[string]*Controller{"original": a, "restored": b} {
		c.Step(load, nil)
		if got := c.Step(load, nil); !reflect.DeepEqual(got, made) {
			t.Errorf("%s: moves %q, want %q", name, movesOf(got), movesOf(made))
		}
	}
}
