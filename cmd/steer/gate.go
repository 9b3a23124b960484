//go:build cgo

package main

import (
	"context"

	"github.com/steer-gslb/steer/builder"
	"github.com/steer-gslb/steer/mapstore"
	"github.com/steer-gslb/steer/popmap"
	"github.com/steer-gslb/steer/store"
)

// heldOutGate returns the gate steer publish --store STORE scores a
// candidate with: both maps answer the held-out beacons' DNS tests as the
// DNS server would (ECS entry, else resolver entry, else anycast) and the
// candidate is worse when its traffic-weighted mean regret against each
// client's best PoP is higher. Without a store there is no gate.
func heldOutGate(storeDir string) (mapstore.Gate, func() error, error) {
	noop := func() error { return nil }
	if storeDir == "" {
		return nil, noop, nil
	}
	st, err := openForReading(storeDir)
	if err != nil {
		return nil, nil, err
	}
	gate, err := storeGate(context.Background(), st)
	_ = st.Close()
	if err != nil {
		return nil, nil, err
	}
	return gate, noop, nil
}

// storeGate is heldOutGate on an open store: the held-out data is read now.
func storeGate(ctx context.Context, st store.Reader) (mapstore.Gate, error) {
	h, err := builder.LoadHeldOut(ctx, st, builder.Options{})
	if err != nil {
		return nil, err
	}
	return func(cand, cur *popmap.Table) (mapstore.GateVerdict, error) {
		c := h.Score(&builder.Strategy{Map: cand})
		o := h.Score(&builder.Strategy{Map: cur})
		return mapstore.GateVerdict{
			Metric:    "held-out regret_ms as served",
			Candidate: c.Served.Regret,
			Current:   o.Served.Regret,
			Worse:     c.Served.Regret > o.Served.Regret+1e-9,
			Detail:    map[string]any{"held_out_networks": h.Networks, "candidate": c, "current": o},
		}, nil
	}, nil
}
