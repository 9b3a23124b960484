package chstore

import (
	"context"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/steer-gslb/steer/store"
)

// TestFaultShardDown kills one shard's server (SIGKILL) with beacons
// acknowledged on it: writes and reads fail with an error naming the
// problem (never a partial aggregate), and after the server restarts on
// its data every acknowledged beacon is there once, and the batch that
// failed, sent again, is stored once whatever part of it had landed.
func TestFaultShardDown(t *testing.T) {
	c := needCluster(t)
	st, _ := openCluster(t)
	ctx := ctxT(t)
	rng := rand.New(rand.NewPCG(3, 4))
	acked := randomWorld(rng, 300)
	if _, err := st.AddBeacons(ctx, acked); err != nil {
		t.Fatal(err)
	}
	restarted := false
	t.Cleanup(func() {
		if !restarted { // leave the shared cluster whole for the other tests
			_ = c.Restart(context.Background(), 1)
		}
	})
	c.Kill(1)

	batch := randomWorld(rng, 300)
	t0 := time.Now()
	_, err := st.AddBeacons(ctx, batch)
	if err == nil {
		t.Fatal("AddBeacons with a shard down: no error")
	}
	t.Logf("AddBeacons with a shard down: %v after %v", err, time.Since(t0))
	if !strings.Contains(err.Error(), "beacons") || !strings.Contains(err.Error(), "not answering: "+c.Nodes[1].HTTP) {
		t.Errorf("error %q does not say what failed", err)
	}
	// the same batch without the duplicate lookup: the insert itself
	// fails, and may have landed on the live shard
	if _, err := insertRaw(ctx, st, batch); err == nil {
		t.Fatal("an insert with a shard down: no error")
	}
	if _, err := st.Aggregate(ctx, store.Clean{}, 0.5); err == nil || !strings.Contains(err.Error(), "not answering: "+c.Nodes[1].HTTP) {
		t.Errorf("Aggregate with a shard down: %v, want an error naming %s", err, c.Nodes[1].HTTP)
	}
	if _, err := st.Stats(ctx); err == nil {
		t.Error("Stats with a shard down: no error")
	}

	if err := c.Restart(ctx, 1); err != nil {
		t.Fatal(err)
	}
	restarted = true
	res, err := st.AddBeacons(ctx, batch) // the spool's retry
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("retry: %+v", res)
	all := append(slices.Clone(acked), batch...)
	unique := map[uint64]bool{}
	samples := 0
	var once []store.Beacon
	for _, b := range all {
		if id := store.BeaconID(&b.Beacon); !unique[id] {
			unique[id] = true
			samples += len(b.Samples)
			once = append(once, b)
		}
	}
	if res.Added+res.Duplicates != len(batch) {
		t.Errorf("retry: %+v for %d beacons", res, len(batch))
	}
	stats, err := st.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if stats.Beacons != int64(len(unique)) || stats.Samples != int64(samples) {
		t.Errorf("after restart: %+v, want %d beacons, %d samples", stats, len(unique), samples)
	}
	got, err := st.Aggregate(ctx, store.Clean{EdgeRTT: true}, 0.5)
	if err != nil {
		t.Fatal(err)
	}
	if want := refAggregate(once, store.Clean{EdgeRTT: true}, 0.5); !reflect.DeepEqual(got, want) {
		t.Errorf("aggregate after restart differs from the reference: %s", aggDiff(got, want))
	}
}

// TestFaultDeleteTimeout: retention whose deletes (mutations) do not
// finish in time is an error saying so, not a silent partial delete.
func TestFaultDeleteTimeout(t *testing.T) {
	_, u := openSingle(t)
	ctx := ctxT(t)
	st, err := Open(ctx, u, Options{MutationTimeout: time.Nanosecond})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = st.Close() }()
	b := beacon(n1, "web", "performance", https("ams", 10))
	b.Received = base.Add(-time.Hour)
	if _, err := st.AddBeacons(ctx, []store.Beacon{b}); err != nil {
		t.Fatal(err)
	}
	_, err = st.DeleteBefore(ctx, base)
	if err == nil || !strings.Contains(err.Error(), "did not finish within 1ns") {
		t.Fatalf("err = %v", err)
	}
}
