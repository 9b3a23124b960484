package loadctl

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"

	"github.com/steer-gslb/steer/popmap"
)

func labels(ls ...popmap.Label) []popmap.Label { return ls }

// answer is what a server answers for addr: the patch's longest entry if
// any patch network covers addr, else the base map's.
func answer(t *testing.T, base, patch *popmap.Table, addr netip.Addr) []popmap.Label {
	t.Helper()
	if ls, _ := patch.Lookup(addr); len(ls) > 0 {
		return ls
	}
	ls, _ := base.Lookup(addr)
	return ls
}

func compile(t *testing.T, m *popmap.Map) *popmap.Table {
	t.Helper()
	tab, err := popmap.Compile(m)
	if err != nil {
		t.Fatal(err)
	}
	return tab
}

// TestPatchNesting: moving a /16 moves the addresses the /16 answers, not
// a more specific network inside it; a moved network inside a moved one
// keeps its own move; moved labels are [To] + base labels without From
// and To.
func TestPatchNesting(t *testing.T) {
	base := &popmap.Map{Meta: popmap.Meta{Version: 7}, Entries: []popmap.Entry{
		{Networks: mustPrefixes("10.0.0.0/16"), Labels: labels("a", "b", "c")},
		{Networks: mustPrefixes("10.0.1.0/24"), Labels: labels("a", "b")},
		{Networks: mustPrefixes("10.0.2.0/24"), Labels: labels("b", "a")},
		{Networks: mustPrefixes("10.0.2.128/25"), Labels: labels("c")},
		{Networks: mustPrefixes("10.1.0.0/16", "2001:db8::/32"), Labels: labels("a", "c")},
	}}
	moves := []Move{
		{Prefix: netip.MustParsePrefix("10.0.0.0/16"), From: "a", To: "b"},
		{Prefix: netip.MustParsePrefix("10.0.2.0/24"), From: "b", To: "a"},
	}
	patch := Patch(base, moves)
	if patch.Meta.Version != 7 {
		t.Errorf("patch version %d, want the base's 7", patch.Meta.Version)
	}
	got := map[netip.Prefix]string{}
	for _, e := range patch.Entries {
		for _, p := range e.Networks {
			got[p] = popmap.FormatLabels(e.Labels)
		}
	}
	want := map[netip.Prefix]string{
		netip.MustParsePrefix("10.0.0.0/16"):   "b,c",
		netip.MustParsePrefix("10.0.1.0/24"):   "a,b", // inside the moved /16, not moved: its own labels
		netip.MustParsePrefix("10.0.2.0/24"):   "a",   // moved itself
		netip.MustParsePrefix("10.0.2.128/25"): "c",   // inside a moved /24
	}
	if len(got) != len(want) {
		t.Errorf("patch networks %v, want %v", got, want)
	}
	for p, w := range want {
		if got[p] != w {
			t.Errorf("patch %s: %q, want %q", p, got[p], w)
		}
	}
	bt, pt := compile(t, base), compile(t, patch)
	for _, c := range []struct{ addr, want string }{
		{"10.0.5.1", "b,c"},
		{"10.0.1.1", "a,b"},
		{"10.0.2.1", "a"},
		{"10.0.2.200", "c"},
		{"10.1.0.1", "a,c"},
		{"2001:db8::1", "a,c"},
		{"::ffff:10.0.1.1", "a,b"},
	} {
		if got := popmap.FormatLabels(answer(t, bt, pt, netip.MustParseAddr(c.addr))); got != c.want {
			t.Errorf("answer(%s) = %s, want %s", c.addr, got, c.want)
		}
	}
	if m := Patch(base, nil); len(m.Entries) != 0 {
		t.Errorf("no moves: patch %+v, want empty", m.Entries)
	}
}

func mustPrefixes(ss ...string) []netip.Prefix {
	var out []netip.Prefix
	for _, s := range ss {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}

// TestPatchRandom checks Patch against the rule it implements, on random
// nested maps: for every address, base+patch answers what the base
// answers, except that an address whose base network (its longest match)
// is moved gets [To] + that network's labels without From and To.
func TestPatchRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	pops := labels("a", "b", "c", "d")
	for round := range 50 {
		// networks under 10.0.0.0/16 at /16 to /26, nested at random
		seen := map[netip.Prefix]bool{}
		base := &popmap.Map{}
		for range 40 {
			bits := 16 + rng.IntN(11)
			a := netip.AddrFrom4([4]byte{10, 0, byte(rng.IntN(4)), byte(rng.IntN(256))})
			p := netip.PrefixFrom(a, bits).Masked()
			if seen[p] {
				continue
			}
			seen[p] = true
			perm := slices.Clone(pops)
			rng.Shuffle(len(perm), func(i, j int) { perm[i], perm[j] = perm[j], perm[i] })
			base.Entries = append(base.Entries, popmap.Entry{Networks: []netip.Prefix{p}, Labels: perm[:1+rng.IntN(3)]})
		}
		byNet := map[netip.Prefix][]popmap.Label{}
		var moves []Move
		moved := map[netip.Prefix]Move{}
		for _, e := range base.Entries {
			byNet[e.Networks[0]] = e.Labels
			if rng.IntN(3) == 0 {
				to := pops[rng.IntN(len(pops))]
				m := Move{Prefix: e.Networks[0], From: e.Labels[0], To: to}
				moves = append(moves, m)
				moved[m.Prefix] = m
			}
		}
		bt, pt := compile(t, base), compile(t, Patch(base, moves))
		for range 300 {
			addr := netip.AddrFrom4([4]byte{10, 0, byte(rng.IntN(5)), byte(rng.IntN(256))})
			// the base network answering addr
			var best netip.Prefix
			for p := range byNet {
				if p.Contains(addr) && (!best.IsValid() || p.Bits() > best.Bits()) {
					best = p
				}
			}
			var want []popmap.Label
			if best.IsValid() {
				want = byNet[best]
				if m, ok := moved[best]; ok {
					want = []popmap.Label{m.To}
					for _, l := range byNet[best] {
						if l != m.From && l != m.To {
							want = append(want, l)
						}
					}
				}
			}
			if got := answer(t, bt, pt, addr); !slices.Equal(got, want) {
				t.Fatalf("round %d: answer(%s) = %v, want %v (base network %s)", round, addr, got, want, best)
			}
		}
	}
}

// ExamplePatch shows the override for a /16 moved off fra with a /24
// inside it that stays.
func ExamplePatch() {
	base := &popmap.Map{Entries: []popmap.Entry{
		{Networks: mustPrefixes("198.51.0.0/16"), Labels: labels("fra", "ams", "lhr")},
		{Networks: mustPrefixes("198.51.100.0/24"), Labels: labels("fra", "cdg")},
	}}
	p := Patch(base, []Move{{Prefix: netip.MustParsePrefix("198.51.0.0/16"), From: "fra", To: "ams"}})
	for _, e := range p.Entries {
		fmt.Println(e.Networks, popmap.FormatLabels(e.Labels))
	}
	// Output:
	// [198.51.0.0/16] ams,lhr
	// [198.51.100.0/24] fra,cdg
}
