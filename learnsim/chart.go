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
	regret := chart.New(title+": mean regret (solid: every network; dashed: those the latest event changed, measured)", "day", "regret (ms, traffic-weighted)", 1000, 420)
	for i, r := range runs {
		var gap, all, aff plotter.XYs
		for _, s := range r.Steps {
			gap = append(gap, plotter.XY{X: float64(s.Beacons) / 1000, Y: s.GapPerNetwork})
			all = append(all, plotter.XY{X: s.Day, Y: s.Regret})
			if v := float64(s.AffectedMeasuredRegret); !math.IsNaN(v) && s.AffectedMeasured > 0 {
				aff = append(aff, plotter.XY{X: s.Day, Y: v})
			}
		}
		col := chart.Color(i)
		for _, l := range []struct {
			ch   *chart.Chart
			xys  plotter.XYs
			dash bool
			name string
		}{{budget, gap, false, r.Name}, {regret, all, false, r.Name}, {regret, aff, true, ""}} {
			if len(l.xys) == 0 {
				continue
			}
			line, points, err := plotter.NewLinePoints(l.xys)
			if err != nil {
				return nil, fmt.Errorf("learn chart: %w", err)
			}
			line.Color, line.Width = col, 2*px
			if l.dash {
				line.Dashes = []vg.Length{6 * px, 4 * px}
			}
			points.GlyphStyle = draw.GlyphStyle{Color: col, Radius: 2.5 * px, Shape: draw.CircleGlyph{}}
			l.ch.Plot.Add(line, points)
			if l.name != "" {
				l.ch.Legend(l.name, line, points)
			}
		}
	}
	return chart.Column(budget, regret)
}
