//go:build cgo

package main

import (
	"context"

	"github.com/steer-gslb/steer/builder"
	"github.com/steer-gslb/steer/mapstore"
	"github.com/steer-gslb/steer/popmap"
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
	h, err := builder.LoadHeldOut(context.Background(), st, builder.Options{})
	_ = st.Close()
	if err != nil {
		return nil, nil, err
	}
	gate := func(cand, cur *popmap.Table) (mapstore.GateVerdict, error) {
		c := h.Score(&builder.Strategy{Map: cand})
		o := h.Score(&builder.Strategy{Map: cur})
		return mapstore.GateVerdict{
			Metric:    "held-out regret_ms as served",
			Candidate: c.Served.Regret,
			Current:   o.Served.Regret,
			Worse:     c.Served.Regret > o.Served.Regret+1e-9,
			Detail:    map[string]any{"held_out_networks": h.Networks, "candidate": c, "current": o},
		}, nil
	}
	return gate, noop, nil
}
