// Package storeest gives `steer explain --store` the build's per-PoP
// estimate for a client network: the samples the builder would read for
// it (builder.Load: the build's beacons, not the held-out ones, after the
// cleaning rules) and the network's own p75 per PoP, interpolated as the
// builder's percentile is (DuckDB's quantile_cont). It links the RUM store
// (DuckDB, cgo), which is why it is apart from package explain.
package storeest

import (
	"context"
	"fmt"
	"math"
	"net/netip"

	"github.com/steer-gslb/steer/builder"
	"github.com/steer-gslb/steer/explain"
	"github.com/steer-gslb/steer/store"
)

// Estimates reads the store once and returns an estimator over its
// networks, computed with the builder's default options.
func Estimates(ctx context.Context, st *store.DuckDB) (explain.Estimator, error) {
	d, err := builder.Load(ctx, st, builder.Options{}, builder.TrainBeacons)
	if err != nil {
		return nil, fmt.Errorf("reading the store: %w", err)
	}
	return FromData(d, 0.75), nil
}

// FromData is the estimator over loaded data, at percentile q (0..1).
func FromData(d *builder.Data, q float64) explain.Estimator {
	return func(addr netip.Addr) (netip.Prefix, []explain.Estimate, error) {
		addr = addr.Unmap()
		best := -1
		for i := range d.Networks {
			p := d.Networks[i].Prefix
			if p.Contains(addr) && (best < 0 || p.Bits() > d.Networks[best].Prefix.Bits()) {
				best = i
			}
		}
		if best < 0 {
			return netip.Prefix{}, nil, nil
		}
		var out []explain.Estimate
		d.Networks[best].PoPSamples(func(p int, rtts []float32) {
			out = append(out, explain.Estimate{PoP: string(d.PoPs[p]), Samples: len(rtts), P75Ms: math.Round(builder.Percentile(rtts, q)*10) / 10})
		})
		return d.Networks[best].Prefix, out, nil
	}
}
