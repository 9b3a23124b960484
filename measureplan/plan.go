package measureplan

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// PoPState is what is known about one PoP for one client network.
type PoPState struct {
	// Count is the number of kept samples; 0: never measured.
	Count uint32
	// P75 is the network's p75 RTT to the PoP (ms) and Spread the
	// per-sample dispersion around it (ms, a standard deviation).
	P75, Spread float32
	// Last is when the PoP was last measured from the network (Unix
	// seconds); 0: unknown, and the samples do not lose weight.
	Last int64
}

// Known reports whether the PoP has a usable estimate.
func (p PoPState) Known() bool { return p.Count > 0 && p.P75 > 0 && !math.IsNaN(float64(p.P75)) }

// Budget is what one client may spend on measurement.
type Budget struct {
	// MaxPoPs is the most PoPs one beacon times (at least 1).
	MaxPoPs int
	// MinInterval is the shortest wait before the next beacon (the
	// highest beacon rate); MaxInterval the longest, for a network with
	// nothing worth measuring.
	MinInterval, MaxInterval time.Duration
}

// Policy is the planner's settings (see the package doc for the scoring).
type Policy struct {
	Budget
	// StaleAfter is how long a contender may go unmeasured: a PoP whose
	// estimate is within ContendMs (or ContendPct % of the best's) of the
	// best PoP's and whose last sample is older than StaleAfter scores at
	// least MinGain, so it is timed again (a peering added makes a
	// contender better, and only a new sample shows it). 0: never.
	StaleAfter time.Duration
	// ContendMs and ContendPct bound a contender (see StaleAfter).
	ContendMs, ContendPct float64
	// HalfLife is how long after its last sample a PoP's samples lose
	// half their weight; 0: they never do.
	HalfLife time.Duration
	// Explore is the share of plans (0..1) that add one PoP at random.
	Explore float64
	// MinGain is the smallest expected regret (ms) worth a request;
	// UrgentGain the total (ms) at which the client is asked back after
	// MinInterval.
	MinGain, UrgentGain float64
}

// DefaultPolicy is the collector's default: 4 PoPs per beacon, a beacon
// every 5 minutes at most and every 6 hours at least, samples halving in
// weight every 3 days, 5 % exploration.
func DefaultPolicy() Policy {
	return Policy{
		Budget:     Budget{MaxPoPs: 4, MinInterval: 5 * time.Minute, MaxInterval: 6 * time.Hour},
		HalfLife:   72 * time.Hour,
		StaleAfter: 24 * time.Hour,
		ContendMs:  20,
		ContendPct: 50,
		Explore:    0.05,
		MinGain:    0.05,
		UrgentGain: 1,
	}
}

// MaxPoPs is the most PoPs a Policy plans over: the PoPs past it are
// never planned. (It is rum.MaxSamples, the most one beacon holds.)
const MaxPoPs = 256

// Check reports the first problem with the policy, naming the field.
func (p *Policy) Check() error {
	switch {
	case p.MaxPoPs < 1 || p.MaxPoPs > MaxPoPs:
		return fmt.Errorf("max_pops: %d out of range [1, %d]", p.MaxPoPs, MaxPoPs)
	case p.MinInterval < time.Second:
		return fmt.Errorf("min_interval: %v is under 1s", p.MinInterval)
	case p.MaxInterval < p.MinInterval:
		return fmt.Errorf("max_interval: %v is under min_interval %v", p.MaxInterval, p.MinInterval)
	case p.HalfLife < 0:
		return fmt.Errorf("half_life: %v is negative", p.HalfLife)
	case p.StaleAfter < 0 || !(p.ContendMs >= 0) || !(p.ContendPct >= 0 && p.ContendPct <= 1000):
		return fmt.Errorf("stale_after %v, contend_ms %v, contend_pct %v: none may be negative (contend_pct at most 1000)", p.StaleAfter, p.ContendMs, p.ContendPct)
	case !(p.Explore >= 0 && p.Explore <= 1):
		return fmt.Errorf("explore: %v out of range [0, 1]", p.Explore)
	case !(p.MinGain > 0 && p.MinGain < 1000):
		return fmt.Errorf("min_gain_ms: %v out of range (0, 1000)", p.MinGain)
	case !(p.UrgentGain >= p.MinGain && p.UrgentGain < 1e6):
		return fmt.Errorf("urgent_gain_ms: %v is under min_gain_ms %v", p.UrgentGain, p.MinGain)
	}
	return nil
}

// Unknown is the score of a PoP never measured: above any contest's.
const Unknown = math.MaxFloat64

// Plan is one beacon's plan for a network.
type Plan struct {
	// PoPs are indexes into the PoPState slice given to Policy.Plan, best
	// score first; never more than MaxPoPs, and at least one when there
	// was any PoP.
	PoPs []int
	// After is the wait before the next beacon.
	After time.Duration
	// Explored is the index added by exploration, or -1.
	Explored int
}

// ErrNoPoPs is returned for an empty PoP list.
var ErrNoPoPs = errors.New("no PoPs to plan")

// Plan returns the plan for one network (its key, for the reproducible
// tie-breaks and exploration) at time now, given what is known per PoP.
// The plan's PoPs are appended to dst[:0]; with cap(dst) ≥ MaxPoPs+1 it
// does not allocate. The policy must pass Check.
func (p *Policy) Plan(dst []int, network uint64, pops []PoPState, now time.Time) (Plan, error) {
	n := len(pops)
	if n == 0 {
		return Plan{PoPs: dst[:0], Explored: -1}, ErrNoPoPs
	}
	if n > MaxPoPs {
		n = MaxPoPs
	}
	unix := now.Unix()
	day := unix / 86400
	slot := unix
	if s := int64(p.MinInterval / time.Second); s > 0 {
		slot = unix / s
	}
	seed := mix(network ^ mix(uint64(day)+0x9e3779b97f4a7c15))
	tie := mix(seed ^ uint64(slot)) // changes every beacon slot: successive beacons rotate

	// estimates and uncertainties; b is the best known PoP
	var mean, sd [MaxPoPs]float64
	b := -1
	for i := range n {
		st := pops[i]
		if !st.Known() {
			mean[i] = math.NaN()
			continue
		}
		neff := float64(st.Count)
		if p.HalfLife > 0 && st.Last > 0 && unix > st.Last {
			neff *= math.Exp2(-float64(unix-st.Last) / p.HalfLife.Seconds())
		}
		mean[i] = float64(st.P75)
		sd[i] = float64(st.Spread) / math.Sqrt(neff)
		if b < 0 || mean[i] < mean[b] {
			b = i
		}
	}
	var score [MaxPoPs]float64
	bestRival := 0.0
	for i := range n {
		switch {
		case math.IsNaN(mean[i]):
			score[i] = Unknown
		case i != b:
			score[i] = expectedRegret(mean[i]-mean[b], math.Sqrt(sd[i]*sd[i]+sd[b]*sd[b]))
			bestRival = max(bestRival, score[i])
		}
	}
	if b >= 0 {
		score[b] = bestRival
		// stale contenders are timed again
		if stale := int64(p.StaleAfter / time.Second); stale > 0 {
			bound := max(p.ContendMs, mean[b]*p.ContendPct/100)
			for i := range n {
				if i != b && !math.IsNaN(mean[i]) && mean[i]-mean[b] <= bound && pops[i].Last > 0 && unix-pops[i].Last > stale {
					score[i] = max(score[i], p.MinGain)
					score[b] = max(score[b], p.MinGain) // the contest involves the best
				}
			}
		}
	}

	// the best MaxPoPs scoring at least MinGain, by score then tie key
	out := dst[:0]
	for i := range n {
		if score[i] < p.MinGain {
			continue
		}
		out = insert(out, i, p.MaxPoPs, func(a, c int) bool {
			if score[a] != score[c] {
				return score[a] > score[c]
			}
			return mix(tie^uint64(a)) < mix(tie^uint64(c))
		})
	}
	if len(out) == 0 {
		if b < 0 {
			b = 0
		}
		out = append(out, b)
	}

	// exploration
	explored := -1
	if p.Explore > 0 && n > len(out) {
		h := mix(seed ^ mix(uint64(slot)^0x5851f42d4c957f2d))
		if float64(h>>11)/(1<<53) < p.Explore {
			start := int(mix(h) % uint64(n))
			for k := range n {
				i := (start + k) % n
				if !contains(out, i) {
					explored = i
					break
				}
			}
			if len(out) >= p.MaxPoPs {
				out[len(out)-1] = explored
			} else {
				out = append(out, explored)
			}
		}
	}

	total := 0.0
	for _, i := range out {
		if score[i] == Unknown {
			total = math.Inf(1)
			break
		}
		total += score[i]
	}
	after := p.MaxInterval
	switch {
	case total >= p.UrgentGain:
		after = p.MinInterval
	case total >= p.MinGain:
		after = time.Duration(float64(p.MinInterval) * p.UrgentGain / total)
		after = min(max(after, p.MinInterval), p.MaxInterval)
	}
	return Plan{PoPs: out, After: after, Explored: explored}, nil
}

// expectedRegret is E[max(0, −X)] for X ~ N(d, σ²): the expected regret
// of keeping the PoP d ms better by estimate, when the difference is
// known to σ ms. For d ≥ 0 (always, against the best estimate) the normal
// tail is Abramowitz and Stegun's 7.1.26 (error under 1.5e-7), which
// shares its exponential with the density: one math.Exp per PoP.
func expectedRegret(d, sigma float64) float64 {
	if !(sigma > 1e-9) {
		return max(0, -d)
	}
	z := d / sigma
	if z > 5 {
		return 0
	}
	const invSqrt2Pi = 0.3989422804014327
	if z < 0 {
		return max(0, sigma*invSqrt2Pi*math.Exp(-z*z/2)-d*0.5*math.Erfc(z/math.Sqrt2))
	}
	e := math.Exp(-z * z / 2)
	t := 1 / (1 + 0.3275911*z/math.Sqrt2)
	tail := 0.5 * e * t * (0.254829592 + t*(-0.284496736+t*(1.421413741+t*(-1.453152027+t*1.061405429)))) // 1 − Φ(z)
	return max(0, sigma*invSqrt2Pi*e-d*tail)
}

// insert puts i into the sorted list s (by less), keeping at most k.
func insert(s []int, i, k int, less func(a, c int) bool) []int {
	pos := len(s)
	for pos > 0 && less(i, s[pos-1]) {
		pos--
	}
	if pos >= k {
		return s
	}
	if len(s) < k {
		s = append(s, 0)
	}
	copy(s[pos+1:], s[pos:len(s)-1])
	s[pos] = i
	return s
}

func contains(s []int, i int) bool {
	for _, v := range s {
		if v == i {
			return true
		}
	}
	return false
}

// mix is splitmix64's finalizer.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}
