package ui

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"os"
	"slices"
	"time"

	"github.com/gaissmai/bart"

	"github.com/steer-gslb/steer/explain"
	"github.com/steer-gslb/steer/geoip"
	"github.com/steer-gslb/steer/popmap"
	"github.com/steer-gslb/steer/rttfile"
	"github.com/steer-gslb/steer/sim"
)

// Options say what the explorer shows.
type Options struct {
	Map     string // the map to look at (required)
	Against string // a second map to compare with; "" = the geo baseline
	// Truth is a simulated world's truth.tsv.gz: networks are placed where
	// their users are, weighted by their traffic, and scored with their true
	// latency; the evaluation view needs it. "" = place the map's own
	// networks by GeoIP, with the build's expected RTTs (MAP.rtt.tsv).
	Truth string
	GeoIP *geoip.DB // placement without a truth; the geo baseline's GeoIP
	// PoPs are the PoPs and their locations and states (the config's, else
	// the truth's).
	PoPs []PoP
	// Sources and RTTs are the map's MAP.sources.tsv and MAP.rtt.tsv; ""
	// = the files beside Map when they exist.
	Sources, RTTs string
	// Plan is a plan.geojson written by steer plan ("" = none).
	Plan string
	// Explain, when set, answers "explain" for a network from the same
	// inputs steer explain uses.
	Explain *explain.Inputs
	// Debug looks up a debug page's stored report by ID (nil: none).
	Debug func(id string) ([]byte, error)
	// Resolutions are the h3 resolutions aggregated (default 1–4).
	Resolutions []int
}

// PoP is a PoP as the explorer shows it.
type PoP struct {
	Label    string  `json:"label"`
	City     string  `json:"city,omitempty"`
	Lat      float64 `json:"lat"`
	Lon      float64 `json:"lon"`
	State    string  `json:"state"`
	Color    string  `json:"color"` // the PoP's colour in every view, #rrggbb
	Share    float64 `json:"share"` // its share of the shown traffic under the map
	Networks int     `json:"networks"`
}

// Sources of a point's answer, in grid class order (class = index + 1).
var sourceNames = []string{"measured", "resolver", "extrapolate-as", "extrapolate-prefix", "extrapolate-geo", "map", "fallback"}

const (
	srcMap      = 5 // an entry without a sources file
	srcFallback = 6 // no entry: GeoIP-nearest or anycast
)

// point is one client network: where it is, how much it weighs and what each
// map does for it. Latencies are NaN when unknown.
type point struct {
	net        netip.Prefix
	lat, lon   float32
	weight     float32
	samples    float32 // the build's weight (beacons) for measured networks
	pop, popB  int16   // first PoP of map A / of the comparison (-1: none)
	source     uint8   // index into sourceNames
	latA, latB float32 // latency at pop / popB (truth median, else the build's estimate)
	country    [2]byte
}

// Model is everything the explorer serves, computed once from Options.
type Model struct {
	opts     Options
	pops     []PoP
	popIndex map[string]int
	points   []point
	levels   map[int]*level
	eval     *Evaluation // nil without a truth
	tableA   *popmap.Table
	mapA     *popmap.Map
	tableB   *popmap.Table
	mapB     *popmap.Map
	rtts     *bart.Table[*rttfile.Entry]
	grids    *grids
	plan     []byte // plan.geojson, nil if none
	summary  Summary
	against  string // what B is: a map's name or "geo"
	gainName string
	unplaced int          // networks GeoIP could not place
	sites    []geoip.Site // PoPs with a location (geo baseline), lazily
}

// Summary is the first thing the page asks for.
type Summary struct {
	Map         string   `json:"map"`
	MapVersion  int64    `json:"mapVersion"`
	Against     string   `json:"against"`
	Placement   string   `json:"placement"` // "truth" or "geoip"
	Networks    int      `json:"networks"`
	Unplaced    int      `json:"unplaced"`
	Weight      float64  `json:"weight"`
	WeightUnit  string   `json:"weightUnit"`
	PoPs        []PoP    `json:"pops"`
	Sources     []string `json:"sources"`
	Resolutions []int    `json:"resolutions"`
	HasEval     bool     `json:"hasEval"`
	HasExplain  bool     `json:"hasExplain"`
	HasPlan     bool     `json:"hasPlan"`
	HasDebug    bool     `json:"hasDebug"`
	HasChange   bool     `json:"hasChange"`
	LoadSeconds float64  `json:"loadSeconds"`
}

// palette gives PoPs distinct colours, in PoP order (Tableau 20, then
// repeats darker).
var palette = []string{
	"#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac",
	"#1f77b4", "#aec7e8", "#ff7f0e", "#ffbb78", "#2ca02c", "#98df8a", "#d62728", "#ff9896", "#9467bd", "#c5b0d5",
	"#8c564b", "#c49c94", "#e377c2", "#f7b6d2", "#7f7f7f", "#c7c7c7", "#bcbd22", "#dbdb8d", "#17becf", "#9edae5",
}

// Load reads everything and aggregates it.
func Load(o Options) (*Model, error) {
	start := time.Now()
	if o.Map == "" {
		return nil, errors.New("ui: a map is required")
	}
	if len(o.Resolutions) == 0 {
		o.Resolutions = []int{1, 2, 3, 4}
	}
	for _, r := range o.Resolutions {
		if r < 0 || r > 9 {
			return nil, fmt.Errorf("ui: h3 resolution %d out of range 0–9", r)
		}
	}
	m := &Model{opts: o, popIndex: map[string]int{}, levels: map[int]*level{}}
	var err error
	if m.mapA, m.tableA, err = popmap.Load(o.Map); err != nil {
		return nil, err
	}
	if o.Against != "" {
		if m.mapB, m.tableB, err = popmap.Load(o.Against); err != nil {
			return nil, err
		}
		m.against, m.gainName = o.Against, "gain over "+o.Against
	} else {
		m.against, m.gainName = "geo", "gain over geo"
	}
	src, err := loadSources(o)
	if err != nil {
		return nil, err
	}
	if m.rtts, err = loadRTTs(o); err != nil {
		return nil, err
	}
	if o.Truth != "" {
		err = m.placeTruth(src)
	} else {
		err = m.placeGeoIP(src)
	}
	if err != nil {
		return nil, err
	}
	if len(m.pops) == 0 {
		return nil, errors.New("ui: no PoPs: give a config or a truth that names them")
	}
	m.finishPoPs()
	ord := newOrders(m.points)
	for _, r := range o.Resolutions {
		m.levels[r] = aggregate(m.points, ord, r, len(m.pops))
	}
	m.grids = buildGrids(m.mapA, m.mapB, src, m.pops, m.popIndex)
	if o.Plan != "" {
		if m.plan, err = os.ReadFile(o.Plan); err != nil {
			return nil, fmt.Errorf("ui: plan: %w", err)
		}
	}
	meta := m.tableA.Meta()
	m.summary = Summary{
		Map: o.Map, MapVersion: meta.Version, Against: m.against, Networks: len(m.points),
		PoPs: m.pops, Sources: sourceNames, Resolutions: o.Resolutions, HasEval: m.eval != nil,
		HasExplain: o.Explain != nil, HasPlan: m.plan != nil, HasDebug: o.Debug != nil, HasChange: m.mapB != nil,
	}
	if o.Truth != "" {
		m.summary.Placement, m.summary.WeightUnit = "truth", "traffic"
	} else {
		m.summary.Placement, m.summary.WeightUnit = "geoip", "/24s"
	}
	for i := range m.points {
		m.summary.Weight += float64(m.points[i].weight)
	}
	m.summary.Unplaced = m.unplaced
	m.summary.LoadSeconds = time.Since(start).Seconds()
	return m, nil
}

// loadSources reads the map's sources file (beside the map by default);
// nil when there is none.
func loadSources(o Options) (*explain.Sources, error) {
	path := o.Sources
	if path == "" {
		path = explain.FindSources(o.Map)
	}
	if path == "" {
		return nil, nil
	}
	return explain.LoadSources(path)
}

// loadRTTs reads the map's RTT file (beside the map by default) keyed by
// network; nil when there is none.
func loadRTTs(o Options) (*bart.Table[*rttfile.Entry], error) {
	path := o.RTTs
	if path == "" {
		path = explain.FindRTTs(o.Map)
	}
	if path == "" {
		return nil, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("ui: %w", err)
	}
	defer func() { _ = f.Close() }()
	es, err := rttfile.Read(f)
	if err != nil {
		return nil, fmt.Errorf("ui: %s: %w", path, err)
	}
	t := &bart.Table[*rttfile.Entry]{}
	for i := range es {
		t.Insert(es[i].Network, &es[i])
	}
	return t, nil
}

// rttEntry is the build's RTT entry for a network (nil: none).
func (m *Model) rttEntry(p netip.Prefix) *rttfile.Entry {
	if m.rtts == nil {
		return nil
	}
	_, e, ok := m.rtts.LookupPrefixLPM(p)
	if !ok {
		return nil
	}
	return e
}

// expected is the build's expected RTT for network p at PoP label (NaN:
// unknown).
func (m *Model) expected(p netip.Prefix, label string) float32 {
	e := m.rttEntry(p)
	if e == nil {
		return float32(math.NaN())
	}
	for _, c := range e.Ranked {
		if string(c.Label) == label {
			return float32(c.RTT)
		}
	}
	return float32(math.NaN())
}

// addPoP registers a PoP (first definition wins) and returns its index.
func (m *Model) addPoP(p PoP) int {
	if i, ok := m.popIndex[p.Label]; ok {
		return i
	}
	m.popIndex[p.Label] = len(m.pops)
	m.pops = append(m.pops, p)
	return len(m.pops) - 1
}

// popOf is the index of a map answer's first label, registering a PoP the
// map names but no config does (placed at 0,0 and marked unknown).
func (m *Model) popOf(ls []popmap.Label) int16 {
	if len(ls) == 0 {
		return -1
	}
	if i, ok := m.popIndex[string(ls[0])]; ok {
		return int16(i)
	}
	return int16(m.addPoP(PoP{Label: string(ls[0]), State: "unknown"}))
}

// sourceOf classifies the answer a point gets from map A.
func sourceOf(src *explain.Sources, a netip.Addr, hasEntry bool) uint8 {
	if !hasEntry {
		return srcFallback
	}
	if src == nil {
		return srcMap
	}
	_, s, ok := src.Lookup(a)
	if !ok {
		return srcMap
	}
	if i := slices.Index(sourceNames, s); i >= 0 {
		return uint8(i)
	}
	return srcMap
}

// finishPoPs gives PoPs their colours, traffic shares and network counts.
func (m *Model) finishPoPs() {
	var total float64
	w := make([]float64, len(m.pops))
	for i := range m.points {
		p := &m.points[i]
		total += float64(p.weight)
		if p.pop >= 0 {
			w[p.pop] += float64(p.weight)
			m.pops[p.pop].Networks++
		}
	}
	for i := range m.pops {
		m.pops[i].Color = palette[i%len(palette)]
		if total > 0 {
			m.pops[i].Share = w[i] / total
		}
		if m.pops[i].State == "" {
			m.pops[i].State = "up"
		}
	}
}

// placeGeoIP makes one point per network of map A, at its GeoIP location,
// weighted by its number of /24s (/56s for IPv6, capped at a /8's worth).
func (m *Model) placeGeoIP(src *explain.Sources) error {
	for _, p := range m.opts.PoPs {
		m.addPoP(p)
	}
	if m.opts.GeoIP == nil {
		return errors.New("ui: placing networks without a truth needs a GeoIP database (--geoip or the config's geoip)")
	}
	for _, e := range m.mapA.Entries {
		for _, n := range e.Networks {
			a := n.Addr()
			loc, _, ok := m.opts.GeoIP.Locate(a)
			if !ok {
				m.unplaced++
				continue
			}
			p := point{net: n, lat: float32(loc.Lat), lon: float32(loc.Lon), weight: blockWeight(n)}
			copy(p.country[:], loc.Country)
			la, _ := m.tableA.LookupPrefix(n)
			p.pop = m.popOf(la)
			p.source = sourceOf(src, a, la != nil)
			if re := m.rttEntry(n); re != nil && p.source == 0 {
				p.samples = float32(re.Weight)
			}
			p.latA, p.latB = float32(math.NaN()), float32(math.NaN())
			if p.pop >= 0 {
				p.latA = m.expected(n, m.pops[p.pop].Label)
			}
			p.popB = -1
			if m.tableB != nil {
				lb, _ := m.tableB.LookupPrefix(n)
				p.popB = m.popOf(lb)
			} else if sites := m.geoSites(); len(sites) > 0 {
				if near := geoip.Nearest(loc.Lat, loc.Lon, sites); len(near) > 0 {
					p.popB = int16(m.popIndex[string(near[0])])
				}
			}
			if p.popB >= 0 {
				p.latB = m.expected(n, m.pops[p.popB].Label)
			}
			m.points = append(m.points, p)
		}
	}
	return nil
}

// geoSites are the PoPs with a location, for the geo baseline.
func (m *Model) geoSites() []geoip.Site {
	if m.sites == nil {
		for _, p := range m.pops {
			if p.State != "unknown" {
				m.sites = append(m.sites, geoip.Site{Label: popmap.Label(p.Label), Lat: p.Lat, Lon: p.Lon})
			}
		}
	}
	return m.sites
}

// blockWeight is a network's size in /24s (IPv4) or /56s (IPv6), at least
// 1 and at most 65,536.
func blockWeight(n netip.Prefix) float32 {
	unit := 24
	if n.Addr().Is6() {
		unit = 56
	}
	if n.Bits() >= unit {
		return 1
	}
	return float32(math.Pow(2, float64(min(unit-n.Bits(), 16))))
}

// placeTruth makes one point per truth network, where its users are, with
// its traffic and true median latency; and computes the evaluation.
func (m *Model) placeTruth(src *explain.Sources) error {
	ev := newEvalBuilder(m.gainName)
	var truthPoPs []int
	_, err := sim.ReadTruth(m.opts.Truth, func(h *sim.TruthHeader, r *sim.TruthRecord) error {
		if truthPoPs == nil {
			for _, p := range m.opts.PoPs {
				m.addPoP(p)
			}
			for _, tp := range h.PoPs {
				truthPoPs = append(truthPoPs, m.addPoP(PoP{Label: string(tp.Label), City: tp.City, Lat: tp.Lat, Lon: tp.Lon}))
			}
		}
		a := r.Network.Addr()
		p := point{net: r.Network, lat: float32(r.Lat), lon: float32(r.Lon), weight: float32(r.Weight)}
		copy(p.country[:], r.Country)
		la, _ := m.tableA.LookupPrefix(r.Network)
		// A network without an entry gets what the DNS server's fallback
		// gives it: the GeoIP-nearest PoP, else anycast.
		ti := func(ls []popmap.Label) int {
			if len(ls) > 0 {
				if k := slices.IndexFunc(h.PoPs, func(tp sim.TruthPoP) bool { return tp.Label == ls[0] }); k >= 0 {
					return k
				}
			}
			if r.Geo >= 0 {
				return r.Geo
			}
			return r.Anycast
		}
		ka := ti(la)
		p.pop = int16(truthPoPs[ka])
		p.source = sourceOf(src, a, la != nil)
		if r.Measured {
			if re := m.rttEntry(r.Network); re != nil {
				p.samples = float32(re.Weight)
			}
		}
		p.latA = float32(r.Quantile(ka, 0.5))
		kb := r.Geo
		if m.tableB != nil {
			lb, _ := m.tableB.LookupPrefix(r.Network)
			kb = ti(lb)
		}
		if kb < 0 {
			kb = r.Anycast
		}
		p.popB, p.latB = int16(truthPoPs[kb]), float32(r.Quantile(kb, 0.5))
		ev.add(r, float64(p.latA), float64(p.latB))
		m.points = append(m.points, p)
		return nil
	})
	if err != nil {
		return fmt.Errorf("ui: %w", err)
	}
	m.eval = ev.finish()
	return nil
}

// Summary is what the explorer shows of the whole map.
func (m *Model) Summary() Summary { return m.summary }
