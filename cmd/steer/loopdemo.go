//go:build cgo

package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/miekg/dns"

	"github.com/steer-gslb/steer/builder"
	"github.com/steer-gslb/steer/collector"
	"github.com/steer-gslb/steer/config"
	"github.com/steer-gslb/steer/dnsserver"
	"github.com/steer-gslb/steer/geoip"
	"github.com/steer-gslb/steer/mapstore"
	"github.com/steer-gslb/steer/rum"
	"github.com/steer-gslb/steer/sim"
	"github.com/steer-gslb/steer/store/duckstore"
)

// loopOptions size the end-to-end demo.
type loopOptions struct {
	networks int
	seed     uint64
	keep     string // keep the files here ("" = a temporary directory, removed)
	workers  int
	ui       string // serve the map explorer here after the demo, until interrupted ("" = don't)
}

// demoCities are the places whose answers the demo shows before and after
// the latency map (the simulator's report names the same ones).
var demoCities = []string{"Johannesburg", "Karachi", "Lagos", "Dubai", "Vienna", "Budapest", "Reykjavik", "Istanbul", "Tehran"}

// loopDemo runs the whole loop on one machine: a simulated world from real
// data; its beacons posted one by one through the real collector over HTTP
// into a RUM store; its random-name DNS tests resolved through the real DNS
// server, whose query log is the one the builder joins; build; evaluate
// against geo and anycast on held-out beacons and on the world's truth;
// publish (gated) into a versioned map directory that the running DNS
// server follows; and real queries for named cities before and after.
//
// On one machine every query comes from 127.0.0.1, so each simulated
// resolver gets its own loopback address (127.1.x.y) to send from, and the
// demo maps those back to the resolvers' addresses when it loads the
// server's query log into the store: the only step a real deployment does
// not have.
func runLoopDemo(w io.Writer, o loopOptions) (err error) {
	start := time.Now()
	step := func(format string, args ...any) {
		fmt.Fprintf(w, "[%5.1fs] %s\n", time.Since(start).Seconds(), fmt.Sprintf(format, args...))
	}
	if o.keep != "" {
		o.keep = filepath.Clean(o.keep)
	}
	dir := o.keep
	if dir == "" {
		if dir, err = os.MkdirTemp("", "steer-loop-"); err != nil {
			return err
		}
		defer func() { _ = os.RemoveAll(dir) }()
	} else if err := prepareKeep(dir); err != nil {
		return err
	}
	worldDir, storeDir, mapDir := filepath.Join(dir, "world"), filepath.Join(dir, "store"), filepath.Join(dir, "maps")
	ctx := context.Background()

	// 1. the world
	so := sim.DefaultOptions()
	so.Networks, so.Seed = o.networks, o.seed
	world, err := sim.Plan(so)
	if err != nil {
		return err
	}
	rep, err := sim.Generate(world, worldDir, nil)
	if err != nil {
		return err
	}
	c := rep.Counts
	step("world: %d client networks in %d PoPs' reach, %d measured; %d beacons (%d samples), %d DNS tests logged — from WonderProxy RTTs, GeoNames, pyasn and IP2Location (%s)",
		c.Networks, len(world.PoPs), c.Measured, c.Beacons, c.Samples, c.DNSQueries, worldDir)

	// 2. the DNS server, following a versioned map directory whose first
	// version is the world's empty map: every answer is geo
	md, err := mapstore.Open(mapDir)
	if err != nil {
		return err
	}
	if _, err := md.Publish(filepath.Join(worldDir, "map.json"), mapstore.PublishOptions{}); err != nil {
		return err
	}
	// The kept config (world/steer.yaml) serves the map directory on the
	// fixed ports steer demo serve uses; the demo's own server runs on
	// ephemeral ports from a copy next to it, removed at the end.
	keptCfg := filepath.Join(worldDir, "steer.yaml")
	cfgText, err := os.ReadFile(keptCfg)
	if err != nil {
		return err
	}
	s := strings.ReplaceAll(string(cfgText), "_map: map.json", "_map: ../maps/"+filepath.Base(md.CurrentPath()))
	if err := os.WriteFile(keptCfg, []byte(s), 0o644); err != nil {
		return err
	}
	s = withListen(s, "127.0.0.1:0")
	cfgPath := filepath.Join(worldDir, ".steer-demo-run.yaml")
	if err := os.WriteFile(cfgPath, []byte(s), 0o644); err != nil {
		return err
	}
	defer func() { _ = os.Remove(cfgPath) }()
	cfg, err := config.Load(cfgPath)
	if err != nil {
		return err
	}
	srv, err := dnsserver.New(cfgPath, dnsserver.Options{Logger: slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelError}))})
	if err != nil {
		return err
	}
	if err := srv.Start(); err != nil {
		return err
	}
	defer srv.Close()
	dnsAddr := srv.Addrs()[0]
	step("DNS server on %s (UDP+TCP), serving %s (version 1: no entries, so GeoIP decides)", dnsAddr, md.CurrentPath())

	// the cities to watch, and what geo answers them now
	picks, err := pickCities(filepath.Join(worldDir, "truth.tsv.gz"))
	if err != nil {
		return err
	}
	popOf := popByAddr(cfg)
	before := map[string]answer{}
	for _, p := range picks {
		a, err := askPoP(dnsAddr, p.network, popOf)
		if err != nil {
			return err
		}
		before[p.city] = a
	}

	// 3. the collector, and every beacon posted over HTTP
	st, err := duckstore.Open(storeDir, duckstore.Options{})
	if err != nil {
		return err
	}
	defer func() {
		if st != nil {
			_ = st.Close()
		}
	}()
	ccfg := collector.Defaults()
	ccfg.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	ccfg.Tokens = []string{demoToken}
	// The demo replays a simulated day in seconds, from a world dated in
	// the past and with the noise the builder's cleaning counts (broken
	// clocks, absurd RTTs): the door's rate limit and plausibility checks
	// would refuse what the demo means to show being cleaned.
	ccfg.Rate, ccfg.MaxSampleAge, ccfg.MaxSampleAhead, ccfg.MaxRTTms = 0, 0, 0, 0
	col, err := collector.New(ccfg, st, collector.Options{SpoolDir: filepath.Join(dir, "spool")})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: col, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = hs.Serve(ln) }()
	posted, err := postBeacons(filepath.Join(worldDir, "beacons.ndjson"), "http://"+ln.Addr().String()+"/beacon", 8*o.workers)
	_ = hs.Close()
	if cerr := col.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	step("collector on %s: %d beacons posted over HTTP, one a request, client address in X-Forwarded-For (truncated to /24 or /56 at the door)", ln.Addr(), posted)

	// 4. the DNS tests through the DNS server
	aliases, asked, err := replayDNSTests(filepath.Join(worldDir, "dnslog.ndjson"), dnsAddr, o.workers)
	if err != nil {
		return err
	}
	logPath := cfg.QueryLog
	if err := waitLines(logPath, asked); err != nil {
		return err
	}
	translated := filepath.Join(dir, "queries-resolvers.ndjson")
	if err := unalias(logPath, translated, aliases); err != nil {
		return err
	}
	ist, err := duckstore.ImportFile(ctx, st, translated, duckstore.ImportOptions{})
	if err != nil {
		return err
	}
	step("DNS tests: %d queries for random names answered by the DNS server from %d resolvers' loopback addresses; its query log (%d lines) loaded into the store",
		asked, len(aliases), ist.Queries)

	// 5. build
	geoPath := filepath.Join(worldDir, "geoip.mmdb")
	geo, err := geoip.Open(geoPath)
	if err != nil {
		return err
	}
	defer func() { _ = geo.Close() }()
	bres, err := builder.Build(ctx, builder.Input{Store: st, StoreDir: storeDir, BGP: []string{filepath.Join(worldDir, "bgp.mrt")},
		GeoIP: geo, GeoFile: geoPath})
	if err != nil {
		return err
	}
	_ = st.Close()
	st = nil
	mapPath := filepath.Join(dir, "latency.json")
	if err := writeBuild(mapPath, bres); err != nil {
		return err
	}
	r := bres.Report
	step("build: %d beacons, %d samples after cleaning; %d client networks, %d resolvers and %d extrapolated prefixes mapped (coverage ×%.1f); %s",
		r.Inputs.Beacons, r.Inputs.Samples, r.Entries.Networks, r.Entries.Resolvers, r.Entries.Extrap,
		r.Coverage.After24/max(r.Coverage.Measured24, 1), mapPath)
	var rules []string // the cleaning rules, up to the DNS join (edge-only: the demo has no edge log)
	for _, rc := range r.Rules {
		if rc.Rule != builder.RuleEdgeOnly {
			rules = append(rules, fmt.Sprintf("%s %d", rc.Rule, rc.Count))
		}
		if rc.Rule == builder.RuleDNSUnjoined {
			break
		}
	}
	fmt.Fprintf(w, "         cleaning: %s\n", strings.Join(rules, ", "))

	// 6. evaluate
	step("evaluate against geo and anycast, on held-out beacons and on the world's truth:")
	var ev bytes.Buffer
	rows, err := evaluate(ctx, evalArgs{dir: storeDir, mapFile: mapPath, truth: filepath.Join(worldDir, "truth.tsv.gz"),
		geoFile: filepath.Join(worldDir, "geoip.mmdb"), popsFile: cfgPath, holdout: 0.1, quantile: 0.5}, &ev)
	if err != nil {
		return err
	}
	for _, l := range strings.Split(strings.TrimSpace(ev.String()), "\n") {
		fmt.Fprintf(w, "         %s\n", l)
	}

	// 7. publish, gated on the held-out beacons
	gate, release, err := heldOutGate(storeDir)
	if err != nil {
		return err
	}
	defer func() { _ = release() }()
	serial := srv.Serial()
	pres, err := md.Publish(mapPath, mapstore.PublishOptions{Gate: gate})
	if err != nil {
		return err
	}
	if err := waitFor(func() bool { return srv.Serial() > serial }); err != nil {
		return fmt.Errorf("the DNS server did not load version %d: %w", pres.Version, err)
	}
	gv := ""
	if pres.Gate != nil {
		gv = " (gate: " + pres.Gate.String() + ")"
	}
	step("published version %d%s; the DNS server reloaded it", pres.Version, gv)

	// 8. the named cities, asked again
	fmt.Fprintln(w)
	fmt.Fprintln(w, "real queries for networks in named cities, before (geo) and after (latency map):")
	for _, p := range picks {
		after, err := askPoP(dnsAddr, p.network, popOf)
		if err != nil {
			return err
		}
		b := before[p.city]
		fmt.Fprintf(w, "  $ dig @%s -p %d www.example.net A +subnet=%s        # %s, %s\n", dnsAddr.Addr(), dnsAddr.Port(), p.network, p.city, p.country)
		fmt.Fprintf(w, "    before  %-44s ; %s, scope /%d, true median %3.0f ms\n", b.rr, b.pop, b.scope, p.lat[b.pop])
		fmt.Fprintf(w, "    after   %-44s ; %s, scope /%d, true median %3.0f ms (best: %s, %.0f ms)\n",
			after.rr, after.pop, after.scope, p.lat[after.pop], p.best, p.lat[p.best])
	}

	// 9. the closing table
	fmt.Fprintln(w)
	fmt.Fprintln(w, "as users get it (each client through its resolver; true median RTT, traffic-weighted):")
	fmt.Fprintf(w, "  %-14s %7s %7s %7s\n", "steering", "p50 ms", "p75 ms", "p95 ms")
	for _, row := range rows {
		if row.Truth == nil || row.Name == "against" { // perfect: every network at its best PoP, each non-ECS resolver at its population's
			continue
		}
		t := row.Truth.Served
		fmt.Fprintf(w, "  %-14s %7.1f %7.1f %7.1f\n", row.Name, t.P50, t.P75, t.P95)
	}
	if o.keep != "" {
		var digs []string
		for _, p := range picks {
			digs = append(digs, fmt.Sprintf("dig @127.0.0.1 -p 5353 www.example.net A +subnet=%s   # %s, %s: best PoP %s", p.network, p.city, p.country, p.best))
		}
		if err := writeKeepNote(dir, digs); err != nil {
			return err
		}
		fmt.Fprintf(w, "\nkept in %s; serve its map again, and the map explorer on %s, with:\n  steer demo serve %s\n", dir, demoServeUI, dir)
	}
	step("done")
	if o.ui == "" {
		fmt.Fprintf(w, "\nlook at the map in a browser: steer demo --ui %s (or --keep DIR, then steer demo serve DIR)\n", demoServeUI)
		return nil
	}
	sctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	return serveDemoUI(sctx, w, dir, o.ui)
}

// demoToken is the agent token the demo's collector accepts.
const demoToken = "steer-demo-agent-token"

// cityPick is one network the demo asks for.
type cityPick struct {
	city, country string
	network       string
	best          string
	lat           map[string]float64 // true median RTT per PoP label
}

// pickCities chooses, per named city, its heaviest network whose best PoP
// is not the GeoIP-nearest one.
func pickCities(truth string) ([]cityPick, error) {
	byCity := map[string]*cityPick{}
	weight := map[string]float64{}
	_, err := sim.ReadTruth(truth, func(h *sim.TruthHeader, t *sim.TruthRecord) error {
		if !slices.Contains(demoCities, t.City) || t.Geo < 0 || !t.Network.Addr().Is4() {
			return nil
		}
		b := t.Best(0.5)
		if b == t.Geo || t.Weight <= weight[t.City] {
			return nil
		}
		p := &cityPick{city: t.City, country: t.Country, network: t.Network.String(), best: string(h.PoPs[b].Label), lat: map[string]float64{}}
		for i, pp := range h.PoPs {
			p.lat[string(pp.Label)] = t.Quantile(i, 0.5)
		}
		byCity[t.City], weight[t.City] = p, t.Weight
		return nil
	})
	var out []cityPick
	for _, c := range demoCities {
		if p := byCity[c]; p != nil {
			out = append(out, *p)
		}
	}
	return out, err
}

func popByAddr(cfg *config.Config) map[netip.Addr]string {
	m := map[netip.Addr]string{}
	for _, p := range cfg.PoPs {
		for _, a := range append(slices.Clone(p.IPv4), p.IPv6...) {
			m[a] = string(p.Label)
		}
	}
	return m
}

// answer is one reply: its A record as dig prints it, the PoP it names and
// the ECS scope.
type answer struct {
	rr, pop string
	scope   int
}

// askPoP asks www.example.net A with ECS and names the PoP of the answer.
func askPoP(server netip.AddrPort, subnet string, popOf map[netip.Addr]string) (answer, error) {
	m := newQuery("www.example.net.", dns.TypeA, netip.MustParsePrefix(subnet), true)
	cl := &dns.Client{Net: "udp", Timeout: 2 * time.Second}
	r, _, err := cl.Exchange(m, server.String())
	if err != nil {
		return answer{}, err
	}
	var ans answer
	if o := r.IsEdns0(); o != nil {
		for _, e := range o.Option {
			if s, ok := e.(*dns.EDNS0_SUBNET); ok {
				ans.scope = int(s.SourceScope)
			}
		}
	}
	for _, rr := range r.Answer {
		if a, ok := rr.(*dns.A); ok {
			addr, _ := netip.AddrFromSlice(a.A.To4())
			ans.rr = strings.ReplaceAll(rr.String(), "\t", " ")
			ans.pop = addr.String()
			if l, ok := popOf[addr]; ok {
				ans.pop = l
			}
			return ans, nil
		}
	}
	ans.rr, ans.pop = "(no answer)", "-"
	return ans, nil
}

// postBeacons posts every beacon of an NDJSON file to the collector as a
// client would: one request each, without client_subnet (the collector
// takes the client's address from X-Forwarded-For, as behind a proxy).
func postBeacons(path, url string, workers int) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer func() { _ = f.Close() }()
	type item struct {
		body []byte
		xff  string
	}
	ch := make(chan item, 256)
	var posted atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: workers}}
	for range workers {
		wg.Go(func() {
			for it := range ch {
				req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(it.body))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("X-Forwarded-For", it.xff)
				req.Header.Set("Authorization", "Bearer "+demoToken)
				resp, err := client.Do(req)
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					_ = resp.Body.Close()
					if resp.StatusCode/100 != 2 {
						err = fmt.Errorf("collector answered %s", resp.Status)
					}
				}
				if err != nil {
					once.Do(func() { firstErr = err })
					continue
				}
				posted.Add(1)
			}
		})
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	var b rum.Beacon
	for sc.Scan() {
		if _, err := rum.ParseBeacon(sc.Bytes(), rum.Bulk, &b); err != nil {
			continue // the world's garbage lines, if any
		}
		// a host address inside the subnet: what a real client connects from
		host := b.ClientSubnet.Addr().Next().String()
		b.ClientSubnet = netip.Prefix{}
		ch <- item{rum.AppendBeacon(nil, &b), host}
	}
	close(ch)
	wg.Wait()
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return int(posted.Load()), firstErr
}

// replayDNSTests sends the world's DNS tests (its dnslog.ndjson: random
// names, their resolvers, ECS) to the DNS server, each from its resolver's
// loopback alias. It returns alias → resolver and the queries answered.
func replayDNSTests(path string, server netip.AddrPort, workers int) (map[netip.Addr]string, int, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, 0, err
	}
	aliases := map[netip.Addr]string{}
	byResolver := map[string]netip.Addr{}
	type q struct {
		name  string
		from  netip.Addr
		ecs   netip.Prefix
		qtype uint16
	}
	var qs []q
	if err := rum.EachLogEntry(data, func(e *rum.LogEntry) error {
		a, ok := byResolver[e.Resolver.String()]
		if !ok {
			n := len(byResolver) + 1
			a = netip.AddrFrom4([4]byte{127, 1, byte(n >> 8), byte(n)})
			byResolver[e.Resolver.String()] = a
			aliases[a] = e.Resolver.String()
		}
		qs = append(qs, q{e.QName, a, e.ECS, dns.StringToType[e.QType]})
		return nil
	}); err != nil {
		return nil, 0, fmt.Errorf("%s: %w", path, err)
	}
	var answered atomic.Int64
	ch := make(chan q, 256)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for x := range ch {
				m := newQuery(x.name, x.qtype, x.ecs, false)
				cl := &dns.Client{Net: "udp", Timeout: 2 * time.Second, Dialer: &net.Dialer{LocalAddr: &net.UDPAddr{IP: x.from.AsSlice()}}}
				for range 3 {
					if _, _, err := cl.Exchange(m, server.String()); err == nil {
						answered.Add(1)
						break
					}
				}
			}
		})
	}
	for _, x := range qs {
		ch <- x
	}
	close(ch)
	wg.Wait()
	if answered.Load() < int64(len(qs))*99/100 {
		return nil, 0, fmt.Errorf("only %d of %d DNS tests answered", answered.Load(), len(qs))
	}
	return aliases, int(answered.Load()), nil
}

// waitLines waits until the query log holds at least n lines (its writer
// flushes every 100 ms).
func waitLines(path string, n int) error {
	var got int
	err := waitFor(func() bool {
		b, err := os.ReadFile(path)
		got = bytes.Count(b, []byte("\n"))
		return err == nil && got >= n
	})
	if err != nil {
		return fmt.Errorf("query log %s: %d of %d lines: %w", path, got, n, err)
	}
	return nil
}

// unalias rewrites the query log's loopback aliases to the resolvers' own
// addresses.
func unalias(in, out string, aliases map[netip.Addr]string) error {
	data, err := os.ReadFile(in)
	if err != nil {
		return err
	}
	var buf []byte
	if err := rum.EachLogEntry(data, func(e *rum.LogEntry) error {
		r, ok := aliases[e.Resolver]
		if !ok {
			return errors.New("a query from an address the demo did not send from: " + e.Resolver.String())
		}
		e.Resolver = netip.MustParseAddr(r)
		buf = rum.AppendLogEntry(buf, e)
		buf = append(buf, '\n')
		return nil
	}); err != nil {
		return fmt.Errorf("query log %s: %w", in, err)
	}
	return os.WriteFile(out, buf, 0o644)
}
