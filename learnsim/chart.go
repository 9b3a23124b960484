package learnsim

import (
	"fmt"
	"image"
	"math"

	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/steer-gslb/steer/internal/chart"
)

// Series is one run's steps under a name (an arm and its build options).
type Series struct {
	Name  string
	Steps []Step
}

// Chart draws the runs one above the other: the p75 gap to the perfect
// map (per network) against the beacons sent, and the mean regret of
// every network and of the networks the latest event changed against
// time.
func Chart(title string, runs []Series) (*image.RGBA, error) {
	px := chart.Pixel
	budget := chart.New(title+": p75 of latency against the perfect map, per network", "beacons sent (thousands)", "p75 gap (%)", 1000, 420)
	regret := chart.New(title+": mean regret, every network (solid) and measured ones an event moved (dashed)", "day", "regret (ms, traffic-weighted)", 1000, 420)
	for i, r := range runs {
		var gap, all plotter.XYs
		var aff []plotter.XYs // one line per period: each event changes other networks
		for j, s := range r.Steps {
			gap = append(gap, plotter.XY{X: float64(s.Beacons) / 1000, Y: s.GapPerNetwork})
			all = append(all, plotter.XY{X: s.Day, Y: s.Regret})
			if v := float64(s.AffectedMeasuredRegret); !math.IsNaN(v) && s.AffectedMeasured > 0 {
				if j == 0 || r.Steps[j-1].Period != s.Period || len(aff) == 0 {
					aff = append(aff, nil)
				}
				aff[len(aff)-1] = append(aff[len(aff)-1], plotter.XY{X: s.Day, Y: v})
			}
		}
		col := chart.Color(i)
		type line struct {
			ch   *chart.Chart
			xys  plotter.XYs
			dash bool
			name string
		}
		lines := []line{{budget, gap, false, r.Name}, {regret, all, false, r.Name}}
		for _, a := range aff {
			lines = append(lines, line{regret, a, true, ""})
		}
		for _, l := range lines {
			if len(l.xys) == 0 {
				continue
			}
			ln, points, err := plotter.NewLinePoints(l.xys)
			if err != nil {
				return nil, fmt.Errorf("learn chart: %w", err)
			}
			ln.Color, ln.Width = col, 2*px
			if l.dash {
				ln.Dashes = []vg.Length{6 * px, 4 * px}
			}
			points.GlyphStyle = draw.GlyphStyle{Color: col, Radius: 2.5 * px, Shape: draw.CircleGlyph{}}
			l.ch.Plot.Add(ln, points)
			if l.name != "" {
				l.ch.Legend(l.name, ln, points)
			}
		}
	}
	return chart.Column(budget, regret)
}
