package popmap

import (
	"bytes"
	"net/netip"
	"os"
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

// FuzzLoadTable: the JSON-to-table loader accepts exactly what Load
// accepts, with the same error or the same table (checkLoadTable).
func FuzzLoadTable(f *testing.F) {
	for _, tc := range parseCases {
		f.Add([]byte(tc.in))
	}
	data, err := os.ReadFile("testdata/lookup.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	f.Add([]byte(`{"map": [{"labels": ["b", "a"], "networks": ["10.0.0.0/8", "2001:db8::/32", "::ffff:1.2.3.0/120"]}], "meta": {"version": 2}}`))
	f.Fuzz(func(t *testing.T, data []byte) { checkLoadTable(t, data) })
}

// FuzzParseIPv6: the IPv6 fast path agrees with netip.ParsePrefix whenever
// it accepts, and never accepts a v4-mapped network (parseNetwork makes
// those IPv4).
func FuzzParseIPv6(f *testing.F) {
	for _, s := range []string{"2001:db8::/32", "::/0", "::1/128", "2001:DB8:0:0:0:0:0:0/64", "1:2:3:4:5:6:7:8/128",
		"2001:db8::1/64", "::ffff:0:0/96", "::ffff:1.2.3.0/120", "fe80::%eth0/64", "1::2::3/64", "::1:2:3:4:5:6:7:8/128",
		"2001:db8::/032", "12345::/16", "2001:db8:/32", "2001:db8::/129", "2001:0db8:0000::/48"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, n, ok := parseIPv6([]byte(s))
		if !ok {
			return
		}
		want, err := netip.ParsePrefix(s)
		if err != nil || !want.Addr().Is6() || want.Addr().Is4In6() || want.Masked() != want ||
			u128From16(want.Addr().As16()) != a || want.Bits() != n {
			t.Fatalf("parseIPv6(%q) = %v/%d, netip says %v, %v", s, a.addr(128), n, want, err)
		}
	})
}
