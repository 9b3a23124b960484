package sim

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"net/netip"
	"slices"
	"sort"
	"time"

	"github.com/steer-gslb/steer/data"
	"github.com/steer-gslb/steer/geoip"
	"github.com/steer-gslb/steer/popmap"
)

// PoP is a placed PoP.
type PoP struct {
	Label    popmap.Label
	City     string
	Country  string
	Lat, Lon float64
	server   int // matrix index
}

// City is a GeoNames city with users.
type City struct {
	Name       string
	Country    string
	Lat, Lon   float64
	Population int
	anchor     int     // nearest measured city (matrix index)
	metroMs    float64 // RTT added by the distance to the anchor
	networks   int     // client networks planned here
}

// ISP is one origin AS serving users in its country.
type ISP struct {
	ASN       uint32
	Name      string
	Country   string
	Networks  int // planned client networks
	main      int // city with most of its networks
	hubRank   int // which of the three transit exchanges nearest its users it hands traffic to
	peers     uint64
	pref      int // anycast PoP it prefers (-1: hot potato)
	resolvers []int
	public    float64 // share of its networks on public resolvers
	mobile    float64 // share of its networks that are mobile
	v4, v6    []netip.Prefix
}

// Block is a run of client networks in one announced prefix: most in the
// block's home city, a few elsewhere in the country.
type Block struct {
	Prefix netip.Prefix // the announced (allocation) prefix
	ISP    int
	Start  uint64 // first unit (/24 or /56) of the run within Prefix
	Parts  []Part // consecutive runs of units by city, home city first
	Geo    int    // the city a GeoIP database places the whole block in
	GeoErr string // "", "city" or "country": a deliberate GeoIP error
}

// Part is a run of units in one city.
type Part struct{ City, N int }

// Resolver is a recursive resolver clients send their DNS queries through.
type Resolver struct {
	Addr     netip.Addr
	ASN      uint32
	Provider string // the ISP's AS name, or the public service
	ISP      int    // -1 for public resolvers
	City     string
	Country  string
	Lat, Lon float64
	ECS      bool
	anchor   int
	weight   float64 // traffic of its clients, filled while streaming
	clients  int
}

// World is a planned world: everything except the per-network data, which
// Stream generates block by block without holding it.
type World struct {
	Opt       Options
	Matrix    *data.Matrix
	Cleaning  data.CleanReport
	PoPs      []PoP
	Cities    []City
	ISPs      []ISP
	Blocks    []Block
	Resolvers []Resolver
	Routes    []Route // the world's announcements (longest match gives a network's origin)

	publics  []publicService
	estimate int // matrix pairs estimated from distance
	rtt      []float32
	jit      []float32 // matrix min and jitter mean, n×n, NaN-free
	sites    []geoip.Site
	hubIdx   []int               // matrix indices of the hubs
	byCtry   map[string]*country // cities by country, for population-weighted draws
}

// Route is one announcement.
type Route struct {
	Prefix netip.Prefix
	ASN    uint32
}

type publicService struct {
	name  string
	asn   uint32
	ecs   bool
	base  netip.Prefix
	sites []int // resolver indices
}

// hubs are the cities where transit providers hand traffic over.
var hubs = []string{
	"London", "Frankfurt", "Amsterdam", "Paris", "Stockholm", "Milan", "Madrid", "Moscow",
	"NewYork", "Washington", "Chicago", "Dallas", "LosAngeles", "SanJose", "Miami", "Seattle",
	"SaoPaulo", "Tokyo", "HongKong", "Singapore", "Sydney", "Johannesburg", "Dubai", "Mumbai",
}

// public resolver services and where their egress sites are.
var publicDefs = []struct {
	name  string
	asn   uint32
	ecs   bool
	base  string
	sites []string
}{
	{"PublicDNS-A (sends ECS)", 15169, true, "74.125.0.0/16", []string{
		"London", "Frankfurt", "Amsterdam", "Paris", "Stockholm", "Milan", "Warsaw", "Madrid",
		"NewYork", "Washington", "Chicago", "Dallas", "LosAngeles", "Seattle", "Miami", "Atlanta",
		"SaoPaulo", "Santiago", "Tokyo", "HongKong", "Singapore", "Sydney", "Taipei", "Bangalore",
	}},
	{"PublicDNS-B (no ECS)", 13335, false, "172.68.0.0/16", []string{
		"London", "Frankfurt", "Amsterdam", "Paris", "Madrid", "Warsaw", "Moscow", "Istanbul",
		"NewYork", "Chicago", "Dallas", "LosAngeles", "SanJose", "Miami", "Toronto",
		"SaoPaulo", "BuenosAires", "Bogota", "Tokyo", "HongKong", "Singapore", "Sydney",
		"Mumbai", "Johannesburg", "Lagos", "Nairobi", "Cairo", "Dubai",
	}},
	{"PublicDNS-C (no ECS)", 19281, false, "9.9.0.0/16", []string{
		"London", "Frankfurt", "Zurich", "NewYork", "Chicago", "SanJose", "SaoPaulo", "Tokyo", "Singapore", "Sydney",
	}},
}

// Plan builds a world's plan from the embedded data: PoPs, users, ISPs,
// address blocks, resolvers, routing and GeoIP errors.
func Plan(opt Options) (*World, error) {
	if err := opt.Validate(); err != nil {
		return nil, err
	}
	m, cr, err := data.LoadMatrix()
	if err != nil {
		return nil, err
	}
	if opt.Days > 0 {
		opt.Duration = time.Duration(opt.Days) * 24 * time.Hour
	}
	w := &World{Opt: opt, Matrix: m, Cleaning: cr}
	w.buildMatrix()
	for _, h := range hubs {
		if i := m.Index(h); i >= 0 {
			w.hubIdx = append(w.hubIdx, i)
		}
	}
	if err := w.placePoPs(); err != nil {
		return nil, err
	}
	if err := w.placeCities(); err != nil {
		return nil, err
	}
	if err := w.placeISPs(); err != nil {
		return nil, err
	}
	w.placeResolvers()
	if _, err := w.periods(); err != nil { // the events against this world
		return nil, err
	}
	return w, nil
}

func (w *World) rng(stream uint64) *rand.Rand {
	return rand.New(rand.NewPCG(w.Opt.Seed, stream*0x9e3779b97f4a7c15+0x632be59bd9b4e019))
}

// Streams of randomness: each part of the plan draws from its own, so
// changing one part does not reshuffle the others.
const (
	streamCities = iota + 1
	streamISPs
	streamResolvers
	streamBlocks = 1 << 32 // + block index
	streamEdge   = 2 << 32 // + block index: the edge access log
)

// fiberStretch converts great-circle km to RTT ms where no measurement
// exists (and for the way from a user's city to its anchor): light in
// fiber covers 100 km of great circle per ms of RTT, and measured paths are
// about 1.95× slower than that (the median over the WonderProxy pairs more
// than 1,000 km apart; TestFiberStretch refits it).
const fiberStretch = 1.95

func kmToMs(km float64) float64 { return km / 100 * fiberStretch }

// vec3 is a point on the unit sphere; a larger dot product is a shorter
// great-circle distance.
type vec3 [3]float64

func unitVec(lat, lon float64) vec3 {
	φ, λ := lat*math.Pi/180, lon*math.Pi/180
	return vec3{math.Cos(φ) * math.Cos(λ), math.Cos(φ) * math.Sin(λ), math.Sin(φ)}
}

func (a vec3) dot(b vec3) float64 { return a[0]*b[0] + a[1]*b[1] + a[2]*b[2] }

// nearestVec is the index of the point in ps nearest p (the first of equals).
func nearestVec(p vec3, ps []vec3) int {
	best, bd := 0, -2.0
	for i, q := range ps {
		if d := p.dot(q); d > bd {
			best, bd = i, d
		}
	}
	return best
}

// buildMatrix makes a dense RTT/jitter matrix, estimating unknown pairs.
func (w *World) buildMatrix() {
	m := w.Matrix
	n := m.N()
	w.rtt = make([]float32, n*n)
	w.jit = make([]float32, n*n)
	for i := range n {
		for j := range n {
			p, ok := m.RTT(i, j)
			if i == j {
				p, ok = data.Ping{Min: 0.05, Avg: 0.08, Max: 0.2, Mdev: 0.02}, true
			}
			if !ok {
				a, b := m.Servers[i], m.Servers[j]
				km := geoip.Distance(a.Lat, a.Lon, b.Lat, b.Lon)
				p = data.Ping{Min: kmToMs(km) + 4, Avg: kmToMs(km) + 6, Mdev: 2}
				w.estimate++
			}
			w.rtt[i*n+j] = float32(p.Min)
			w.jit[i*n+j] = float32(max(p.Avg-p.Min, p.Mdev/2, 0.1))
		}
	}
}

func (w *World) mrtt(i, j int) float64 { return float64(w.rtt[i*w.Matrix.N()+j]) }
func (w *World) mjit(i, j int) float64 { return float64(w.jit[i*w.Matrix.N()+j]) }

func (w *World) placePoPs() error {
	for _, s := range w.Opt.PoPs {
		i := w.Matrix.Index(s.City)
		if i < 0 {
			return fmt.Errorf("pops: %s: no measured city %q (see steer sim --list-cities)", s.Label, s.City)
		}
		sv := w.Matrix.Servers[i]
		w.PoPs = append(w.PoPs, PoP{Label: s.Label, City: sv.City, Country: sv.Country, Lat: sv.Lat, Lon: sv.Lon, server: i})
		w.sites = append(w.sites, geoip.Site{Label: s.Label, Lat: sv.Lat, Lon: sv.Lon})
	}
	return nil
}

func (w *World) placeCities() error {
	cs, err := data.Cities()
	if err != nil {
		return err
	}
	// A city is anchored to the nearest measured city of its own country
	// when there is one within 1,500 km more than the nearest overall
	// (users' traffic crosses their own ISP's network first: a town near
	// the Georgian border reaches the world through Moscow, not Tbilisi),
	// else to the nearest overall.
	srv := w.Matrix.Servers
	sv := make([]vec3, len(srv))
	for i, s := range srv {
		sv[i] = unitVec(s.Lat, s.Lon)
	}
	for _, c := range cs {
		// nearest by the largest dot product of unit vectors: the same
		// order as great-circle distance, without trigonometry per pair
		cv := unitVec(c.Lat, c.Lon)
		best, bdot := -1, -2.0
		same, sdot := -1, -2.0
		for i, s := range srv {
			d := cv.dot(sv[i])
			if d > bdot {
				best, bdot = i, d
			}
			if s.Country == c.Country && d > sdot {
				same, sdot = i, d
			}
		}
		bd := geoip.Distance(c.Lat, c.Lon, srv[best].Lat, srv[best].Lon)
		var sd float64
		if same >= 0 {
			sd = geoip.Distance(c.Lat, c.Lon, srv[same].Lat, srv[same].Lon)
		}
		if same >= 0 && sd <= bd+1500 {
			best, bd = same, sd
		}
		w.Cities = append(w.Cities, City{
			Name: c.Name, Country: c.Country, Lat: c.Lat, Lon: c.Lon, Population: c.Population,
			anchor: best, metroMs: kmToMs(bd),
		})
	}
	return nil
}

// country groups cities for population-weighted draws.
type country struct {
	code   string
	cities []int
	cum    []float64 // cumulative population
	pop    float64
	isps   []int
}

func (c *country) draw(r *rand.Rand) int {
	x := r.Float64() * c.pop
	return c.cities[sort.SearchFloat64s(c.cum, x)%len(c.cities)]
}

func (w *World) countries() map[string]*country {
	cm := map[string]*country{}
	for i, c := range w.Cities {
		k := cm[c.Country]
		if k == nil {
			k = &country{code: c.Country}
			cm[c.Country] = k
		}
		k.pop += float64(c.Population)
		k.cities = append(k.cities, i)
		k.cum = append(k.cum, k.pop)
	}
	return cm
}

func units(p netip.Prefix) uint64 {
	bits := 24
	if p.Addr().Is6() {
		bits = 56
	}
	if p.Bits() > bits {
		return 0
	}
	return 1 << min(bits-p.Bits(), 40)
}

// disjointAllocations keeps, as the space clients are carved from, only
// prefixes no other kept prefix (of any ISP) contains, so no two networks
// share addresses. More-specifics stay announced: a network carved from a
// covering prefix may have another origin AS by longest match, as on the
// real Internet.
func (w *World) disjointAllocations() {
	type alloc struct {
		p   netip.Prefix
		isp int
	}
	var all []alloc
	for i := range w.ISPs {
		for _, p := range w.ISPs[i].v4 {
			all = append(all, alloc{p, i})
		}
		for _, p := range w.ISPs[i].v6 {
			all = append(all, alloc{p, i})
		}
		w.ISPs[i].v4, w.ISPs[i].v6 = nil, nil
	}
	slices.SortFunc(all, func(a, b alloc) int {
		if c := a.p.Addr().Compare(b.p.Addr()); c != 0 {
			return c
		}
		return cmp.Compare(a.p.Bits(), b.p.Bits())
	})
	var last netip.Prefix
	for _, a := range all {
		if last.IsValid() && last.Overlaps(a.p) {
			continue
		}
		last = a.p
		isp := &w.ISPs[a.isp]
		if a.p.Addr().Is4() {
			isp.v4 = append(isp.v4, a.p)
		} else {
			isp.v6 = append(isp.v6, a.p)
		}
	}
}

func (w *World) placeISPs() error {
	pfx, err := data.Prefixes()
	if err != nil {
		return err
	}
	names, err := data.ASNames()
	if err != nil {
		return err
	}
	byASN := map[uint32]int{}
	for _, p := range pfx {
		w.Routes = append(w.Routes, Route{p.Prefix, p.ASN})
		i, ok := byASN[p.ASN]
		if !ok {
			i = len(w.ISPs)
			byASN[p.ASN] = i
			name := names[p.ASN]
			if name == "" {
				name = fmt.Sprintf("AS%d", p.ASN)
			}
			w.ISPs = append(w.ISPs, ISP{ASN: p.ASN, Name: name, Country: p.Country, pref: -1})
		}
		isp := &w.ISPs[i]
		if p.Prefix.Addr().Is4() {
			isp.v4 = append(isp.v4, p.Prefix)
		} else {
			isp.v6 = append(isp.v6, p.Prefix)
		}
	}
	w.disjointAllocations()
	w.byCtry = w.countries()
	cm := w.byCtry
	var total float64
	space := map[int]float64{}
	for i := range w.ISPs {
		isp := &w.ISPs[i]
		for _, p := range isp.v4 {
			space[i] += float64(units(p))
		}
		if c := cm[isp.Country]; c != nil && space[i] > 0 {
			c.isps = append(c.isps, i)
		}
	}
	codes := make([]string, 0, len(cm))
	for code, c := range cm {
		if len(c.isps) > 0 && !slices.Contains(w.Opt.Exclude, code) {
			total += c.pop
			codes = append(codes, code)
		}
	}
	slices.Sort(codes)
	r := w.rng(streamISPs)

	// Networks per country by population, capped by half its address space
	// (what a capped country cannot take goes to the others); per ISP by
	// address space (a proxy for its market share).
	capOf := map[string]float64{}
	for _, code := range codes {
		for _, i := range cm[code].isps {
			capOf[code] += space[i] / 2
		}
	}
	want := map[string]float64{}
	left, pool := float64(w.Opt.Networks), total
	for range 10 {
		capped := false
		for _, code := range codes {
			c := cm[code]
			if _, done := want[code]; done {
				continue
			}
			if x := left * c.pop / pool; x > capOf[code] {
				want[code] = capOf[code]
				left -= capOf[code]
				pool -= c.pop
				capped = true
			}
		}
		if !capped || pool <= 0 {
			break
		}
	}
	for _, code := range codes {
		if _, done := want[code]; !done && pool > 0 {
			want[code] = left * cm[code].pop / pool
		}
	}
	for _, code := range codes {
		c := cm[code]
		n := int(want[code])
		if r.Float64() < want[code]-float64(n) {
			n++
		}
		sp := 2 * capOf[code]
		for k, i := range c.isps {
			share := space[i] / sp
			isp := &w.ISPs[i]
			isp.Networks = int(float64(n) * share)
			if r.Float64() < float64(n)*share-float64(isp.Networks) || (k == 0 && isp.Networks == 0 && n > 0) {
				isp.Networks++
			}
		}
	}
	for _, code := range codes {
		c := cm[code]
		for _, i := range c.isps {
			if w.ISPs[i].Networks > 0 {
				w.planBlocks(i, c, r)
			}
		}
	}
	w.placeGeo(cm, r)
	w.placePeering(r)
	return nil
}

// planBlocks carves an ISP's networks out of its prefixes.
func (w *World) planBlocks(ii int, c *country, r *rand.Rand) {
	isp := &w.ISPs[ii]
	n6 := 0
	if len(isp.v6) > 0 {
		n6 = int(float64(isp.Networks)*w.Opt.IPv6 + r.Float64())
	}
	isp.mobile = 0.1 + 0.3*r.Float64()
	isp.public = min(1, w.Opt.PublicResolvers*2*r.Float64())
	cityCount := map[int]int{}
	carve := func(ps []netip.Prefix, want int) {
		if want <= 0 || len(ps) == 0 {
			return
		}
		order := r.Perm(len(ps))
		used := make([]uint64, len(ps))
		chunk := max(1, min(1024, want/6))
		for pass := 0; pass < 4 && want > 0; pass++ {
			for _, k := range order {
				if want == 0 {
					break
				}
				free := units(ps[k]) - used[k]
				if free == 0 {
					continue
				}
				take := uint64(1 + r.IntN(chunk))
				if pass > 0 {
					take = uint64(want)
				}
				take = min(take, free, uint64(want))
				start := used[k]
				if pass == 0 && free > take {
					start = uint64(r.Int64N(int64(free - take + 1)))
					used[k] = start + take // the space before start stays unused
				} else {
					used[k] += take
				}
				want -= int(take)
				w.Blocks = append(w.Blocks, w.block(ps[k], ii, start, int(take), c, r, cityCount))
			}
		}
	}
	carve(isp.v6, n6)
	carve(isp.v4, isp.Networks-n6)
	best := -1
	for ci, n := range cityCount {
		if best < 0 || n > cityCount[best] || (n == cityCount[best] && ci < best) {
			best = ci
		}
	}
	isp.main = best
	if best < 0 {
		isp.main = c.cities[0]
	}
}

func (w *World) block(p netip.Prefix, isp int, start uint64, n int, c *country, r *rand.Rand, count map[int]int) Block {
	home := c.draw(r)
	b := Block{Prefix: p, ISP: isp, Start: start, Geo: home}
	// most of a block is in its home city; each further network is
	// elsewhere with a probability drawn per block (Scatter on average)
	away := w.awayShare(r.Float64())
	b.Parts = append(b.Parts, Part{home, 1})
	for range n - 1 {
		ci := home
		if r.Float64() < away {
			ci = c.draw(r)
		}
		if last := &b.Parts[len(b.Parts)-1]; last.City == ci {
			last.N++
		} else {
			b.Parts = append(b.Parts, Part{ci, 1})
		}
	}
	for _, pt := range b.Parts {
		w.Cities[pt.City].networks += pt.N
		count[pt.City] += pt.N
	}
	return b
}

// awayShare maps a uniform draw x in [0, 1) to a block's share of networks
// away from its home city: uniform over [0, 2s] for the mean s = Scatter up
// to 0.5, over [2s−1, 1] above. For the default 0.15 it is 0.3×x, bit for
// bit (doubling is exact), so the default world does not change.
func (w *World) awayShare(x float64) float64 {
	s := w.Opt.Scatter
	if s <= 0.5 {
		return 2 * s * x
	}
	return 2*s - 1 + (2-2*s)*x
}

// placeGeo decides where a GeoIP database puts each block: its home city,
// or with small probabilities another city of the country or another
// country altogether.
func (w *World) placeGeo(cm map[string]*country, r *rand.Rand) {
	var world country
	for i, c := range w.Cities {
		world.pop += float64(c.Population)
		world.cities = append(world.cities, i)
		world.cum = append(world.cum, world.pop)
	}
	for i := range w.Blocks {
		b := &w.Blocks[i]
		x := r.Float64()
		switch {
		case x < w.Opt.GeoWrongCountry:
			for range 20 {
				if ci := world.draw(r); w.Cities[ci].Country != w.Cities[b.Geo].Country {
					b.Geo, b.GeoErr = ci, "country"
					break
				}
			}
		case x < w.Opt.GeoWrongCountry+w.Opt.GeoWrongCity:
			c := cm[w.Cities[b.Geo].Country]
			if ci := c.draw(r); ci != b.Geo {
				b.Geo, b.GeoErr = ci, "city"
			}
		}
	}
}

// placePeering decides where each ISP peers with us and which of the
// transit exchanges near its users it prefers.
func (w *World) placePeering(r *rand.Rand) {
	for i := range w.ISPs {
		isp := &w.ISPs[i]
		if isp.Networks == 0 {
			continue
		}
		a := w.Cities[isp.main].anchor
		switch x := r.Float64(); {
		case x < 0.6:
			isp.hubRank = 0
		case x < 0.9:
			isp.hubRank = 1
		default:
			isp.hubRank = 2
		}
		nearest, nd := 0, math.Inf(1)
		for p, pop := range w.PoPs {
			if d := w.mrtt(a, pop.server); d < nd {
				nearest, nd = p, d
			}
		}
		big := isp.Networks > w.Opt.Networks/500
		for p, pop := range w.PoPs {
			d := w.mrtt(a, pop.server)
			prob := 0.05
			switch {
			case p == nearest:
				prob = 0.75
			case d < 25:
				prob = 0.5
			case d < 60:
				prob = 0.2
			}
			if big {
				prob = min(1, prob*1.5)
			}
			if r.Float64() < prob {
				isp.peers |= 1 << p
			}
		}
		if isp.peers != 0 && r.Float64() < 0.3 {
			var ps []int
			for p := range w.PoPs {
				if isp.peers&(1<<p) != 0 {
					ps = append(ps, p)
				}
			}
			isp.pref = ps[r.IntN(len(ps))]
		}
	}
}

// hub is where an ISP's users at anchor a reach transit: the ISP's
// preferred one of the three hubs nearest them by RTT.
func (w *World) hub(isp *ISP, a int) int {
	var best [3]int
	var bd [3]float64
	n := 0
	for _, h := range w.hubIdx {
		d := w.mrtt(a, h)
		k := min(n, 3)
		for k > 0 && d < bd[k-1] {
			if k < 3 {
				best[k], bd[k] = best[k-1], bd[k-1]
			}
			k--
		}
		if k < 3 {
			best[k], bd[k] = h, d
		}
		n++
	}
	return best[min(isp.hubRank, n-1, 2)]
}

func (w *World) placeResolvers() {
	r := w.rng(streamResolvers)
	cm := w.byCtry
	for i := range w.ISPs {
		isp := &w.ISPs[i]
		if isp.Networks == 0 || len(isp.v4) == 0 {
			continue
		}
		n := 1
		if isp.Networks > 200 {
			n++
		}
		if isp.Networks > 2000 {
			n++
		}
		ecs := r.Float64() < w.Opt.ISPResolverECS
		// resolvers live at the end of the ISP's largest IPv4 prefix
		big := isp.v4[0]
		for _, p := range isp.v4 {
			if p.Bits() < big.Bits() {
				big = p
			}
		}
		last := big.Masked().Addr().As4()
		hostBits := 32 - big.Bits()
		base := uint32(last[0])<<24 | uint32(last[1])<<16 | uint32(last[2])<<8 | uint32(last[3])
		base |= (1<<hostBits - 1) &^ 0xff // last /24 of the prefix
		for k := range n {
			ci := isp.main
			if k > 0 || r.Float64() < 0.3 {
				ci = cm[isp.Country].draw(r)
			}
			c := w.Cities[ci]
			res := Resolver{
				ASN: isp.ASN, Provider: isp.Name, ISP: i, City: c.Name, Country: c.Country,
				Lat: c.Lat, Lon: c.Lon, ECS: ecs, anchor: c.anchor,
			}
			if r.Float64() < 0.08 { // centralized abroad, at the ISP's transit hub
				h := w.hub(isp, c.anchor)
				s := w.Matrix.Servers[h]
				res.City, res.Country, res.Lat, res.Lon, res.anchor = s.City, s.Country, s.Lat, s.Lon, h
			}
			a := base | uint32(53+k)
			res.Addr = netip.AddrFrom4([4]byte{byte(a >> 24), byte(a >> 16), byte(a >> 8), byte(a)})
			isp.resolvers = append(isp.resolvers, len(w.Resolvers))
			w.Resolvers = append(w.Resolvers, res)
		}
	}
	for _, d := range publicDefs {
		ps := publicService{name: d.name, asn: d.asn, ecs: d.ecs, base: netip.MustParsePrefix(d.base)}
		b := ps.base.Addr().As4()
		for k, site := range d.sites {
			si := w.Matrix.Index(site)
			if si < 0 {
				continue
			}
			s := w.Matrix.Servers[si]
			ps.sites = append(ps.sites, len(w.Resolvers))
			w.Resolvers = append(w.Resolvers, Resolver{
				Addr: netip.AddrFrom4([4]byte{b[0], b[1], byte(k), 53}), ASN: d.asn, Provider: d.name, ISP: -1,
				City: s.City, Country: s.Country, Lat: s.Lat, Lon: s.Lon, ECS: d.ecs, anchor: si,
			})
		}
		w.publics = append(w.publics, ps)
		w.Routes = append(w.Routes, Route{ps.base, d.asn})
	}
}
