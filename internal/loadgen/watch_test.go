package loadgen

import (
	"context"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"
)

func TestWatch(t *testing.T) {
	_, chk, next := worldCheckers(t)
	var cur atomic.Pointer[Checker]
	cur.Store(chk)
	addr := ecsServerFunc(t, cur.Load)
	pool := testPool(t, chk, 8)
	ecs := make([]netip.Prefix, pool.Len())
	for i := range ecs {
		ecs[i] = pool.Prefix(i)
	}
	targets := next.Targets(ecs)

	t.Run("answers change", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		swap := time.Now().Add(100 * time.Millisecond)
		time.AfterFunc(time.Until(swap), func() { cur.Store(next) })
		res, err := Watch(ctx, addr, DefaultQName, targets, 5*time.Millisecond)
		if err != nil {
			t.Fatalf("Watch: %v (%+v)", err, res)
		}
		if res.Done.Before(swap) {
			t.Errorf("Watch done at %v, before the swap at %v", res.Done, swap)
		}
		if res.Rounds < 2 {
			t.Errorf("Watch took %d rounds, want several (the old answers first)", res.Rounds)
		}
	})

	t.Run("already answered", func(t *testing.T) {
		res, err := Watch(context.Background(), addr, DefaultQName, targets, 5*time.Millisecond)
		if err != nil || res.Rounds != 1 {
			t.Errorf("Watch = %+v, %v; want done in one round", res, err)
		}
	})

	t.Run("never answered: ends with the context", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		res, err := Watch(ctx, addr, DefaultQName, chk.Targets(ecs), 5*time.Millisecond)
		if err == nil || !res.Done.IsZero() {
			t.Errorf("Watch = %+v, %v; want the context's error", res, err)
		}
	})

	t.Run("loopback only", func(t *testing.T) {
		if _, err := Watch(context.Background(), netip.MustParseAddrPort("192.0.2.1:53"), DefaultQName, targets, time.Millisecond); err == nil {
			t.Error("Watch accepted a non-loopback server")
		}
	})
}
