package sim

import (
	"bufio"
	"math"
	"math/rand/v2"
	"net/netip"
	"strconv"
	"time"

	"github.com/steer-gslb/steer/edge/accesslog"
	"github.com/steer-gslb/steer/edge/tcpinfo"
)

// The edge access log (FileEdge) is what the PoPs' edge proxies would log
// for the world's ordinary traffic on the day: every network, measured or
// not, sends requests to the PoP the DNS server steers it to today. With
// the empty map of FileMap that is the geo answer for the network's
// resolver (or for the network itself when the resolver sends ECS), and the
// default, anycast, when the database does not place the address: the same
// answer the DNS log records for a random-name test.
//
// A network sends Poisson(EdgeRequests × weight / mean weight) requests,
// at most edgeCap × EdgeRequests (rounded up), each on a connection of its
// own. A
// connection's TCP_INFO is what the kernel's estimator makes of its RTT
// samples: 2–12 round trips drawn from the network's true RTT distribution
// to the serving PoP (Base + Exp(Jitter), the beacons' law), folded into
// srtt and rttvar as RFC 6298 does and their minimum as min_rtt, in whole
// microseconds. Retransmissions (2 % of connections) are counted but, by
// Karn's rule, change no RTT. Requests are dated uniformly in the world's
// window; lines are grouped by network, not in time order (steer ingest
// does not need order).
const edgeCap = 8

// edgeEmitter writes the edge access log.
type edgeEmitter struct {
	w     *World
	e     *emitter
	mean  float64 // expected traffic weight of a network
	cap   int
	start int64 // µs
	span  int64 // µs
	host  string
	ent   accesslog.Entry
	buf   []byte
	reqID []byte
	days  float64

	// at, in a timed world, switches n to the world at a request's time
	// (µs) and returns the PoP serving it then.
	at func(n *Network, us int64) int
}

func newEdgeEmitter(w *World, e *emitter) *edgeEmitter {
	pop, nets := 0.0, 0
	for _, c := range w.Cities {
		if c.networks > 0 {
			pop += float64(c.Population)
			nets += c.networks
		}
	}
	mean := 1.0
	if nets > 0 && pop > 0 {
		// a network's weight is its city's population per network times
		// exp(0.6 N(0,1)), whose mean is exp(0.18)
		mean = pop / float64(nets) * math.Exp(0.18)
	}
	days := float64(max(1, w.Opt.Days)) // EdgeRequests is per day in a timed world
	return &edgeEmitter{
		w: w, e: e, mean: mean, cap: max(1, int(math.Ceil(edgeCap*w.Opt.EdgeRequests*days))), days: days,
		start: w.Opt.Start.UnixMicro(), span: w.Opt.Duration.Microseconds(), host: "www." + w.Opt.Zone,
	}
}

// servedBy is the PoP the DNS server (geo, empty map) answers n's
// resolver with: the geo PoP of the resolver's address, or of n's when the
// resolver sends ECS, else the default (anycast).
func (x *edgeEmitter) servedBy(n *Network) int {
	res := &x.w.Resolvers[n.Resolver]
	src := res.Addr
	if res.ECS {
		src = n.Prefix.Addr()
	}
	if p := x.e.geoPoP(src); p >= 0 {
		return p
	}
	return n.Anycast
}

// poisson draws from a Poisson distribution of mean lambda, at most limit:
// by multiplication of uniforms for small means, else the normal
// approximation.
func poisson(r *rand.Rand, lambda float64, limit int) int {
	if lambda <= 0 {
		return 0
	}
	if lambda > 30 {
		k := int(math.Round(lambda + math.Sqrt(lambda)*r.NormFloat64()))
		return min(max(k, 0), limit)
	}
	l, p, k := math.Exp(-lambda), 1.0, 0
	for {
		p *= r.Float64()
		if p <= l || k >= limit {
			return k
		}
		k++
	}
}

var (
	edgePaths  = []string{"/", "/index.html", "/app.js", "/style.css", "/api/v1/items", "/img/logo.png", "/video/seg-1.ts"}
	edgeStatus = []int{200, 200, 200, 200, 200, 200, 200, 200, 304, 404}
)

// requests writes network n's edge log lines, drawing from r (the edge
// log's own stream for n's block).
func (x *edgeEmitter) requests(n *Network, r *rand.Rand, out *bufio.Writer) {
	if x.w.Opt.EdgeRequests <= 0 {
		return
	}
	cnt := poisson(r, x.days*x.w.Opt.EdgeRequests*n.Weight/x.mean, x.cap)
	if cnt == 0 {
		return
	}
	c := x.e.c
	c.EdgeNetworks++
	if !n.Measured {
		c.EdgeUnmeasured++
	}
	p := x.servedBy(n)
	pop := string(x.w.PoPs[p].Label)
	base, jit := float64(n.Base[p]), float64(n.Jitter[p])
	e := &x.ent
	for range cnt {
		at := x.start + r.Int64N(x.span)
		if x.at != nil {
			p = x.at(n, at)
			pop = string(x.w.PoPs[p].Label)
			base, jit = float64(n.Base[p]), float64(n.Jitter[p])
		}
		*e = accesslog.Entry{
			Time:   time.UnixMicro(at).UTC(),
			PoP:    pop,
			Method: "GET",
			Host:   x.host,
			Path:   edgePaths[r.IntN(len(edgePaths))],
			Status: edgeStatus[r.IntN(len(edgeStatus))],
			Proto:  "HTTP/2.0", TLSVersion: 0x0304,
			Upstream: "origin",
			Client:   hostIn(n.Prefix, r),
			HasTCP:   true,
		}
		if r.IntN(4) == 0 {
			e.Proto = "HTTP/1.1"
		}
		if r.IntN(6) == 0 {
			e.TLSVersion = 0x0303
		}
		x.reqID = append(append(x.reqID[:0], pop...), '-')
		x.reqID = strconv.AppendUint(x.reqID, r.Uint64()&(1<<48-1), 16)
		e.RequestID = string(x.reqID)
		// the connection's RTT samples, folded as the kernel does
		rounds := 2 + r.IntN(11)
		srtt, rttvar, minRTT := 0.0, 0.0, math.Inf(1)
		for i := range rounds {
			v := base + jit*r.ExpFloat64()
			minRTT = min(minRTT, v)
			if i == 0 {
				srtt, rttvar = v, v/2
				continue
			}
			rttvar = 0.75*rttvar + 0.25*math.Abs(srtt-v)
			srtt = 0.875*srtt + 0.125*v
		}
		e.TCP = tcpinfo.Info{
			RTT: usDuration(srtt), RTTVar: usDuration(rttvar), MinRTT: usDuration(minRTT),
			Cwnd: uint32(10 + r.IntN(40)), MSS: 1448,
		}
		if r.Float64() < 0.02 {
			e.TCP.TotalRetrans = uint32(1 + r.IntN(3))
		}
		if e.Status == 200 {
			e.BytesOut = int64(500 * math.Exp(2.5*r.Float64()+1.5*r.Float64()))
		}
		// upstream: a warm connection to the origin, a few ms to tens of ms
		up := 2 + 40*r.Float64()
		e.UpstreamDuration = usDuration(up)
		// arrival to last byte: the origin, then the response's flights
		flights := 1 + float64(e.BytesOut)/(float64(e.TCP.Cwnd)*1448)
		e.Duration = usDuration(up + math.Ceil(flights)*srtt)
		e.TCP.DeliveryRate = uint64(float64(e.TCP.Cwnd) * 1448 / (srtt / 1000))
		x.buf = accesslog.AppendLine(x.buf[:0], e)
		if _, err := out.Write(x.buf); err != nil && x.e.err == nil {
			x.e.err = err
		}
		c.EdgeLines++
	}
}

// usDuration converts milliseconds to a Duration in whole microseconds
// (TCP_INFO's unit).
func usDuration(ms float64) time.Duration {
	return time.Duration(math.Round(ms*1000)) * time.Microsecond
}

// hostIn is a random host address in a client network (a /24 or /56): the
// log writer keeps only the network.
func hostIn(p netip.Prefix, r *rand.Rand) netip.Addr {
	if p.Addr().Is4() {
		a := p.Addr().As4()
		a[3] = byte(1 + r.IntN(254))
		return netip.AddrFrom4(a)
	}
	a := p.Addr().As16()
	for i := 7; i < 16; i++ {
		a[i] = byte(r.Uint32())
	}
	return netip.AddrFrom16(a)
}
