package popmap

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"
)

func mustTable(t testing.TB, path string) *Table {
	t.Helper()
	m, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	tb, err := Compile(m)
	if err != nil {
		t.Fatal(err)
	}
	return tb
}

func labels(s string) []Label {
	if s == "" {
		return nil
	}
	var out []Label
	for _, l := range strings.Split(s, ",") {
		out = append(out, Label(l))
	}
	return out
}

// lookupCases are shared by TestLookup and the fuzz seeds.
var lookupCases = []struct {
	name   string
	in     string // address or prefix
	labels string
	scope  int
}{
	{"v4 in /8, beside /16", "10.0.0.1", "fra,ams", 16},
	{"v4 far in /8", "10.200.0.1", "fra,ams", 9},
	{"v4 nested /24 back to parent answer", "10.1.2.3", "fra,ams", 24},
	{"v4 /16 beside nested /24", "10.1.3.1", "lhr", 24},
	{"v4 /16 upper half", "10.1.128.1", "lhr", 17},
	{"v4 /16 first address", "10.1.0.0", "lhr", 23},
	{"v4 /8 last address", "10.255.255.255", "fra,ams", 9},
	{"merged siblings", "192.0.2.200", "iad", 24},
	{"merged siblings low", "192.0.2.1", "iad", 24},
	{"parent around more specific", "198.51.100.1", "sin", 25},
	{"more specific /26", "198.51.100.130", "gru", 26},
	{"parent after more specific", "198.51.100.200", "sin", 26},
	{"no entry below /8", "9.255.255.255", "", 7},
	{"no entry just above /8", "11.0.0.0", "", 8},
	{"no entry far", "100.64.0.1", "", 2},
	{"no entry near top of space", "255.255.254.1", "", 24},
	{"top of space", "255.255.255.255", "iad", 24},
	{"bottom of space", "0.0.0.0", "iad", 8},
	{"v4-mapped map entry", "203.0.113.77", "lhr", 24},
	{"v4-mapped query", "::ffff:10.1.2.3", "fra,ams", 24},
	{"v4-mapped query and entry", "::ffff:203.0.113.1", "lhr", 24},
	{"v6 /32", "2001:db8:1::1", "ams", 44},
	{"v6 /48", "2001:db8:10:ffff::1", "fra,lhr", 48},
	{"v6 /56", "2001:db8:20:1ff::1", "sin", 58},
	{"v6 /60 inside /56", "2001:db8:20:18f::1", "gru", 60},
	{"v6 /56 lower half beside /60", "2001:db8:20:170::1", "sin", 57},
	{"v6 no entry", "2001:db9::1", "", 32},
	{"v6 no entry low", "::1", "", 3},
	{"family mismatch: v6 shaped like a v4 entry", "a00::1", "", 3},
	// ECS source prefixes: capped at /24 and /56, looked up at the network address.
	{"ECS /24 with more specific map", "198.51.100.0/24", "sin", 25},
	{"ECS /16 gets longer scope", "10.1.0.0/16", "lhr", 23},
	{"ECS /0 v4", "0.0.0.0/0", "iad", 8},
	{"ECS /0 v6", "::/0", "", 3},
	{"ECS longer than the cap v4", "198.51.100.128/25", "sin", 24},
	{"ECS /32 capped", "10.1.2.77/32", "fra,ams", 24},
	{"ECS /56 v6", "2001:db8:20:100::/56", "sin", 57},
	{"ECS longer than the cap v6", "2001:db8:20:180::/64", "sin", 56},
	{"ECS v4-mapped prefix", "::ffff:10.1.2.0/120", "fra,ams", 24},
}

func lookupString(tb *Table, in string) ([]Label, int, error) {
	if strings.Contains(in, "/") {
		p, err := netip.ParsePrefix(in)
		if err != nil {
			return nil, 0, err
		}
		l, s := tb.LookupPrefix(p.Masked())
		return l, s, nil
	}
	a, err := netip.ParseAddr(in)
	if err != nil {
		return nil, 0, err
	}
	l, s := tb.Lookup(a)
	return l, s, nil
}

func TestLookup(t *testing.T) {
	t.Run("binary-search", testLookup)
	t.Run("direct-24", func(t *testing.T) {
		defer func(n int) { directMinRuns = n }(directMinRuns)
		directMinRuns = 0
		testLookup(t)
	})
	t.Run("direct-24-32bit", func(t *testing.T) {
		defer func(n, a int) { directMinRuns, direct16MaxAnswers = n, a }(directMinRuns, direct16MaxAnswers)
		directMinRuns, direct16MaxAnswers = 0, 0
		testLookup(t)
	})
}

func testLookup(t *testing.T) {
	tb := mustTable(t, "testdata/lookup.json")
	for _, tc := range lookupCases {
		t.Run(tc.name, func(t *testing.T) {
			got, scope, err := lookupString(tb, tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, labels(tc.labels)) || scope != tc.scope {
				t.Errorf("Lookup(%v) = %v/%d, want %v/%d", tc.in, got, scope, labels(tc.labels), tc.scope)
			}
			// The slow reference agrees on addresses (prefix inputs are capped first).
			if !strings.Contains(tc.in, "/") {
				m, _ := ReadFile("testdata/lookup.json")
				rl, rs := refLookup(m, netip.MustParseAddr(tc.in))
				if !slices.Equal(rl, got) || rs != scope {
					t.Errorf("reference(%v) = %v/%d, table %v/%d", tc.in, rl, rs, got, scope)
				}
			}
		})
	}
}

func TestLookupAllocs(t *testing.T) {
	tb := mustTable(t, "testdata/lookup.json")
	a4 := netip.MustParseAddr("10.1.2.3")
	a6 := netip.MustParseAddr("2001:db8:20:18f::1")
	p := netip.MustParsePrefix("198.51.100.0/24")
	n := testing.AllocsPerRun(100, func() {
		tb.Lookup(a4)
		tb.Lookup(a6)
		tb.LookupPrefix(p)
	})
	if n != 0 {
		t.Errorf("lookups allocate %v times, want 0", n)
	}
}

// refLookup is the slow, obviously correct definition: the longest entry
// containing a, and the shortest L for which every address of a/L gets the
// same answer. The answer is constant between "critical points" (entry
// starts and ends+1), so uniformity over a block is checked at the block's
// start and every critical point inside it.
func refLookup(m *Map, a netip.Addr) ([]Label, int) {
	a = a.Unmap()
	type ent struct {
		p netip.Prefix
		l []Label
	}
	var ents []ent
	for _, e := range m.Entries {
		for _, p := range e.Networks {
			if p.Addr().Is4() == a.Is4() {
				ents = append(ents, ent{p, e.Labels})
			}
		}
	}
	answer := func(x netip.Addr) []Label {
		best := -1
		var l []Label
		for _, e := range ents {
			if e.p.Contains(x) && e.p.Bits() > best {
				best, l = e.p.Bits(), e.l
			}
		}
		return l
	}
	want := answer(a)
	for L := 0; L <= a.BitLen(); L++ {
		blk, _ := a.Prefix(L)
		ok := slices.Equal(answer(blk.Addr()), want)
		for _, e := range ents {
			if !ok {
				break
			}
			for _, x := range []netip.Addr{e.p.Addr(), lastAddr(e.p).Next()} {
				if x.IsValid() && blk.Contains(x) && !slices.Equal(answer(x), want) {
					ok = false
				}
			}
		}
		if ok {
			return want, L
		}
	}
	panic("unreachable")
}

func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// randomMap makes a small map dense with nesting and repeated answers, so
// merges and splits are common.
func randomMap(r *rand.Rand) *Map {
	m := &Map{}
	seen := map[netip.Prefix]bool{}
	pool := [][]Label{{"a"}, {"b"}, {"a", "b"}, {"b", "a"}, {"c"}}
	n := 1 + r.IntN(25)
	for range n {
		var p netip.Prefix
		if r.IntN(2) == 0 {
			var b [4]byte
			b[0] = []byte{10, 10, 10, 0, 255, 128}[r.IntN(6)]
			b[1], b[2], b[3] = byte(r.IntN(4)), byte(r.IntN(256)), byte(r.IntN(256))
			p, _ = netip.AddrFrom4(b).Prefix(r.IntN(33))
		} else {
			var b [16]byte
			b[0], b[1], b[2], b[3] = 0x20, 0x01, 0x0d, 0xb8
			if r.IntN(8) == 0 {
				b[0] = 0xff
			}
			b[4], b[5], b[6] = byte(r.IntN(3)), byte(r.IntN(256)), byte(r.IntN(256))
			b[15] = byte(r.IntN(256))
			p, _ = netip.AddrFrom16(b).Prefix(r.IntN(129))
		}
		if seen[p] {
			continue
		}
		seen[p] = true
		m.Entries = append(m.Entries, Entry{Networks: []netip.Prefix{p}, Labels: pool[r.IntN(len(pool))]})
	}
	return m
}

// TestCompareReference checks the compiled table against refLookup on
// random maps at random addresses and at every entry's edges.
func TestCompareReference(t *testing.T) {
	t.Run("binary-search", func(t *testing.T) { compareReference(t) })
	t.Run("direct-24", func(t *testing.T) {
		defer func(n int) { directMinRuns = n }(directMinRuns)
		directMinRuns = 0
		if !testing.Short() {
			compareReference(t)
		}
	})
	t.Run("direct-24-32bit", func(t *testing.T) {
		defer func(n, a int) { directMinRuns, direct16MaxAnswers = n, a }(directMinRuns, direct16MaxAnswers)
		directMinRuns, direct16MaxAnswers = 0, 0
		if !testing.Short() {
			compareReference(t)
		}
	})
}

func compareReference(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	iters := 300
	if directMinRuns == 0 {
		iters = 40 // each compile then fills a 32 or 64 MiB table
	}
	for it := range iters {
		m := randomMap(r)
		tb, err := Compile(m)
		if err != nil {
			t.Fatal(err)
		}
		var probes []netip.Addr
		for _, e := range m.Entries {
			p := e.Networks[0]
			probes = append(probes, p.Addr(), p.Addr().Prev(), lastAddr(p), lastAddr(p).Next())
		}
		for range 20 {
			e := m.Entries[r.IntN(len(m.Entries))].Networks[0]
			b := e.Addr().AsSlice()
			for i := len(b) - 1 - r.IntN(len(b)); i < len(b); i++ {
				b[i] = byte(r.IntN(256))
			}
			a, _ := netip.AddrFromSlice(b)
			probes = append(probes, a)
		}
		for _, a := range probes {
			if !a.IsValid() {
				continue
			}
			gl, gs := tb.Lookup(a)
			wl, ws := refLookup(m, a)
			if !slices.Equal(gl, wl) || gs != ws {
				var buf bytes.Buffer
				_ = m.Encode(&buf)
				t.Fatalf("iteration %d: Lookup(%v) = %v/%d, want %v/%d\nmap: %s", it, a, gl, gs, wl, ws, buf.String())
			}
		}
	}
}

func TestEncodeRoundTrip(t *testing.T) {
	m, err := ReadFile("testdata/lookup.json")
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := m.Encode(&buf); err != nil {
		t.Fatal(err)
	}
	m2, err := Parse(buf.Bytes())
	if err != nil {
		t.Fatalf("re-parse: %v\n%s", err, buf.String())
	}
	if fmt.Sprint(m) != fmt.Sprint(m2) {
		t.Errorf("round trip differs:\n%v\n%v", m, m2)
	}
}

// parseCases are bad maps with the substring their error must contain.
var parseCases = []struct {
	name, in, err string
}{
	{"empty input", ``, "unexpected end of input"},
	{"not an object", `[]`, `unexpected '['`},
	{"unknown top-level key", `{"map": [], "extra": 1}`, `unknown key "extra"`},
	{"unknown meta key", `{"meta": {"version": 1, "x": 2}, "map": []}`, `meta: unknown key "x"`},
	{"bad version", `{"meta": {"version": "one"}, "map": []}`, "meta.version: "},
	{"missing map", `{"meta": {"version": 1}}`, `missing key "map"`},
	{"bad CIDR", `{"map": [{"networks": ["10.0.0.0/33"], "labels": ["fra"]}]}`, `map[0].networks[0]: "10.0.0.0/33": bad CIDR`},
	{"no prefix length", `{"map": [{"networks": ["10.0.0.0"], "labels": ["fra"]}]}`, `map[0].networks[0]: "10.0.0.0": bad CIDR`},
	{"host bits set", `{"map": [{"networks": ["10.0.0.0/24"], "labels": ["a"]}, {"networks": ["10.0.0.1/24"], "labels": ["fra"]}]}`, `map[1].networks[0]: "10.0.0.1/24": host bits set (want 10.0.0.0/24)`},
	{"duplicate network", `{"map": [{"networks": ["10.0.0.0/24"], "labels": ["a"]}, {"networks": ["10.0.0.0/24"], "labels": ["b"]}]}`, `map[1].networks[0]: duplicate network 10.0.0.0/24 (first in map[0].networks[0])`},
	{"duplicate via v4-mapped", `{"map": [{"networks": ["10.0.0.0/24", "::ffff:10.0.0.0/120"], "labels": ["a"]}]}`, `map[0].networks[1]: duplicate network 10.0.0.0/24`},
	{"empty labels", `{"map": [{"networks": ["10.0.0.0/24"], "labels": []}]}`, `map[0]: no labels`},
	{"empty label", `{"map": [{"networks": ["10.0.0.0/24"], "labels": ["fra", ""]}]}`, `map[0].labels[1]: empty label`},
	{"repeated label", `{"map": [{"networks": ["10.0.0.0/24"], "labels": ["fra", "fra"]}]}`, `map[0].labels[1]: "fra" listed twice`},
	{"label with space", `{"map": [{"networks": ["10.0.0.0/24"], "labels": ["fr a"]}]}`, `contains space`},
	{"no networks", `{"map": [{"networks": [], "labels": ["fra"]}]}`, `map[0]: no networks`},
	{"unknown entry key", `{"map": [{"networks": ["10.0.0.0/24"], "labels": ["fra"], "weight": 3}]}`, `map[0]: unknown key "weight"`},
	{"network not a string", `{"map": [{"networks": [10], "labels": ["fra"]}]}`, `map[0].networks[0]: `},
	{"zone in address", `{"map": [{"networks": ["fe80::%eth0/64"], "labels": ["fra"]}]}`, `map[0].networks[0]`},
	{"trailing garbage", `{"map": []} x`, "trailing data"},
	{"unterminated string", `{"map": [{"networks": ["10.0.0.0/24`, "unterminated string"},
	{"truncated", `{"map": [{"networks": ["10.0.0.0/24"], "labels": ["fra"]}`, "unexpected end of input"},
	{"duplicate map key", `{"map": [], "map": []}`, `duplicate key "map"`},
}

func TestParseErrors(t *testing.T) {
	for _, tc := range parseCases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.in))
			if err == nil {
				t.Fatalf("Parse(%s) succeeded, want error containing %q", tc.in, tc.err)
			}
			if !strings.Contains(err.Error(), tc.err) {
				t.Errorf("Parse(%s) error = %q, want it to contain %q", tc.in, err, tc.err)
			}
		})
	}
}

func TestParseGood(t *testing.T) {
	in := `{"meta":{"version":7},"map":[{"labels":["f\u0072a"],"networks":["203.0.113.0/24","2001:DB8::/32"]}]}`
	m, err := Parse([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if m.Meta.Version != 7 || len(m.Entries) != 1 || m.Entries[0].Labels[0] != "fra" ||
		m.Entries[0].Networks[1] != netip.MustParsePrefix("2001:db8::/32") {
		t.Errorf("Parse = %+v", m)
	}
}

func TestCheckLabels(t *testing.T) {
	m, _ := ReadFile("testdata/lookup.json")
	known := map[Label]bool{"fra": true, "ams": true, "lhr": true, "iad": true, "sin": true}
	err := m.CheckLabels(func(l Label) bool { return known[l] })
	if err == nil || !strings.Contains(err.Error(), `map[5].labels[0]: "gru" is not a configured PoP`) {
		t.Errorf("CheckLabels = %v", err)
	}
}

func TestReadFileError(t *testing.T) {
	dir := t.TempDir()
	p := dir + "/bad.json"
	if err := os.WriteFile(p, []byte(`{"map": [{"networks": ["10.0.0.1/8"], "labels": ["x"]}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := ReadFile(p)
	if err == nil || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), "host bits set") {
		t.Errorf("ReadFile error %v should name the file and the problem", err)
	}
}

func TestDiff(t *testing.T) {
	a, err := Parse([]byte(`{"map": [{"networks": ["10.0.0.0/8"], "labels": ["fra"]}, {"networks": ["2001:db8::/32"], "labels": ["ams"]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	b, err := Parse([]byte(`{"map": [{"networks": ["10.0.0.0/8"], "labels": ["fra"]}, {"networks": ["10.0.1.0/24", "10.0.2.0/24"], "labels": ["ams"]}, {"networks": ["2001:db8::/32"], "labels": ["ams"]}, {"networks": ["2001:db8:1::/48"], "labels": ["ams"]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	ta, _ := Compile(a)
	tbl, _ := Compile(b)
	changes, sum := Diff(ta, tbl, 0)
	want := []string{"10.0.1.0/24 fra -> ams", "10.0.2.0/24 fra -> ams"}
	var got []string
	for _, c := range changes {
		got = append(got, fmt.Sprintf("%s %s -> %s", c.Prefix, FormatLabels(c.Old), FormatLabels(c.New)))
	}
	if !slices.Equal(got, want) || sum.Changed24 != 2 || sum.Changed56 != 0 || sum.Blocks != 2 {
		t.Errorf("Diff = %q %+v, want %q with 2 /24s", got, sum, want)
	}
	if changes, sum := Diff(ta, ta, 0); len(changes) != 0 || sum.Blocks != 0 {
		t.Errorf("Diff(a, a) = %v", changes)
	}
	// Removal of an entry shows as labels -> none, over a range split into CIDRs.
	changes, sum = Diff(tbl, ta, 1)
	if len(changes) != 1 || sum.Blocks != 2 {
		t.Errorf("limit 1: %v %+v", changes, sum)
	}
}

func TestRangeToPrefixes(t *testing.T) {
	from := u128{0, 0x0a000001}
	to := u128{0, 0x0a0000ff}
	var got []string
	for _, p := range rangeToPrefixes(from, to, 32) {
		got = append(got, p.String())
	}
	want := []string{"10.0.0.1/32", "10.0.0.2/31", "10.0.0.4/30", "10.0.0.8/29", "10.0.0.16/28", "10.0.0.32/27", "10.0.0.64/26", "10.0.0.128/25"}
	if !slices.Equal(got, want) {
		t.Errorf("rangeToPrefixes = %v, want %v", got, want)
	}
	all := rangeToPrefixes(u128{}, u128{^uint64(0), ^uint64(0)}, 128)
	if len(all) != 1 || all[0].String() != "::/0" {
		t.Errorf("whole space = %v", all)
	}
}

func TestStats(t *testing.T) {
	m, _ := ReadFile("testdata/lookup.json")
	tb, _ := Compile(m)
	s := tb.Stats(m)
	if s.Networks4 != 10 || s.Networks6 != 4 || s.Entries != 13 || s.Version != 3 {
		t.Errorf("Stats = %+v", s)
	}
	// 10/8 + 0/8 + 2×/25 + /24 + /24(mapped) + 255.255.255/24 = 2·65536 + 4 /24s.
	if s.Covered24 != 2*65536+4 {
		t.Errorf("Covered24 = %v", s.Covered24)
	}
}

func TestRadixSort(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{0, 1, 5, 255, 256, 1000, 70000} {
		for _, mask := range []uint64{^uint64(0), 0xffff_0000_ffff, 0xff} {
			keys := make([]uint64, n)
			for i := range keys {
				keys[i] = r.Uint64() & mask
			}
			want := slices.Clone(keys)
			slices.Sort(want)
			radixSort(keys)
			if !slices.Equal(keys, want) {
				t.Fatalf("radixSort(n=%d, mask=%x) wrong", n, mask)
			}
		}
	}
}

// TestDirectMatchesSearch: on a large map the /24 table and the binary
// search agree at /24 network addresses and at random addresses.
func TestDirectMatchesSearch(t *testing.T) {
	t.Run("16bit", testDirectMatchesSearch)
	t.Run("32bit", func(t *testing.T) {
		defer func(a int) { direct16MaxAnswers = a }(direct16MaxAnswers)
		direct16MaxAnswers = 0
		testDirectMatchesSearch(t)
	})
}

func testDirectMatchesSearch(t *testing.T) {
	m := Synthetic(200_000, 10, benchPoPs, 7)
	// Nest some longer and shorter prefixes so /24s get split and merged.
	m.Entries = append(m.Entries,
		Entry{Networks: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, Labels: []Label{"fra"}},
		Entry{Networks: []netip.Prefix{netip.MustParsePrefix("10.1.2.128/25"), netip.MustParsePrefix("10.9.0.0/16")}, Labels: []Label{"ams"}})
	tb, err := Compile(m)
	if err != nil {
		t.Fatal(err)
	}
	if wide := direct16MaxAnswers == 0; tb.v4.direct16.Load() == nil == !wide || tb.v4.direct32.Load() == nil == wide {
		t.Fatalf("direct table: 16-bit %v, 32-bit %v", tb.v4.direct16.Load() != nil, tb.v4.direct32.Load() != nil)
	}
	slow, err := CompileWith(m, CompileOptions{NoDirect: true})
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(5, 6))
	for i := range 200_000 {
		x := r.Uint32()
		if i%2 == 0 {
			x &^= 0xff
		}
		if i < 1000 {
			x = 0x0a010200 + uint32(i&255) // around the /25
		}
		ga, gs := tb.Lookup4(x)
		wa, ws := slow.Lookup4(x)
		if ga != wa || gs != ws {
			t.Fatalf("Lookup4(%08x): direct %d/%d, search %d/%d", x, ga, gs, wa, ws)
		}
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	good := dir + "/good.json"
	dup := dir + "/dup.json"
	_ = os.WriteFile(good, []byte(`{"map": [{"networks": ["10.0.0.0/8"], "labels": ["a"]}]}`), 0o644)
	_ = os.WriteFile(dup, []byte(`{"map": [{"networks": ["10.0.0.0/8"], "labels": ["a"]}, {"networks": ["10.0.0.0/8"], "labels": ["b"]}]}`), 0o644)
	if _, tb, err := Load(good); err != nil || tb.Entries() != 1 {
		t.Fatalf("Load(good) = %v", err)
	}
	_, _, err := Load(dup)
	if err == nil || !strings.Contains(err.Error(), "map[1].networks[0]: duplicate network 10.0.0.0/8 (first in map[0].networks[0])") || !strings.Contains(err.Error(), dup) {
		t.Errorf("Load(dup) error = %v", err)
	}
}

// Without the direct table (CompileOptions.NoDirect) a large map answers
// exactly as with it, and so does one whose table is deferred
// (DeferDirect), before BuildDirect, while it builds and after.
func TestCompileNoDirect(t *testing.T) {
	m := Synthetic(100_000, 1_000, []Label{"a", "b", "c", "d"}, 7)
	full, err := Compile(m)
	if err != nil {
		t.Fatal(err)
	}
	lean, err := CompileWith(m, CompileOptions{NoDirect: true})
	if err != nil {
		t.Fatal(err)
	}
	deferred, err := CompileWith(m, CompileOptions{DeferDirect: true})
	if err != nil {
		t.Fatal(err)
	}
	if !full.v4.directBuilt() || lean.v4.directBuilt() || deferred.v4.directBuilt() {
		t.Fatalf("direct tables: full %v, lean %v, deferred %v", full.v4.directBuilt(), lean.v4.directBuilt(), deferred.v4.directBuilt())
	}
	if full.BuildDirect() || lean.BuildDirect() {
		t.Fatal("BuildDirect built a table that was not deferred")
	}
	check := func(tb *Table, what string, seed uint64) {
		rng := rand.New(rand.NewPCG(1, seed))
		for range 200_000 {
			x := rng.Uint32()
			i, s := full.Lookup4(x)
			if j, u := tb.Lookup4(x); i != j || s != u {
				t.Errorf("Lookup4(%08x) = %d /%d with the direct table, %d /%d %s", x, i, s, j, u, what)
				return
			}
		}
	}
	check(lean, "without", 2)
	check(deferred, "deferred, before BuildDirect", 3)
	// Lookups while it builds (go test -race checks the hand-over).
	done := make(chan struct{})
	go func() {
		defer close(done)
		check(deferred, "deferred, during BuildDirect", 4)
	}()
	if !deferred.BuildDirect() {
		t.Fatal("BuildDirect did not build the deferred table")
	}
	<-done
	if !deferred.v4.directBuilt() || deferred.BuildDirect() {
		t.Fatalf("after BuildDirect: built %v, or it built again", deferred.v4.directBuilt())
	}
	if !sameDirect(&full.v4, &deferred.v4) {
		t.Fatal("the deferred direct table differs from Compile's")
	}
	check(deferred, "deferred, after BuildDirect", 5)
}
