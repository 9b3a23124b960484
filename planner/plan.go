package planner

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/steer-gslb/steer/geoip"
)

// Problem is a placement problem: where K new PoPs most reduce the loss of
// the weighted cells, given the PoPs already in place.
type Problem struct {
	Cells         []Cell   // the demand; see [Cells]
	Candidates    []Site   // where a new PoP may go; see [CellCandidates]
	Existing      []Site   // the PoPs in place; may be empty (then the first step is the best single site)
	Loss          Loss     // what a unit of weight at a distance costs
	MinDistanceKm float64  // a new PoP is at least this far from every other PoP, existing or new
	Exclude       []string // ISO 3166-1 alpha-2 codes: no new PoP in these countries (a candidate's Country decides)
	Workers       int      // goroutines per step; 0 means GOMAXPROCS
	// Measured, when set, converts a cell's MeasuredRTT (real users' RTT to
	// their best existing PoP) into the distance whose modelled RTT it is:
	// that cell's current loss is what its users measure, not what its
	// distance to the nearest PoP predicts, and a candidate helps it only
	// when nearer than that. New sites are still judged by distance (no
	// one has measured a PoP that does not exist).
	Measured *Fibre
}

// Plan is the result of [Problem.Plan].
type Plan struct {
	Problem     *Problem
	Sites       []Site    // Existing, then one per step in order
	Steps       []Step    // one per new PoP, best first
	Initial     float64   // total loss Σ w·f(d) with the existing PoPs (+Inf with none)
	Before      []Nearest // per cell: nearest site with the existing PoPs (Site −1 with none)
	After       []Nearest // per cell: nearest site after the last step
	TotalWeight float64
	Candidates  int    // candidates left after the country exclusions
	Stopped     string // why fewer than K steps were taken; "" when all were
}

// Nearest is a cell's nearest site (an index into [Plan.Sites]) and its
// distance.
type Nearest struct {
	Site int
	Km   float64
}

// Step is one greedy placement: the candidate whose new PoP most reduces
// the total loss.
type Step struct {
	Site          Site
	Candidate     int     // index into Problem.Candidates
	Before, After float64 // total loss before and after this step (Before is +Inf for a first PoP)
	Moves         []Move  // the cells it becomes nearest for, largest gain first
	Evaluated     int     // candidates evaluated: those not excluded or too near a PoP
	Evaluations   int64   // Evaluated × cells: (candidate, cell) pairs checked
	Elapsed       time.Duration
}

// Move is a cell that a step's new PoP becomes nearest for.
type Move struct {
	Cell         int     // index into Problem.Cells
	From         int     // its nearest site before (index into Plan.Sites), −1 if none
	FromKm, ToKm float64 // distance to its nearest PoP before and after
	Gain         float64 // loss reduction w·(f(FromKm) − f(ToKm)); from no PoP (From −1), FromKm is half the equator
}

// Validate checks the problem before any work is done.
func (p *Problem) Validate() error {
	var errs []error
	if len(p.Cells) == 0 {
		errs = append(errs, errors.New("no weighted cells"))
	}
	if len(p.Candidates) == 0 {
		errs = append(errs, errors.New("no candidate sites"))
	}
	for i, c := range p.Cells {
		if err := CheckLatLon(c.Lat, c.Lon); err != nil {
			errs = append(errs, fmt.Errorf("cell %d: %w", i, err))
		}
		if !(c.Weight >= 0) || math.IsInf(c.Weight, 0) {
			errs = append(errs, fmt.Errorf("cell %d: weight %v is not a finite number ≥ 0", i, c.Weight))
		}
	}
	for what, sites := range map[string][]Site{"candidate": p.Candidates, "existing PoP": p.Existing} {
		for i, s := range sites {
			if err := CheckLatLon(s.Lat, s.Lon); err != nil {
				errs = append(errs, fmt.Errorf("%s %d (%s): %w", what, i, s.Title(), err))
			}
		}
	}
	if !(p.MinDistanceKm >= 0) || math.IsInf(p.MinDistanceKm, 0) {
		errs = append(errs, fmt.Errorf("min distance %v km must be ≥ 0", p.MinDistanceKm))
	}
	if err := p.Loss.Validate(); err != nil {
		errs = append(errs, err)
	}
	if m := p.Measured; m != nil && !(m.MsPerKm > 0 && m.InterceptMs >= 0) {
		errs = append(errs, fmt.Errorf("measured: fibre line %v ms + %v ms/km: want a positive slope", m.InterceptMs, m.MsPerKm))
	}
	if len(errs) > 3 {
		errs = append(errs[:3], fmt.Errorf("and %d more errors", len(errs)-3))
	}
	return errors.Join(errs...)
}

// vec is a cell's unit vector and the dot product with its nearest PoP:
// the 32 bytes the inner loop reads per cell.
type vec struct{ x, y, z, best float64 }

// blockSize is the number of consecutive cells (in s2 cell id order:
// along the Hilbert curve, so mostly neighbours) that share a bound.
const blockSize = 32

// block bounds a run of cells: a candidate whose dot product with the
// block's centre is below skip is farther from every cell of the block
// than the cell's nearest PoP, so the block adds nothing to its gain.
type block struct {
	c      unit
	r      float64 // angle from c to the farthest cell of the block
	lo, hi int     // cells [lo, hi)
	skip   float64 // cos(r + the largest nearest-PoP angle in the block); −Inf: never skip
}

// state is the greedy search's view of the cells.
type state struct {
	vs     []vec
	u      []unit    // cell positions (same as vs, kept for distances)
	w      []float64 // weights
	cur    []float64 // w·f(km): each cell's current loss
	near   []Nearest
	blocks []block
	f      compiled // the problem's loss, without divisions, for the inner loop
}

// gain is the loss reduction of a new PoP at c: the inner loop, run for
// every candidate × cell. A cell contributes only where the candidate is
// nearer than its nearest PoP (a larger dot product), so the distance and
// the loss are computed for few pairs; a block of cells all nearer to
// their PoP than to c is skipped on one dot product. Skipped cells and
// cells that c does not improve add nothing, so the sum is the same as
// over every cell, in the same order.
func (s *state) gain(c unit) float64 {
	g := 0.0
	for _, b := range s.blocks {
		if c.x*b.c.x+c.y*b.c.y+c.z*b.c.z < b.skip {
			continue
		}
		vs, cur, w, u := s.vs[b.lo:b.hi], s.cur[b.lo:b.hi], s.w[b.lo:b.hi], s.u[b.lo:b.hi]
		for i := range vs {
			v := &vs[i]
			if d := c.x*v.x + c.y*v.y + c.z*v.z; d > v.best {
				g += cur[i] - w[i]*s.f.of(c.km(u[i]))
			}
		}
	}
	return g
}

// newBlocks groups the cells in runs of blockSize and bounds each run.
func (s *state) newBlocks() {
	for lo := 0; lo < len(s.u); lo += blockSize {
		b := block{lo: lo, hi: min(lo+blockSize, len(s.u))}
		var x, y, z float64
		for _, u := range s.u[b.lo:b.hi] {
			x, y, z = x+u.x, y+u.y, z+u.z
		}
		if n := math.Sqrt(x*x + y*y + z*z); n > 1e-9 {
			b.c = unit{x / n, y / n, z / n}
			for _, u := range s.u[b.lo:b.hi] {
				b.r = max(b.r, b.c.km(u)/geoip.EarthRadiusKm)
			}
		} else {
			b.r = math.Pi // cells all round the sphere: no bound
		}
		s.blocks = append(s.blocks, b)
	}
	s.bound()
}

// bound recomputes each block's skip threshold from its cells' nearest
// PoPs. The angles are widened by a margin far above float rounding, so a
// skipped cell is never one the candidate improves.
func (s *state) bound() {
	const margin = 1e-7 // radians, 0.6 m
	for k := range s.blocks {
		b := &s.blocks[k]
		far := 0.0
		for _, n := range s.near[b.lo:b.hi] {
			far = max(far, n.Km/geoip.EarthRadiusKm)
		}
		b.skip = math.Inf(-1)
		if a := b.r + far + margin; a < math.Pi {
			b.skip = math.Cos(a)
		}
	}
}

// noPoP is the dot product below every real one: the best of a cell no
// PoP serves yet, so that any PoP improves it.
const noPoP = -2.0

// far is the distance charged to a cell no PoP serves, half the equator:
// the gains of a first PoP are then Σ w·(f(far) − f(d)), whose largest is
// the smallest Σ w·f(d), and all finite.
var far = math.Pi * geoip.EarthRadiusKm

func newState(p *Problem) *state {
	n := len(p.Cells)
	s := &state{vs: make([]vec, n), u: make([]unit, n), w: make([]float64, n), cur: make([]float64, n), near: make([]Nearest, n), f: compile(p.Loss)}
	pops := make([]unit, len(p.Existing))
	for j, e := range p.Existing {
		pops[j] = unitOf(e.Lat, e.Lon)
	}
	fFar := s.f.of(far)
	for i, c := range p.Cells {
		u := unitOf(c.Lat, c.Lon)
		s.u[i], s.w[i] = u, c.Weight
		s.vs[i] = vec{u.x, u.y, u.z, noPoP}
		s.near[i] = Nearest{Site: -1, Km: far}
		for j, pu := range pops {
			if d := pu.dot(u); d > s.vs[i].best {
				s.vs[i].best, s.near[i].Site = d, j
			}
		}
		s.cur[i] = c.Weight * fFar
		if s.near[i].Site >= 0 {
			s.near[i].Km = pops[s.near[i].Site].km(u)
			if m := p.Measured; m != nil && c.MeasuredRTT > 0 {
				// what the users measure, as the distance the model would
				// need to give that RTT
				km := min(max(0, (c.MeasuredRTT-m.InterceptMs)/m.MsPerKm), far)
				s.near[i].Km = km
				s.vs[i].best = math.Cos(km / geoip.EarthRadiusKm)
			}
			s.cur[i] = c.Weight * s.f.of(s.near[i].Km)
		}
	}
	s.newBlocks()
	return s
}

func (s *state) total() float64 {
	t := 0.0
	for _, c := range s.cur {
		t += c
	}
	return t
}

// Plan places k new PoPs greedily: each step evaluates every remaining
// candidate against every cell, exactly, on Workers goroutines, and keeps
// the one with the largest loss reduction (ties: the first candidate).
// It stops early, saying why in Plan.Stopped, when no candidate is left or
// none reduces the loss.
func (p *Problem) Plan(k int) (*Plan, error) {
	if k < 0 {
		return nil, fmt.Errorf("planning %d new PoPs: want ≥ 0", k)
	}
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("planning: %w", err)
	}
	s := newState(p)
	pl := &Plan{Problem: p, Sites: slices.Clone(p.Existing), Before: slices.Clone(s.near), Initial: s.total()}
	for _, c := range p.Cells {
		pl.TotalWeight += c.Weight
	}
	if len(p.Existing) == 0 {
		pl.Initial = math.Inf(1)
	}

	// Candidates: excluded countries never; too near a PoP until the end.
	cands := make([]unit, len(p.Candidates))
	ok := make([]bool, len(p.Candidates))
	for i, c := range p.Candidates {
		cands[i] = unitOf(c.Lat, c.Lon)
		ok[i] = !slices.ContainsFunc(p.Exclude, func(x string) bool { return strings.EqualFold(x, c.Country) })
		if ok[i] {
			pl.Candidates++
		}
	}
	// Too near: a dot product above cos(MinDistanceKm / R).
	minDot := math.Inf(1)
	if p.MinDistanceKm > 0 {
		minDot = math.Cos(min(math.Pi, p.MinDistanceKm/geoip.EarthRadiusKm))
	}
	tooNear := func(site unit) {
		for i := range cands {
			if ok[i] && cands[i].dot(site) >= minDot {
				ok[i] = false
			}
		}
	}
	for _, e := range p.Existing {
		tooNear(unitOf(e.Lat, e.Lon))
	}

	workers := p.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	for len(pl.Steps) < k {
		t0 := time.Now()
		best, gain, evaluated := s.search(cands, ok, workers)
		if evaluated == 0 {
			pl.Stopped = "no candidate left (all excluded or within the minimum distance of a PoP)"
			break
		}
		if best < 0 || !(gain > 0) {
			pl.Stopped = "no candidate reduces the loss further"
			break
		}
		st := Step{Site: p.Candidates[best], Candidate: best, Evaluated: evaluated, Evaluations: int64(evaluated) * int64(len(p.Cells))}
		st.Before = s.total()
		if len(pl.Sites) == 0 {
			st.Before = math.Inf(1)
		}
		st.Moves = s.apply(cands[best], len(pl.Sites))
		st.After = s.total()
		st.Elapsed = time.Since(t0)
		pl.Sites = append(pl.Sites, st.Site)
		pl.Steps = append(pl.Steps, st)
		tooNear(cands[best])
	}
	pl.After = slices.Clone(s.near)
	return pl, nil
}

// search returns the candidate with the largest gain (−1 if none is
// allowed), its gain and the number of candidates evaluated. Workers take
// blocks of candidates from a shared counter; each candidate's gain is a
// sum in cell order, so the result does not depend on the schedule.
func (s *state) search(cands []unit, ok []bool, workers int) (best int, gain float64, evaluated int) {
	const block = 16
	var next atomic.Int64
	type result struct {
		best      int
		gain      float64
		evaluated int
	}
	results := make([]result, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			r := result{best: -1, gain: math.Inf(-1)}
			for {
				lo := int(next.Add(block)) - block
				if lo >= len(cands) {
					break
				}
				for c := lo; c < min(lo+block, len(cands)); c++ {
					if !ok[c] {
						continue
					}
					r.evaluated++
					if g := s.gain(cands[c]); g > r.gain || (g == r.gain && c < r.best) {
						r.best, r.gain = c, g
					}
				}
			}
			results[w] = r
		})
	}
	wg.Wait()
	best, gain = -1, math.Inf(-1)
	for _, r := range results {
		evaluated += r.evaluated
		if r.best >= 0 && (r.gain > gain || (r.gain == gain && r.best < best)) {
			best, gain = r.best, r.gain
		}
	}
	return best, gain, evaluated
}

// apply places a PoP at c, the site with index site, and returns the cells
// it now serves, largest gain first.
func (s *state) apply(c unit, site int) []Move {
	var moves []Move
	for i := range s.vs {
		v := &s.vs[i]
		d := c.x*v.x + c.y*v.y + c.z*v.z
		if d <= v.best {
			continue
		}
		km := c.km(s.u[i])
		m := Move{Cell: i, From: s.near[i].Site, FromKm: s.near[i].Km, ToKm: km}
		next := s.w[i] * s.f.of(km)
		m.Gain = s.cur[i] - next
		moves = append(moves, m)
		v.best, s.cur[i], s.near[i] = d, next, Nearest{Site: site, Km: km}
	}
	s.bound()
	slices.SortStableFunc(moves, func(a, b Move) int {
		switch {
		case a.Gain > b.Gain:
			return -1
		case a.Gain < b.Gain:
			return 1
		}
		return 0
	})
	return moves
}
