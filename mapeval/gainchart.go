package mapeval

import (
	"errors"
	"fmt"
	"image/color"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg/draw"

	"github.com/steer-gslb/steer/internal/chart"
)

// The gain histogram's bins: gainBin ms wide over [gainMin, gainMax], the
// gains outside counted in the end bins.
const gainMin, gainMax, gainBin = -50, 250, 5

// GainChart is steer eval --png's chart: the distribution of per-network
// latency gain of a candidate map over geo and over anycast, weighted by
// traffic (lats[0] the candidate, lats[1] geo, lats[2] anycast, in truth
// order; Result.Latency with KeepPerNetwork): a weighted histogram per comparison,
// translucent bars over each other, and a line at zero gain.
func GainChart(lats [][]float32, weights []float32) (*chart.Chart, error) {
	ch := chart.New(fmt.Sprintf("Per-network latency gain of the latency map (share of traffic)\nvalues outside [%d, %d] ms are counted in the end bins", gainMin, gainMax),
		"gain in true median RTT, ms (positive: the latency map is faster)", "share of traffic (%)", 900, 500)
	ch.Plot.Title.TextStyle.Font.Size = 12
	ch.Plot.X.Min, ch.Plot.X.Max = gainMin, gainMax
	for k, name := range []string{"latency map vs geo", "latency map vs anycast"} {
		bins, err := gainBins(lats[0], lats[k+1], weights)
		if err != nil {
			return nil, fmt.Errorf("gain chart: %s: %w", name, err)
		}
		col := chart.Color(k)
		h := &plotter.Histogram{Bins: bins, Width: gainBin, FillColor: color.NRGBA{col.R, col.G, col.B, 0x40},
			LineStyle: draw.LineStyle{Color: col, Width: 1.5 * chart.Pixel}}
		ch.Plot.Add(h)
		ch.Legend(name, h)
	}
	ch.Plot.Add(zeroLine{Color: color.Black, Width: chart.Pixel})
	return ch, nil
}

// zeroLine is a plotter of a vertical line at x = 0 across the data area.
type zeroLine draw.LineStyle

// Plot implements plot.Plotter.
func (z zeroLine) Plot(c draw.Canvas, p *plot.Plot) {
	trX, _ := p.Transforms(&c)
	x := trX(0)
	c.StrokeLine2(draw.LineStyle(z), x, c.Min.Y, x, c.Max.Y)
}

// gainBins bins the gain of cand over other (other − cand, ms) per network,
// weighted: each bin's weight is its share of the total, in percent.
func gainBins(cand, other, weights []float32) ([]plotter.HistogramBin, error) {
	if len(cand) != len(weights) || len(other) != len(weights) {
		return nil, fmt.Errorf("%d and %d latencies for %d weights", len(cand), len(other), len(weights))
	}
	const n = (gainMax - gainMin) / gainBin
	bins := make([]plotter.HistogramBin, n)
	for i := range bins {
		bins[i].Min = gainMin + float64(i*gainBin)
		bins[i].Max = bins[i].Min + gainBin
	}
	total := 0.0
	for i, w := range weights {
		g := float64(other[i] - cand[i])
		if math.IsNaN(g) || math.IsInf(g, 0) || math.IsNaN(float64(w)) || math.IsInf(float64(w), 0) || w < 0 {
			return nil, fmt.Errorf("network %d: gain %v ms with weight %v: want a finite gain and a finite weight ≥ 0", i, g, w)
		}
		b := int(math.Floor((g - gainMin) / gainBin))
		bins[max(0, min(n-1, b))].Weight += float64(w)
		total += float64(w)
	}
	if total <= 0 {
		return nil, errors.New("no traffic to plot")
	}
	for i := range bins {
		bins[i].Weight *= 100 / total
	}
	return bins, nil
}
