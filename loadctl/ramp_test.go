package loadctl

import (
	"cmp"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"gonum.org/v1/plot/plotter"

	"github.com/steer-gslb/steer/internal/chart"
	"github.com/steer-gslb/steer/popmap"
	"github.com/steer-gslb/steer/sim"
)

// The ramp experiment: a simulated world's networks (sim: weights are
// users, RTTs the true p75 per PoP), each ranking its rampLabels PoPs by
// true p75 (that is the map). One PoP's demand (the weight of the networks
// whose first choice it is) ramps so that its natural load goes from 50 %
// to 150 % of its capacity over rampUp periods, holds for rampHold
// periods, ramps back down over rampDown periods and holds again. The
// simulator models no capacities: every PoP is sized so that its natural
// load at the start is baseUtil of it. The measured load of a period is
// the weight each PoP answers under the moves in effect × demand, and
// clients keep a period's answers one period longer (lag 1, a DNS TTL as
// long as the period), which the controller is told (Delay 1); TestRamp
// also runs it without the lag.
const (
	rampNetworks = 10_000
	rampSeed     = 1
	rampPoP      = popmap.Label("fra")
	rampLabels   = 4 // ranked PoPs per network, as a map has them
	baseUtil     = 0.5
	rampFrom     = 0.5 // the ramped PoP's natural utilization: from
	rampTo       = 1.5 // ... to
	rampUp       = 20  // periods
	rampHold     = 40
	rampDown     = 20
	rampTail     = 20
	target       = 0.8

	// settleWithin is the bar: the ramped PoP's load is at or under its
	// target at most this many periods after the ramp ends, and stays there
	// while the demand holds.
	settleWithin = 8
)

type rampWorld struct {
	nets   []Network
	first  []bool // its first choice is the ramped PoP (its demand ramps)
	pops   []PoP
	labels []popmap.Label // all PoPs
}

var (
	worldOnce sync.Once
	world     *rampWorld
	worldErr  error
)

// loadWorld generates the simulated world once per test binary (~1 s).
func loadWorld(t testing.TB) *rampWorld {
	t.Helper()
	worldOnce.Do(func() {
		dir, err := os.MkdirTemp("", "loadctl-ramp-")
		if err != nil {
			worldErr = err
			return
		}
		defer func() { _ = os.RemoveAll(dir) }()
		o := sim.DefaultOptions()
		o.Networks, o.Seed = rampNetworks, rampSeed
		w, err := sim.Plan(o)
		if err != nil {
			worldErr = err
			return
		}
		if _, err := sim.Generate(w, dir, nil); err != nil {
			worldErr = err
			return
		}
		rw := &rampWorld{}
		natural := map[popmap.Label]float64{}
		_, worldErr = sim.ReadTruth(filepath.Join(dir, sim.FileTruth), func(h *sim.TruthHeader, r *sim.TruthRecord) error {
			if rw.labels == nil {
				for _, p := range h.PoPs {
					rw.labels = append(rw.labels, p.Label)
				}
			}
			order := make([]int, len(h.PoPs))
			for p := range order {
				order[p] = p
			}
			slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(r.Quantile(a, 0.75), r.Quantile(b, 0.75)) })
			n := Network{Prefix: r.Network, Weight: r.Weight}
			for _, p := range order[:rampLabels] {
				n.Ranked = append(n.Ranked, Choice{h.PoPs[p].Label, math.Round(r.Quantile(p, 0.75)*10) / 10})
			}
			rw.nets = append(rw.nets, n)
			rw.first = append(rw.first, n.Ranked[0].Label == rampPoP)
			natural[n.Ranked[0].Label] += n.Weight
			return nil
		})
		for _, l := range rw.labels {
			util := baseUtil
			if l == rampPoP {
				util = rampFrom
			}
			rw.pops = append(rw.pops, PoP{Label: l, Capacity: max(natural[l], 1) / util, Target: target})
		}
		world = rw
	})
	if worldErr != nil {
		t.Fatal(worldErr)
	}
	return world
}

// demand is the ramped networks' demand scale in period t (from 1).
func demand(t int) float64 {
	hi := rampTo / rampFrom
	switch {
	case t <= rampUp:
		return 1 + (hi-1)*float64(t)/rampUp
	case t <= rampUp+rampHold:
		return hi
	case t <= rampUp+rampHold+rampDown:
		return hi - (hi-1)*float64(t-rampUp-rampHold)/rampDown
	}
	return 1
}

const rampPeriods = rampUp + rampHold + rampDown + rampTail

// rampRun is what a run measured, per period (index t-1).
type rampRun struct {
	util      map[popmap.Label][]float64 // load / capacity, served
	movedW    []float64                  // moved share of all traffic (demand-weighted)
	penalty   []float64                  // Σ demand-weighted weight × added RTT, of the moves in effect
	optimum   []float64                  // Optimum for the ramped PoP at the period's demand
	moves     [][]Move                   // the move set Step returned
	total     []float64                  // all traffic at the period's demand
	overRecv  []string                   // a move that put its receiver over target, at the demand it was made for
	neighbour []popmap.Label             // the PoPs that took most of the ramped PoP's moves
}

// loads is what each PoP serves under moves at demand scale s.
func (w *rampWorld) loads(moves []Move, s float64) map[popmap.Label]float64 {
	to := map[netip.Prefix]popmap.Label{}
	for _, m := range moves {
		to[m.Prefix] = m.To
	}
	out := map[popmap.Label]float64{}
	for i, n := range w.nets {
		at := n.Ranked[0].Label
		if l, ok := to[n.Prefix]; ok {
			at = l
		}
		out[at] += w.weight(i, s)
	}
	return out
}

func (w *rampWorld) weight(i int, s float64) float64 {
	if w.first[i] {
		return w.nets[i].Weight * s
	}
	return w.nets[i].Weight
}

// scaled is the networks with the ramped ones' weights at demand s.
func (w *rampWorld) scaled(s float64) []Network {
	out := slices.Clone(w.nets)
	for i := range out {
		out[i].Weight = w.weight(i, s)
	}
	return out
}

func (w *rampWorld) capOf(l popmap.Label) float64 {
	for _, p := range w.pops {
		if p.Label == l {
			return p.Capacity
		}
	}
	return math.NaN()
}

// run drives a controller through the ramp; the load of a period comes
// from the moves of lag periods before the last Step.
func (w *rampWorld) run(t testing.TB, lag int, opt Options) *rampRun {
	t.Helper()
	c, err := New(w.nets, w.pops, opt)
	if err != nil {
		t.Fatal(err)
	}
	idx := map[netip.Prefix]int{}
	for i, n := range w.nets {
		idx[n.Prefix] = i
	}
	r := &rampRun{util: map[popmap.Label][]float64{}}
	history := [][]Move{nil} // history[t] = the moves Step t returned; none before
	movedTo := map[popmap.Label]float64{}
	for t := 1; t <= rampPeriods; t++ {
		s := demand(t)
		inEffect := history[max(len(history)-1-lag, 0)]
		load := w.loads(inEffect, s)
		moves := c.Step(load, nil)
		history = append(history, moves)
		r.moves = append(r.moves, moves)
		for _, l := range w.labels {
			r.util[l] = append(r.util[l], load[l]/w.capOf(l))
		}
		total, moved, pen := 0.0, 0.0, 0.0
		for i := range w.nets {
			total += w.weight(i, s)
		}
		for _, m := range moves {
			i := idx[m.Prefix]
			moved += w.weight(i, s)
			pen += m.Penalty * w.weight(i, s) / w.nets[i].Weight
			if m.From == rampPoP {
				movedTo[m.To] += w.weight(i, s)
			}
		}
		r.total = append(r.total, total)
		r.movedW = append(r.movedW, moved/total)
		r.penalty = append(r.penalty, pen)
		r.optimum = append(r.optimum, Optimum(w.scaled(s), w.pops, w.loads(nil, s), nil, rampPoP))
		// the moves made this period, at the demand they were made for:
		// none puts its receiver over target
		after := w.loads(moves, s)
		for _, m := range moves {
			if m.At == t && after[m.To] > target*w.capOf(m.To)*(1+1e-9) {
				r.overRecv = append(r.overRecv, fmt.Sprintf("period %d: %s → %s puts %s at %.1f %%", t, m.Prefix, m.To, m.To, 100*after[m.To]/w.capOf(m.To)))
			}
		}
	}
	r.neighbour = slices.SortedFunc(func(yield func(popmap.Label) bool) {
		for l := range movedTo {
			if !yield(l) {
				return
			}
		}
	}, func(a, b popmap.Label) int { return cmp.Or(cmp.Compare(movedTo[b], movedTo[a]), cmp.Compare(a, b)) })
	return r
}

// TestRamp runs the ramp and checks the controller's bars: settled at or
// under target within settleWithin periods after the ramp ends, overshoot
// after settling under 5 %, no direction change of the move set from
// settling to the end (hold, ramp down, tail), no receiver put over its
// target by a move, the final penalty within 5 % of Optimum, and every
// move undone once the demand is back down. With and without a period of
// DNS lag (the controller told of it).
func TestRamp(t *testing.T) {
	w := loadWorld(t)
	t.Logf("%d networks, %.1f %% of traffic first at %s; capacities sized for %.0f %% at the start", len(w.nets), 100*share(w), rampPoP, 100*rampFrom)
	for _, lag := range []int{0, 1} {
		t.Run(fmt.Sprintf("lag%d", lag), func(t *testing.T) { checkRamp(t, w, w.run(t, lag, Options{Delay: lag})) })
	}
}

func checkRamp(t *testing.T, w *rampWorld, r *rampRun) {
	u := r.util[rampPoP]
	end := rampUp // the ramp ends: period rampUp (index rampUp-1)
	hold := rampUp + rampHold
	settled := -1
	for tt := end; tt <= hold && settled < 0; tt++ {
		settled = tt
		for x := tt; x <= hold; x++ {
			if u[x-1] > target+1e-9 {
				settled = -1
				break
			}
		}
	}
	peak, peakAt := 0.0, 0
	for x := 1; x <= hold; x++ {
		if u[x-1] > peak {
			peak, peakAt = u[x-1], x
		}
	}
	t.Logf("peak utilization %.1f %% at period %d (the ramp ends at %d)", 100*peak, peakAt, end)
	if settled < 0 {
		t.Fatalf("%s never settles at or under %.0f %% while the demand holds (last %.1f %%)", rampPoP, 100*target, 100*u[hold-1])
	}
	t.Logf("settled at period %d: %d periods after the ramp ends", settled, settled-end)
	if settled-end > settleWithin {
		t.Errorf("settled %d periods after the ramp ends, want ≤ %d", settled-end, settleWithin)
	}
	over := 0.0
	for x := settled; x <= hold; x++ {
		over = max(over, u[x-1]/target-1)
	}
	t.Logf("overshoot above target after settling: %.2f %% (utilization at the end of the hold %.2f %%)", 100*over, 100*u[hold-1])
	if over >= 0.05 {
		t.Errorf("overshoot after settling %.1f %%, want < 5 %%", 100*over)
	}
	// direction changes of the move set, from settling to the end
	flips, dir := 0, 0
	for x := settled + 1; x <= rampPeriods; x++ {
		d := cmp.Compare(len(r.moves[x-1]), len(r.moves[x-2]))
		if d != 0 && dir != 0 && d != dir {
			flips++
		}
		if d != 0 {
			dir = d
		}
	}
	t.Logf("direction changes of the move set from settling to the end: %d", flips)
	if flips != 0 {
		t.Errorf("the move set changed direction %d times after settling", flips)
	}
	for _, s := range r.overRecv {
		t.Error("receiver over target: " + s)
	}
	last := hold - 1
	pen, opt := r.penalty[last], r.optimum[last]
	t.Logf("final moves: %d networks, %.1f %% of traffic; penalty %.4g, optimum %.4g: %+.2f %% (mean added RTT over all traffic %.3f ms vs %.3f ms)",
		len(r.moves[last]), 100*r.movedW[last], pen, opt, 100*(pen/opt-1), pen/r.total[last], opt/r.total[last])
	if !(pen <= 1.05*opt) {
		t.Errorf("final penalty %.4g is %.1f %% over the optimum %.4g, want ≤ 5 %%", pen, 100*(pen/opt-1), opt)
	}
	for _, m := range r.moves[last] {
		if m.From != rampPoP {
			t.Errorf("move of %s off %s: only %s should shed", m.Prefix, m.From, rampPoP)
		}
	}
	for _, l := range w.labels {
		if m := slices.Max(r.util[l]); l != rampPoP && m > target+1e-9 {
			t.Logf("%s peaked at %.1f %% (traffic moved there grew with the ramp after it moved)", l, 100*m)
		}
	}
	if n := len(r.moves[rampPeriods-1]); n != 0 {
		t.Errorf("%d moves left after the demand came back down, want none", n)
	}
}

func share(w *rampWorld) float64 {
	a, b := 0.0, 0.0
	for i, n := range w.nets {
		b += n.Weight
		if w.first[i] {
			a += n.Weight
		}
	}
	return a / b
}

// TestRampChart draws the ramp chart and checks the picture; it writes
// docs/img/load-ramp.png when LOADCTL_CHART names the file: from the
// repository root,
//
//	LOADCTL_CHART=$PWD/docs/img/load-ramp.png go test ./loadctl -run TestRampChart
func TestRampChart(t *testing.T) {
	w := loadWorld(t)
	r := w.run(t, 1, Options{Delay: 1})
	img, err := rampChart(r)
	if err != nil {
		t.Fatal(err)
	}
	if got := img.Bounds().Size(); got != image.Pt(1000, 420+260+300) {
		t.Fatalf("size %v, want 1000x980", got)
	}
	// Each panel has its first series in the palette's first color (fra's
	// load, the moved share, the penalty), a line across a good part of
	// the width.
	first := chart.Color(0)
	for _, p := range []struct {
		name   string
		y0, y1 int
	}{{"load", 0, 420}, {"moved", 420, 680}, {"penalty", 680, 980}} {
		n, x0, x1 := 0, img.Bounds().Max.X, 0
		for y := p.y0; y < p.y1; y++ {
			for x := range img.Bounds().Dx() {
				c := img.RGBAAt(x, y)
				if absDiff(c.R, first.R) < 16 && absDiff(c.G, first.G) < 16 && absDiff(c.B, first.B) < 16 {
					n++
					x0, x1 = min(x0, x), max(x1, x)
				}
			}
		}
		if n < 300 || x1-x0 < 600 {
			t.Errorf("%s panel: %d pixels of the first series' color across x=%d..%d, want a line across most of the width", p.name, n, x0, x1)
		}
	}
	path := os.Getenv("LOADCTL_CHART")
	if path == "" {
		return
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := png.Encode(f, img); err != nil {
		_ = f.Close()
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s", path)
}

func absDiff(a, b uint8) int {
	if a > b {
		return int(a - b)
	}
	return int(b - a)
}

// rampChart stacks three charts over the same periods: utilization of the
// ramped PoP and its main receivers with the target, the moved share of
// traffic, and the penalty against the optimum.
func rampChart(r *rampRun) (*image.RGBA, error) {
	n := len(r.movedW)
	xs := make([]float64, n)
	for i := range xs {
		xs[i] = float64(i + 1)
	}
	pct := func(v []float64) []float64 {
		out := make([]float64, len(v))
		for i, x := range v {
			out[i] = 100 * x
		}
		return out
	}
	gray := color.RGBA{0x7f, 0x7f, 0x7f, 0xff}
	util := chart.New(fmt.Sprintf("Load feedback: %s's demand ramps from 50 %% to 150 %% of capacity (periods 1-%d), holds, ramps down; DNS lag 1 period", rampPoP, rampUp),
		"", "load, % of capacity", 1000, 420)
	util.Plot.Title.TextStyle.Font.Size = 11
	tgt := make([]float64, n)
	for i := range tgt {
		tgt[i] = 100 * target
	}
	for i, l := range append([]popmap.Label{rampPoP}, r.neighbour[:min(3, len(r.neighbour))]...) {
		if err := addLine(util, string(l), xs, pct(r.util[l]), chart.Color(i)); err != nil {
			return nil, err
		}
	}
	if err := addLine(util, "target", xs, tgt, gray); err != nil {
		return nil, err
	}
	util.Plot.Y.Min, util.Plot.Y.Max = 40, 100

	moved := chart.New("", "", "moved, % of traffic", 1000, 260)
	if err := addLine(moved, "moved share", xs, pct(r.movedW), chart.Color(0)); err != nil {
		return nil, err
	}
	perUnit := func(v []float64) []float64 {
		out := make([]float64, len(v))
		for i, x := range v {
			out[i] = x / r.total[i]
		}
		return out
	}
	pen := chart.New("", "control period", "mean added RTT, ms", 1000, 300)
	if err := addLine(pen, "penalty of the moves (over all traffic)", xs, perUnit(r.penalty), chart.Color(0)); err != nil {
		return nil, err
	}
	if err := addLine(pen, "optimum (fractional LP)", xs, perUnit(r.optimum), gray); err != nil {
		return nil, err
	}
	return chart.Column(util, moved, pen)
}

// addLine adds a line of points (xs[i], ys[i]) to c, with a legend entry.
func addLine(c *chart.Chart, name string, xs, ys []float64, col color.Color) error {
	xys := make(plotter.XYs, len(xs))
	for i := range xs {
		xys[i] = plotter.XY{X: xs[i], Y: ys[i]}
	}
	l, err := plotter.NewLine(xys)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	l.Color, l.Width = col, 2*chart.Pixel
	c.Plot.Add(l)
	c.Legend(name, l)
	return nil
}
