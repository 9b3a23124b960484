package planner

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/steer-gslb/steer/data"
)

// TestLossByHand: each loss against values worked out by hand.
func TestLossByHand(t *testing.T) {
	fibre := Fibre{InterceptMs: 10, MsPerKm: 0.02} // 4,500 km → 100 ms
	tcp := Loss{Kind: TCP, Fibre: fibre, TCP: DefaultTCP}
	// RTT 100 ms: Mathis throughput 8·1460·√1.5 / (0.1 s · √0.0001)
	// = 14,305.02 / 0.001 = 14.305 Mbit/s, under the 50 Mbit/s cap;
	// 800,000 bits take 55.924 ms; plus 3 × 100 ms of handshakes.
	// RTT 10 ms: Mathis gives 143 Mbit/s, capped at 50: 16 ms + 30 ms.
	// RTT 30 ms (1,000 km): Mathis 47.68 Mbit/s, just under the cap:
	// 800,000 / 47,683,400 s = 16.777 ms, + 90 ms.
	for _, tc := range []struct {
		loss Loss
		km   float64
		want float64
	}{
		{Loss{Kind: L1}, 0, 0},
		{Loss{Kind: L1}, 1234.5, 1234.5},
		{Loss{Kind: L2}, 3, 9},
		{Loss{Kind: L2}, 1000, 1e6},
		{tcp, 4500, 300 + 800_000/(8*1460*math.Sqrt(1.5)/0.001)*1000},
		{tcp, 4500, 355.924},
		{tcp, 0, 46},
		{tcp, 1000, 106.777},
	} {
		if got := tc.loss.Of(tc.km); math.Abs(got-tc.want) > 1e-3 {
			t.Errorf("%s.Of(%v) = %v, want %v", tc.loss.Kind, tc.km, got, tc.want)
		}
	}
	if got := DefaultTCP.FetchMs(0); got != 16 {
		t.Errorf("FetchMs(0) = %v, want 16 (the object at 50 Mbit/s)", got)
	}
	// Monotone: a farther PoP never costs less.
	for _, l := range []Loss{{Kind: L1}, {Kind: L2}, tcp} {
		prev := -1.0
		for km := 0.0; km < 20000; km += 37 {
			if v := l.Of(km); v < prev {
				t.Fatalf("%s: Of(%v) = %v < Of(%v) = %v", l.Kind, km, v, km-37, prev)
			} else {
				prev = v
			}
		}
	}
}

func TestParseKind(t *testing.T) {
	for _, s := range []string{"tcp", "l1", "l2"} {
		if k, err := ParseKind(s); err != nil || string(k) != s {
			t.Errorf("ParseKind(%q) = %q, %v", s, k, err)
		}
	}
	if _, err := ParseKind("L1"); err == nil {
		t.Error("ParseKind(L1): no error")
	}
}

func TestTCPValidate(t *testing.T) {
	if err := DefaultTCP.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, edit := range []func(*TCPModel){
		func(m *TCPModel) { m.PacketLoss = 0 },
		func(m *TCPModel) { m.PacketLoss = 1 },
		func(m *TCPModel) { m.ObjectBytes = math.Inf(1) },
		func(m *TCPModel) { m.AccessMbps = -1 },
		func(m *TCPModel) { m.Handshakes = math.NaN() },
		func(m *TCPModel) { m.MSSBytes = 0 },
		func(m *TCPModel) { m.C = 0 },
	} {
		m := DefaultTCP
		edit(&m)
		if m.Validate() == nil {
			t.Errorf("%+v: no error", m)
		}
	}
}

// TestFitLines: the median line ignores one-sided outliers (detours) that
// pull the least-squares line up.
func TestFitLines(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	var xs, ys []float64
	for range 2000 {
		x := rng.Float64() * 15000
		y := 8 + 0.018*x + rng.NormFloat64()*3
		if rng.Float64() < 0.2 {
			y += 50 + rng.Float64()*150 // a detour
		}
		xs, ys = append(xs, x), append(ys, y)
	}
	fit, err := fitLines(xs, ys)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(fit.InterceptMs-8) > 2.5 || math.Abs(fit.MsPerKm-0.018) > 0.0005 {
		t.Errorf("median line %+v, want about 8 + 0.018 km", fit.Fibre)
	}
	if fit.OLS.InterceptMs < 20 || math.Abs(fit.Below-0.5) > 0.01 || fit.Pairs != 2000 {
		t.Errorf("fit %+v: want the OLS intercept pulled above 20, half the points below the median line", fit)
	}
	if _, err := fitLines([]float64{1, 1}, []float64{2, 3}); err == nil {
		t.Error("fitLines on one distance: no error")
	}
}

// TestFitFibreShipped pins the fit on the shipped matrix that the package
// doc and README quote.
func TestFitFibreShipped(t *testing.T) {
	m, _, err := data.LoadMatrix()
	if err != nil {
		t.Fatal(err)
	}
	fit, err := FitFibre(m)
	if err != nil {
		t.Fatal(err)
	}
	if fit.Pairs != 29613 || math.Abs(fit.InterceptMs-13.72) > 0.01 || math.Abs(fit.MsPerKm-0.01680) > 0.000005 ||
		math.Abs(fit.OLS.InterceptMs-25.34) > 0.01 || math.Abs(fit.R2-0.728) > 0.001 {
		t.Errorf("fit %+v: the doc says 29,613 pairs, 13.72 ms + 0.01680 ms/km (OLS 25.34, R² 0.728)", fit)
	}
}

// TestCompiled: the inner loop's rearranged loss is Loss.Of.
func TestCompiled(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 2))
	for range 50 {
		tcp := TCPModel{Handshakes: rng.Float64() * 4, ObjectBytes: 1 + rng.Float64()*1e7, MSSBytes: 500 + rng.Float64()*9000,
			PacketLoss: rng.Float64() * 0.1, AccessMbps: 1 + rng.Float64()*1000, C: math.Sqrt(1.5)}
		fibre := Fibre{InterceptMs: rng.Float64() * 30, MsPerKm: 0.005 + rng.Float64()*0.03}
		for _, l := range []Loss{{Kind: L1}, {Kind: L2}, {Kind: TCP, Fibre: fibre, TCP: tcp}} {
			f := compile(l)
			for km := 0.0; km < 20100; km += 97.3 {
				if want, got := l.Of(km), f.of(km); math.Abs(got-want) > 1e-12*math.Max(1, want) {
					t.Fatalf("%s %+v: compiled(%v) = %v, Of = %v", l.Kind, l, km, got, want)
				}
			}
		}
	}
}
