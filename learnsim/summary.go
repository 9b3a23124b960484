package learnsim

import (
	"fmt"
	"math"
	"slices"
	"strings"
)

// BeaconsToReach is the beacons sent by the first step whose p75 gap (per
// network) is at most gap, and whether any step reaches it.
func BeaconsToReach(steps []Step, gap float64) (int64, bool) {
	for _, s := range steps {
		if s.GapPerNetwork <= gap {
			return s.Beacons, true
		}
	}
	return 0, false
}

// Recovery describes, for each event of a run (each period after the
// first), its first n builds: the mean regret of the networks it changed
// and the share of the networks no event touches whose answer flipped,
// with the needless part — the view of issue 20's bar ("back under 1 ms
// within 2 builds, while fewer than 0.5 % of unaffected networks change
// answers per build"), which the whole run's median flips does not give.
func Recovery(r Series, n int) []string {
	var out []string
	for i := 0; i < len(r.Steps); {
		p := r.Steps[i].Period
		j := i
		for j < len(r.Steps) && r.Steps[j].Period == p {
			j++
		}
		if p > 0 {
			var days, reg, fl []string
			for _, s := range r.Steps[i:min(j, i+n)] {
				days = append(days, fmt.Sprintf("%.2f", s.Day))
				reg = append(reg, fmt.Sprintf("%.2f", float64(s.AffectedRegret)))
				fl = append(fl, fmt.Sprintf("%.2f %% (needless %.2f %%)", s.Flips, s.NeedlessFlips))
			}
			out = append(out, fmt.Sprintf("%s: event %d (%d networks changed), builds at days %s: their regret %s ms; unaffected networks' answers flipped %s",
				r.Name, p, r.Steps[i].Affected, strings.Join(days, ", "), strings.Join(reg, " → "), strings.Join(fl, ", ")))
		}
		i = j
	}
	return out
}

// Summary describes each run's end and, for a planned and a random run
// side by side, the budget comparison of issue 20: the beacons the
// planned run needed to reach the random run's final gap.
func Summary(runs []Series) []string {
	var out []string
	var planned, random *Series
	for i := range runs {
		r := &runs[i]
		if len(r.Steps) == 0 {
			continue
		}
		last := r.Steps[len(r.Steps)-1]
		out = append(out, fmt.Sprintf("%s: %d beacons, %d samples; final p75 gap %+.2f %% per network, %+.2f %% as served; regret %.2f ms (measured %.2f); answers flipped per build for networks no event touched, from day 3: median %.2f %% [%.2f–%.2f] (measured networks: %.2f %% [%.2f–%.2f]; to an answer no better: %.2f %% [%.2f–%.2f])",
			r.Name, last.Beacons, last.Samples, last.GapPerNetwork, last.GapServed, last.Regret, last.MeasuredRegret,
			median(flips(r.Steps, flipAll)), minOf(flips(r.Steps, flipAll)), maxOf(flips(r.Steps, flipAll)),
			median(flips(r.Steps, flipMeasured)), minOf(flips(r.Steps, flipMeasured)), maxOf(flips(r.Steps, flipMeasured)),
			median(flips(r.Steps, flipNeedless)), minOf(flips(r.Steps, flipNeedless)), maxOf(flips(r.Steps, flipNeedless))))
		out = append(out, Recovery(*r, 2)...)
		for _, np := range last.NewPoPs {
			out = append(out, fmt.Sprintf("%s: new PoP %s (opened %s): %d measured networks it wins, %.1f %% timed it, %.1f %% sent there",
				r.Name, np.Label, np.Opened.Format("2006-01-02"), np.Wins, np.Measured, np.Mapped))
		}
		switch {
		case planned == nil && strings.HasSuffix(r.Name, string(Planned)):
			planned = r
		case random == nil && strings.HasSuffix(r.Name, string(Random)):
			random = r
		}
	}
	if planned != nil && random != nil {
		rl, pl := random.Steps[len(random.Steps)-1], planned.Steps[len(planned.Steps)-1]
		b, ok := BeaconsToReach(planned.Steps, rl.GapPerNetwork)
		if ok {
			out = append(out, fmt.Sprintf("budget: %s reached %s's final p75 gap (%+.2f %%) after %d beacons, %.0f %% of %s's %d; final gap %+.2f %% vs %+.2f %%",
				planned.Name, random.Name, rl.GapPerNetwork, b, 100*float64(b)/float64(rl.Beacons), random.Name, rl.Beacons, pl.GapPerNetwork, rl.GapPerNetwork))
		} else {
			out = append(out, fmt.Sprintf("budget: %s never reached %s's final p75 gap (%+.2f %%); its final gap %+.2f %%",
				planned.Name, random.Name, rl.GapPerNetwork, pl.GapPerNetwork))
		}
	}
	return out
}

// Which flip share flips reads.
const (
	flipAll = iota
	flipMeasured
	flipNeedless
)

// flips are the steps' flip shares (of kind) from day 3 on (after the
// cold start).
func flips(steps []Step, kind int) []float64 {
	var out []float64
	for _, s := range steps {
		if s.Day > 3 {
			out = append(out, [...]float64{s.Flips, s.FlipsMeasured, s.NeedlessFlips}[kind])
		}
	}
	return out
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := slices.Sorted(slices.Values(v))
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func minOf(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	return slices.Min(v)
}

func maxOf(v []float64) float64 {
	m := math.NaN()
	for _, x := range v {
		if math.IsNaN(m) || x > m {
			m = x
		}
	}
	return m
}
