package rum

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"
	"testing"
	"time"
)

// benchBeacon is a typical desktop beacon: n samples, one per PoP with the
// last one to anycast, millisecond timestamps, a DNS test name.
func benchBeacon(n int) []byte {
	b := Beacon{V: 1, Agent: Agent{Kind: KindDesktop, Platform: "windows", Timer: "qpc"}, DNSTest: "k3f9q2x7w1.rum.example.net"}
	t := time.Date(2026, 11, 21, 10, 0, 0, 123e6, time.UTC)
	for i := range n {
		s := Sample{TS: t.Add(time.Duration(i) * 137 * time.Millisecond), Target: testPoPs[i%len(testPoPs)], Probe: ProbeHTTPS, RTTms: 10 + float64(i*37%2000)/10}
		if i == n-1 {
			s.Target, s.ServedBy = Anycast, "ams"
		}
		b.Samples = append(b.Samples, s)
	}
	return AppendBeacon(nil, &b)
}

var benchLog = []byte(`{"ts":"2026-11-21T10:00:00.101Z","qname":"k3f9q2x7w1.rum.example.net.","qtype":"A","resolver":"198.51.100.7","ecs":"203.0.113.0/24","pop":"fra","source":"ecs"}`)

func BenchmarkParseBeacon(b *testing.B) {
	for _, n := range []int{1, 20, 256} {
		data := benchBeacon(n)
		b.Run(fmt.Sprintf("samples=%d", n), func(b *testing.B) {
			var bc Beacon
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if _, err := ParseBeacon(data, Strict, &bc); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)*float64(n)/b.Elapsed().Seconds(), "samples/s")
		})
	}
}

// BenchmarkParseBeaconEncodingJSON decodes the same 20-sample beacon with
// encoding/json, side by side with BenchmarkParseBeacon: "decode" only fills
// a struct of strings and floats (unknown fields rejected, as in Strict
// mode); "decode+validate" also converts it to a Beacon with the standard
// library (time.Parse, netip, probe names), which is what ParseBeacon does.
func BenchmarkParseBeaconEncodingJSON(b *testing.B) {
	data := benchBeacon(20)
	b.Run("decode", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			var r refBeacon
			d := json.NewDecoder(bytes.NewReader(data))
			d.DisallowUnknownFields()
			if err := d.Decode(&r); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)*20/b.Elapsed().Seconds(), "samples/s")
	})
	b.Run("decode+validate", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			if _, err := refParseBeacon(data, true); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)*20/b.Elapsed().Seconds(), "samples/s")
	})
}

// BenchmarkParseBeaconParallel is bulk ingest's view: every core parsing
// beacons into its own Beacon (the shared intern table is read-mostly).
func BenchmarkParseBeaconParallel(b *testing.B) {
	data := benchBeacon(20)
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	b.RunParallel(func(pb *testing.PB) {
		var bc Beacon
		for pb.Next() {
			if _, err := ParseBeacon(data, Bulk, &bc); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)*20/b.Elapsed().Seconds(), "samples/s")
}

// BenchmarkReadBeacons is one core of bulk ingest: an NDJSON file of
// 20-sample beacons through Reader and ParseBeacon.
func BenchmarkReadBeacons(b *testing.B) {
	line := benchBeacon(20)
	var file []byte
	const lines = 1000
	for range lines {
		file = append(file, line...)
		file = append(file, '\n')
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(file)))
	var bc Beacon
	for b.Loop() {
		r := NewReader(bytes.NewReader(file))
		for l, ok := r.Next(); ok; l, ok = r.Next() {
			if _, err := ParseBeacon(l, Bulk, &bc); err != nil {
				b.Fatal(err)
			}
		}
		if r.Err() != nil {
			b.Fatal(r.Err())
		}
	}
	b.ReportMetric(float64(b.N)*lines*20/b.Elapsed().Seconds(), "samples/s")
}

func BenchmarkAppendBeacon(b *testing.B) {
	var bc Beacon
	if _, err := ParseBeacon(benchBeacon(20), Strict, &bc); err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 0, 4096)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendBeacon(buf[:0], &bc)
	}
	b.SetBytes(int64(len(buf)))
	b.ReportMetric(float64(b.N)*20/b.Elapsed().Seconds(), "samples/s")
}

func BenchmarkParseLogEntry(b *testing.B) {
	var e LogEntry
	b.ReportAllocs()
	b.SetBytes(int64(len(benchLog)))
	for b.Loop() {
		if err := ParseLogEntry(benchLog, &e); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lines/s")
}

func BenchmarkParseLogEntryEncodingJSON(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(benchLog)))
	for b.Loop() {
		if _, err := refParseLogEntry(benchLog); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lines/s")
}

func BenchmarkAppendLogEntry(b *testing.B) {
	e := LogEntry{TS: time.Now(), QName: "k3f9q2x7w1.rum.example.net.", QType: "A", Resolver: netip.MustParseAddr("198.51.100.7"),
		ECS: netip.MustParsePrefix("203.0.113.0/24"), PoP: "fra", Source: SourceECS}
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendLogEntry(buf[:0], &e)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lines/s")
}
