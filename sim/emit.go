package sim

import (
	"bufio"
	"cmp"
	"compress/gzip"
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
	"strconv"
	"time"

	"github.com/steer-gslb/steer/bgp"
	"github.com/steer-gslb/steer/geoip"
	"github.com/steer-gslb/steer/rum"
)

// Files a world directory holds.
const (
	FileWorld     = "world.json"
	FileBeacons   = "beacons.ndjson"
	FileDNSLog    = "dnslog.ndjson"
	FileEdge      = "edge.ndjson"
	FileBGP       = "bgp.txt"
	FileMRT       = "bgp.mrt"
	FileGeoIP     = "geoip.mmdb"
	FileConfig    = "steer.yaml"
	FileMap       = "map.json"
	FileTruth     = "truth.tsv.gz"
	FileResolvers = "resolvers.tsv"
	FileReport    = "report.txt"
)

// Counts is what a run wrote.
type Counts struct {
	Networks          int `json:"networks"`
	IPv6Networks      int `json:"ipv6_networks"`
	Measured          int `json:"measured_networks"`
	Beacons           int `json:"beacons"`
	BeaconLines       int `json:"beacon_lines"` // beacons + duplicate deliveries
	Samples           int `json:"samples"`
	DNSQueries        int `json:"dns_queries"`
	EdgeLines         int `json:"edge_lines"`               // edge access-log lines (requests)
	EdgeNetworks      int `json:"edge_networks"`            // networks with at least one
	EdgeUnmeasured    int `json:"edge_unmeasured_networks"` // ... of them sending no beacons
	Resolvers         int `json:"resolvers"`
	ISPs              int `json:"isps"`
	Blocks            int `json:"address_blocks"`
	Routes            int `json:"routes"`
	GeoIPEntries      int `json:"geoip_entries"`
	GeoWrong          int `json:"geoip_wrong_blocks"`
	TickBeacons       int `json:"tick_timer_beacons"`
	HijackedBeacons   int `json:"hijacked_beacons"`
	PlainBeacons      int `json:"plain_probe_beacons"`
	BadSamples        int `json:"bad_value_samples"`
	Lost              int `json:"lost_samples"`
	FutureBeacons     int `json:"future_beacons"`
	AncientBeacons    int `json:"ancient_beacons"`
	DNSDuplicates     int `json:"dns_duplicates"`
	DNSPrefetches     int `json:"dns_prefetches"`
	MatrixEstimated   int `json:"matrix_pairs_estimated"`
	CitiesWithTraffic int `json:"cities_with_users"`
}

// Generate writes the world into dir (created if missing): every output
// file, streamed network by network, and the report.
func Generate(w *World, dir string, progress io.Writer) (*Report, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	c := Counts{
		ISPs: countISPs(w), Blocks: len(w.Blocks), Resolvers: len(w.Resolvers), Routes: len(w.Routes),
		MatrixEstimated: w.estimate,
	}
	step := func(what string) {
		if progress != nil {
			fmt.Fprintf(progress, "sim: %s\n", what)
		}
	}
	step("routing: " + FileBGP + ", " + FileMRT)
	if err := w.writeBGP(dir); err != nil {
		return nil, err
	}
	step("geolocation: " + FileGeoIP)
	geo, n, err := w.writeGeoIP(dir)
	if err != nil {
		return nil, err
	}
	defer func() { _ = geo.Close() }() // read-only
	c.GeoIPEntries = n
	step("configuration: " + FileConfig + ", " + FileMap)
	if err := w.writeConfig(dir); err != nil {
		return nil, err
	}
	step(fmt.Sprintf("networks: %s, %s, %s, %s", FileTruth, FileBeacons, FileDNSLog, FileEdge))
	var rep *Report
	var periods []Period
	if w.Opt.Days > 0 {
		rep, periods, err = w.streamTimed(dir, geo, &c)
	} else {
		rep, err = w.stream(dir, geo, &c)
	}
	if err != nil {
		return nil, err
	}
	if err := w.writeResolvers(dir); err != nil {
		return nil, err
	}
	for _, b := range w.Blocks {
		if b.GeoErr != "" {
			c.GeoWrong++
		}
	}
	for _, ci := range w.Cities {
		if ci.networks > 0 {
			c.CitiesWithTraffic++
		}
	}
	rep.Counts = c
	if err := w.writeWorld(dir, &c, periods); err != nil {
		return nil, err
	}
	if err := writeFile(filepath.Join(dir, FileReport), func(f io.Writer) error { return rep.Write(f) }); err != nil {
		return nil, err
	}
	return rep, nil
}

func countISPs(w *World) int {
	n := 0
	for _, i := range w.ISPs {
		if i.Networks > 0 {
			n++
		}
	}
	return n
}

// writeFile writes through a buffer into a temporary file and renames it
// into place, so a world directory never holds a half-written file under
// its final name.
func writeFile(path string, fn func(io.Writer) error) error {
	o, err := createOut(path)
	if err != nil {
		return err
	}
	if err := fn(o.w); err != nil {
		o.abort()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return o.commit()
}

func (w *World) bgpRoutes() []bgp.Route {
	rs := make([]bgp.Route, 0, len(w.Routes))
	for _, r := range w.Routes {
		rs = append(rs, bgp.Route{Prefix: r.Prefix, ASN: r.ASN})
	}
	slices.SortFunc(rs, func(a, b bgp.Route) int {
		if c := a.Prefix.Addr().Compare(b.Prefix.Addr()); c != 0 {
			return c
		}
		return cmp.Compare(a.Prefix.Bits(), b.Prefix.Bits())
	})
	return slices.CompactFunc(rs, func(a, b bgp.Route) bool { return a.Prefix == b.Prefix })
}

func (w *World) writeBGP(dir string) error {
	rs := w.bgpRoutes()
	comment := fmt.Sprintf("steer sim world (seed %d): origin AS of every announced prefix\nreal prefixes and ASNs from pyasn (RouteViews 2014/2015), see data/README.md", w.Opt.Seed)
	if err := writeFile(filepath.Join(dir, FileBGP), func(f io.Writer) error { return bgp.WritePyASN(f, rs, comment) }); err != nil {
		return err
	}
	// The MRT dump is the same table as a collector peer (AS 6447, as at
	// RouteViews) saw it.
	return writeFile(filepath.Join(dir, FileMRT), func(f io.Writer) error {
		return bgp.WriteMRT(f, rs, w.Opt.Start, 6447, netip.MustParseAddr("128.223.51.102"))
	})
}

// writeGeoIP writes the world's GeoIP database: every announced prefix at
// its AS's main city (coarse, as real databases do), then every block at
// the city the database believes (home city, or a deliberate error), then
// the public resolvers' sites. It returns the database opened.
func (w *World) writeGeoIP(dir string) (*geoip.DB, int, error) {
	var es []geoip.Entry
	asnCity := map[uint32]int{}
	for _, isp := range w.ISPs {
		if isp.Networks > 0 {
			asnCity[isp.ASN] = isp.main
		}
	}
	rs := w.bgpRoutes()
	slices.SortStableFunc(rs, func(a, b bgp.Route) int { return cmp.Compare(a.Prefix.Bits(), b.Prefix.Bits()) })
	for _, r := range rs {
		if ci, ok := asnCity[r.ASN]; ok {
			c := w.Cities[ci]
			es = append(es, geoip.Entry{Prefix: r.Prefix, Lat: c.Lat, Lon: c.Lon, Country: c.Country})
		}
	}
	for _, b := range w.Blocks {
		c := w.Cities[b.Geo]
		n := uint64(0)
		for _, pt := range b.Parts {
			n += uint64(pt.N)
		}
		for _, p := range rangePrefixes(b.Prefix, b.Start, n) {
			es = append(es, geoip.Entry{Prefix: p, Lat: c.Lat, Lon: c.Lon, Country: c.Country})
		}
	}
	for _, ps := range w.publics {
		for _, s := range ps.sites {
			r := w.Resolvers[s]
			es = append(es, geoip.Entry{Prefix: netip.PrefixFrom(r.Addr, 24).Masked(), Lat: r.Lat, Lon: r.Lon, Country: r.Country})
		}
	}
	path := filepath.Join(dir, FileGeoIP)
	if err := writeFile(path, func(f io.Writer) error { return geoip.WriteBuilt(f, es, w.Opt.Start) }); err != nil {
		return nil, 0, err
	}
	db, err := geoip.Open(path)
	return db, len(es), err
}

// rangePrefixes covers units [start, start+n) of p (/24s or /56s) with the
// fewest aligned prefixes.
func rangePrefixes(p netip.Prefix, start, n uint64) []netip.Prefix {
	unitBits := 24
	if p.Addr().Is6() {
		unitBits = 56
	}
	var out []netip.Prefix
	for n > 0 {
		// the largest aligned power of two at start that fits in n
		size := uint64(1)
		for start%(size*2) == 0 && size*2 <= n {
			size *= 2
		}
		bits := unitBits
		for s := size; s > 1; s >>= 1 {
			bits--
		}
		out = append(out, netip.PrefixFrom(unitPrefix(p, start).Addr(), bits))
		start += size
		n -= size
	}
	return out
}

// outFile is an output written under a temporary name and renamed into
// place by commit, so a world directory never holds a half-written file
// under its final name.
type outFile struct {
	f    *os.File
	w    *bufio.Writer
	path string
}

func createOut(path string) (*outFile, error) {
	f, err := os.Create(path + ".tmp")
	if err != nil {
		return nil, err
	}
	return &outFile{f: f, w: bufio.NewWriterSize(f, 1<<20), path: path}, nil
}

func (o *outFile) commit() error {
	err := errors.Join(o.w.Flush(), o.f.Close())
	if err == nil {
		err = os.Rename(o.f.Name(), o.path)
	}
	if err != nil {
		o.abort()
		return fmt.Errorf("writing %s: %w", o.path, err)
	}
	return nil
}

// abort removes the temporary file; the error that led here is reported
// by the caller, so abort's own errors (a file already closed) are not.
func (o *outFile) abort() {
	_ = o.f.Close()
	_ = os.Remove(o.f.Name())
}

func (w *World) stream(dir string, geo *geoip.DB, c *Counts) (*Report, error) {
	var outs []*outFile
	fail := func(err error) (*Report, error) {
		for _, o := range outs {
			if o != nil {
				o.abort()
			}
		}
		return nil, err
	}
	for _, name := range []string{FileTruth, FileBeacons, FileDNSLog, FileEdge} {
		o, err := createOut(filepath.Join(dir, name))
		if err != nil {
			return fail(err)
		}
		outs = append(outs, o)
	}
	gz, _ := gzip.NewWriterLevel(outs[0].w, gzip.BestSpeed)
	tw := bufio.NewWriterSize(gz, 1<<16)
	bw, lw, ew := outs[1].w, outs[2].w, outs[3].w

	th := newTruthHeader(w)
	if err := th.write(tw); err != nil {
		return fail(err)
	}
	rep := newReport(th)
	g := newGenerator(w)
	e := newEmitter(w, geo, c)
	edge := newEdgeEmitter(w, e)
	var buf []byte
	var rec TruthRecord
	rec.Base = make([]float32, len(w.PoPs))
	rec.Jitter = make([]float32, len(w.PoPs))
	for bi := range w.Blocks {
		// the edge log draws from a stream of its own per block, so the
		// other files do not depend on its options
		er := w.rng(streamEdge + uint64(bi))
		g.block(bi, func(n *Network, r *rand.Rand) {
			c.Networks++
			if n.Prefix.Addr().Is6() {
				c.IPv6Networks++
			}
			w.Resolvers[n.Resolver].weight += n.Weight
			w.Resolvers[n.Resolver].clients++
			e.fillTruth(n, &rec)
			buf = rec.append(buf[:0], th)
			_, _ = tw.Write(buf) // a bufio.Writer's error sticks: Flush reports it
			rep.add(&rec)
			if n.Measured {
				c.Measured++
				e.beacons(n, r, bw, lw)
			}
			edge.requests(n, er, ew)
		})
		if e.err != nil {
			return fail(e.err)
		}
	}
	if err := errors.Join(tw.Flush(), gz.Close()); err != nil {
		return fail(err)
	}
	for i, o := range outs {
		if err := o.commit(); err != nil {
			return fail(err)
		}
		outs[i] = nil
	}
	rep.finish()
	return rep, nil
}

// emitter writes one network's beacons and DNS queries.
type emitter struct {
	w     *World
	geo   *geoip.DB
	c     *Counts
	b     rum.Beacon
	le    rum.LogEntry
	buf   []byte
	perm  []int
	err   error
	rumZ  string
	start int64
	span  int64

	popVecs []vec3
	closed  uint64 // PoPs not open (timed worlds): no samples, no geo answers

	closedAt func(ms int64) uint64 // timed worlds: the PoPs closed at a time
}

func newEmitter(w *World, geo *geoip.DB, c *Counts) *emitter {
	return &emitter{
		w: w, geo: geo, c: c, perm: make([]int, len(w.PoPs)+1),
		rumZ: ".rum." + w.Opt.Zone, start: w.Opt.Start.UnixMilli(), span: w.Opt.Duration.Milliseconds(),
		popVecs: popVecs(w.PoPs),
	}
}

// geoPoP is the PoP a geo map gives an address: nearest to where the GeoIP
// database places it (-1 if it does not).
func (e *emitter) geoPoP(a netip.Addr) int {
	loc, _, ok := e.geo.Locate(a)
	if !ok {
		return -1
	}
	if e.closed != 0 {
		return nearestOpen(unitVec(loc.Lat, loc.Lon), e.popVecs, e.closed)
	}
	return nearestVec(unitVec(loc.Lat, loc.Lon), e.popVecs)
}

// nearestOpen is nearestVec over the PoPs not in closed.
func nearestOpen(p vec3, ps []vec3, closed uint64) int {
	best, bd := -1, -2.0
	for i, q := range ps {
		if d := p.dot(q); closed&(1<<i) == 0 && d > bd {
			best, bd = i, d
		}
	}
	return best
}

func popVecs(ps []PoP) []vec3 {
	vs := make([]vec3, len(ps))
	for i, p := range ps {
		vs[i] = unitVec(p.Lat, p.Lon)
	}
	return vs
}

func (e *emitter) fillTruth(n *Network, t *TruthRecord) {
	w := e.w
	c := &w.Cities[n.City]
	res := &w.Resolvers[n.Resolver]
	// values at the precision the truth file keeps, so the report of a run
	// and the report read back from its file agree exactly
	t.Network, t.Weight = n.Prefix, roundTo(n.Weight, 100)
	t.City, t.Country, t.Lat, t.Lon = c.Name, c.Country, roundTo(c.Lat, 1e4), roundTo(c.Lon, 1e4)
	t.ASN, t.Resolver, t.ResolverECS, t.Measured = n.ASN, res.Addr, res.ECS, n.Measured
	t.Anycast = n.Anycast
	t.Geo = e.geoPoP(n.Prefix.Addr())
	for p := range n.Base {
		t.Base[p] = roundTo32(n.Base[p])
		t.Jitter[p] = roundTo32(n.Jitter[p])
	}
}

func roundTo(v, k float64) float64 { return math.Round(v*k) / k }

// roundTo32 rounds to 0.1 exactly as formatting with one decimal and
// parsing back as float32 does.
func roundTo32(v float32) float32 {
	var b [24]byte
	x, _ := strconv.ParseFloat(string(strconv.AppendFloat(b[:0], float64(v), 'f', 1, 32)), 32)
	return float32(x)
}

var (
	webPlatforms = []string{"windows", "macos", "android", "ios", "linux", "windows", "android"}
	deskPlatform = []string{"windows", "windows", "windows", "macos", "linux"}
)

// beacons writes a measured network's beacons and the DNS queries their
// random names cause at the authoritative server.
func (e *emitter) beacons(n *Network, r *rand.Rand, bw, lw *bufio.Writer) {
	w := e.w
	cnt := w.Opt.BeaconsMin + r.IntN(w.Opt.BeaconsMax-w.Opt.BeaconsMin+1)
	for range cnt {
		e.beacon(n, e.start+r.Int64N(e.span), r, bw, lw)
	}
}

// beacon writes one beacon of n sent at ms at (the server's clock) and the
// DNS queries of its random name. PoPs in e.closed are not timed.
func (e *emitter) beacon(n *Network, at int64, r *rand.Rand, bw, lw *bufio.Writer) {
	w, nz := e.w, &e.w.Opt.Noise
	res := &w.Resolvers[n.Resolver]
	b := &e.b
	{
		e.c.Beacons++
		clock := at // the client's clock
		switch x := r.Float64(); {
		case x < nz.FutureTS:
			clock += (200 + r.Int64N(600)) * 86400e3
			e.c.FutureBeacons++
		case x < nz.FutureTS+nz.AncientTS:
			clock = time.Date(2009+r.IntN(6), 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli() + r.Int64N(300*86400e3)
			e.c.AncientBeacons++
		}
		*b = rum.Beacon{V: 1, ClientSubnet: n.Prefix, Samples: b.Samples[:0]}
		tick := false
		if r.Float64() < 0.45 {
			b.Agent.Kind = "desktop"
			b.Agent.Platform = deskPlatform[r.IntN(len(deskPlatform))]
			b.Agent.Timer = "monotonic"
			if b.Agent.Platform == "windows" {
				b.Agent.Timer = "qpc"
				if r.Float64() < nz.TickTimer/0.6 {
					// a declared tick timer, or (half the time) an agent
					// that does not say which clock it used
					tick = true
					b.Agent.Timer = "gettickcount"
					if r.IntN(2) == 0 {
						b.Agent.Timer = ""
					}
					e.c.TickBeacons++
				}
			}
		} else {
			b.Agent.Kind = "web"
			b.Agent.Platform = webPlatforms[r.IntN(len(webPlatforms))]
			b.Agent.Timer = "performance"
		}
		probe, hijacked := rum.ProbeHTTPS, false
		switch x := r.Float64(); {
		case x < nz.Hijacked:
			probe, hijacked = rum.ProbeHTTP, true
			e.c.HijackedBeacons++
		case x < nz.Hijacked+nz.PlainProbe:
			probe = rum.ProbeHTTP
			if r.IntN(2) == 0 {
				probe = rum.ProbeTCP
			}
			e.c.PlainBeacons++
		}
		b.DNSTest = ""
		if r.Float64() < w.Opt.DNSTest {
			b.DNSTest = randomLabel(r) + e.rumZ
		}
		np := len(w.PoPs)
		for i := range e.perm {
			e.perm[i] = i
		}
		r.Shuffle(len(e.perm), func(i, j int) { e.perm[i], e.perm[j] = e.perm[j], e.perm[i] })
		ts := clock
		for _, t := range e.perm {
			if t < np && e.closed&(1<<t) != 0 {
				continue
			}
			ts += 20 + r.Int64N(180)
			if r.Float64() < nz.LostProbe {
				e.c.Lost++
				continue
			}
			p, target, served := t, "", ""
			if t == np {
				p, target = n.Anycast, "anycast"
				if !hijacked {
					served = string(w.PoPs[p].Label)
				}
			} else {
				target = string(w.PoPs[t].Label)
			}
			v := float64(n.Base[p]) + float64(n.Jitter[p])*r.ExpFloat64()
			switch {
			case hijacked:
				v = 0.8 + 2*r.ExpFloat64()
			case tick:
				v = math.Floor(v/15.625+r.Float64()) * 15.625
				v = math.Round(v)
			case b.Agent.Kind == "web":
				v = math.Round(v*10) / 10 // browsers coarsen timers to 0.1 ms
			default:
				v = math.Round(v*1000) / 1000
			}
			if r.Float64() < nz.BadValue {
				v = [...]float64{-math.Round(v), 0, 0.0004, 86_400_000, 1e9}[r.IntN(5)]
				e.c.BadSamples++
			}
			b.Samples = append(b.Samples, rum.Sample{
				TS: time.UnixMilli(ts).UTC(), Target: target, Probe: probe, RTTms: v, ServedBy: served,
			})
			e.c.Samples++
		}
		if len(b.Samples) == 0 {
			e.c.Beacons--
			return
		}
		e.buf = rum.AppendBeacon(e.buf[:0], b)
		e.buf = append(e.buf, '\n')
		lines := 1
		if r.Float64() < nz.Duplicate {
			lines = 2
		}
		for range lines {
			if _, err := bw.Write(e.buf); err != nil && e.err == nil {
				e.err = err
			}
			e.c.BeaconLines++
		}
		if b.DNSTest != "" {
			e.query(n, res, b.DNSTest, at-10-r.Int64N(400), r, lw)
		}
	}
}

// query writes the authoritative server's log of one DNS test: what a geo
// map answered (no latency map exists yet), duplicates and prefetches.
func (e *emitter) query(n *Network, res *Resolver, name string, at int64, r *rand.Rand, lw *bufio.Writer) {
	nz := &e.w.Opt.Noise
	if r.Float64() < nz.DNSLost {
		return
	}
	le := &e.le
	*le = rum.LogEntry{QName: name + ".", QType: "A", Resolver: res.Addr, Source: "geo"}
	if n.Prefix.Addr().Is6() {
		le.QType = "AAAA"
	}
	src := res.Addr
	if res.ECS {
		le.ECS = n.Prefix
		src = n.Prefix.Addr()
	}
	if p := e.geoPoP(src); p >= 0 {
		le.PoP = string(e.w.PoPs[p].Label)
	} else {
		le.Source = "default"
	}
	times := []int64{at}
	if r.Float64() < nz.DNSDup {
		times = append(times, at+300+r.Int64N(1700))
		e.c.DNSDuplicates++
	}
	if r.Float64() < nz.DNSPrefetch {
		times = append(times, at+30_000+r.Int64N(3_600_000))
		e.c.DNSPrefetches++
	}
	for _, t := range times {
		if e.closedAt != nil {
			// a timed world: the answer of the PoPs open at the query's
			// time (a prefetch may come after a PoP opens)
			e.closed = e.closedAt(t)
			le.PoP, le.Source = "", "geo"
			if p := e.geoPoP(src); p >= 0 {
				le.PoP = string(e.w.PoPs[p].Label)
			} else {
				le.Source = "default"
			}
		}
		le.TS = time.UnixMilli(t).UTC()
		e.buf = rum.AppendLogEntry(e.buf[:0], le)
		e.buf = append(e.buf, '\n')
		if _, err := lw.Write(e.buf); err != nil && e.err == nil {
			e.err = err
		}
		e.c.DNSQueries++
	}
}

const labelChars = "abcdefghijklmnopqrstuvwxyz0123456789"

func randomLabel(r *rand.Rand) string {
	var b [12]byte
	for i := range b {
		b[i] = labelChars[r.IntN(len(labelChars))]
	}
	return string(b[:])
}

func (w *World) writeResolvers(dir string) error {
	return writeFile(filepath.Join(dir, FileResolvers), func(f io.Writer) error {
		fmt.Fprintln(f, "# steer sim resolvers: every recursive resolver the world's clients use, with their traffic")
		fmt.Fprintln(f, "resolver\tasn\tprovider\tkind\tecs\tcity\tcountry\tlat\tlon\tclients\tweight")
		for _, r := range w.Resolvers {
			kind := "isp"
			if r.ISP < 0 {
				kind = "public"
			}
			fmt.Fprintf(f, "%v\t%d\t%s\t%s\t%d\t%s\t%s\t%.4f\t%.4f\t%d\t%s\n", r.Addr, r.ASN, r.Provider, kind,
				b2i(r.ECS), r.City, r.Country, r.Lat, r.Lon, r.clients, strconv.FormatFloat(r.weight, 'f', 1, 64))
		}
		return nil
	})
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// worldFile is world.json: how the world was made and what it holds.
type worldFile struct {
	Generator string            `json:"generator"`
	Options   worldOptions      `json:"options"`
	PoPs      []worldPoP        `json:"pops"`
	Counts    Counts            `json:"counts"`
	Cleaning  worldCleaning     `json:"matrix_cleaning"`
	Files     map[string]string `json:"files"`
	Periods   []Period          `json:"periods,omitempty"` // a timed world's truth periods
}

type worldOptions struct {
	Seed       uint64  `json:"seed"`
	Networks   int     `json:"networks"`
	IPv6       float64 `json:"ipv6"`
	Measured   float64 `json:"measured"`
	BeaconsMin int     `json:"beacons_min"`
	BeaconsMax int     `json:"beacons_max"`
	EdgeReqs   float64 `json:"edge_requests"`
	Start      string  `json:"start"`
	Duration   string  `json:"duration"`
	Zone       string  `json:"zone"`
	Noise      Noise   `json:"noise"`

	Days          int      `json:"days,omitempty"`
	BeaconsPerDay int      `json:"beacons_per_day,omitempty"`
	Events        []string `json:"events,omitempty"`
}

type worldPoP struct {
	Label   string  `json:"label"`
	City    string  `json:"city"`
	Country string  `json:"country"`
	Lat     float64 `json:"lat"`
	Lon     float64 `json:"lon"`
}

type worldCleaning struct {
	Rows, SelfPairs, UnknownIDs, FasterThanLight, Filled, Missing int
	Fixes                                                         []string
}

func (w *World) writeWorld(dir string, c *Counts, periods []Period) error {
	wf := worldFile{
		Generator: "steer sim",
		Options: worldOptions{
			Seed: w.Opt.Seed, Networks: w.Opt.Networks, IPv6: w.Opt.IPv6, Measured: w.Opt.Measured,
			BeaconsMin: w.Opt.BeaconsMin, BeaconsMax: w.Opt.BeaconsMax, EdgeReqs: w.Opt.EdgeRequests, Start: w.Opt.Start.Format(time.RFC3339),
			Duration: w.Opt.Duration.String(), Zone: w.Opt.Zone, Noise: w.Opt.Noise,
		},
		Counts:  *c,
		Periods: periods,
		Cleaning: worldCleaning{
			Rows: w.Cleaning.Rows, SelfPairs: w.Cleaning.SelfPairs, UnknownIDs: w.Cleaning.UnknownIDs,
			FasterThanLight: w.Cleaning.FasterThanLight, Filled: w.Cleaning.Filled, Missing: w.Cleaning.Missing,
			Fixes: w.Cleaning.Fixes,
		},
		Files: map[string]string{
			FileBeacons:   "beacons (NDJSON, docs/DESIGN.md format, client_subnet set: a trusted bulk import) with production noise",
			FileDNSLog:    "the authoritative server's log of the random-name DNS tests (NDJSON)",
			FileEdge:      "the edge proxies' access log of every network's requests to the PoP DNS steers it to (NDJSON, docs/DESIGN.md format, TCP_INFO RTTs)",
			FileBGP:       "origin AS of every announced prefix (pyasn text)",
			FileMRT:       "the same table as an MRT TABLE_DUMP_V2 RIB dump",
			FileGeoIP:     "GeoIP database with realistic errors (MaxMind DB)",
			FileConfig:    "DNS server configuration with the world's PoPs (steer dns --config)",
			FileMap:       "an empty route map: the server answers by geo until a built map replaces it",
			FileTruth:     "ground truth per client network (gzip TSV; see its header)",
			FileResolvers: "every resolver with its clients' traffic (TSV)",
			FileReport:    "steer sim report",
		},
	}
	for _, p := range w.PoPs {
		wf.PoPs = append(wf.PoPs, worldPoP{string(p.Label), p.City, p.Country, p.Lat, p.Lon})
	}
	if w.Opt.Days > 0 {
		wf.Options.Days, wf.Options.BeaconsPerDay = w.Opt.Days, w.Opt.BeaconsPerDay
		wf.Options.BeaconsMin, wf.Options.BeaconsMax = 0, 0
		for _, ev := range w.Opt.Events {
			wf.Options.Events = append(wf.Options.Events, ev.String())
		}
		wf.Files[FileTruth] = "ground truth per client network at the end of the run (a copy of the last period's file)"
		for _, p := range periods {
			wf.Files[p.File] = fmt.Sprintf("ground truth from day %d (%s)", p.Day, p.From.Format(time.RFC3339))
		}
	}
	return writeFile(filepath.Join(dir, FileWorld), func(f io.Writer) error {
		enc := json.NewEncoder(f)
		enc.SetIndent("", "  ")
		return enc.Encode(wf)
	})
}
