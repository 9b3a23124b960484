// Package sim builds a world from real measurements and writes everything
// the rest of steer consumes — beacons, the DNS server's random-name log,
// BGP tables, a GeoIP database, a DNS server configuration — together with
// the ground truth that scores it. `steer sim --out DIR` runs it; `steer sim
// report DIR` summarizes a world from its truth alone.
//
// # The model
//
// The backbone is WonderProxy's measured RTT matrix between about 245
// servers in world cities (package data: cleaned of the servers that are not
// where they claim, of faster-than-light pairs, and filled from the reverse
// direction). PoPs sit in measured cities. Users come from GeoNames cities
// by population, each anchored to a measured city: the nearest of its own
// country when that is within 1,500 km more than the nearest overall, else
// the nearest. ISPs are the real ASes of each country (pyasn prefixes, with
// their country from IP2Location); a country's networks are split among them
// by address space, and each ISP's /24s (and /56s) are carved from its real
// announced prefixes in blocks, most of a block in one city (Options.Scatter:
// 15 % of its networks elsewhere in the country on average).
//
// RTT from a network to a PoP is
//
//	path(anchor, PoP, ISP) + metro + access + Exp(jitter)
//
// where path is the measured minimum RTT when the ISP peers with the PoP,
// else the detour through one of the three transit hubs nearest the users
// (RTT(anchor, hub) + RTT(hub, PoP), never below the direct measurement);
// metro converts the distance to the anchor to RTT with the fibre stretch
// fitted on the matrix (1.95 × great-circle km / 100); access is log-normal
// per network (median 6 ms fixed, 25 ms mobile); jitter is exponential with
// the measured avg − min (or mdev/2) plus a share of the access term. The
// exponential makes every percentile exact, so the truth file stores two
// numbers per (network, PoP) instead of samples.
//
// Anycast is what BGP picks, not latency: the ISP's preferred peering PoP,
// else its nearest peering PoP (hot potato), else the PoP nearest its
// transit hub. Resolvers are the ISP's (a few per ISP, some in another city
// or abroad, 10 % sending ECS) or three public services at fixed sites, one
// sending ECS. The GeoIP database places every block at its home city, 5 % of
// blocks in a wrong city and 2 % in a wrong country, and a block's networks
// living elsewhere are wrong too — as real databases are.
//
// # Outputs and noise
//
// Beacons carry production noise at the shares of Noise: Windows tick
// timers (15.6 ms steps; half of them undeclared), hijacked plain-HTTP
// probes (1–5 ms answers from a captive portal), other plain probes,
// duplicate deliveries, negative/zero/sub-microsecond/absurd RTTs, lost
// probes, clocks far in the future or years in the past. The DNS log is what
// the authoritative server would log for each DNS test (the geo answer, as
// no latency map exists yet), with lost queries, duplicates and prefetches.
// The edge access log holds every network's requests, beacons or not, at
// the PoP that geo answer sends it to, each with TCP_INFO RTTs drawn from
// the truth; it is written by package edge/accesslog.
// Beacons and log lines are written by package rum; BGP files by package
// bgp; the database by package geoip: every file is read back by the
// project's own parsers in the tests.
//
// # Time
//
// Options.Days (steer sim --days N) runs the world over N days instead of
// one static window. Clients of the measured networks arrive in proportion
// to their network's traffic weight, Options.BeaconsPerDay beacons a day
// in all on average, and at the hours of a diurnal cycle of the network's
// local solar time (intensity 1 + 0.6·cos(2π(h − 20)/24): three times as
// many in the evening as in the morning). Scheduled events (Event,
// ParseEvent: "day=5,kind=peering-lost,isp=AS3320,pop=fra") change the
// world at the start of their day: an ISP loses or gains peering with a
// PoP, is rerouted through another transit hub, a configured PoP opens (no
// samples, anycast or geo traffic before), a PoP is degraded by some ms.
// Beacons, DNS tests and edge requests see the world of their time. The
// truth is written per period in which it holds (truth-dNN.tsv.gz, NN the
// day it starts; a PoP not open yet has ClosedRTT), truth.tsv.gz is the
// truth at the end, world.json lists the periods and TruthAt gives the
// file for any time, so a map can be scored at any time. Arrivals draw
// from streams of their own: the truth does not depend on the budget.
// Without Days the world is the static one, byte for byte.
//
// # Determinism and size
//
// Every part of the plan draws from its own random stream, and every
// address block from one of its own, so the same seed and options give
// byte-identical files. Networks are generated block by block and streamed
// to disk; the report keeps histograms, so memory does not grow with the
// number of networks (1M networks: 173 MiB peak RSS, 22–28 s; the default
// 100k: about 3 s; see docs/BENCHMARKS.md).
//
// The simulator is analytics-side: the data plane never imports it.
package sim
