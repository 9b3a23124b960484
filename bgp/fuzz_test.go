package bgp

import (
	"bytes"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"
)

// FuzzParsePyASN: any input gives an error or valid routes, and the routes it
// gives write and parse back to themselves.
func FuzzParsePyASN(f *testing.F) {
	for _, tc := range pyasnCases {
		f.Add([]byte(tc.in))
	}
	f.Add(decompressed(f, "ipasn_20140513_head2000.dat.gz")[:4096])
	f.Add(decompressed(f, "ipasn6_20151101_v6head1000.dat.gz")[:4096])
	f.Fuzz(func(t *testing.T, data []byte) {
		got, fn := collect()
		st, err := ParsePyASN(bytes.NewReader(data), fn)
		checkRoutes(t, *got)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "line ") {
				t.Fatalf("error %q does not name the line", err)
			}
			return
		}
		if st.Routes != len(*got) {
			t.Fatalf("Stats.Routes = %d, fn saw %d", st.Routes, len(*got))
		}
		var buf bytes.Buffer
		if err := WritePyASN(&buf, *got, string(data[:min(len(data), 40)])); err != nil {
			t.Fatal(err)
		}
		again, fn := collect()
		if _, err := ParsePyASN(&buf, fn); err != nil {
			t.Fatalf("written routes do not parse: %v\n%s", err, buf.Bytes())
		}
		if !slices.Equal(*again, *got) {
			t.Fatalf("round trip changed the routes: %v, want %v", *again, *got)
		}
	})
}

// FuzzParseMRT: any input gives an error naming the record, or valid routes;
// gobgp panics are errors, not crashes. The routes of a dump that parses
// whole write and parse back to themselves.
func FuzzParseMRT(f *testing.F) {
	f.Add(writtenMRT(f))
	for _, tc := range originCases {
		f.Add(cat(pitRecord(2), tc.record))
	}
	for _, tc := range mrtErrorCases {
		f.Add(tc.in)
	}
	for _, tc := range mrtFragments {
		f.Add(decompressed(f, tc.file)[:8192])
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, fn := collect()
		st, err := ParseMRT(bytes.NewReader(data), fn)
		checkRoutes(t, *got)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "mrt record ") {
				t.Fatalf("error %q does not name the record", err)
			}
			return
		}
		if st.Routes != len(*got) {
			t.Fatalf("Stats.Routes = %d, fn saw %d", st.Routes, len(*got))
		}
		var buf bytes.Buffer
		if err := WriteMRT(&buf, *got, time.Unix(testTime, 0), 64496, netip.MustParseAddr("2001:db8::1")); err != nil {
			t.Fatal(err)
		}
		again, fn := collect()
		if _, err := ParseMRT(&buf, fn); err != nil {
			t.Fatalf("written routes do not parse: %v", err)
		}
		if !slices.Equal(*again, *got) {
			t.Fatalf("round trip changed the routes: %v, want %v", *again, *got)
		}
	})
}

// FuzzRead: any input, compressed or not, gives an error or valid routes.
func FuzzRead(f *testing.F) {
	f.Add(writtenMRT(f))
	f.Add(gzipBytes(f, writtenMRT(f)))
	f.Add(writtenPyASN(f))
	f.Add(gzipBytes(f, writtenPyASN(f)))
	f.Add(readTestdata(f, "rib.20140523.0600_head.mrt.bz2"))
	f.Add(readTestdata(f, "ipasn_20140513_head200.dat.bz2"))
	for _, tc := range pyasnCases[:5] {
		f.Add(gzipBytes(f, []byte(tc.in)))
	}
	for _, tc := range mrtErrorCases[:5] {
		f.Add(tc.in)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, fn := collect()
		st, err := Read(bytes.NewReader(data), fn)
		checkRoutes(t, *got)
		if err == nil && st.Routes != len(*got) {
			t.Fatalf("Stats.Routes = %d, fn saw %d", st.Routes, len(*got))
		}
	})
}

// FuzzParseIPv4Prefix: the fast path agrees with netip.ParsePrefix whenever
// it accepts, and accepts every IPv4 prefix netip does.
func FuzzParseIPv4Prefix(f *testing.F) {
	for _, s := range ipv4PrefixSeeds {
		f.Add(s)
	}
	f.Fuzz(checkIPv4Prefix)
}
