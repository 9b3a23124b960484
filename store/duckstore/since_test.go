package duckstore

import (
	"reflect"
	"testing"
	"time"

	"github.com/steer-gslb/steer/store"
)

// TestAggregateSince checks the window of Clean.Since: a store holding
// three batches received an hour apart, read since the second, gives what
// a store holding only the last two gives read whole; JoinDNS counts the
// window's DNS tests only.
func TestAggregateSince(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	var batches [3][]store.Beacon
	for i := range batches {
		batches[i] = genBeacons(uint64(10+i), 200, 5, t0.Add(time.Duration(i)*time.Hour))
		for j := range batches[i] {
			if j%4 == 0 {
				batches[i][j].DNSTest = "t" + itoa(uint64(i*1000+j)) + ".rum.example.net"
			}
		}
	}
	all, recent := openTest(t, t.TempDir()), openTest(t, t.TempDir())
	for i, b := range batches {
		if _, err := all.AddBeacons(ctx, b); err != nil {
			t.Fatal(err)
		}
		if i > 0 {
			if _, err := recent.AddBeacons(ctx, b); err != nil {
				t.Fatal(err)
			}
		}
	}
	since := t0.Add(time.Hour)
	for _, c := range []store.Clean{{}, {Split: store.TrainBeacons, HoldOut: 0.2}, {Split: store.HoldoutBeacons, HoldOut: 0.2}} {
		want, err := recent.Aggregate(ctx, c, 0.75)
		if err != nil {
			t.Fatal(err)
		}
		windowed := c
		windowed.Since = since
		got, err := all.Aggregate(ctx, windowed, 0.75)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("split %v: Aggregate since %v differs from the store of the later beacons alone: %d/%d networks, %d/%d cells",
				c.Split, since, len(got.Networks), len(want.Networks), len(got.Cells), len(want.Cells))
		}
		whole, err := all.Aggregate(ctx, c, 0.75)
		if err != nil {
			t.Fatal(err)
		}
		if reflect.DeepEqual(whole, got) {
			t.Errorf("split %v: the window changed nothing", c.Split)
		}
		jw, err := recent.JoinDNS(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		jg, err := all.JoinDNS(ctx, windowed)
		if err != nil {
			t.Fatal(err)
		}
		if jg.Tests != jw.Tests || jg.Tests == 0 {
			t.Errorf("split %v: JoinDNS since %v counts %d DNS tests, want %d (not 0)", c.Split, since, jg.Tests, jw.Tests)
		}
	}
}
