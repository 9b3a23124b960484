package sim

import (
	"math"
	"math/rand/v2"
	"net/netip"

	"github.com/gaissmai/bart"
)

// Network is one client network with its ground truth.
type Network struct {
	Prefix   netip.Prefix
	Weight   float64 // traffic weight (users)
	City     int
	ISP      int
	ASN      uint32 // origin AS by longest match over the world's announcements
	Resolver int
	Measured bool
	Mobile   bool
	Anycast  int // PoP index BGP picks for the anycast address
	Base     []float32
	Jitter   []float32 // RTT to PoP p is Base[p] + Exp(mean Jitter[p])

	add, addJit float32 // metro + access RTT and the access jitter, on top of the path
}

// Quantile is the true q-quantile of RTT to PoP p.
func (n *Network) Quantile(p int, q float64) float64 {
	return quantile(n.Base[p], n.Jitter[p], q)
}

func quantile(base, jit float32, q float64) float64 {
	return float64(base) - float64(jit)*math.Log1p(-q)
}

// pathVec is what an ISP's network at one anchor sees of every PoP.
type pathVec struct {
	rtt, jit []float32
	anycast  int
}

// paths computes, for an ISP's users anchored at a, the RTT of the path
// to each PoP: direct where the ISP peers with us, else through its transit
// hub near these users (never shorter than the direct measurement).
// Anycast goes where BGP sends it: the ISP's preferred peering PoP, else
// its nearest peering PoP (hot potato), else the PoP nearest the transit
// hub — AS-path length and peering decide, not latency.
func (w *World) paths(ii, a int) *pathVec { return w.pathsAt(ii, a, nil) }

// pathsAt is paths in period st of a timed world (nil: the plan's world):
// its peering, transit hubs and degradations; PoPs not open yet take no
// anycast traffic.
func (w *World) pathsAt(ii, a int, st *periodState) *pathVec {
	isp := &w.ISPs[ii]
	v := &pathVec{rtt: make([]float32, len(w.PoPs)), jit: make([]float32, len(w.PoPs)), anycast: -1}
	peers, closed, h := isp.peers, uint64(0), -1
	if st != nil {
		if p, ok := st.peers[ii]; ok {
			peers = p
		}
		if x, ok := st.hub[ii]; ok {
			h = x
		}
		closed = st.closed
	}
	if h < 0 {
		h = w.hub(isp, a)
	}
	for p, pop := range w.PoPs {
		s := pop.server
		d, j := w.mrtt(a, s), w.mjit(a, s)
		if peers&(1<<p) == 0 {
			const transit = 1.5 // an extra AS and its routers
			if dt := w.mrtt(a, h) + w.mrtt(h, s); dt > d {
				d, j = dt, w.mjit(a, h)+w.mjit(h, s)
			}
			d += transit
		}
		v.rtt[p], v.jit[p] = float32(d), float32(j)
	}
	open := peers &^ closed
	switch {
	case isp.pref >= 0 && open&(1<<isp.pref) != 0:
		v.anycast = isp.pref
	case open != 0:
		for p := range w.PoPs {
			if open&(1<<p) != 0 && (v.anycast < 0 || v.rtt[p] < v.rtt[v.anycast]) {
				v.anycast = p
			}
		}
	default:
		for p, pop := range w.PoPs {
			if closed&(1<<p) == 0 && (v.anycast < 0 || w.mrtt(h, pop.server) < w.mrtt(h, w.PoPs[v.anycast].server)) {
				v.anycast = p
			}
		}
	}
	// a degraded PoP is slower, but BGP does not know
	if st != nil {
		for p, x := range st.extra {
			v.rtt[p] += x
		}
	}
	return v
}

// generator turns blocks into networks. It is not safe for concurrent use.
type generator struct {
	w      *World
	cache  map[uint64]*pathVec
	origin *bart.Table[uint32]
	n      Network
}

func newGenerator(w *World) *generator {
	g := &generator{w: w, cache: map[uint64]*pathVec{}, origin: new(bart.Table[uint32])}
	for _, r := range w.Routes {
		g.origin.Insert(r.Prefix, r.ASN)
	}
	g.n.Base = make([]float32, len(w.PoPs))
	g.n.Jitter = make([]float32, len(w.PoPs))
	return g
}

func (g *generator) path(isp, anchor int) *pathVec {
	k := uint64(isp)<<32 | uint64(anchor)
	v := g.cache[k]
	if v == nil {
		v = g.w.paths(isp, anchor)
		g.cache[k] = v
	}
	return v
}

// unitPrefix is the i-th /24 (IPv4) or /56 (IPv6) of p.
func unitPrefix(p netip.Prefix, i uint64) netip.Prefix {
	if p.Addr().Is4() {
		a := p.Addr().As4()
		v := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
		v += uint32(i) << 8
		return netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), 24)
	}
	a := p.Addr().As16()
	// a /56 index lives in bytes 0..6; add i at byte 6
	carry := i
	for k := 6; k >= 0 && carry > 0; k-- {
		s := uint64(a[k]) + carry&0xff
		a[k] = byte(s)
		carry = carry>>8 + s>>8
	}
	return netip.PrefixFrom(netip.AddrFrom16(a), 56)
}

// block generates the networks of block bi, calling fn for each with the
// block's own random stream (so the world does not depend on the order
// blocks are generated in).
func (g *generator) block(bi int, fn func(n *Network, r *rand.Rand)) {
	w := g.w
	b := &w.Blocks[bi]
	isp := &w.ISPs[b.ISP]
	r := w.rng(streamBlocks + uint64(bi))
	unit := b.Start
	for _, pt := range b.Parts {
		c := &w.Cities[pt.City]
		pv := g.path(b.ISP, c.anchor)
		for range pt.N {
			n := &g.n
			n.Prefix = unitPrefix(b.Prefix, unit)
			unit++
			n.City, n.ISP = pt.City, b.ISP
			n.ASN, _ = g.origin.Lookup(n.Prefix.Addr())
			n.Mobile = r.Float64() < isp.mobile
			// access network: DSL/cable/fibre around 6 ms, mobile around 25 ms
			med := 6.0
			if n.Mobile {
				med = 25
			}
			access := med * math.Exp(0.5*r.NormFloat64())
			accessJit := 0.15 * access
			n.Weight = float64(c.Population) / float64(c.networks) * math.Exp(0.6*r.NormFloat64())
			n.Resolver = g.resolver(isp, c, r)
			n.Measured = r.Float64() < w.Opt.Measured
			n.Anycast = pv.anycast
			n.add, n.addJit = float32(c.metroMs+access), float32(accessJit)
			for p := range w.PoPs {
				n.Base[p] = pv.rtt[p] + n.add
				n.Jitter[p] = pv.jit[p] + n.addJit
			}
			fn(n, r)
		}
	}
}

// resolver picks a network's resolver: a public service (its site nearest
// by RTT, as anycast DNS mostly manages) or the ISP's resolver nearest the
// city.
func (g *generator) resolver(isp *ISP, c *City, r *rand.Rand) int {
	w := g.w
	if r.Float64() < isp.public || len(isp.resolvers) == 0 {
		x := r.Float64()
		ps := &w.publics[0]
		switch {
		case x > 0.9 && len(w.publics) > 2:
			ps = &w.publics[2]
		case x > 0.6 && len(w.publics) > 1:
			ps = &w.publics[1]
		}
		best := ps.sites[0]
		for _, s := range ps.sites {
			if w.mrtt(c.anchor, w.Resolvers[s].anchor) < w.mrtt(c.anchor, w.Resolvers[best].anchor) {
				best = s
			}
		}
		return best
	}
	best, bd := isp.resolvers[0], math.Inf(1)
	for _, ri := range isp.resolvers {
		res := &w.Resolvers[ri]
		if d := w.mrtt(c.anchor, res.anchor); d < bd {
			best, bd = ri, d
		}
	}
	return best
}
