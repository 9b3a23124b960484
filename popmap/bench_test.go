package popmap

import (
	"bytes"
	"math/rand/v2"
	"net/netip"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gaissmai/bart"
)

var benchPoPs = []Label{"fra", "ams", "lhr", "cdg", "mad", "mxp", "waw", "arn", "iad", "ord", "dfw", "lax", "sea", "gru", "scl", "jnb", "sin", "hkg", "nrt", "syd"}

var bigOnce sync.Once
var bigMap *Map
var bigJSON []byte

// big is the benchmark map of the issue: 1M IPv4 /24 + 200k IPv6 /56.
func bigTestMap(b *testing.B) (*Map, []byte) {
	b.Helper()
	bigOnce.Do(func() {
		bigMap = Synthetic(1_000_000, 200_000, benchPoPs, 1)
		var buf bytes.Buffer
		_ = bigMap.Encode(&buf)
		bigJSON = buf.Bytes()
	})
	return bigMap, bigJSON
}

var bigJSONOnce = sync.OnceValue(func() []byte {
	var buf bytes.Buffer
	_ = Synthetic(1_000_000, 200_000, benchPoPs, 1).Encode(&buf)
	return buf.Bytes()
})

// bigTestJSON is big's JSON without keeping the Map, whose million
// prefixes would add to every garbage collection in the benchmark what a
// server does not have.
func bigTestJSON() []byte { return bigJSONOnce() }

// benchAddrs draws addresses inside the map's networks (one per network).
func benchAddrs(m *Map, n int) []netip.Addr {
	r := rand.New(rand.NewPCG(9, 9))
	var all []netip.Prefix
	for _, e := range m.Entries {
		all = append(all, e.Networks...)
	}
	out := make([]netip.Addr, n)
	for i := range out {
		p := all[r.IntN(len(all))]
		b := p.Addr().AsSlice()
		b[len(b)-1] = byte(r.IntN(256))
		out[i], _ = netip.AddrFromSlice(b)
	}
	return out
}

func BenchmarkLookup(b *testing.B) {
	m, _ := bigTestMap(b)
	tb, err := Compile(m)
	if err != nil {
		b.Fatal(err)
	}
	addrs := benchAddrs(m, 1<<16)
	var v4, v6 []netip.Addr
	for _, a := range addrs {
		if a.Is4() {
			v4 = append(v4, a)
		} else {
			v6 = append(v6, a)
		}
	}
	for _, c := range []struct {
		name  string
		addrs []netip.Addr
	}{{"v4", v4}, {"v6", v6}} {
		b.Run("steer/"+c.name, func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				l, scope := tb.Lookup(c.addrs[i%len(c.addrs)])
				sink += len(l) + scope
				i++
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lookups/s")
		})
	}
	// The same addresses against bart's longest-prefix match (labels only,
	// no scope), for comparison.
	var lpm bart.Table[int]
	for i, e := range m.Entries {
		for _, p := range e.Networks {
			lpm.Insert(p, i)
		}
	}
	for _, c := range []struct {
		name  string
		addrs []netip.Addr
	}{{"v4", v4}, {"v6", v6}} {
		b.Run("bart-lpm/"+c.name, func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				v, _ := lpm.Lookup(c.addrs[i%len(c.addrs)])
				sink += v
				i++
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lookups/s")
		})
	}
}

var sink int

// BenchmarkCompile measures parse + compile of the 1M+200k map, and the
// table's memory per network.
func BenchmarkCompile(b *testing.B) {
	m, js := bigTestMap(b)
	b.Run("parse", func(b *testing.B) {
		b.SetBytes(int64(len(js)))
		for b.Loop() {
			if _, err := Parse(js); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("compile", func(b *testing.B) {
		var tb *Table
		for b.Loop() {
			var err error
			if tb, err = Compile(m); err != nil {
				b.Fatal(err)
			}
		}
		n4, n6 := tb.Networks()
		b.ReportMetric(float64(tb.Bytes())/float64(n4+n6), "table-B/net")
	})
	b.Run("heap", func(b *testing.B) {
		// Live heap of a compiled table, measured around its construction.
		var tb *Table
		for b.Loop() {
			runtime.GC()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			tb, _ = Compile(m)
			runtime.GC()
			runtime.ReadMemStats(&after)
			n4, n6 := tb.Networks()
			b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(n4+n6), "heap-B/net")
		}
		runtime.KeepAlive(tb)
	})
	b.Run("bart-insert", func(b *testing.B) {
		for b.Loop() {
			var lpm bart.Table[int]
			for i, e := range m.Entries {
				for _, p := range e.Networks {
					lpm.Insert(p, i)
				}
			}
		}
	})
}

// BenchmarkLoad measures what a server does with the 1M+200k map on start
// and on every reload: JSON to a compiled table, through a Map (LoadBytes)
// and straight (LoadTableBytes).
func BenchmarkLoad(b *testing.B) {
	js := bigTestJSON()
	b.Run("via-map", func(b *testing.B) {
		b.SetBytes(int64(len(js)))
		b.ReportAllocs()
		cpu := processCPU()
		for b.Loop() {
			if _, _, err := LoadBytes(js, "big.json"); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(processCPU()-cpu)/float64(b.N)/1e6, "cpu-ms/op")
	})
	b.Run("table", func(b *testing.B) {
		b.SetBytes(int64(len(js)))
		b.ReportAllocs()
		cpu := processCPU()
		for b.Loop() {
			if _, err := LoadTableBytes(js, "big.json"); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(processCPU()-cpu)/float64(b.N)/1e6, "cpu-ms/op")
	})
	// What a DNS server following a control server does: decode the
	// compiled table it was sent (DecodeTable) instead of compiling;
	// "deferred" is the part before it answers from the new map (the
	// direct /24 table is built after: CompileOptions.DeferDirect).
	for _, c := range []struct {
		name string
		o    CompileOptions
	}{{"decode-table", CompileOptions{}}, {"decode-table-deferred", CompileOptions{DeferDirect: true}}} {
		b.Run(c.name, func(b *testing.B) {
			tb, err := LoadTableBytes(js, "big.json")
			if err != nil {
				b.Fatal(err)
			}
			enc, err := tb.MarshalBinary()
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(enc)))
			b.ReportAllocs()
			cpu := processCPU()
			for b.Loop() {
				if _, err := LoadTableBytesWith(enc, "big.table", c.o); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(processCPU()-cpu)/float64(b.N)/1e6, "cpu-ms/op")
			b.ReportMetric(float64(len(enc))/float64(len(js)), "size/json")
		})
	}
}

// processCPU is the process's user+system CPU time: on a shared machine it
// varies less than the wall time, which includes the time other programs
// held the core. It counts the GC's threads too.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkBuildDirect is the direct /24 table of the 1M+200k map built
// from its runs: the part of a decode or compile that touches 64 MiB.
func BenchmarkBuildDirect(b *testing.B) {
	m, _ := bigTestMap(b)
	tb := mustCompile(b, m)
	for b.Loop() {
		c := &Table{answers: tb.answers}
		c.v4.starts, c.v4.ans = tb.v4.starts, tb.v4.ans
		c.buildDirect()
		sink += c.v4.directWords()
	}
}
