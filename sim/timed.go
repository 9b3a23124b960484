package sim

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/steer-gslb/steer/geoip"
	"github.com/steer-gslb/steer/popmap"
)

// A timed world (Options.Days > 0) runs over whole days from Start.
//
// Arrivals: a measured network's clients send Poisson(BeaconsPerDay × Days
// × weight / (mean weight × networks × Measured)) beacons over the run, so
// the budget is BeaconsPerDay a day on average and a network's share
// follows its traffic. Each beacon's time is drawn from the diurnal cycle
// of the network's local solar time (UTC + longitude/15 h): intensity
// 1 + diurnalAmp·cos(2π(h − diurnalPeak)/24): busiest at 20:00, quietest
// at 08:00 (a plain cosine; real traffic bottoms out nearer 04:00). Arrivals and beacons draw from a stream of their own
// per block, so the networks and the truth do not depend on the budget.
//
// Periods: the state of the world (peering, transit hubs, open PoPs,
// degradations) changes only at the start of an event's day. The truth of
// each period is written to truth-dNN.tsv.gz (NN: the day the period
// starts, 00 first) and truth.tsv.gz is the truth at the end, a copy of
// the last period's file. world.json lists the periods; TruthAt picks the
// file for a time. A period's file has a "#closed" header line for every
// PoP not open yet, whose columns are ClosedRTT/0. The measured column is
// the same in every period: the network sent beacons at some time of the
// run.
//
// Beacons, DNS tests and edge requests are dated over the whole run and
// see the world of their period: its RTTs, its anycast, only the open
// PoPs. The edge log holds EdgeRequests lines per network per day on
// average.
const (
	diurnalAmp  = 0.6
	diurnalPeak = 20.0 // local hour of the busiest time

	streamArrivals = 3 << 32 // + block index
	maxArrivals    = 1_000_000
)

// Period is a span of a timed world in which the truth does not change.
type Period struct {
	Day    int       `json:"day"`              // the day it starts on, 0 first
	From   time.Time `json:"from"`             // Options.Start + Day×24 h
	File   string    `json:"file"`             // its truth file in the world directory
	Events []string  `json:"events,omitempty"` // the events starting it (compact form)
}

// periodState is the world during one period.
type periodState struct {
	Period
	from   int64          // ms
	peers  map[int]uint64 // ISP index → peering bitmask, where an event changed it
	hub    map[int]int    // ISP index → matrix index of its transit hub, where rerouted
	closed uint64         // PoPs not open yet
	extra  []float32      // per PoP: degradation in ms
	cache  map[uint64]*pathVec
}

// periods builds the timed world's periods from its events, checking each
// against the world: the ISP exists, peers (or not) as the event assumes,
// the hub is a measured city.
func (w *World) periods() ([]*periodState, error) {
	evs := slices.Clone(w.Opt.Events)
	slices.SortStableFunc(evs, func(a, b Event) int { return a.Day - b.Day })
	isp := map[uint32]int{}
	for i, s := range w.ISPs {
		if s.Networks > 0 {
			isp[s.ASN] = i
		}
	}
	popIdx := map[popmap.Label]int{}
	for i, p := range w.PoPs {
		popIdx[p.Label] = i
	}
	cur := &periodState{peers: map[int]uint64{}, hub: map[int]int{}, extra: make([]float32, len(w.PoPs))}
	for _, ev := range evs {
		if ev.Kind == PoPOpen {
			cur.closed |= 1 << popIdx[ev.PoP]
		}
	}
	var out []*periodState
	next := func(day int) {
		st := &periodState{
			Period: Period{Day: day, From: w.Opt.Start.Add(time.Duration(day) * 24 * time.Hour), File: fmt.Sprintf("truth-d%02d.tsv.gz", day)},
			peers:  cloneMap(cur.peers), hub: cloneMap(cur.hub), closed: cur.closed, extra: slices.Clone(cur.extra),
			cache: map[uint64]*pathVec{},
		}
		st.from = st.From.UnixMilli()
		out = append(out, st)
		cur = st
	}
	next(0)
	var errs []error
	for _, ev := range evs {
		if ev.Day != cur.Day {
			next(ev.Day)
		}
		cur.Events = append(cur.Events, ev.String())
		ii, known := isp[ev.ASN]
		if ev.ASN != 0 && !known {
			errs = append(errs, fmt.Errorf("events: %s: no ISP AS%d with networks in this world", ev, ev.ASN))
			continue
		}
		p := popIdx[ev.PoP]
		switch ev.Kind {
		case PeeringLost, PeeringAdded:
			peers, ok := cur.peers[ii]
			if !ok {
				peers = w.ISPs[ii].peers
			}
			has := peers&(1<<p) != 0
			if has == (ev.Kind == PeeringAdded) {
				state := "does not peer"
				if has {
					state = "already peers"
				}
				errs = append(errs, fmt.Errorf("events: %s: AS%d %s with %s then (it peers with: %s)", ev, ev.ASN, state, ev.PoP, w.peerList(peers)))
				continue
			}
			cur.peers[ii] = peers ^ 1<<p
		case Reroute:
			h := w.Matrix.Index(ev.Hub)
			if h < 0 {
				errs = append(errs, fmt.Errorf("events: %s: no measured city %q (see steer sim --list-cities)", ev, ev.Hub))
				continue
			}
			cur.hub[ii] = h
		case PoPOpen:
			cur.closed &^= 1 << p
		case PoPDegraded:
			cur.extra[p] = float32(ev.Ms)
		}
	}
	return out, errors.Join(errs...)
}

func cloneMap[K comparable, V any](m map[K]V) map[K]V {
	c := make(map[K]V, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

func (w *World) peerList(peers uint64) string {
	var ls []string
	for p, pop := range w.PoPs {
		if peers&(1<<p) != 0 {
			ls = append(ls, string(pop.Label))
		}
	}
	if len(ls) == 0 {
		return "none"
	}
	return strings.Join(ls, ", ")
}

// pathAt is path for period st (nil: the plan's static world).
func (g *generator) pathAt(st *periodState, isp, anchor int) *pathVec {
	if st == nil {
		return g.path(isp, anchor)
	}
	k := uint64(isp)<<32 | uint64(anchor)
	v := st.cache[k]
	if v == nil {
		v = g.w.pathsAt(isp, anchor, st)
		st.cache[k] = v
	}
	return v
}

// diurnal is the relative arrival intensity at a UTC time (ms) for users
// at longitude lon: mean 1 over a day.
func diurnal(ms int64, lon float64) float64 {
	h := math.Mod(float64(ms)/3.6e6+lon/15, 24)
	return 1 + diurnalAmp*math.Cos(2*math.Pi*(h-diurnalPeak)/24)
}

// Arrivals draws the times (Unix ms, sorted, appended to ts) of the
// clients of a network at longitude lon over [start, start+span) ms:
// Poisson(lambda) of them, each placed by the diurnal cycle of the
// network's local solar time, as a timed world's beacons are (the
// learning harness, package learnsim, uses it for its own clients).
func Arrivals(ts []int64, r *rand.Rand, lambda float64, start, span int64, lon float64) []int64 {
	cnt := poisson(r, lambda, maxArrivals)
	for range cnt {
		for {
			t := start + r.Int64N(span)
			if r.Float64()*(1+diurnalAmp) < diurnal(t, lon) {
				ts = append(ts, t)
				break
			}
		}
	}
	slices.Sort(ts)
	return ts
}

// streamTimed is stream for a timed world.
func (w *World) streamTimed(dir string, geo *geoip.DB, c *Counts) (*Report, []Period, error) {
	ps, err := w.periods()
	if err != nil {
		return nil, nil, err
	}
	var outs []*outFile
	fail := func(err error) (*Report, []Period, error) {
		for _, o := range outs {
			if o != nil {
				o.abort()
			}
		}
		return nil, nil, err
	}
	for _, name := range []string{FileBeacons, FileDNSLog, FileEdge} {
		o, err := createOut(filepath.Join(dir, name))
		if err != nil {
			return fail(err)
		}
		outs = append(outs, o)
	}
	bw, lw, ew := outs[0].w, outs[1].w, outs[2].w
	np := len(w.PoPs)
	type truthOut struct {
		gz *gzip.Writer
		tw *bufio.Writer
		h  *TruthHeader
	}
	tos := make([]truthOut, len(ps))
	for k, st := range ps {
		o, err := createOut(filepath.Join(dir, st.File))
		if err != nil {
			return fail(err)
		}
		outs = append(outs, o)
		gz, _ := gzip.NewWriterLevel(o.w, gzip.BestSpeed)
		tw := bufio.NewWriterSize(gz, 1<<16)
		h := newTruthHeader(w)
		for p := range np {
			if st.closed&(1<<p) != 0 {
				h.Closed = append(h.Closed, w.PoPs[p].Label)
			}
		}
		if err := h.write(tw); err != nil {
			return fail(err)
		}
		tos[k] = truthOut{gz, tw, h}
	}
	last := len(ps) - 1
	rep := newReport(tos[last].h)
	g := newGenerator(w)
	e := newEmitter(w, geo, c)
	edge := newEdgeEmitter(w, e)
	nets := 0
	for _, ci := range w.Cities {
		nets += ci.networks
	}
	// the budget spread over the measured networks by traffic
	perWeight := 0.0
	if nets > 0 && w.Opt.Measured > 0 {
		perWeight = float64(w.Opt.BeaconsPerDay) * float64(w.Opt.Days) / (edge.mean * float64(nets) * w.Opt.Measured)
	}
	base := make([][]float32, len(ps))
	jit := make([][]float32, len(ps))
	for k := range ps {
		base[k], jit[k] = make([]float32, np), make([]float32, np)
	}
	anycast := make([]int, len(ps))
	periodAt := func(ms int64) int {
		k := last
		for k > 0 && ms < ps[k].from {
			k--
		}
		return k
	}
	// use switches n to period k's world
	use := func(n *Network, k int) {
		copy(n.Base, base[k])
		copy(n.Jitter, jit[k])
		n.Anycast = anycast[k]
		e.closed = ps[k].closed
	}
	e.closedAt = func(ms int64) uint64 { return ps[periodAt(ms)].closed }
	edge.at = func(n *Network, us int64) int {
		use(n, periodAt(us/1000))
		return edge.servedBy(n)
	}
	var buf []byte
	var ts []int64
	var rec TruthRecord
	rec.Base = make([]float32, np)
	rec.Jitter = make([]float32, np)
	for bi := range w.Blocks {
		er := w.rng(streamEdge + uint64(bi))
		ar := w.rng(streamArrivals + uint64(bi))
		g.block(bi, func(n *Network, _ *rand.Rand) {
			c.Networks++
			if n.Prefix.Addr().Is6() {
				c.IPv6Networks++
			}
			w.Resolvers[n.Resolver].weight += n.Weight
			w.Resolvers[n.Resolver].clients++
			city := &w.Cities[n.City]
			for k, st := range ps {
				pv := g.pathAt(st, n.ISP, city.anchor)
				for p := range np {
					if st.closed&(1<<p) != 0 {
						base[k][p], jit[k][p] = ClosedRTT, 0
						continue
					}
					base[k][p] = pv.rtt[p] + n.add
					jit[k][p] = pv.jit[p] + n.addJit
				}
				anycast[k] = pv.anycast
			}
			ts = ts[:0]
			if n.Measured {
				ts = Arrivals(ts, ar, perWeight*n.Weight, e.start, e.span, city.Lon)
				n.Measured = len(ts) > 0
			}
			for k := range ps {
				use(n, k)
				e.fillTruth(n, &rec)
				buf = rec.append(buf[:0], tos[k].h)
				_, _ = tos[k].tw.Write(buf) // a bufio.Writer's error sticks: Flush reports it
			}
			rep.add(&rec) // the last period's
			if n.Measured {
				c.Measured++
				for _, t := range ts {
					use(n, periodAt(t))
					e.beacon(n, t, ar, bw, lw)
				}
			}
			edge.requests(n, er, ew)
		})
		if e.err != nil {
			return fail(e.err)
		}
	}
	for _, to := range tos {
		if err := errors.Join(to.tw.Flush(), to.gz.Close()); err != nil {
			return fail(err)
		}
	}
	for i, o := range outs {
		if err := o.commit(); err != nil {
			return fail(err)
		}
		outs[i] = nil
	}
	// truth.tsv.gz is the truth at the end
	if err := copyFile(filepath.Join(dir, ps[last].File), filepath.Join(dir, FileTruth)); err != nil {
		return nil, nil, err
	}
	rep.finish()
	out := make([]Period, len(ps))
	for k, st := range ps {
		out[k] = st.Period
	}
	return rep, out, nil
}

func copyFile(from, to string) error {
	f, err := os.Open(from)
	if err != nil {
		return err
	}
	defer func() { _ = f.Close() }() // read-only
	return writeFile(to, func(w io.Writer) error {
		_, err := io.Copy(w, f)
		return err
	})
}

// Periods lists a world directory's periods from its world.json: nil for
// a static world (one truth, FileTruth, at all times).
func Periods(dir string) ([]Period, error) {
	b, err := os.ReadFile(filepath.Join(dir, FileWorld))
	if err != nil {
		return nil, err
	}
	var wf struct {
		Periods []Period `json:"periods"`
	}
	if err := json.Unmarshal(b, &wf); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, FileWorld), err)
	}
	for i, p := range wf.Periods {
		if p.File == "" || p.File != filepath.Base(p.File) || (i > 0 && !p.From.After(wf.Periods[i-1].From)) {
			return nil, fmt.Errorf("%s: period %d: bad file %q or time %v", filepath.Join(dir, FileWorld), i, p.File, p.From)
		}
	}
	return wf.Periods, nil
}

// TruthAt is the path of the truth file that holds for time t in the world
// directory dir: the period's truth-dNN.tsv.gz in a timed world (the last
// period from t on; an error before the world's start), truth.tsv.gz in a
// static one.
func TruthAt(dir string, t time.Time) (string, error) {
	ps, err := Periods(dir)
	if err != nil {
		return "", err
	}
	if len(ps) == 0 {
		return filepath.Join(dir, FileTruth), nil
	}
	if t.Before(ps[0].From) {
		return "", fmt.Errorf("%s: %v is before the world's start %v", dir, t.UTC().Format(time.RFC3339), ps[0].From.Format(time.RFC3339))
	}
	k := len(ps) - 1
	for t.Before(ps[k].From) {
		k--
	}
	return filepath.Join(dir, ps[k].File), nil
}
