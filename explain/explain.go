// Package explain answers the question operators ask most when a user
// complains: why did this address get that PoP? It runs the DNS server's
// decision (package steering's Chain, over the same maps, GeoIP database
// and PoP state) and then explains it: the matched entry of each map and
// where that entry came from (a build's MAP.sources.tsv: measured, resolver
// or an extrapolation rule), the GeoIP record and its nearest PoP, the PoPs
// passed over and why, and, when a store is at hand, the build's per-PoP
// estimate for the client's network.
//
// The package is CGO-free and imports neither the store nor the builder,
// so that the DNS server (and its steering API) can link it; the store's
// estimate comes in through [Inputs.Estimator], which `steer explain
// --store` fills.
//
// The client: Explain(in, addr, ecs) explains the answer to a client at
// addr. Without ecs, addr is both the client's subnet (as an ECS source
// addr/32 or addr/128, capped at /24 or /56 like every ECS source) and the
// resolver's address; with ecs, ecs is the client subnet and addr the
// resolver's; ecs with prefix length 0 (0.0.0.0/0 or ::/0) means "no
// client information", so addr is explained as a resolver's address. This
// is [Client]; the steering API's Resolve uses the same.
package explain

import (
	"cmp"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/steer-gslb/steer/config"
	"github.com/steer-gslb/steer/geoip"
	"github.com/steer-gslb/steer/popmap"
	"github.com/steer-gslb/steer/steering"
)

// Report is everything behind one decision.
type Report struct {
	Addr   netip.Addr `json:"addr"`
	Record string     `json:"record"` // the record explained (e.g. "www.example.net.")
	Family string     `json:"family"` // "A" or "AAAA": the answer family decided for
	// ECS is the client subnet the decision used (capped at /24 or /56),
	// invalid when the client gave none (addr explained as a resolver).
	ECS      netip.Prefix `json:"ecs"`
	Resolver netip.Addr   `json:"resolver"`
	// Source is the deciding step: "ecs", "resolver", "geo", "default"
	// ("none" when no step decided and the record has no default).
	Source string `json:"source"`
	Scope  int    `json:"scope"` // ECS scope of the answer
	// PoPs are the ranked usable PoPs, first = the answer; empty when the
	// default (anycast) addresses are answered.
	PoPs []string `json:"pops"`
	// Anycast: the deciding step chose a PoP in anycast state (AnycastPoP),
	// so the record's default (anycast) addresses are answered.
	Anycast    bool   `json:"anycast,omitempty"`
	AnycastPoP string `json:"anycastPop,omitempty"`
	// Answer are the addresses answered (the first PoP's or the default's
	// of Family), or the CNAME target of a CNAME record.
	Answer     []string `json:"answer"`
	MapVersion int      `json:"mapVersion"`
	// The matched entry of each map (nil: no entry, or no such map).
	ECSEntry      *Entry `json:"ecsEntry,omitempty"`
	ResolverEntry *Entry `json:"resolverEntry,omitempty"`
	// Moved is the load controller's patch entry that replaced the map's
	// answer for this client (nil: none).
	Moved *Entry `json:"moved,omitempty"`
	Geo   *Geo   `json:"geo,omitempty"`
	// Estimates are the build's per-PoP estimates for EstimateNetwork,
	// lowest p75 first; empty without a store.
	EstimateNetwork netip.Prefix `json:"estimateNetwork"`
	Estimates       []Estimate   `json:"estimates"`
	// Skipped are the PoPs passed over and why (drained, down, unhealthy,
	// no address of the family, moved by load, ...), in the order the
	// chain met them.
	Skipped []Skip `json:"skipped"`
}

// Entry is a matched map entry.
type Entry struct {
	// Prefix is the entry's network that matched (invalid when neither a
	// sources file nor the map was given).
	Prefix netip.Prefix `json:"prefix"`
	Labels []string     `json:"labels"`
	// Origin is where the build got the entry (the build's
	// MAP.sources.tsv): measured, resolver, extrapolate-as,
	// extrapolate-prefix, extrapolate-geo; "" when no sources file.
	Origin string `json:"origin"`
	// Expected is the build's expected RTT at each of the entry's PoPs
	// (MAP.rtt.tsv; empty without one).
	Expected []Expected `json:"expected,omitempty"`
}

// Geo is the GeoIP record of the address the geo step locates.
type Geo struct {
	Prefix  netip.Prefix `json:"prefix"` // the database network
	Country string       `json:"country"`
	City    string       `json:"city,omitempty"` // "" (the geoip package reads coordinates and country)
	Lat     float64      `json:"lat"`
	Lon     float64      `json:"lon"`
	// Nearest is the nearest PoP the geo step may pick, DistanceKm away
	// ("" when the database has no location or no PoP is usable).
	Nearest    string  `json:"nearest"`
	DistanceKm float64 `json:"distanceKm"`
}

// Estimate is the build's estimate of one PoP for a network.
type Estimate struct {
	PoP     string  `json:"pop"`
	Samples int     `json:"samples"`
	P75Ms   float64 `json:"p75Ms"`
}

// Skip is a PoP passed over and why.
type Skip struct {
	PoP    string `json:"pop"`
	Reason string `json:"reason"`
}

// Estimator returns the build's per-PoP estimates for the client network
// containing addr, and that network (invalid when the store knows none).
type Estimator func(addr netip.Addr) (netip.Prefix, []Estimate, error)

// Inputs are what a decision is made from. Config and one compiled map or
// a GeoIP database are the minimum; the rest refines the explanation.
type Inputs struct {
	Config *config.Config
	// Record is the steered record to explain, absolute ("www.example.net.")
	// or relative to its zone ("www"); "" = the config's first steered
	// record that is not the RUM record (else the first steered one).
	Record string
	// ECSMap and ResolverMap are the record's compiled maps (nil: none);
	// they may be the same table. MapVersion is the version served (0:
	// the ECS map's meta.version, else the resolver map's).
	ECSMap, ResolverMap *popmap.Table
	MapVersion          int
	// ECSSources and ResolverSources name each map's networks and their
	// origins (LoadSources on MAP.sources.tsv, or SourcesFromMap); nil:
	// entries are reported without prefix and origin.
	ECSSources, ResolverSources *Sources
	// ECSRTTs and ResolverRTTs are each map's MAP.rtt.tsv (LoadRTTs); nil:
	// entries are reported without the build's expected RTTs.
	ECSRTTs, ResolverRTTs *RTTs
	// ECSPatch and ResolverPatch are the load controller's moves
	// (steering.Options); nil: none.
	ECSPatch, ResolverPatch *popmap.Table
	GeoIP                   *geoip.DB
	// State gives PoP i's (of Config.PoPs) admin state and health, as the
	// server sees them (control overlay, health checks); nil: the
	// config's states, everything healthy.
	State func(i int) (st config.State, healthy bool)
	// Chain is the server's compiled chain for the record, when the
	// caller has it (the steering API): it decides, and the rest explains.
	// Nil: a chain is compiled from the inputs, as the DNS server does.
	Chain *steering.Chain
	// Family is the answer family to decide for: "A", "AAAA", or "" = the
	// address's own (AAAA for an IPv6 address). A CNAME record's decision
	// is the same for both.
	Family string
	// Estimator adds the store's per-PoP estimates; nil: none.
	Estimator Estimator
}

// Client is what the DNS server would know of a client at addr with ECS
// subnet ecs (see the package documentation): the steering.Client the
// decision is made for.
func Client(addr netip.Addr, ecs netip.Prefix) steering.Client {
	addr = addr.Unmap()
	if !ecs.IsValid() {
		ecs = netip.PrefixFrom(addr, addr.BitLen())
	}
	return steering.Client{ECS: ecs.Masked(), Resolver: addr}
}

// Explain decides for a client at addr (ecs: its subnet, optional) as the
// DNS server does and explains the decision.
func Explain(in Inputs, addr netip.Addr, ecs netip.Prefix) (*Report, error) {
	if in.Config == nil {
		return nil, errors.New("explain: no config")
	}
	if !addr.IsValid() {
		return nil, errors.New("explain: no address")
	}
	rec, err := findRecord(in.Config, in.Record)
	if err != nil {
		return nil, err
	}
	fam := steering.FamilyV4
	switch in.Family {
	case "":
		if addr.Unmap().Is6() && !rec.IsCNAME() {
			fam = steering.FamilyV6
		}
	case "A":
	case "AAAA":
		fam = steering.FamilyV6
	default:
		return nil, fmt.Errorf("explain: family %q: want A or AAAA", in.Family)
	}
	if rec.IsCNAME() {
		fam = steering.FamilyV4 // the server decides a CNAME record once, as A
	}
	cl := Client(addr, ecs)
	x := newExplainer(in, rec, fam)
	d := x.chain.Decide(fam, cl)

	r := &Report{
		Addr:       addr.Unmap(),
		Record:     rec.Name,
		Family:     "A",
		Resolver:   cl.Resolver,
		Source:     d.Source.String(),
		Scope:      d.Scope,
		MapVersion: in.MapVersion,
		PoPs:       []string{},
		Answer:     []string{},
		Estimates:  []Estimate{},
		Skipped:    []Skip{},
	}
	if fam == steering.FamilyV6 {
		r.Family = "AAAA"
	}
	if r.MapVersion == 0 {
		switch {
		case in.ECSMap != nil:
			r.MapVersion = int(in.ECSMap.Meta().Version)
		case in.ResolverMap != nil:
			r.MapVersion = int(in.ResolverMap.Meta().Version)
		}
	}
	clientInfo := cl.ECS.Bits() > 0
	if clientInfo {
		r.ECS = steering.CapECS(cl.ECS)
	}

	// The maps' entries, whether or not their step decided.
	if clientInfo && in.ECSMap != nil && rec.Has(config.StepECS) {
		r.ECSEntry = lookup(in.ECSMap, in.ECSSources, in.ECSRTTs, r.ECS.Addr())
		if in.ECSPatch != nil {
			r.Moved = lookup(in.ECSPatch, nil, nil, r.ECS.Addr())
		}
	}
	if in.ResolverMap != nil && rec.Has(config.StepResolver) {
		r.ResolverEntry = lookup(in.ResolverMap, in.ResolverSources, in.ResolverRTTs, cl.Resolver)
		if r.Moved == nil && in.ResolverPatch != nil && (d.Source == steering.SourceResolver || !clientInfo) {
			r.Moved = lookup(in.ResolverPatch, nil, nil, cl.Resolver)
		}
	}
	geoAddr := cl.Resolver
	if clientInfo {
		geoAddr = r.ECS.Addr()
	}
	if in.GeoIP != nil && rec.Has(config.StepGeo) {
		r.Geo = x.geo(geoAddr)
	}

	x.rank(r, d, cl, clientInfo)

	if in.Estimator != nil {
		network, est, err := in.Estimator(geoAddr)
		if err != nil {
			return nil, fmt.Errorf("explain: estimates: %w", err)
		}
		r.EstimateNetwork = network
		r.Estimates = slices.Clone(est)
		slices.SortStableFunc(r.Estimates, func(a, b Estimate) int { return cmp.Compare(a.P75Ms, b.P75Ms) })
		if r.Estimates == nil {
			r.Estimates = []Estimate{}
		}
	}
	return r, nil
}

// findRecord returns the steered record named name (see Inputs.Record).
func findRecord(cfg *config.Config, name string) (*config.Record, error) {
	var first, firstRUM *config.Record
	want := strings.ToLower(name)
	for zi := range cfg.Zones {
		z := &cfg.Zones[zi]
		for ri := range z.Records {
			rc := &z.Records[ri]
			if name == "" {
				if rc.Steered() && !rc.RUM && first == nil {
					first = rc
				}
				if rc.Steered() && firstRUM == nil {
					firstRUM = rc
				}
				continue
			}
			if rc.Name == want || rc.Name == want+"." || rc.Name == want+"."+z.Name {
				if !rc.Steered() {
					return nil, fmt.Errorf("explain: record %s is static, not steered", rc.Name)
				}
				return rc, nil
			}
		}
	}
	if name != "" {
		return nil, fmt.Errorf("explain: no record %q in the config", name)
	}
	if first == nil {
		first = firstRUM
	}
	if first == nil {
		return nil, errors.New("explain: the config has no steered record")
	}
	return first, nil
}

// lookup returns the entry of t that answers addr, nil if none.
func lookup(t *popmap.Table, src *Sources, rtts *RTTs, addr netip.Addr) *Entry {
	labels, _ := t.Lookup(addr)
	if len(labels) == 0 {
		return nil
	}
	e := &Entry{Labels: make([]string, len(labels))}
	for i, l := range labels {
		e.Labels[i] = string(l)
	}
	if p, origin, ok := src.Lookup(addr); ok {
		e.Prefix, e.Origin = p, origin
	}
	if ex, ok := rtts.Lookup(addr); ok {
		e.Expected = slices.Clone(ex)
	}
	return e
}

// explainer holds one record's chain and the PoP view it decides with.
type explainer struct {
	in       Inputs
	rec      *config.Record
	fam      steering.Family
	list     []config.PoP
	state    func(i int) (config.State, bool)
	pops     *steering.PoPs // the view the decision used for fam
	withOpen bool           // health left no PoP usable: the chain ignored health (fail open)
	closed   bool           // ... and the record fails closed
	chain    *steering.Chain
}

// anyAddr stands in for a CNAME record's PoP and default addresses: the
// server's chain for a CNAME record sees every PoP as having an address of
// both families (dnsserver's anyFamily), so that state and health alone
// decide.
var anyAddr = []netip.Addr{netip.IPv4Unspecified()}

func newExplainer(in Inputs, rec *config.Record, fam steering.Family) *explainer {
	x := &explainer{in: in, rec: rec, fam: fam, list: in.Config.PoPs, state: in.State}
	def := rec.Default
	if rec.IsCNAME() {
		x.list = slices.Clone(x.list)
		for i := range x.list {
			if len(x.list[i].IPv4) == 0 {
				x.list[i].IPv4 = anyAddr
			}
		}
		def = config.Addrs{}
		if rec.DefaultCNAME != "" {
			def.IPv4 = anyAddr
		}
	}
	if x.state == nil {
		x.state = func(i int) (config.State, bool) { return x.list[i].State, true }
	}
	pops := steering.NewPoPsWith(x.list, x.state)
	open := steering.NewPoPsWith(x.list, func(i int) (config.State, bool) { st, _ := x.state(i); return st, true })
	x.pops = pops
	if !anyUsable(pops, fam) {
		if rec.HealthPolicy == config.FailClosed {
			x.closed = true
		} else {
			x.pops, x.withOpen = open, true
		}
	}
	x.chain = in.Chain
	if x.chain == nil {
		x.chain = steering.NewChainWith(rec.Steering, mapIf(in.ECSMap, rec.ECSMap != ""), mapIf(in.ResolverMap, rec.ResolverMap != ""), pops, def,
			steering.Options{Open: open, FailClosed: rec.HealthPolicy == config.FailClosed, GeoDB: in.GeoIP,
				ECSPatch: in.ECSPatch, ResolverPatch: in.ResolverPatch})
	}
	return x
}

// mapIf is t when the record names such a map (the server gives a record
// only the maps it configures).
func mapIf(t *popmap.Table, configured bool) *popmap.Table {
	if !configured {
		return nil
	}
	return t
}

func anyUsable(p *steering.PoPs, f steering.Family) bool {
	for i := range p.List() {
		if p.Use(f, i) != steering.UseSkip {
			return true
		}
	}
	return false
}

// reason says why PoP label l is skipped for the family.
func (x *explainer) reason(l string) string {
	i, ok := x.pops.Index(popmap.Label(l))
	if !ok {
		return "not a configured PoP"
	}
	p := x.list[i]
	if x.fam == steering.FamilyV4 && len(p.IPv4) == 0 {
		return "no IPv4 address"
	}
	if x.fam == steering.FamilyV6 && len(p.IPv6) == 0 {
		return "no IPv6 address"
	}
	st, healthy := x.state(i)
	switch st {
	case config.StateDrain:
		return "drained"
	case config.StateDown:
		return "down"
	}
	if !healthy && !x.withOpen {
		return "unhealthy"
	}
	return "not usable"
}

// geo locates addr and finds the nearest PoP the geo step may pick, with
// the chain's rule (great-circle distance, ties by label).
func (x *explainer) geo(addr netip.Addr) *Geo {
	loc, pfx, ok := x.in.GeoIP.Locate(addr)
	g := &Geo{Prefix: pfx}
	if !ok {
		return g
	}
	g.Country, g.Lat, g.Lon = loc.Country, loc.Lat, loc.Lon
	for _, s := range x.bySite(loc.Lat, loc.Lon) {
		g.Nearest, g.DistanceKm = s.label, s.km
		break
	}
	return g
}

type site struct {
	label string
	km    float64
	i     int
}

// bySite lists the PoPs the geo step may pick (usable or anycast) by
// distance from lat, lon.
func (x *explainer) bySite(lat, lon float64) []site {
	var out []site
	for i, p := range x.list {
		if x.pops.Use(x.fam, i) == steering.UseSkip {
			continue
		}
		out = append(out, site{string(p.Label), geoip.Distance(lat, lon, p.Lat, p.Lon), i})
	}
	slices.SortFunc(out, func(a, b site) int {
		if c := cmp.Compare(a.km, b.km); c != 0 {
			return c
		}
		return cmp.Compare(a.label, b.label)
	})
	return out
}

// rank fills the report's ranking, skips and answer from the decision d:
// it walks the record's steps as the chain did, listing the PoPs each
// step passed over, and ranks the deciding step's usable PoPs.
func (x *explainer) rank(r *Report, d steering.Decision, cl steering.Client, clientInfo bool) {
	skip := func(l, why string) {
		for _, s := range r.Skipped {
			if s.PoP == l {
				return
			}
		}
		r.Skipped = append(r.Skipped, Skip{PoP: l, Reason: why})
	}
	// labels walks a step's ranking: skipped PoPs are recorded; the usable
	// ones (OK or anycast) are returned in order.
	labels := func(entry, moved *Entry) []string {
		var ranking []string
		if moved != nil {
			ranking = moved.Labels
			if entry != nil && len(entry.Labels) > 0 && (len(moved.Labels) == 0 || moved.Labels[0] != entry.Labels[0]) {
				skip(entry.Labels[0], "moved by load to "+strings.Join(moved.Labels, " "))
			}
		} else if entry != nil {
			ranking = entry.Labels
		}
		var usable []string
		for _, l := range ranking {
			i, ok := x.pops.Index(popmap.Label(l))
			if !ok || x.pops.Use(x.fam, i) == steering.UseSkip {
				skip(l, x.reason(l))
				continue
			}
			usable = append(usable, l)
		}
		return usable
	}
	var usable []string
	if !x.closed {
	steps:
		for _, step := range x.rec.Steering {
			switch step {
			case config.StepECS:
				if !clientInfo || x.in.ECSMap == nil || x.rec.ECSMap == "" {
					continue
				}
				var moved *Entry
				if r.Moved != nil && x.in.ECSPatch != nil {
					moved = r.Moved
				}
				usable = labels(r.ECSEntry, moved)
			case config.StepResolver:
				if x.in.ResolverMap == nil || x.rec.ResolverMap == "" {
					continue
				}
				var moved *Entry
				if x.in.ResolverPatch != nil {
					moved = lookup(x.in.ResolverPatch, nil, nil, cl.Resolver)
				}
				usable = labels(r.ResolverEntry, moved)
			case config.StepGeo:
				usable = nil
				if r.Geo != nil && r.Geo.Nearest != "" {
					for _, s := range x.bySite(r.Geo.Lat, r.Geo.Lon) {
						usable = append(usable, s.label)
					}
				}
			case config.StepDefault:
				usable = nil
			}
			if step.String() == r.Source {
				break steps
			}
			usable = nil
		}
	}
	switch {
	case d.Anycast:
		r.Anycast = true
		if len(usable) > 0 {
			r.AnycastPoP = usable[0]
		}
		usable = nil
	case d.PoP >= 0:
		chosen := string(x.list[d.PoP].Label)
		// first = the answer (the chain's pick), then the step's other usable PoPs
		out := []string{chosen}
		for _, l := range usable {
			if i, ok := x.pops.Index(popmap.Label(l)); l != chosen && ok && x.pops.Use(x.fam, i) == steering.UseOK {
				out = append(out, l)
			}
		}
		usable = out
	default:
		usable = nil
	}
	if usable != nil {
		r.PoPs = usable
	}
	x.answer(r, d)
}

// answer fills the answered addresses (or CNAME target).
func (x *explainer) answer(r *Report, d steering.Decision) {
	var addrs []netip.Addr
	switch {
	case d.PoP >= 0 && x.rec.IsCNAME():
		r.Answer = append(r.Answer, x.rec.CNAMEFor(x.list[d.PoP].Label))
		return
	case (d.Source == steering.SourceDefault || d.Anycast) && x.rec.IsCNAME():
		if x.rec.DefaultCNAME != "" {
			r.Answer = append(r.Answer, x.rec.DefaultCNAME)
		}
		return
	case d.PoP >= 0:
		addrs = x.list[d.PoP].IPv4
		if x.fam == steering.FamilyV6 {
			addrs = x.list[d.PoP].IPv6
		}
	case d.Source == steering.SourceDefault || d.Anycast:
		addrs = x.rec.Default.IPv4
		if x.fam == steering.FamilyV6 {
			addrs = x.rec.Default.IPv6
		}
	}
	for _, a := range addrs {
		r.Answer = append(r.Answer, a.String())
	}
}
