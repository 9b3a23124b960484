package duckstore

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/zeebo/xxh3"

	"github.com/steer-gslb/steer/rum"

	"github.com/steer-gslb/steer/store"
)

// BenchmarkAddBeacons stores 20-sample beacons in calls of 100 and of
// 5,000, each a committed, fsynced transaction: the collector's group
// commits.
func BenchmarkAddBeacons(b *testing.B) {
	for _, per := range []int{100, 5000} {
		b.Run(fmt.Sprintf("beacons=%d", per), func(b *testing.B) {
			s := openTest(b, b.TempDir())
			const k = 20
			ctx := context.Background()
			var rows int
			b.ReportAllocs()
			seed := uint64(0)
			for b.Loop() {
				b.StopTimer()
				seed++
				bs := genBeacons(seed, per, k, time.Now())
				b.StartTimer()
				res, err := s.AddBeacons(ctx, bs)
				if err != nil {
					b.Fatal(err)
				}
				if res.Added != per {
					b.Fatalf("added %d, want %d", res.Added, per)
				}
				rows += per * k
			}
			b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "samples/s")
			b.ReportMetric(float64(rows/k)/b.Elapsed().Seconds(), "beacons/s")
		})
	}
}

// BenchmarkBeaconID hashes a 20-sample beacon: the binary canonical form
// that store.BeaconID uses, against hashing rum.AppendBeacon's text.
func BenchmarkBeaconID(b *testing.B) {
	bc := genBeacons(1, 1, 20, time.Now())[0].Beacon
	b.Run("binary", func(b *testing.B) {
		b.ReportAllocs()
		var buf []byte
		for b.Loop() {
			_, buf = store.BeaconIDBuf(buf, &bc)
		}
	})
	b.Run("AppendBeacon", func(b *testing.B) {
		b.ReportAllocs()
		var buf []byte
		for b.Loop() {
			buf = rum.AppendBeacon(buf[:0], &bc)
			_ = xxh3.Hash(buf)
		}
	})
}
