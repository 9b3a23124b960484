package popmap

import (
	"bytes"
	"math/bits"
	"math/rand/v2"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// sameTable reports how a and b differ ("" when they are the same).
// sameDirect reports whether a and b have the same direct /24 table, or
// both none.
func sameDirect(a, b *table4) bool {
	a16, b16, a32, b32 := a.direct16.Load(), b.direct16.Load(), a.direct32.Load(), b.direct32.Load()
	return (a16 == nil) == (b16 == nil) && (a32 == nil) == (b32 == nil) &&
		(a16 == nil || *a16 == *b16) && (a32 == nil || *a32 == *b32)
}

func sameTable(a, b *Table) string {
	switch {
	case a.meta != b.meta || a.entries != b.entries || a.nets4 != b.nets4 || a.nets6 != b.nets6:
		return "meta or counts"
	case !reflect.DeepEqual(a.answers, b.answers) || !reflect.DeepEqual(a.answerEntry, b.answerEntry):
		return "answers"
	case !slices.Equal(a.v4.starts, b.v4.starts) || !slices.Equal(a.v4.ans, b.v4.ans) || !slices.Equal(a.v4.index, b.v4.index):
		return "IPv4 runs"
	case !sameDirect(&a.v4, &b.v4):
		return "IPv4 /24 table"
	case !slices.Equal(a.v6.hi, b.v6.hi) || !slices.Equal(a.v6.lo, b.v6.lo) || !slices.Equal(a.v6.ans, b.v6.ans) || !slices.Equal(a.v6.index, b.v6.index):
		return "IPv6 runs"
	}
	return ""
}

// checkLoadTable: LoadTableBytes and LoadBytes agree on data — both fail
// with the same error, or both give the same table — and the fast path
// alone decides it, without falling back.
func checkLoadTable(t *testing.T, data []byte) {
	t.Helper()
	_, want, werr := LoadBytes(data, "m.json")
	got, gerr := LoadTableBytes(data, "m.json")
	fast, ferr := compileJSON(data, CompileOptions{})
	if IsTable(data) { // both decode it; the JSON fast path has no part
		fast, ferr = got, gerr
	}
	switch {
	case (werr == nil) != (ferr == nil):
		t.Fatalf("Load: %v; fast path: %v\n%s", werr, ferr, data)
	case werr != nil:
		if gerr == nil || gerr.Error() != werr.Error() {
			t.Fatalf("LoadTableBytes error %v, Load's %v", gerr, werr)
		}
	case gerr != nil:
		t.Fatalf("LoadTableBytes: %v", gerr)
	default:
		if d := sameTable(got, want); d != "" {
			t.Fatalf("tables differ in %s\n%s", d, data)
		}
		if d := sameTable(fast, want); d != "" {
			t.Fatalf("fast path's table differs in %s\n%s", d, data)
		}
	}
}

func TestLoadTableMatchesLoad(t *testing.T) {
	for _, tc := range parseCases {
		t.Run(tc.name, func(t *testing.T) { checkLoadTable(t, []byte(tc.in)) })
	}
	for _, in := range []string{
		`{"map": []}`,
		`{"map": [], "meta": {"version": 9}}`,
		`{"map": [{"labels": ["b", "a"], "networks": ["10.0.0.0/8", "2001:db8::/32"]}], "meta": {"version": 2}}`,
		`{"meta":{"version":7},"map":[{"labels":["f\u0072a"],"networks":["203.0.113.0/24","2001:DB8::/32"]}]}`,
		`{"map": [{"networks": ["0.0.0.0/0", "::/0", "255.255.255.255/32", "::ffff:1.2.3.4/128"], "labels": ["a"]}]}`,
		`{"map": [{"networks": ["1.2.3.0/24"], "labels": ["a"]}, {"networks": ["::ffff:1.2.3.0/120"], "labels": ["b"]}]}`,
		`{"map": [{"networks": ["10.0.0.0/8"], "labels": ["a"]}, {"networks": ["10.0.0.0/8"], "labels": ["a"]}]}`,
		`{"map": [{"networks": ["10.0.0.0/8"], "labels": ["a"], "networks": ["11.0.0.0/8"]}]}`,
		`{"map": [{"networks": ["1.2.3.0/24" "1.2.4.0/24"], "labels": ["a"]}]}`,
		`{"map": [{"networks": ["1.2.3.0/24",], "labels": ["a"]}]}`,
		`{"map": [{"networks": ["1.2.3.0/24"], "labels": ["a"]}`,
		`{"map": [{"networks": ["1.2.3.0\/24"], "labels": ["a"]}]}`,
	} {
		checkLoadTable(t, []byte(in))
	}
	data, err := os.ReadFile("testdata/lookup.json")
	if err != nil {
		t.Fatal(err)
	}
	checkLoadTable(t, data)
	r := rand.New(rand.NewPCG(7, 8))
	for range 200 {
		var buf bytes.Buffer
		if err := randomMap(r).Encode(&buf); err != nil {
			t.Fatal(err)
		}
		checkLoadTable(t, buf.Bytes())
	}
	// A large map, with the direct /24 table (over directMinRuns runs).
	var buf bytes.Buffer
	if err := Synthetic(40_000, 4_000, benchPoPs, 3).Encode(&buf); err != nil {
		t.Fatal(err)
	}
	checkLoadTable(t, buf.Bytes())
	if tb, err := LoadTableBytes(buf.Bytes(), "big.json"); err != nil || !tb.v4.directBuilt() {
		t.Fatalf("the large map: err %v, direct table built %v; want one", err, err == nil && tb.v4.directBuilt())
	}
}

func TestLoadTableFile(t *testing.T) {
	tb, err := LoadTable("testdata/lookup.json")
	if err != nil {
		t.Fatal(err)
	}
	if tb.Meta().Version != 3 || tb.Entries() != 13 {
		t.Errorf("LoadTable: version %d, %d entries; want 3, 13", tb.Meta().Version, tb.Entries())
	}
	if _, err := LoadTable("testdata/missing.json"); err == nil || !strings.Contains(err.Error(), "reading map") {
		t.Errorf("LoadTable(missing) = %v, want a read error", err)
	}
	bad := t.TempDir() + "/dup.json"
	if err := os.WriteFile(bad, []byte(`{"map": [{"networks": ["10.0.0.0/8"], "labels": ["a"]}, {"networks": ["10.0.0.0/8"], "labels": ["b"]}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = LoadTable(bad)
	if err == nil || !strings.Contains(err.Error(), bad) || !strings.Contains(err.Error(), "map[1].networks[0]: duplicate network 10.0.0.0/8 (first in map[0].networks[0])") {
		t.Errorf("LoadTable(dup) = %v, want the file and both places of the duplicate", err)
	}
}

func TestTableCheckLabels(t *testing.T) {
	m, err := ReadFile("testdata/lookup.json")
	if err != nil {
		t.Fatal(err)
	}
	tb := mustTable(t, "testdata/lookup.json")
	for _, known := range []map[Label]bool{
		{"fra": true, "ams": true, "lhr": true, "iad": true, "sin": true},
		{"fra": true, "ams": true, "lhr": true, "iad": true, "sin": true, "gru": true},
		{"ams": true},
		{},
	} {
		f := func(l Label) bool { return known[l] }
		we, ge := m.CheckLabels(f), tb.CheckLabels(f)
		if (we == nil) != (ge == nil) || (we != nil && we.Error() != ge.Error()) {
			t.Errorf("known %v: Table.CheckLabels = %v, Map.CheckLabels = %v", known, ge, we)
		}
	}
}

// directRef is the per-/24 table computed slot by slot from the scope rule.
func directRef(starts, ans []uint32) []uint32 {
	d := make([]uint32, 1<<24)
	n := len(starts)
	for i := range n {
		s := uint64(starts[i])
		e := uint64(1<<32 - 1)
		if i+1 < n {
			e = uint64(starts[i+1]) - 1
		}
		for b := (s + 255) >> 8; b+1 <= (e+1)>>8; b++ {
			x := uint32(b) << 8
			scope := 0
			if i > 0 {
				scope = bits.LeadingZeros32(x^(starts[i]-1)) + 1
			}
			if i+1 < n {
				scope = max(scope, bits.LeadingZeros32(x^starts[i+1])+1)
			}
			d[b] = ans[i]<<8 | uint32(scope)
		}
		if s&255 != 0 {
			d[s>>8] = splitMark
		}
	}
	return d
}

// TestBuildDirect: filling the /24 table a CIDR block at a time gives the
// slot-by-slot scopes.
func TestBuildDirect(t *testing.T) {
	if testing.Short() {
		t.Skip("fills 96 MiB of tables")
	}
	r := rand.New(rand.NewPCG(5, 5))
	for it := range 3 {
		starts := []uint32{0}
		ans := []uint32{0}
		for x := uint64(0); ; {
			// Runs from a few addresses to a few /8s, some aligned.
			step := uint64(1) << r.IntN(26)
			if r.IntN(3) == 0 {
				step += uint64(r.IntN(300))
			}
			x += step
			if x >= 1<<32 {
				break
			}
			starts = append(starts, uint32(x))
			ans = append(ans, uint32(1+r.IntN(5)))
		}
		want := directRef(starts, ans)
		got16 := fillDirect[uint16](starts, ans, 5, splitMark16)
		got32 := fillDirect[uint32](starts, ans, 8, splitMark)
		for i := range want {
			w16 := uint16(want[i]>>8)<<5 | uint16(want[i]&0xff)
			if want[i]&0xff == splitMark {
				w16 = splitMark16
			}
			if got32[i] != want[i] || got16[i] != w16 {
				t.Fatalf("iteration %d (%d runs): slot %06x = %08x / %04x, want %08x / %04x", it, len(starts), i, got32[i], got16[i], want[i], w16)
			}
		}
	}
}

func TestRadixSortBits(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 9))
	for _, n := range []int{0, 1, 100, 255, 256, 5000} {
		keys := make([]uint64, n)
		for i := range keys {
			keys[i] = r.Uint64()
		}
		radixSortBits(keys, 26, 64)
		for i := 1; i < n; i++ {
			if keys[i]>>26 < keys[i-1]>>26 {
				t.Fatalf("n=%d: keys[%d] = %x after %x", n, i, keys[i], keys[i-1])
			}
		}
	}
}
