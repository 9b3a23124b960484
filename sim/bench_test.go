package sim

import (
	"fmt"
	"testing"
	"time"
)

// BenchmarkGenerate plans and writes whole worlds: networks=100000 is the
// default world of `steer sim` (the floor: under 20 s).
func BenchmarkGenerate(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		b.Run(fmt.Sprintf("networks=%d", n), func(b *testing.B) {
			o := DefaultOptions()
			o.Networks = n
			var c Counts
			start := time.Now()
			for b.Loop() {
				w, err := Plan(o)
				if err != nil {
					b.Fatal(err)
				}
				rep, err := Generate(w, b.TempDir(), nil)
				if err != nil {
					b.Fatal(err)
				}
				c = rep.Counts
			}
			sec := time.Since(start).Seconds() / float64(b.N)
			b.ReportMetric(sec, "s/world")
			b.ReportMetric(float64(c.Networks)/sec, "networks/s")
			b.ReportMetric(float64(c.Samples)/sec, "samples/s")
		})
	}
}
