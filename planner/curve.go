package planner

import "math"

// CurvePoint is one point of the loss curve.
type CurvePoint struct {
	PoPs int     // number of PoPs
	Loss float64 // total loss with them
	Site int     // index into Plan.Sites: the PoP this point has and the previous one has not
}

// Curve returns the loss against the number of PoPs, from 1 PoP up. The
// existing PoPs come first, in the reverse of the order a greedy thinning
// drops them (at each stage the PoP whose removal raises the loss least
// goes, ties to the later one): the point at n PoPs is the loss of the n
// that survive, so the curve says which PoPs earn their place. Then come
// the plan's new sites, in order.
func (pl *Plan) Curve() []CurvePoint {
	p := pl.Problem
	n := len(p.Existing)
	var curve []CurvePoint
	if n > 0 && p.Measured != nil {
		// measured latency exists for the existing PoPs as they are, not
		// for any subset of them: the curve starts there
		curve = append(curve, CurvePoint{PoPs: n, Loss: pl.Initial, Site: -1})
	} else if n > 0 {
		order, losses := thin(p.Cells, p.Existing, p.Loss)
		// order[i] is dropped at stage i, leaving n−1−i PoPs at losses[i].
		for k := 1; k <= n; k++ {
			loss := pl.Initial
			if k < n {
				loss = losses[n-1-k]
			}
			curve = append(curve, CurvePoint{PoPs: k, Loss: loss, Site: order[n-k]})
		}
	}
	for i, st := range pl.Steps {
		curve = append(curve, CurvePoint{PoPs: n + i + 1, Loss: st.After, Site: n + i})
	}
	return curve
}

// thin drops sites one at a time, each time the one whose removal raises
// the total loss least, until one is left. order lists them as dropped, the
// survivor last; losses[i] is the total after the i-th drop.
func thin(cells []Cell, sites []Site, loss Loss) (order []int, losses []float64) {
	us := make([]unit, len(sites))
	for j, s := range sites {
		us[j] = unitOf(s.Lat, s.Lon)
	}
	cu := make([]unit, len(cells))
	for i, c := range cells {
		cu[i] = unitOf(c.Lat, c.Lon)
	}
	alive := make([]bool, len(sites))
	for j := range alive {
		alive[j] = true
	}
	raise := make([]float64, len(sites))
	for left := len(sites); left > 1; left-- {
		clear(raise)
		total := 0.0
		for i, c := range cells {
			// The nearest and second nearest PoP still in place.
			b1, b2, d1, d2 := -1, -1, noPoP, noPoP
			for j := range us {
				if !alive[j] {
					continue
				}
				switch d := us[j].dot(cu[i]); {
				case d > d1:
					b1, b2, d1, d2 = j, b1, d, d1
				case d > d2:
					b2, d2 = j, d
				}
			}
			now := c.Weight * loss.Of(us[b1].km(cu[i]))
			total += now
			raise[b1] += c.Weight*loss.Of(us[b2].km(cu[i])) - now
		}
		drop, least := -1, math.Inf(1)
		for j := range us {
			if alive[j] && raise[j] <= least {
				drop, least = j, raise[j]
			}
		}
		alive[drop] = false
		order = append(order, drop)
		losses = append(losses, total+least)
	}
	for j := range alive {
		if alive[j] {
			order = append(order, j)
		}
	}
	return order, losses
}
