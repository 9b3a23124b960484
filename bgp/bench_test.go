package bgp

import (
	"bytes"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// syntheticRoutes returns n distinct routes, one in five IPv6, with ASNs
// spread over the 2- and 4-byte ranges.
func syntheticRoutes(n int) []Route {
	r := rand.New(rand.NewPCG(1, 2))
	out := make([]Route, 0, n)
	for i := range n {
		asn := 1 + r.Uint32N(400000)
		if i%5 == 4 {
			a := netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, byte(i >> 16), byte(i >> 8), byte(i)})
			out = append(out, Route{netip.PrefixFrom(a, 56), asn})
			continue
		}
		a := netip.AddrFrom4([4]byte{byte(1 + i>>16), byte(i >> 8), byte(i), 0})
		out = append(out, Route{netip.PrefixFrom(a, 24), asn})
	}
	return out
}

func discard(Route) error { return nil }

// BenchmarkParsePyASN parses 500k lines in memory: about the size of a full
// IPv4 table.
func BenchmarkParsePyASN(b *testing.B) {
	var buf bytes.Buffer
	if err := WritePyASN(&buf, syntheticRoutes(500_000), "benchmark"); err != nil {
		b.Fatal(err)
	}
	data := buf.Bytes()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		st, err := ParsePyASN(bytes.NewReader(data), discard)
		if err != nil || st.Routes != 500_000 {
			b.Fatal(st, err)
		}
	}
	b.ReportMetric(float64(b.N)*500_000/b.Elapsed().Seconds(), "routes/s")
}

// BenchmarkParseMRT parses the decompressed real fragments (47 and 29 peers
// per prefix, as in a full RouteViews dump) and a single-peer WriteMRT dump.
func BenchmarkParseMRT(b *testing.B) {
	var w bytes.Buffer
	if err := WriteMRT(&w, syntheticRoutes(100_000), time.Unix(testTime, 0), 64496, netip.MustParseAddr("192.0.2.1")); err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name string
		data []byte
	}{
		{"routeviews-v4", decompressed(b, mrtFragments[0].file)},
		{"routeviews-v6", decompressed(b, mrtFragments[1].file)},
		{"written-100k", w.Bytes()},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(bc.data)))
			b.ReportAllocs()
			var routes int
			for b.Loop() {
				st, err := ParseMRT(bytes.NewReader(bc.data), discard)
				if err != nil {
					b.Fatal(err)
				}
				routes = st.Routes
			}
			b.ReportMetric(float64(b.N*routes)/b.Elapsed().Seconds(), "routes/s")
		})
	}
}

func BenchmarkWriteMRT(b *testing.B) {
	routes := syntheticRoutes(100_000)
	b.ReportAllocs()
	for b.Loop() {
		var buf bytes.Buffer
		if err := WriteMRT(&buf, routes, time.Unix(testTime, 0), 64496, netip.MustParseAddr("192.0.2.1")); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*len(routes))/b.Elapsed().Seconds(), "routes/s")
}

// BenchmarkReadFileRaw reads the full raw files (gzip pyasn, cut bzip2 MRT)
// when they are available: the end-to-end cost, decompression included.
func BenchmarkReadFileRaw(b *testing.B) {
	files := []string{"ipasn_20140513.dat.gz", "ipasn6_20151101.dat.gz", "rib.20140523.0600_firstMB.bz2"}
	dir := rawDir(b, files...)
	for _, f := range files {
		b.Run(f, func(b *testing.B) {
			path := filepath.Join(dir, f)
			fi, err := os.Stat(path)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(fi.Size())
			b.ReportAllocs()
			var routes int
			for b.Loop() {
				st, err := ReadFile(path, discard)
				if err != nil {
					b.Fatal(err)
				}
				routes = st.Routes
			}
			b.ReportMetric(float64(b.N*routes)/b.Elapsed().Seconds(), "routes/s")
		})
	}
}
