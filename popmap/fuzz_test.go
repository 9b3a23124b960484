package popmap

import (
	"bytes"
	"net/netip"
	"slices"
	"testing"
)

// FuzzParse: any input either fails with an error or yields a map that
// compiles, encodes and parses back to the same thing.
func FuzzParse(f *testing.F) {
	for _, tc := range parseCases {
		f.Add([]byte(tc.in))
	}
	var buf bytes.Buffer
	m, _ := ReadFile("testdata/lookup.json")
	_ = m.Encode(&buf)
	f.Add(buf.Bytes())
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Parse(data)
		if err != nil {
			return
		}
		if _, err := Compile(m); err != nil {
			t.Fatalf("parsed map does not compile: %v", err)
		}
		var out bytes.Buffer
		if err := m.Encode(&out); err != nil {
			t.Fatal(err)
		}
		m2, err := Parse(out.Bytes())
		if err != nil {
			t.Fatalf("encoded map does not parse: %v\n%s", err, out.Bytes())
		}
		if len(m2.Entries) != len(m.Entries) {
			t.Fatalf("round trip changed the entry count")
		}
	})
}

// FuzzLookup compares the table with the reference on fuzzed addresses of
// the table-test map.
func FuzzLookup(f *testing.F) {
	m, err := ReadFile("testdata/lookup.json")
	if err != nil {
		f.Fatal(err)
	}
	tb, err := Compile(m)
	if err != nil {
		f.Fatal(err)
	}
	for _, tc := range lookupCases {
		if a, err := netip.ParseAddr(tc.in); err == nil {
			f.Add(a.AsSlice())
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		a, ok := netip.AddrFromSlice(b)
		if !ok {
			return
		}
		gl, gs := tb.Lookup(a)
		wl, ws := refLookup(m, a)
		if !slices.Equal(gl, wl) || gs != ws {
			t.Fatalf("Lookup(%v) = %v/%d, want %v/%d", a, gl, gs, wl, ws)
		}
	})
}

// FuzzParseIPv4Prefix: the fast path agrees with netip.ParsePrefix whenever
// it accepts.
func FuzzParseIPv4Prefix(f *testing.F) {
	for _, s := range []string{"10.0.0.0/8", "203.0.113.0/24", "0.0.0.0/0", "255.255.255.255/32", "01.0.0.0/8", "1.2.3.4/33", "1.2.3.0/024", "1.2.3.4/24", "256.0.0.0/8", "1.2.3/24"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := parseIPv4Prefix([]byte(s))
		if !ok {
			return
		}
		want, err := netip.ParsePrefix(s)
		if err != nil || want != got || want.Masked() != want {
			t.Fatalf("parseIPv4Prefix(%q) = %v, netip says %v, %v", s, got, want, err)
		}
	})
}
