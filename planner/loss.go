package planner

import (
	"fmt"
	"math"

	"github.com/steer-gslb/steer/data"
)

// Kind names a loss function: what one user at a given distance from their
// nearest PoP costs.
type Kind string

// The loss functions. Every one grows with distance, so each cell's nearest
// PoP by distance is also its cheapest, whatever the loss.
const (
	L1  Kind = "l1"  // distance in km: Σ w·d
	L2  Kind = "l2"  // squared distance in km²: Σ w·d², which punishes the far tail
	TCP Kind = "tcp" // expected time in ms to fetch a typical object over TCP: see [TCPModel]
)

// ParseKind parses a loss name: "tcp", "l1" or "l2".
func ParseKind(s string) (Kind, error) {
	switch k := Kind(s); k {
	case L1, L2, TCP:
		return k, nil
	}
	return "", fmt.Errorf("loss %q: want tcp, l1 or l2", s)
}

// Fibre turns great-circle distance into round-trip time: RTT = InterceptMs
// + MsPerKm × km. [FitFibre] fits it on the WonderProxy matrix.
type Fibre struct {
	InterceptMs float64 // RTT at 0 km: serialisation, switching, the last hops
	MsPerKm     float64 // round trip per km of great-circle distance; 0.01 is light in fibre on the straight path
}

// RTT returns the round-trip time in ms at km of great-circle distance.
func (f Fibre) RTT(km float64) float64 { return f.InterceptMs + f.MsPerKm*km }

// Stretch is how much longer than the great circle the fitted fibre path is:
// MsPerKm over light in fibre on the straight path (1/[data.FibreKmPerMs]).
func (f Fibre) Stretch() float64 { return f.MsPerKm * data.FibreKmPerMs }

// FibreFit is a fitted [Fibre] line and how well it fits.
type FibreFit struct {
	Fibre         // the least-absolute-deviations (median) line: the planner's
	OLS   Fibre   // the ordinary least-squares line, for comparison: detours pull it up
	R2    float64 // coefficient of determination of the OLS line
	Pairs int     // server pairs the lines are fitted on
	MAEMs float64 // mean absolute residual of the median line, ms
	Below float64 // share of pairs below the median line (½ for an exact median fit)
	MaxKm float64 // longest pair, km
}

// FitFibre fits RTT = a + b·km on every unordered server pair of m with a
// known min RTT (the smaller of the two directions, so a pair measured one
// way only counts once) against the pair's great-circle distance. The line
// it returns minimises the sum of absolute residuals (a median regression,
// by iteratively reweighted least squares): the RTT half the paths beat at
// each distance. The least-squares line is returned too; its intercept is
// pulled up by the detours (a mean, where a typical path is wanted).
func FitFibre(m *data.Matrix) (FibreFit, error) {
	var xs, ys []float64
	for i := range m.N() {
		for j := i + 1; j < m.N(); j++ {
			a, okA := m.RTT(i, j)
			b, okB := m.RTT(j, i)
			rtt := math.Inf(1)
			if okA {
				rtt = a.Min
			}
			if okB {
				rtt = min(rtt, b.Min)
			}
			if math.IsInf(rtt, 1) {
				continue
			}
			s, t := m.Servers[i], m.Servers[j]
			xs = append(xs, data.Distance(s.Lat, s.Lon, t.Lat, t.Lon))
			ys = append(ys, rtt)
		}
	}
	return fitLines(xs, ys)
}

// fitLines fits the OLS and the least-absolute-deviations lines of ys on xs.
func fitLines(xs, ys []float64) (FibreFit, error) {
	fit := FibreFit{Pairs: len(xs)}
	ols, ok := weightedLine(xs, ys, nil)
	if !ok {
		return fit, fmt.Errorf("fitting the fibre line: %d pairs, fewer than 2 distinct distances", len(xs))
	}
	fit.OLS = ols
	mean := 0.0
	for _, y := range ys {
		mean += y
	}
	mean /= float64(len(ys))
	var ssRes, ssTot float64
	for i := range xs {
		r := ys[i] - ols.RTT(xs[i])
		ssRes += r * r
		ssTot += (ys[i] - mean) * (ys[i] - mean)
		fit.MaxKm = max(fit.MaxKm, xs[i])
	}
	fit.R2 = 1 - ssRes/ssTot
	if ssTot == 0 {
		fit.R2 = 1
	}
	// IRLS: weights 1/|residual| turn squares into absolute values; the
	// floor keeps points on the line from taking all the weight.
	lad, w := ols, make([]float64, len(xs))
	for range 100 {
		for i := range xs {
			w[i] = 1 / max(math.Abs(ys[i]-lad.RTT(xs[i])), 1e-3)
		}
		next, ok := weightedLine(xs, ys, w)
		if !ok {
			break
		}
		done := math.Abs(next.InterceptMs-lad.InterceptMs) < 1e-9 && math.Abs(next.MsPerKm-lad.MsPerKm) < 1e-12
		lad = next
		if done {
			break
		}
	}
	fit.Fibre = lad
	below := 0
	for i := range xs {
		r := ys[i] - lad.RTT(xs[i])
		fit.MAEMs += math.Abs(r)
		if r < 0 {
			below++
		}
	}
	fit.MAEMs /= float64(len(xs))
	fit.Below = float64(below) / float64(len(xs))
	return fit, nil
}

// weightedLine is the weighted least-squares line of ys on xs (w nil: all
// weights 1); ok is false when the xs do not spread.
func weightedLine(xs, ys, w []float64) (Fibre, bool) {
	var sw, sx, sy, sxx, sxy float64
	for i := range xs {
		wi := 1.0
		if w != nil {
			wi = w[i]
		}
		sw += wi
		sx += wi * xs[i]
		sy += wi * ys[i]
		sxx += wi * xs[i] * xs[i]
		sxy += wi * xs[i] * ys[i]
	}
	den := sw*sxx - sx*sx
	if len(xs) < 2 || !(math.Abs(den) > 1e-12*sw*sxx) {
		return Fibre{}, false
	}
	b := (sw*sxy - sx*sy) / den
	return Fibre{InterceptMs: (sy - b*sx) / sw, MsPerKm: b}, true
}

// TCPModel is the expected time to fetch one object over a new connection:
// Handshakes round trips before the first byte (TCP, TLS 1.3, the request),
// then the object at the throughput of Mathis et al. (1997),
// MSS / (RTT·√p) · C, capped at the access bandwidth:
//
//	ms = Handshakes·RTT + 8·ObjectBytes / min(8·MSSBytes·C / (RTT·√p), AccessMbps·10⁶)
//
// With the defaults the access link caps throughput up to an RTT of about
// 29 ms (~900 km on the fitted line): nearer users all get the object at
// their line rate and gain only the handshakes from a nearer PoP. Beyond it
// every ms of RTT costs Handshakes + ObjectBytes·√p/(MSSBytes·C) ≈ 3.56 ms
// of fetch time, so far users weigh more than their distance alone says.
type TCPModel struct {
	Handshakes  float64 // round trips before the first byte of the object
	ObjectBytes float64 // size of the typical object
	MSSBytes    float64 // TCP maximum segment size
	PacketLoss  float64 // p, the packet loss rate (0 < p < 1)
	AccessMbps  float64 // the user's access bandwidth, Mbit/s
	C           float64 // Mathis's constant, √(3/2) for periodic loss with delayed ACKs off
}

// DefaultTCP: a 100 kB object (a typical image or script) over TLS 1.3,
// 0.01 % packet loss, a 50 Mbit/s access link.
var DefaultTCP = TCPModel{Handshakes: 3, ObjectBytes: 100_000, MSSBytes: 1460, PacketLoss: 0.0001, AccessMbps: 50, C: math.Sqrt(1.5)}

// FetchMs returns the expected fetch time in ms at a round-trip time of rttMs.
func (t TCPModel) FetchMs(rttMs float64) float64 {
	bits := 8 * t.ObjectBytes
	bps := t.AccessMbps * 1e6
	if rttMs > 0 {
		bps = min(bps, 8*t.MSSBytes*t.C/(rttMs/1000*math.Sqrt(t.PacketLoss)))
	}
	return t.Handshakes*rttMs + 1000*bits/bps
}

// Validate checks that the model gives finite, positive times.
func (t TCPModel) Validate() error {
	ok := func(v float64) bool { return v > 0 && !math.IsInf(v, 0) }
	switch {
	case !(t.Handshakes >= 0) || math.IsInf(t.Handshakes, 0):
		return fmt.Errorf("tcp model: handshakes %v must be ≥ 0", t.Handshakes)
	case !ok(t.ObjectBytes):
		return fmt.Errorf("tcp model: object size %v bytes must be > 0", t.ObjectBytes)
	case !ok(t.MSSBytes):
		return fmt.Errorf("tcp model: MSS %v bytes must be > 0", t.MSSBytes)
	case !(t.PacketLoss > 0 && t.PacketLoss < 1):
		return fmt.Errorf("tcp model: packet loss %v must be in (0, 1)", t.PacketLoss)
	case !ok(t.AccessMbps):
		return fmt.Errorf("tcp model: access bandwidth %v Mbit/s must be > 0", t.AccessMbps)
	case !ok(t.C):
		return fmt.Errorf("tcp model: Mathis constant %v must be > 0", t.C)
	}
	return nil
}

// Loss is what one unit of weight at a distance from its nearest PoP costs.
type Loss struct {
	Kind  Kind
	Fibre Fibre    // TCP only: distance → RTT
	TCP   TCPModel // TCP only: RTT → fetch time
}

// Of returns the loss of one unit of weight km from its nearest PoP.
func (l Loss) Of(km float64) float64 {
	switch l.Kind {
	case L1:
		return km
	case L2:
		return km * km
	default:
		return l.TCP.FetchMs(l.Fibre.RTT(km))
	}
}

// names are what each kind of loss measures and its unit.
var names = map[Kind][2]string{L1: {"distance", "km"}, L2: {"squared distance", "km²"}, TCP: {"fetch time", "ms"}}

// Quantity names what [Loss.Of] measures: "fetch time", "distance" or
// "squared distance".
func (l Loss) Quantity() string { return names[l.Kind][0] }

// Unit is the unit of [Loss.Of]: "km", "km²" or "ms".
func (l Loss) Unit() string { return names[l.Kind][1] }

// Validate checks the loss is usable: a known kind and, for TCP, a fibre
// line and a model that give finite, increasing times.
func (l Loss) Validate() error {
	switch l.Kind {
	case L1, L2:
		return nil
	case TCP:
		if !(l.Fibre.InterceptMs >= 0) || !(l.Fibre.MsPerKm > 0) || math.IsInf(l.Fibre.InterceptMs+l.Fibre.MsPerKm, 0) {
			return fmt.Errorf("tcp loss: fibre line %+v needs intercept ≥ 0 and slope > 0", l.Fibre)
		}
		return l.TCP.Validate()
	}
	return fmt.Errorf("loss %q: want tcp, l1 or l2", l.Kind)
}

// Describe says in one line what the loss measures.
func (l Loss) Describe() string {
	switch l.Kind {
	case L1:
		return "l1: weighted mean great-circle distance to the nearest PoP (km)"
	case L2:
		return "l2: weighted mean squared distance to the nearest PoP (km²; the far tail counts most)"
	}
	t := l.TCP
	return fmt.Sprintf("tcp: expected time to fetch a %s object (ms): %g RTTs of handshakes + size / throughput, "+
		"Mathis MSS/(RTT·√p)·%.3g with MSS %g B, p = %g, capped at %g Mbit/s; RTT = %.2f ms + %.5f ms/km × great-circle km",
		formatBytes(t.ObjectBytes), t.Handshakes, t.C, t.MSSBytes, t.PacketLoss, t.AccessMbps, l.Fibre.InterceptMs, l.Fibre.MsPerKm)
}

func formatBytes(b float64) string {
	switch {
	case b >= 1e6:
		return fmt.Sprintf("%g MB", b/1e6)
	case b >= 1e3:
		return fmt.Sprintf("%g kB", b/1e3)
	}
	return fmt.Sprintf("%g B", b)
}

// compiled is a Loss rearranged for the inner loop: every loss is
// a + b·km + max(c, d·km + e) or km², with the constants worked out once.
// For TCP (RTT = i + m·km, in ms), FetchMs is H·RTT + max(1000·bits/bw,
// bits·√p·RTT/(8·MSS·C)), a sum of linear pieces.
type compiled struct {
	square        bool
	a, b, c, d, e float64
}

func compile(l Loss) compiled {
	switch l.Kind {
	case L1:
		return compiled{b: 1, c: math.Inf(-1)}
	case L2:
		return compiled{square: true}
	}
	t, f := l.TCP, l.Fibre
	bits := 8 * t.ObjectBytes
	k := bits * math.Sqrt(t.PacketLoss) / (8 * t.MSSBytes * t.C) // transfer ms per ms of RTT
	return compiled{
		a: t.Handshakes * f.InterceptMs, b: t.Handshakes * f.MsPerKm,
		c: 1000 * bits / (t.AccessMbps * 1e6),
		d: k * f.MsPerKm, e: k * f.InterceptMs,
	}
}

func (f compiled) of(km float64) float64 {
	if f.square {
		return km * km
	}
	return f.a + f.b*km + max(f.c, f.d*km+f.e)
}
