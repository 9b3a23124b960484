package popmap

import (
	"encoding/binary"
	"hash/crc32"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestTableRoundTrip: a decoded table is the table that was encoded, with
// the same indexes and direct /24 table, on random maps (both lookup
// paths), the test map and a large synthetic one.
func TestTableRoundTrip(t *testing.T) {
	check := func(t *testing.T, tb *Table) {
		t.Helper()
		b, err := tb.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		got, err := DecodeTable(b)
		if err != nil {
			t.Fatal(err)
		}
		if d := sameTable(got, tb); d != "" {
			t.Fatalf("decoded table differs in %s", d)
		}
		again, _ := got.MarshalBinary()
		if !slices.Equal(again, b) {
			t.Fatal("re-encoding the decoded table gives other bytes")
		}
	}
	r := rand.New(rand.NewPCG(3, 4))
	for range 200 {
		check(t, mustCompile(t, randomMap(r)))
	}
	check(t, mustTable(t, "testdata/lookup.json"))
	check(t, mustCompile(t, &Map{}))
	big := mustCompile(t, Synthetic(100_000, 5_000, benchPoPs, 3))
	if !big.v4.directBuilt() {
		t.Fatal("the large map has no direct table; the test does not cover it")
	}
	check(t, big)
}

// TestWithVersion: the copy differs from its table in the version only —
// runs, answers, indexes, the direct /24 table or its deferral — and its
// table is not changed.
func TestWithVersion(t *testing.T) {
	m := Synthetic(100_000, 5_000, benchPoPs, 3)
	for _, o := range []CompileOptions{{}, {DeferDirect: true}, {NoDirect: true}} {
		tb, err := CompileWith(m, o)
		if err != nil {
			t.Fatal(err)
		}
		c := tb.WithVersion(tb.Meta().Version + 7)
		if c.Meta().Version != tb.Meta().Version+7 {
			t.Fatalf("%+v: version %d, want %d", o, c.Meta().Version, tb.Meta().Version+7)
		}
		c.meta.Version = tb.meta.Version
		if d := sameTable(c, tb); d != "" || c.v4.deferred != tb.v4.deferred {
			t.Fatalf("%+v: the copy differs in %q (deferred %v, want %v)", o, d, c.v4.deferred, tb.v4.deferred)
		}
	}
}

func mustCompile(t testing.TB, m *Map) *Table {
	t.Helper()
	tb, err := Compile(m)
	if err != nil {
		t.Fatal(err)
	}
	return tb
}

// TestTableMap: the Map rebuilt from a table compiles to a table with the
// same runs and answers everywhere, and Load of an encoded table file
// gives both.
func TestTableMap(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for it := range 200 {
		m := randomMap(r)
		tb := mustCompile(t, m)
		back := mustCompile(t, tb.Map())
		for _, e := range m.Entries {
			p := e.Networks[0]
			for _, a := range []netip.Addr{p.Addr(), p.Addr().Prev(), lastAddr(p), lastAddr(p).Next()} {
				if !a.IsValid() {
					continue
				}
				gl, gs := back.Lookup(a)
				wl, ws := tb.Lookup(a)
				if !slices.Equal(gl, wl) || gs != ws {
					t.Fatalf("iteration %d: rebuilt map's Lookup(%v) = %v/%d, want %v/%d", it, a, gl, gs, wl, ws)
				}
			}
		}
		if a, b := len(tb.v4.starts)+len(tb.v6.hi), len(back.v4.starts)+len(back.v6.hi); a != b {
			t.Fatalf("iteration %d: %d runs, rebuilt %d", it, a, b)
		}
	}
	tb := mustTable(t, "testdata/lookup.json")
	b, _ := tb.MarshalBinary()
	path := filepath.Join(t.TempDir(), "map.table")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	m, got, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if d := sameTable(got, tb); d != "" {
		t.Fatalf("Load of a table file: differs in %s", d)
	}
	if m.Meta != tb.Meta() || len(m.Entries) == 0 {
		t.Fatalf("Load of a table file: map %+v", m.Meta)
	}
	if lt, err := LoadTable(path); err != nil || sameTable(lt, tb) != "" {
		t.Fatalf("LoadTable of a table file: %v", err)
	}
	if rm, err := ReadFile(path); err != nil || len(rm.Entries) != len(m.Entries) {
		t.Fatalf("ReadFile of a table file: %v", err)
	}
}

// reseal recomputes the checksum of an edited table.
func reseal(b []byte) []byte {
	n := len(b) - 4
	binary.LittleEndian.PutUint32(b[n:], crc32.Checksum(b[:n], castagnoli))
	return b
}

// tableOffsets finds the byte offsets of an encoded table's sections, for
// the error cases below.
func tableOffsets(b []byte) (answers, runs4 int) {
	answers = len(tableMagic) + 8 + 12
	p := answers + 4
	na := int(binary.LittleEndian.Uint32(b[answers:]))
	for range na {
		nl := int(b[p])
		p++
		for range nl {
			p += 1 + int(b[p])
		}
		p += 4
	}
	return answers, p
}

var tableErrorCases = []struct {
	name, want string
	edit       func(b []byte) []byte
}{
	{"not a table", "no \"steertb1\" header", func(b []byte) []byte { return []byte(`{"map": []}`) }},
	{"header only", "truncated", func(b []byte) []byte { return []byte(tableMagic) }},
	{"checksum", "checksum", func(b []byte) []byte { b[len(b)-10] ^= 1; return b }},
	{"truncated", "checksum", func(b []byte) []byte { return b[:len(b)-7] }},
	{"truncated and resealed", "do not fit", func(b []byte) []byte { return reseal(append(b[:40:40], 0, 0, 0, 0)) }},
	{"huge answer count", "do not fit", func(b []byte) []byte {
		a, _ := tableOffsets(b)
		binary.LittleEndian.PutUint32(b[a:], 1<<30)
		return reseal(b)
	}},
	{"bad label", "contains space", func(b []byte) []byte {
		a, _ := tableOffsets(b)
		b[a+4+1+4+2] = ' ' // answer 1, first label's first byte
		return reseal(b)
	}},
	{"answer 1 empty", "only it, is \"no entry\"", func(b []byte) []byte {
		a, _ := tableOffsets(b)
		// answer 0: 0 labels + entry; answer 1's label count → 0 leaves
		// its label bytes to be read as what follows: fails either way.
		b[a+4+1+4] = 0
		return reseal(b)
	}},
	{"run answer out of range", "answer 99 of", func(b []byte) []byte {
		_, r := tableOffsets(b)
		n := int(binary.LittleEndian.Uint32(b[r:]))
		binary.LittleEndian.PutUint32(b[r+4+4*n:], 99)
		return reseal(b)
	}},
	{"first run not at 0", "IPv4 run 0 starts at 0.0.0.1", func(b []byte) []byte {
		_, r := tableOffsets(b)
		binary.LittleEndian.PutUint32(b[r+4:], 1)
		return reseal(b)
	}},
	{"runs not ascending", "does not start after", func(b []byte) []byte {
		_, r := tableOffsets(b)
		binary.LittleEndian.PutUint32(b[r+4+4:], 0)
		return reseal(b)
	}},
	{"runs not maximal", "same answer", func(b []byte) []byte {
		_, r := tableOffsets(b)
		n := int(binary.LittleEndian.Uint32(b[r:]))
		ans := r + 4 + 4*n
		binary.LittleEndian.PutUint32(b[ans+4:], binary.LittleEndian.Uint32(b[ans:]))
		return reseal(b)
	}},
	{"trailing bytes", "bytes after the IPv6 runs", func(b []byte) []byte {
		return reseal(append(b[:len(b)-4:len(b)-4], 1, 2, 3, 0, 0, 0, 0))
	}},
}

// TestDecodeTableErrors: every kind of damage is refused with a message
// that names it.
func TestDecodeTableErrors(t *testing.T) {
	good, err := mustTable(t, "testdata/lookup.json").MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range tableErrorCases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeTable(tc.edit(slices.Clone(good)))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("DecodeTable: %v, want an error with %q", err, tc.want)
			}
		})
	}
	path := filepath.Join(t.TempDir(), "bad.table")
	_ = os.WriteFile(path, good[:len(good)-1], 0o644)
	if _, err := LoadTable(path); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("LoadTable of a damaged table: %v, want the path named", err)
	}
}

// FuzzDecodeTable: any bytes either decode to a table that re-encodes to
// exactly them (the form is canonical) and answers lookups, or are refused.
func FuzzDecodeTable(f *testing.F) {
	good, err := mustTable(f, "testdata/lookup.json").MarshalBinary()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	for _, tc := range tableErrorCases {
		f.Add(tc.edit(slices.Clone(good)))
	}
	r := rand.New(rand.NewPCG(7, 8))
	for range 5 {
		b, _ := mustCompile(f, randomMap(r)).MarshalBinary()
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		tb, err := DecodeTable(data)
		if err != nil {
			return
		}
		again, err := tb.MarshalBinary()
		if err != nil || !slices.Equal(again, data) {
			t.Fatalf("a decoded table re-encodes differently (%v)", err)
		}
		for _, a := range []string{"0.0.0.0", "10.1.2.3", "255.255.255.255", "::", "2001:db8::1", "ffff::1"} {
			tb.Lookup(netip.MustParseAddr(a))
		}
		_ = tb.Map()
	})
}
