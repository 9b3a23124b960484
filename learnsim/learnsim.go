// Package learnsim runs the learning loop of issue 20 on a simulated
// timed world, in one process, with the real parts: clients arrive from
// the world's measured networks in proportion to their traffic over the
// diurnal cycle (sim.Arrivals); each one asks for its probe plan
// (measureplan, from the same per-network knowledge the collector serves
// at /rum/plan.json, refreshed from the store at every build) or, in the
// random arm, times MaxPoPs PoPs chosen at random; its samples are drawn
// from the world's truth of that moment and stored as beacons in a DuckDB
// store (store/duckstore); every BuildEvery a map is built (builder, with
// the previous map for stability and the options' window and change
// detection) and scored against the truth of its period (mapeval), and
// the network-level figures the issue asks about are taken: regret of the
// networks an event changed, answers that flip for networks no event
// touched, uptake of a newly opened PoP.
//
// What it leaves out, on purpose: the production noise of the simulator's
// beacons (the cleaning rules are tested on their own), DNS tests and the
// resolver join (the as-served view still scores resolvers by the GeoIP
// fallback), and HTTP between client and collector (the collector's plan
// endpoint is tested in package collector; this is the same policy and
// knowledge in process).
package learnsim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/steer-gslb/steer/builder"
	"github.com/steer-gslb/steer/geoip"
	"github.com/steer-gslb/steer/mapeval"
	"github.com/steer-gslb/steer/measureplan"
	"github.com/steer-gslb/steer/popmap"
	"github.com/steer-gslb/steer/rum"
	"github.com/steer-gslb/steer/sim"
	"github.com/steer-gslb/steer/store"
	"github.com/steer-gslb/steer/store/duckstore"
)

// Arm is how clients choose the PoPs they time.
type Arm string

const (
	// Planned: the measurement planner's plan for the client's network,
	// and the client comes back no sooner than the plan's back-off.
	Planned Arm = "planned"
	// Random: every client times Policy.MaxPoPs open PoPs chosen at
	// random (the cost of a planned beacon at most).
	Random Arm = "random"
)

// Config is one run.
type Config struct {
	World string // a timed world directory (steer sim --days N)
	Store string // an empty directory for the run's DuckDB store
	Arm   Arm
	// Policy is the planner's (the random arm uses its MaxPoPs).
	Policy measureplan.Policy
	// BeaconsPerDay is the client arrivals a day over the world's
	// measured networks, on average (the planned arm sends fewer beacons
	// when plans say come back later).
	BeaconsPerDay int
	BuildEvery    time.Duration
	Build         builder.Options // Now and HoldOut are set per build
	// Refresh is how often the planner's knowledge is re-read from the
	// store (the collector's plan.refresh; default: at every build), and
	// PlanRecent the window of its change test (plan.recent; 0: off).
	Refresh, PlanRecent time.Duration
	Seed                uint64
	Progress            io.Writer // a line per build; nil: none
}

// Step is the state after one build.
type Step struct {
	At     time.Time `json:"at"`
	Day    float64   `json:"day"`    // since the world's start
	Period int       `json:"period"` // the world's period the map was scored in (0 first)
	// Cumulative beacons sent and samples (PoPs timed) in them.
	Beacons int64 `json:"beacons"`
	Samples int64 `json:"samples"`
	// p75 of latency over traffic against the perfect map's, %, per
	// network and as served (mapeval's two views).
	GapPerNetwork float64 `json:"gap_per_network_pct"`
	GapServed     float64 `json:"gap_served_pct"`
	// Traffic-weighted mean regret (ms) of every network and of the
	// measured ones, per network.
	Regret         float64 `json:"regret_ms"`
	MeasuredRegret float64 `json:"measured_regret_ms"`
	// The networks the latest event changed (their truth moved at the
	// start of the current period): how many, their mean regret (ms,
	// traffic-weighted), and the same for the measured ones among them.
	// NaN before any event.
	Affected                 int   `json:"affected"`
	AffectedRegret           Value `json:"affected_regret_ms"`
	AffectedMeasured         int   `json:"affected_measured"`
	AffectedMeasuredRegret   Value `json:"affected_measured_regret_ms"`
	AffectedMeasuredRegretEq Value `json:"affected_measured_regret_once_ms"` // every network counted once
	// Flips is the share (%) of the networks no event ever touches whose
	// answer (per network) changed since the previous build.
	Flips float64 `json:"flips_unaffected_pct"`
	// FlipsMeasured is the same over the measured networks alone.
	FlipsMeasured float64 `json:"flips_unaffected_measured_pct"`
	// NeedlessFlips is the share (%) of the networks no event touches
	// whose answer changed to one no better (by the truth, by 0.5 ms or
	// more): flapping, not learning.
	NeedlessFlips float64 `json:"needless_flips_pct"`
	// New PoPs opened so far: for each, the measured networks it wins
	// (truth), the share of them that have timed it, and the share the map
	// sends there.
	NewPoPs []NewPoP `json:"new_pops,omitempty"`
	// RecentShift is the networks the build re-estimated from recent data.
	RecentShift int     `json:"recent_shift"`
	BuildSecs   float64 `json:"build_s"`
}

// Value is a figure that may be undefined (NaN): null in JSON.
type Value float64

// MarshalJSON writes null for NaN.
func (v Value) MarshalJSON() ([]byte, error) {
	if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
		return []byte("null"), nil
	}
	return json.Marshal(float64(v))
}

// UnmarshalJSON reads null as NaN.
func (v *Value) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*v = Value(math.NaN())
		return nil
	}
	var f float64
	err := json.Unmarshal(b, &f)
	*v = Value(f)
	return err
}

// NewPoP is a newly opened PoP's uptake at a step.
type NewPoP struct {
	Label    popmap.Label `json:"pop"`
	Opened   time.Time    `json:"opened"`
	Wins     int          `json:"wins"`     // measured networks whose best PoP it is
	Measured float64      `json:"measured"` // share of them with a sample to it, %
	Mapped   float64      `json:"mapped"`   // share of them the map sends to it, %
}

// period is a span of the world with one truth, in memory.
type period struct {
	sim.Period
	from   int64 // ms
	recs   []sim.TruthRecord
	closed uint64 // PoPs not open
	file   string
	header *sim.TruthHeader
}

// Run runs the loop over the whole world and returns one Step per build.
func Run(ctx context.Context, c Config) ([]Step, error) {
	if c.Arm != Planned && c.Arm != Random {
		return nil, fmt.Errorf("learnsim: arm %q: planned or random", c.Arm)
	}
	if err := c.Policy.Check(); err != nil {
		return nil, fmt.Errorf("learnsim: policy: %w", err)
	}
	if c.BuildEvery < time.Hour || c.BeaconsPerDay < 1 {
		return nil, fmt.Errorf("learnsim: build every %v (at least 1h) and %d beacons a day (at least 1)", c.BuildEvery, c.BeaconsPerDay)
	}
	ps, labels, err := loadPeriods(c.World)
	if err != nil {
		return nil, err
	}
	if len(labels) > 63 {
		return nil, fmt.Errorf("learnsim: %d PoPs: at most 63", len(labels))
	}
	geo, err := geoip.Open(filepath.Join(c.World, sim.FileGeoIP))
	if err != nil {
		return nil, err
	}
	defer func() { _ = geo.Close() }()
	start := ps[0].From
	days, share, err := worldOptions(c.World)
	if err != nil {
		return nil, err
	}
	// The measured networks: the world's share of them, chosen by a hash of
	// the network (the simulator marks a network measured only when its
	// own beacon stream reached it, which depends on its --beacons-per-day).
	for _, p := range ps {
		for i := range p.recs {
			p.recs[i].Measured = measured(p.recs[i].Network, share)
		}
	}
	end := start.Add(time.Duration(days) * 24 * time.Hour)

	var clock time.Time
	st, err := duckstore.Open(c.Store, duckstore.Options{Now: func() time.Time { return clock }})
	if err != nil {
		return nil, err
	}
	defer func() { _ = st.Close() }()

	r := &runner{c: c, ps: ps, labels: labels, geo: geo, st: st, rng: rand.New(rand.NewPCG(c.Seed, 0x1ea4))}
	r.arrivals(start, end, days)
	r.know = measureplan.NewKnowledge(stringLabels(labels))
	r.affectedEver = make([]bool, len(ps[0].recs))
	for k := 1; k < len(ps); k++ {
		for i := range ps[k].recs {
			if changed(&ps[k-1].recs[i], &ps[k].recs[i]) {
				r.affectedEver[i] = true
			}
		}
	}
	r.timed = make([]uint64, len(ps[0].recs))
	r.nextOK = make([]int64, len(ps[0].recs))

	var steps []Step
	var prevChoice []int16
	var prevTab *popmap.Table
	next := 0 // the next arrival
	refresh := c.Refresh
	if refresh <= 0 {
		refresh = c.BuildEvery
	}
	refreshAt := start.Add(refresh) // the planner's next knowledge refresh
	for at := start.Add(c.BuildEvery); !at.After(end); at = at.Add(c.BuildEvery) {
		if err := ctx.Err(); err != nil {
			return steps, err
		}
		// the clients until the build
		var batch []store.Beacon
		flush := func() error {
			if len(batch) == 0 {
				return nil
			}
			clock = batch[len(batch)-1].Received // the store's clock: its dedup window
			_, err := st.AddBeacons(ctx, batch)
			batch = batch[:0]
			return err
		}
		for next < len(r.arr) && r.arr[next].t < at.UnixMilli() {
			if c.Arm == Planned && r.arr[next].t >= refreshAt.UnixMilli() {
				if err := flush(); err != nil {
					return steps, fmt.Errorf("learnsim: storing beacons: %w", err)
				}
				if err := r.refresh(ctx, refreshAt); err != nil {
					return steps, err
				}
				refreshAt = refreshAt.Add(refresh)
				continue
			}
			if b, ok := r.client(r.arr[next]); ok {
				batch = append(batch, b)
			}
			next++
			if len(batch) == 10_000 {
				if err := flush(); err != nil {
					return steps, fmt.Errorf("learnsim: storing beacons: %w", err)
				}
			}
		}
		if err := flush(); err != nil {
			return steps, fmt.Errorf("learnsim: storing beacons: %w", err)
		}
		clock = at
		// build
		opt := c.Build
		opt.Now, opt.HoldOut = at, -1
		t0 := time.Now()
		res, err := builder.Build(ctx, builder.Input{
			Store: st, BGP: []string{filepath.Join(c.World, sim.FileBGP)}, GeoIP: geo, Previous: prevTab, Options: opt})
		if err != nil {
			return steps, fmt.Errorf("learnsim: build at %v: %w", at, err)
		}
		s := Step{At: at, Day: at.Sub(start).Hours() / 24, Beacons: r.beacons, Samples: r.samples, BuildSecs: time.Since(t0).Seconds()}
		for _, rc := range res.Report.Rules {
			if rc.Rule == builder.RuleRecentShift {
				s.RecentShift = rc.Count
			}
		}
		k := periodAt(ps, at.UnixMilli()-1) // the world the map was built for
		s.Period = k
		ev, err := mapeval.Evaluate(mapeval.Input{Truth: ps[k].file, Map: res.Table, Geo: geo})
		if err != nil {
			return steps, err
		}
		s.GapPerNetwork = gap(ev.PerNetwork.P75, ev.BestPerNetwork.P75)
		s.GapServed = gap(ev.Served.P75, ev.BestServed.P75)
		prevChoice = r.score(&s, res.Table, k, prevChoice)
		steps = append(steps, s)
		prevTab = res.Table
		if c.Progress != nil {
			for _, np := range s.NewPoPs {
				fmt.Fprintf(c.Progress, "%s day %5.2f: new PoP %s: %d measured networks it wins, %.1f %% timed it, %.1f %% sent there\n",
					c.Arm, s.Day, np.Label, np.Wins, np.Measured, np.Mapped)
			}
			fmt.Fprintf(c.Progress, "%s day %5.2f: %8d beacons %9d samples, p75 %+.2f %% / %+.2f %%, regret %.2f ms (measured %.2f), affected %.2f ms (measured %.2f, %d), flips %.2f %% (measured %.2f %%, needless %.2f %%), shifted %d, build %.1f s\n",
				c.Arm, s.Day, s.Beacons, s.Samples, s.GapPerNetwork, s.GapServed, s.Regret, s.MeasuredRegret,
				s.AffectedRegret, s.AffectedMeasuredRegret, s.AffectedMeasured, s.Flips, s.FlipsMeasured, s.NeedlessFlips, s.RecentShift, s.BuildSecs)
		}
	}
	return steps, nil
}

func gap(v, best float64) float64 { return 100 * (v/best - 1) }

type arrival struct {
	t   int64 // ms
	net int32 // index in the truth
}

type runner struct {
	c      Config
	ps     []*period
	labels []popmap.Label
	geo    *geoip.DB
	st     *duckstore.DB
	rng    *rand.Rand
	know   *measureplan.Knowledge

	arr          []arrival
	affectedEver []bool
	timed        []uint64 // per network: PoPs it has timed (bits)
	nextOK       []int64  // per network: the plan's back-off (ms)

	beacons, samples int64

	states []measureplan.PoPState
	open   []int // open PoP indexes of the current plan
	sub    []measureplan.PoPState
	idx    []int
}

// refresh re-reads the planner's knowledge from the store at time at, as
// the collector does every plan.refresh.
func (r *runner) refresh(ctx context.Context, at time.Time) error {
	k, _, err := r.know.Refresh(ctx, r.st, at, r.c.PlanRecent)
	if err != nil {
		return err
	}
	r.know = k
	return nil
}

// arrivals draws every client arrival of the run, sorted by time.
func (r *runner) arrivals(start, end time.Time, days int) {
	recs := r.ps[0].recs
	sum := 0.0
	for i := range recs {
		if recs[i].Measured {
			sum += recs[i].Weight
		}
	}
	if sum == 0 {
		return
	}
	per := float64(r.c.BeaconsPerDay) * float64(days) / sum
	ar := rand.New(rand.NewPCG(r.c.Seed, 0xa77))
	var ts []int64
	for i := range recs {
		if !recs[i].Measured {
			continue
		}
		ts = sim.Arrivals(ts[:0], ar, per*recs[i].Weight, start.UnixMilli(), end.Sub(start).Milliseconds(), recs[i].Lon)
		for _, t := range ts {
			r.arr = append(r.arr, arrival{t, int32(i)})
		}
	}
	slices.SortFunc(r.arr, func(a, b arrival) int {
		if a.t != b.t {
			return int(a.t - b.t)
		}
		return int(a.net - b.net)
	})
}

// client is one arrival: its beacon, or false when it sends none (the
// plan's back-off has not passed, or no PoP is open).
func (r *runner) client(a arrival) (store.Beacon, bool) {
	k := periodAt(r.ps, a.t)
	p := r.ps[k]
	rec := &p.recs[a.net]
	r.open = r.open[:0]
	for i := range r.labels {
		if p.closed&(1<<i) == 0 {
			r.open = append(r.open, i)
		}
	}
	if len(r.open) == 0 {
		return store.Beacon{}, false
	}
	var pops []int
	switch r.c.Arm {
	case Planned:
		if a.t < r.nextOK[a.net] {
			return store.Beacon{}, false
		}
		key, err := store.NetworkKey(rec.Network)
		if err != nil {
			return store.Beacon{}, false
		}
		r.states = r.know.Lookup(key, r.states)
		r.sub = r.sub[:0]
		for _, i := range r.open { // the plan is over the PoPs open (the collector's configuration)
			r.sub = append(r.sub, r.states[i])
		}
		if cap(r.idx) < measureplan.MaxPoPs+1 {
			r.idx = make([]int, 0, measureplan.MaxPoPs+1)
		}
		pl, err := r.c.Policy.Plan(r.idx, key, r.sub, time.UnixMilli(a.t))
		if err != nil {
			return store.Beacon{}, false
		}
		r.nextOK[a.net] = a.t + pl.After.Milliseconds()
		for _, j := range pl.PoPs {
			pops = append(pops, r.open[j])
		}
	case Random:
		n := min(r.c.Policy.MaxPoPs, len(r.open))
		perm := r.rng.Perm(len(r.open))
		for _, j := range perm[:n] {
			pops = append(pops, r.open[j])
		}
	}
	b := store.Beacon{Received: time.UnixMilli(a.t).UTC(), Source: "ingest"}
	b.V, b.ClientSubnet = 1, rec.Network
	b.Agent = rum.Agent{Kind: rum.KindWeb, Platform: "linux", Timer: "performance"}
	for j, pop := range pops {
		v := float64(rec.Base[pop]) + float64(rec.Jitter[pop])*r.rng.ExpFloat64()
		v = math.Max(0.1, math.Round(v*10)/10) // browsers coarsen timers to 0.1 ms
		b.Samples = append(b.Samples, rum.Sample{TS: time.UnixMilli(a.t - int64(len(pops)-j)*50).UTC(),
			Target: string(r.labels[pop]), Probe: rum.ProbeHTTPS, RTTms: v})
		r.timed[a.net] |= 1 << pop
	}
	r.beacons++
	r.samples += int64(len(pops))
	return b, true
}

// score fills s's network-level figures for map tab in period k and
// returns each network's answer (for the next step's flips).
func (r *runner) score(s *Step, tab *popmap.Table, k int, prev []int16) []int16 {
	p := r.ps[k]
	const q = 0.5 // mapeval's default statistic
	sites := make([]geoip.Site, 0, len(r.labels))
	for i, pop := range p.header.PoPs {
		if p.closed&(1<<i) == 0 {
			sites = append(sites, geoip.Site{Label: pop.Label, Lat: pop.Lat, Lon: pop.Lon})
		}
	}
	ch := mapeval.NewChooser(tab, r.geo, sites, r.labels)
	choice := make([]int16, len(p.recs))
	var all, meas, aff, affM acc
	affOnce, nAffOnce := 0.0, 0
	flips, unaffected, flipsM, unaffectedM, needless := 0, 0, 0, 0, 0
	var affected []bool
	if k > 0 {
		affected = make([]bool, len(p.recs))
		for i := range p.recs {
			affected[i] = changed(&r.ps[k-1].recs[i], &p.recs[i])
		}
	}
	for i := range p.recs {
		t := &p.recs[i]
		c, _ := ch.Choose(t.Network, t.Network.Addr())
		if c < 0 {
			c = t.Anycast
		}
		choice[i] = int16(c)
		best := t.Quantile(t.Best(q), q)
		regret := t.Quantile(c, q) - best
		all.add(t.Weight, regret)
		if t.Measured {
			meas.add(t.Weight, regret)
		}
		if affected != nil && affected[i] {
			aff.add(t.Weight, regret)
			if t.Measured {
				affM.add(t.Weight, regret)
				affOnce += regret
				nAffOnce++
			}
		}
		if !r.affectedEver[i] {
			flip := prev != nil && prev[i] != choice[i]
			unaffected++
			flips += b2i(flip)
			if flip && t.Quantile(int(choice[i]), q) > t.Quantile(int(prev[i]), q)-0.5 {
				needless++
			}
			if t.Measured {
				unaffectedM++
				flipsM += b2i(flip)
			}
		}
	}
	s.Regret, s.MeasuredRegret = all.mean(), meas.mean()
	s.Affected, s.AffectedRegret = aff.n, Value(aff.mean())
	s.AffectedMeasured, s.AffectedMeasuredRegret = affM.n, Value(affM.mean())
	s.AffectedMeasuredRegretEq = Value(math.NaN())
	if nAffOnce > 0 {
		s.AffectedMeasuredRegretEq = Value(affOnce / float64(nAffOnce))
	}
	if prev != nil {
		s.Flips, s.FlipsMeasured, s.NeedlessFlips = pct(flips, unaffected), pct(flipsM, unaffectedM), pct(needless, unaffected)
	}
	// new PoPs: open now, closed in the first period
	for pop, label := range r.labels {
		if r.ps[0].closed&(1<<pop) == 0 || p.closed&(1<<pop) != 0 {
			continue
		}
		np := NewPoP{Label: label}
		for kk := range r.ps {
			if r.ps[kk].closed&(1<<pop) == 0 {
				np.Opened = r.ps[kk].From
				break
			}
		}
		timed, mapped := 0, 0
		for i := range p.recs {
			t := &p.recs[i]
			if !t.Measured || t.Best(q) != pop {
				continue
			}
			np.Wins++
			if r.timed[i]&(1<<pop) != 0 {
				timed++
			}
			if int(choice[i]) == pop {
				mapped++
			}
		}
		if np.Wins > 0 {
			np.Measured, np.Mapped = 100*float64(timed)/float64(np.Wins), 100*float64(mapped)/float64(np.Wins)
		}
		s.NewPoPs = append(s.NewPoPs, np)
	}
	return choice
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func pct(n, of int) float64 {
	if of == 0 {
		return 0
	}
	return 100 * float64(n) / float64(of)
}

// acc is a traffic-weighted mean.
type acc struct {
	n    int
	w, s float64
}

func (a *acc) add(w, v float64) { a.n++; a.w += w; a.s += w * v }
func (a *acc) mean() float64 {
	if a.w == 0 {
		return math.NaN()
	}
	return a.s / a.w
}

// changed reports whether an event changed what a map should do for a
// network: its best PoP (by the median, mapeval's statistic). A PoP
// opening changes every network's truth file, but this only for the
// networks it wins; a lost peering only where the PoP was the best and
// the detour is slower than the next PoP.
func changed(a, b *sim.TruthRecord) bool {
	const q = 0.5
	return a.Best(q) != b.Best(q)
}

func periodAt(ps []*period, ms int64) int {
	k := len(ps) - 1
	for k > 0 && ms < ps[k].from {
		k--
	}
	return k
}

// loadPeriods reads every period's truth into memory.
func loadPeriods(dir string) ([]*period, []popmap.Label, error) {
	sp, err := sim.Periods(dir)
	if err != nil {
		return nil, nil, err
	}
	if len(sp) == 0 {
		return nil, nil, fmt.Errorf("learnsim: %s is a static world: run steer sim --days N", dir)
	}
	var labels []popmap.Label
	ps := make([]*period, len(sp))
	for k, p := range sp {
		pp := &period{Period: p, from: p.From.UnixMilli(), file: filepath.Join(dir, p.File)}
		h, err := sim.ReadTruth(pp.file, func(_ *sim.TruthHeader, t *sim.TruthRecord) error {
			rec := *t
			rec.Base, rec.Jitter = slices.Clone(t.Base), slices.Clone(t.Jitter)
			pp.recs = append(pp.recs, rec)
			return nil
		})
		if err != nil {
			return nil, nil, err
		}
		pp.header = h
		var ls []popmap.Label
		for i, tp := range h.PoPs {
			ls = append(ls, tp.Label)
			if slices.Contains(h.Closed, tp.Label) {
				pp.closed |= 1 << i
			}
		}
		if k == 0 {
			labels = ls
		} else if !slices.Equal(ls, labels) || len(pp.recs) != len(ps[0].recs) {
			return nil, nil, errors.New("learnsim: the periods' truth files differ in PoPs or networks")
		}
		ps[k] = pp
	}
	for k := 1; k < len(ps); k++ {
		for i := range ps[k].recs {
			if ps[k].recs[i].Network != ps[0].recs[i].Network {
				return nil, nil, fmt.Errorf("learnsim: period %d's network %d is %v, not %v", k, i, ps[k].recs[i].Network, ps[0].recs[i].Network)
			}
		}
	}
	return ps, labels, nil
}

// worldOptions reads the world's length in days and its measured share
// (world.json's options).
func worldOptions(dir string) (int, float64, error) {
	b, err := os.ReadFile(filepath.Join(dir, sim.FileWorld))
	if err != nil {
		return 0, 0, err
	}
	var wf struct {
		Options struct {
			Days     int     `json:"days"`
			Measured float64 `json:"measured"`
		} `json:"options"`
	}
	if err := json.Unmarshal(b, &wf); err != nil {
		return 0, 0, fmt.Errorf("learnsim: %s: %w", filepath.Join(dir, sim.FileWorld), err)
	}
	if wf.Options.Days < 1 || !(wf.Options.Measured > 0 && wf.Options.Measured <= 1) {
		return 0, 0, fmt.Errorf("learnsim: %s: options.days %d or options.measured %v: not a timed world", filepath.Join(dir, sim.FileWorld), wf.Options.Days, wf.Options.Measured)
	}
	return wf.Options.Days, wf.Options.Measured, nil
}

// measured chooses a network to send beacons with probability share.
func measured(n netip.Prefix, share float64) bool {
	k, err := store.NetworkKey(n)
	if err != nil {
		return false
	}
	h := k * 0x9e3779b97f4a7c15
	h ^= h >> 29
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 32
	return float64(h>>11)/(1<<53) < share
}

func stringLabels(ls []popmap.Label) []string {
	out := make([]string, len(ls))
	for i, l := range ls {
		out[i] = string(l)
	}
	return out
}
