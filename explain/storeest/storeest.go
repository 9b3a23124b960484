// Package storeest gives `steer explain --store` the build's per-PoP
// estimate for a client network: the samples the builder would read for
// it (builder.Load: the build's beacons, not the held-out ones, after the
// cleaning rules) and the network's own p75 per PoP, the builder's pinned
// quantile (store.Quantile), aggregated by the store's engine. It is apart
// from package explain, which the lean DNS server links, because it links
// the builder.
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
func Estimates(ctx context.Context, st store.Reader) (explain.Estimator, error) {
	d, err := builder.Load(ctx, st, builder.Options{}, builder.TrainBeacons, 0.75)
	if err != nil {
		return nil, fmt.Errorf("reading the store: %w", err)
	}
	return FromData(d), nil
}

// FromData is the estimator over loaded data, at the data's quantile.
func FromData(d *builder.Data) explain.Estimator {
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
		d.Networks[best].PoPCells(d.Quantile, func(p, n int, v float64) {
			out = append(out, explain.Estimate{PoP: string(d.PoPs[p]), Samples: n, P75Ms: math.Round(v*10) / 10})
		})
		return d.Networks[best].Prefix, out, nil
	}
}
