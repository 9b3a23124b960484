package planner

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
)

// Report says how to print a plan.
type Report struct {
	WeightUnit      string    // what the weights count, plural: "people", "users"
	Top             int       // cells named in each site's explanation; 0 means 3
	Weights         string    // where the weights come from, e.g. "GeoNames cities of 15,000 or more"
	CandidateSource string    // where the candidates come from
	PoPSource       string    // where the existing PoPs come from
	Fit             *FibreFit // the fibre line's fit, printed when not nil
}

// Mean is a total loss per unit of weight, in the loss's unit.
func (pl *Plan) Mean(total float64) float64 { return total / pl.TotalWeight }

// Write prints the plan: the starting point, the new sites best first with
// the loss reduction each brings and why, the loss curve and the gains per
// region.
func (r Report) Write(w io.Writer, pl *Plan) {
	p := pl.Problem
	unit := p.Loss.Unit()
	wu := cmpOr(r.WeightUnit, "weight")
	n := len(p.Existing)
	r.header(w, pl)
	if n > 0 {
		fmt.Fprintf(w, "with the %s: mean %s %s %s per %s", plural(n, "existing PoP"), p.Loss.Quantity(), num(pl.Mean(pl.Initial)), unit, singular(wu))
		if p.Loss.Kind != L1 {
			fmt.Fprintf(w, ", mean distance to the nearest PoP %s km", num(pl.meanKm(pl.Before)))
		}
		fmt.Fprintln(w)
		if m := p.Measured; m != nil {
			fmt.Fprintf(w, "measured: cells with real-user RTTs start from what their users measure to their best PoP, as the distance the fibre line gives that RTT (%s ms + %s ms/km); below, such a cell's \"km from\" is that distance, with the nearest PoP named\n",
				num(m.InterceptMs), num(m.MsPerKm))
		}
	} else {
		fmt.Fprintln(w, "no existing PoPs: the first step is the best single site")
	}
	switch {
	case len(pl.Steps) > 0:
		r.writeSteps(w, pl)
	case pl.Stopped != "":
		fmt.Fprintf(w, "no new site: %s\n", pl.Stopped)
	}
	fmt.Fprintln(w)
	switch {
	case n > 1 && p.Measured != nil:
		fmt.Fprintln(w, "loss curve (from the existing PoPs as measured; then the new sites):")
	case n > 1:
		fmt.Fprintln(w, "loss curve (the existing PoPs thinned greedily, the least needed dropped first, shown from 1 PoP up; then the new sites):")
	default:
		fmt.Fprintln(w, "loss curve:")
	}
	fmt.Fprintf(w, "%5s %14s %10s  %s\n", "PoPs", "mean "+unit, "change", "PoP added")
	prev := math.NaN()
	for _, c := range pl.Curve() {
		ch := ""
		if !math.IsNaN(prev) {
			ch = pct(c.Loss, prev)
		}
		fmt.Fprintf(w, "%5d %14s %10s  %s\n", c.PoPs, num(pl.Mean(c.Loss)), ch, pl.siteTitle(c.Site))
		prev = c.Loss
	}

	fmt.Fprintln(w)
	fmt.Fprintf(w, "per region (continent of each cell's largest city):\n")
	fmt.Fprintf(w, "%-14s %9s %7s %14s %14s %9s %6s\n", "region", wu, "share", "before "+unit, "after "+unit, "change", "sites")
	for _, g := range pl.Regions() {
		before, ch := "—", "—"
		if !math.IsInf(g.Before, 1) {
			before = num(g.Before / g.Weight)
			ch = pct(g.After, g.Before)
		}
		fmt.Fprintf(w, "%-14s %9s %6.1f%% %14s %14s %9s %6d\n", g.Region, compact(g.Weight), 100*g.Weight/pl.TotalWeight,
			before, num(g.After/g.Weight), ch, g.Sites)
	}
}

// writeSteps prints the new sites, their explanations and the totals.
func (r Report) writeSteps(w io.Writer, pl *Plan) {
	p := pl.Problem
	unit := p.Loss.Unit()
	n := len(p.Existing)
	fmt.Fprintln(w)
	fmt.Fprintf(w, "new sites, best first (greedy; each step exact over every allowed candidate × %s cells; "+
		"a cell is named after its largest city and counts all its %s):\n", count(len(p.Cells)), cmpOr(r.WeightUnit, "weight"))
	fmt.Fprintf(w, "%3s  %-28s %-3s %-10s %16s %26s %9s\n", "#", "site", "cc", "s2 cell", "mean after", "reduction", "step")
	for i, st := range pl.Steps {
		red := "—"
		if !math.IsInf(st.Before, 1) {
			red = fmt.Sprintf("-%s %s (%s)", num(pl.Mean(st.Before-st.After)), unit, pct(st.After, st.Before))
		}
		fmt.Fprintf(w, "%3d  %-28s %-3s %-10s %16s %26s %9s\n", i+1, clip(st.Site.Name, 28), cmpOr(st.Site.Country, "-"),
			CellOf(st.Site.Lat, st.Site.Lon).ToToken(), num(pl.Mean(st.After))+" "+unit, red, roundDur(st.Elapsed))
		fmt.Fprintf(w, "     %s\n", wrap(pl.Explain(i, r.Top, cmpOr(r.WeightUnit, "weight")), 100, "     "))
	}
	var evals int64
	var took time.Duration
	for _, st := range pl.Steps {
		evals += st.Evaluations
		took += st.Elapsed
	}
	fmt.Fprintf(w, "search: %s, %s (candidate, cell) pairs in %s: %s pairs/s\n",
		plural(len(pl.Steps), "step"), compact(float64(evals)), roundDur(took), compact(float64(evals)/max(took.Seconds(), 1e-9)))
	if pl.Stopped != "" {
		fmt.Fprintf(w, "stopped after %d of the sites asked for: %s\n", len(pl.Steps), pl.Stopped)
	}
	if n > 0 {
		last := pl.Steps[len(pl.Steps)-1].After
		fmt.Fprintf(w, "total: mean %s %s → %s %s (%s)", p.Loss.Quantity(), num(pl.Mean(pl.Initial)), num(pl.Mean(last)), unit, pct(last, pl.Initial))
		if p.Loss.Kind != L1 {
			fmt.Fprintf(w, ", mean distance %s → %s km", num(pl.meanKm(pl.Before)), num(pl.meanKm(pl.After)))
		}
		fmt.Fprintln(w)
	}
}

// header says what the plan starts from: demand, candidates, PoPs, loss.
func (r Report) header(w io.Writer, pl *Plan) {
	p := pl.Problem
	points := 0
	for _, c := range p.Cells {
		points += c.Points
	}
	fmt.Fprintf(w, "demand: %s s2 level-%d cells holding %s %s (%s points", count(len(p.Cells)), Level, compact(pl.TotalWeight),
		cmpOr(r.WeightUnit, "weight"), count(points))
	if r.Weights != "" {
		fmt.Fprintf(w, ": %s", r.Weights)
	}
	fmt.Fprint(w, ")")
	fmt.Fprintf(w, "\ncandidates: %s sites", count(len(p.Candidates)))
	if r.CandidateSource != "" {
		fmt.Fprintf(w, " (%s)", r.CandidateSource)
	}
	if len(p.Exclude) > 0 {
		fmt.Fprintf(w, "; none in %s (%s left)", strings.Join(p.Exclude, ", "), count(pl.Candidates))
	}
	if p.MinDistanceKm > 0 {
		fmt.Fprintf(w, "; at least %s km from any other PoP", num(p.MinDistanceKm))
	}
	fmt.Fprintf(w, "\nexisting: %s", plural(len(p.Existing), "PoP"))
	if r.PoPSource != "" {
		fmt.Fprintf(w, " (%s)", r.PoPSource)
	}
	for _, s := range p.Existing {
		fmt.Fprintf(w, " %s", s.Title())
	}
	fmt.Fprintf(w, "\nloss: %s\n", p.Loss.Describe())
	if f := r.Fit; f != nil {
		fmt.Fprintf(w, "fibre line: RTT = %.2f ms + %.5f ms/km (median regression on %s WonderProxy server pairs up to %s km: "+
			"%.2f× light in fibre, mean |residual| %.1f ms; least squares: %.2f ms + %.5f ms/km, R² %.3f)\n",
			f.InterceptMs, f.MsPerKm, count(f.Pairs), num(f.MaxKm), f.Stretch(), f.MAEMs, f.OLS.InterceptMs, f.OLS.MsPerKm, f.R2)
	}
	fmt.Fprintln(w)
}

// Explain says why step i's site was chosen: how much weight it becomes
// the nearest PoP for, how far that weight was from its nearest PoP before
// and after, and the top cells among it by gain, e.g. "Mumbai (21.7M, 3,903
// km from sin → 2 km)". Cells are named after their largest city.
func (pl *Plan) Explain(i, top int, weightUnit string) string {
	if top <= 0 {
		top = 3
	}
	p := pl.Problem
	st := pl.Steps[i]
	var wt, fromKm, toKm, fromLoss, toLoss float64
	for _, m := range st.Moves {
		c := p.Cells[m.Cell]
		wt += c.Weight
		fromKm += c.Weight * m.FromKm
		toKm += c.Weight * m.ToKm
		fromLoss += c.Weight * p.Loss.Of(m.FromKm)
		toLoss += c.Weight * p.Loss.Of(m.ToKm)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s becomes the nearest PoP for %s %s (%.1f %%) in %s", st.Site.Name, compact(wt),
		cmpOr(weightUnit, "weight"), 100*wt/pl.TotalWeight, plural(len(st.Moves), "cell"))
	if i+len(p.Existing) > 0 {
		fmt.Fprintf(&b, ", %s km from their nearest PoP on average before, %s km after", num(fromKm/wt), num(toKm/wt))
		if p.Loss.Kind == TCP {
			fmt.Fprintf(&b, " (fetch %s → %s ms)", num(fromLoss/wt), num(toLoss/wt))
		}
	} else {
		fmt.Fprintf(&b, ", %s km away on average", num(toKm/wt))
	}
	b.WriteString("; the largest gains: ")
	for k, m := range st.Moves[:min(top, len(st.Moves))] {
		if k > 0 {
			b.WriteString(", ")
		}
		c := &p.Cells[m.Cell]
		if m.From >= 0 {
			fmt.Fprintf(&b, "%s (%s, %s km from %s → %s km)", c.Name(), compact(c.Weight), num(m.FromKm), pl.siteTitle(m.From), num(m.ToKm))
		} else {
			fmt.Fprintf(&b, "%s (%s, %s km)", c.Name(), compact(c.Weight), num(m.ToKm))
		}
	}
	b.WriteString(".")
	return b.String()
}

// siteTitle names site i of pl.Sites: an existing PoP by its label, a new
// site by its city with a "+".
func (pl *Plan) siteTitle(i int) string {
	if i < 0 {
		return "(the existing PoPs, as measured)"
	}
	if i < len(pl.Problem.Existing) {
		return pl.Sites[i].Title()
	}
	return "+" + pl.Sites[i].Name
}

func (pl *Plan) meanKm(near []Nearest) float64 {
	t := 0.0
	for i, c := range pl.Problem.Cells {
		t += c.Weight * near[i].Km
	}
	return t / pl.TotalWeight
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func singular(unit string) string {
	switch unit {
	case "people":
		return "person"
	case "users":
		return "user"
	}
	return "unit of " + unit
}

// pct is the change from before to after in percent, with the decimals a
// small change needs: "-14.6 %", "+0.03 %", "0 %".
func pct(after, before float64) string {
	if after == before {
		return "0 %"
	}
	if before == 0 || math.IsInf(before, 0) {
		return "—"
	}
	v := 100 * (after - before) / before
	d := 1 // decimals: 1, or 2 below 0.95 %, 3 below 0.095 %
	if a := math.Abs(v); a < 0.095 {
		d = 3
	} else if a < 0.95 {
		d = 2
	}
	return strconv.FormatFloat(v, 'f', d, 64) + " %"
}

// num formats a value for reading: thousands separators, 3 significant
// digits below 100.
func num(v float64) string {
	switch a := math.Abs(v); {
	case math.IsInf(v, 0) || math.IsNaN(v):
		return strconv.FormatFloat(v, 'f', -1, 64)
	case v == 0:
		return "0"
	case a >= 99.95:
		return group(strconv.FormatFloat(math.Round(v), 'f', 0, 64))
	case a >= 9.995:
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	return strconv.FormatFloat(v, 'f', 2, 64)
}

func count(n int) string { return group(strconv.Itoa(n)) }

// plural is "1 cell", "2 cells".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return count(n) + " " + noun + "s"
}

func group(s string) string {
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// compact formats a count: 850, 15.9k, 12.4M, 3.65B.
func compact(v float64) string {
	for _, u := range []struct {
		div  float64
		unit string
	}{{1e9, "B"}, {1e6, "M"}, {1e3, "k"}} {
		if math.Abs(v) >= u.div {
			return strconv.FormatFloat(v/u.div, 'g', 3, 64) + u.unit
		}
	}
	return strconv.FormatFloat(v, 'g', 3, 64)
}

func clip(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

func roundDur(d time.Duration) time.Duration {
	switch {
	case d >= time.Second:
		return d.Round(10 * time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(100 * time.Microsecond)
	}
	return d.Round(time.Microsecond)
}

// wrap breaks s into lines of at most width runes (words kept whole),
// joining them with a newline and indent.
func wrap(s string, width int, indent string) string {
	var lines []string
	line := ""
	for f := range strings.FieldsSeq(s) {
		if line != "" && len([]rune(line))+1+len([]rune(f)) > width {
			lines = append(lines, line)
			line = f
			continue
		}
		if line != "" {
			line += " "
		}
		line += f
	}
	lines = append(lines, line)
	return strings.Join(lines, "\n"+indent)
}
