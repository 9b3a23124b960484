//go:build cgo

package main

import (
	"context"
	"fmt"
	"math"

	"github.com/steer-gslb/steer/builder"
	"github.com/steer-gslb/steer/geoip"
	"github.com/steer-gslb/steer/planner"
)

// rumPoints turns the RUM store into planner weights: one point per client
// network at its GeoIP location, weighted by its beacons, with its median
// RTT to its best existing PoP (by label) when it measured one.
func rumPoints(storeDir, geoFile string, existing []planner.Site) ([]planner.Point, string, error) {
	geo, err := geoip.Open(geoFile)
	if err != nil {
		return nil, "", err
	}
	defer func() { _ = geo.Close() }()
	st, err := openForReading(storeDir)
	if err != nil {
		return nil, "", err
	}
	d, err := builder.Load(context.Background(), st, builder.Options{HoldOut: -1}, builder.AllBeacons, 0.5)
	_ = st.Close()
	if err != nil {
		return nil, "", err
	}
	exists := map[string]bool{}
	for _, s := range existing {
		exists[s.Label] = true
	}
	var points []planner.Point
	unlocated, measured := 0, 0
	for i := range d.Networks {
		n := &d.Networks[i]
		loc, _, ok := geo.Locate(n.Prefix.Addr())
		if !ok {
			unlocated++
			continue
		}
		best := math.Inf(1)
		n.PoPCells(d.Quantile, func(p, _ int, median float64) {
			if exists[string(d.PoPs[p])] {
				best = min(best, median)
			}
		})
		pt := planner.Point{Lat: loc.Lat, Lon: loc.Lon, Weight: float64(n.Beacons), Country: loc.Country}
		if !math.IsInf(best, 1) && best > 0 {
			pt.RTTms = best
			measured++
		}
		points = append(points, pt)
	}
	return points, fmt.Sprintf("RUM store %s: %d beacons from %d client networks located by %s (%d not located), %d with a measured RTT to an existing PoP",
		storeDir, d.Beacons, len(points), geoFile, unlocated, measured), nil
}
