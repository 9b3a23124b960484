package main

import (
	"fmt"
	"io"

	"strconv"
	"strings"
	"time"

	"github.com/steer-gslb/steer/data"
	"github.com/steer-gslb/steer/internal/cli"
	"github.com/steer-gslb/steer/sim"
)

const simUsage = `usage: steer sim --out DIR [flags]     build a world from real data and write it to DIR
       steer sim report DIR             print a world's report from its ground truth
       steer sim --list-cities          the measured cities PoPs can be placed in

A world is built from real measurements shipped in the binary (WonderProxy's
city-to-city ping matrix, GeoNames populations, real BGP prefixes and ASNs,
IP2Location countries): PoPs in measured cities; users in GeoNames cities,
anchored to the nearest measured city; ISPs per country with real prefixes;
per-ISP peering and transit detours; ISP and public resolvers; GeoIP errors.
It writes, into DIR:

  beacons.ndjson   beacons with production noise (tick timers, hijacked
                   probes, duplicates, bad values, lost probes, bad clocks)
  dnslog.ndjson    the DNS server's log of the random-name tests
  edge.ndjson      the edge proxies' access log: every network's requests
                   (measured or not) at the PoP DNS steers it to today,
                   with TCP_INFO RTTs drawn from the truth (--edge-requests)
  bgp.txt, bgp.mrt the announcements (pyasn text, MRT TABLE_DUMP_V2)
  geoip.mmdb       a GeoIP database with realistic errors
  steer.yaml, map.json   a DNS server configuration for the world's PoPs
  truth.tsv.gz     ground truth per network: weight, city, AS, resolver,
                   anycast PoP, geo PoP and the true RTT distribution to
                   every PoP
  resolvers.tsv    resolvers and their clients' traffic
  world.json       options, counts and the matrix cleaning report
  report.txt       the report (also printed)

The same seed and flags give byte-identical files.

Time: --days N runs the world over N days from --start (instead of
--duration). Clients of the measured networks arrive in proportion to their
traffic, busiest at 20:00 local time, --beacons-per-day beacons a day in all
(--beacons does not apply), and scheduled events change the world from the
start of their day:

  --event 'day=5,kind=peering-lost,isp=AS3320,pop=fra'   the ISP stops peering
  --event 'day=3,kind=peering-added,isp=AS3320,pop=ams'  ... starts peering
  --event 'day=7,kind=reroute,isp=AS3320,hub=Amsterdam'  its transit goes via a hub
  --event 'day=2,kind=pop-open,pop=waw'   configured, serves nothing before day 2
  --event 'day=9,kind=pop-degraded,pop=lhr,ms=25'        +25 ms to lhr (0 restores)

(--event repeats; --events FILE reads one per line, # comments). The truth
of each period is in truth-dNN.tsv.gz (NN: the day it starts; a PoP not
open yet has 10000/0), truth.tsv.gz is the truth at the end, and world.json
lists the periods.

`

func runSim(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "report" {
		return runSimReport(args[1:], stdout, stderr)
	}
	opt := sim.DefaultOptions()
	fs := cli.New("steer sim", simUsage, simExample, stdout, stderr)
	fs.Subcommands = []string{"report"}
	out := fs.String("out", "", "directory to write the world into (created if missing)")
	fs.Uint64Var(&opt.Seed, "seed", opt.Seed, "random seed: the same seed and flags give the same world")
	fs.IntVar(&opt.Networks, "networks", opt.Networks, "client networks (IPv4 /24s and IPv6 /56s)")
	fs.Float64Var(&opt.IPv6, "ipv6", opt.IPv6, "share of an IPv6-announcing ISP's networks that are IPv6 /56s")
	fs.Float64Var(&opt.Measured, "measured", opt.Measured, "share of networks that send beacons")
	beacons := fs.String("beacons", fmt.Sprintf("%d-%d", opt.BeaconsMin, opt.BeaconsMax), "beacons per measured network: N or MIN-MAX (uniform)")
	fs.Float64Var(&opt.EdgeRequests, "edge-requests", opt.EdgeRequests, "mean edge access-log lines per network, in proportion to its traffic (0: none)")
	pops := fs.String("pops", sim.FormatPoPs(opt.PoPs), "PoPs as label=City,... (cities: --list-cities)")
	start := fs.String("start", opt.Start.Format(time.RFC3339), "beacons are stamped from this time (RFC 3339)")
	fs.DurationVar(&opt.Duration, "duration", opt.Duration, "... over this long")
	fs.StringVar(&opt.Zone, "zone", opt.Zone, "DNS zone; the random names go under rum.ZONE")
	fs.Float64Var(&opt.PublicResolvers, "public-resolvers", opt.PublicResolvers, "mean share of networks using a public resolver")
	fs.Float64Var(&opt.ISPResolverECS, "isp-resolver-ecs", opt.ISPResolverECS, "share of ISPs whose resolvers send ECS")
	fs.Float64Var(&opt.GeoWrongCity, "geo-wrong-city", opt.GeoWrongCity, "share of address blocks GeoIP puts in the wrong city")
	fs.Float64Var(&opt.GeoWrongCountry, "geo-wrong-country", opt.GeoWrongCountry, "share of address blocks GeoIP puts in the wrong country")
	fs.Float64Var(&opt.Scatter, "scatter", opt.Scatter, "mean share of a block's networks living in other cities of the country than the one GeoIP gives the block")
	fs.Float64Var(&opt.DNSTest, "dns-test", opt.DNSTest, "share of beacons carrying a random-name DNS test")
	exclude := fs.String("exclude", strings.Join(opt.Exclude, ","), "countries (ISO codes, comma-separated) with no users; \"\" for none")
	noise := fs.Float64("noise", 1, "scale every production-noise share (0: clean data; see world.json for the shares)")
	list := fs.Bool("list-cities", false, "list the measured cities and exit")
	fs.IntVar(&opt.Days, "days", 0, "run the world over this many days, with arrivals by traffic and events (0: one static window of --duration)")
	fs.IntVar(&opt.BeaconsPerDay, "beacons-per-day", opt.BeaconsPerDay, "with --days: beacons a day from all measured networks together, on average")
	fs.Func("event", "with --days: a scheduled event, day=N,kind=KIND,... (repeatable; see above)", func(s string) error {
		ev, err := sim.ParseEvent(s)
		if err == nil {
			opt.Events = append(opt.Events, ev)
		}
		return err
	})
	events := fs.String("events", "", "with --days: a file of scheduled events, one per line as --event")
	quiet := fs.Bool("quiet", false, "print only the report")
	if code, ok := fs.Parse(args); !ok {
		return code
	}
	if *list {
		return listCities(stdout, stderr)
	}
	if *out == "" || fs.NArg() > 0 {
		return fs.Usagef("--out DIR is required (and takes no arguments); see steer sim --help")
	}
	var err error
	if opt.BeaconsMin, opt.BeaconsMax, err = parseRange(*beacons); err != nil {
		return fs.Usagef("--beacons: %v", err)
	}
	if opt.PoPs, err = sim.ParsePoPs(*pops); err != nil {
		return fs.Usagef("--pops: %v", err)
	}
	if opt.Start, err = time.Parse(time.RFC3339, *start); err != nil {
		return fs.Usagef("--start: %v", err)
	}
	opt.Start = opt.Start.UTC()
	if *events != "" {
		evs, err := sim.ReadEventsFile(*events)
		if err != nil {
			return fs.Usagef("--events: %v", err)
		}
		opt.Events = append(opt.Events, evs...)
	}
	opt.Noise = scaleNoise(opt.Noise, *noise)
	opt.Exclude = nil
	for c := range strings.SplitSeq(*exclude, ",") {
		if c = strings.TrimSpace(c); c != "" {
			opt.Exclude = append(opt.Exclude, c)
		}
	}
	t0 := time.Now()
	w, err := sim.Plan(opt)
	if err != nil {
		fmt.Fprintf(stderr, "steer sim: %v\n", err)
		return 1
	}
	progress := stderr
	if *quiet {
		progress = nil
	} else {
		fmt.Fprintf(stderr, "sim: planned %d ISPs, %d address blocks, %d resolvers in %v\n",
			len(w.ISPs), len(w.Blocks), len(w.Resolvers), time.Since(t0).Round(time.Millisecond))
	}
	rep, err := sim.Generate(w, *out, progress)
	if err != nil {
		fmt.Fprintf(stderr, "steer sim: %v\n", err)
		return 1
	}
	if !*quiet {
		c := rep.Counts
		fmt.Fprintf(stderr, "sim: wrote %s in %v: %d networks (%d IPv6), %d measured, %d beacons (%d lines) with %d samples, %d DNS queries, %d edge log lines from %d networks (%d without beacons)\n\n",
			*out, time.Since(t0).Round(time.Millisecond), c.Networks, c.IPv6Networks, c.Measured, c.Beacons, c.BeaconLines, c.Samples, c.DNSQueries,
			c.EdgeLines, c.EdgeNetworks, c.EdgeUnmeasured)
	}
	if err := rep.Write(stdout); err != nil {
		fmt.Fprintf(stderr, "steer sim: %v\n", err)
		return 1
	}
	return 0
}

func runSimReport(args []string, stdout, stderr io.Writer) int {
	fs := cli.New("steer sim report", "usage: steer sim report DIR\n\nPrints the report of the world in DIR, from its ground truth (truth.tsv.gz).", "steer sim report world", stdout, stderr)
	if code, ok := fs.Parse(args); !ok {
		return code
	}
	if fs.NArg() != 1 {
		return fs.Usagef("one world directory DIR is required")
	}
	rep, err := sim.ReadReport(fs.Arg(0))
	if err != nil {
		fmt.Fprintf(stderr, "steer sim report: %v\n", err)
		return 1
	}
	if err := rep.Write(stdout); err != nil {
		fmt.Fprintf(stderr, "steer sim report: %v\n", err)
		return 1
	}
	return 0
}

func parseRange(s string) (lo, hi int, err error) {
	a, b, ok := strings.Cut(s, "-")
	if lo, err = strconv.Atoi(a); err != nil {
		return 0, 0, fmt.Errorf("%q is not N or MIN-MAX", s)
	}
	hi = lo
	if ok {
		if hi, err = strconv.Atoi(b); err != nil {
			return 0, 0, fmt.Errorf("%q is not N or MIN-MAX", s)
		}
	}
	return lo, hi, nil
}

func scaleNoise(n sim.Noise, k float64) sim.Noise {
	s := func(v float64) float64 { return min(1, v*k) }
	return sim.Noise{
		TickTimer: s(n.TickTimer), Hijacked: s(n.Hijacked), PlainProbe: s(n.PlainProbe), Duplicate: s(n.Duplicate),
		LostProbe: s(n.LostProbe), BadValue: s(n.BadValue), FutureTS: s(n.FutureTS), AncientTS: s(n.AncientTS),
		DNSLost: s(n.DNSLost), DNSDup: s(n.DNSDup), DNSPrefetch: s(n.DNSPrefetch),
	}
}

func listCities(stdout, stderr io.Writer) int {
	m, _, err := data.LoadMatrix()
	if err != nil {
		fmt.Fprintf(stderr, "steer sim: %v\n", err)
		return 1
	}
	for _, s := range m.Servers {
		fmt.Fprintf(stdout, "%-18s %-22s %s %8.3f %9.3f\n", s.Name, s.City, s.Country, s.Lat, s.Lon)
	}
	return 0
}

const simExample = `steer sim --out world --networks 50000 --seed 1
steer sim report world`
