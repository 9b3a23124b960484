// Package builder turns the RUM store's raw, noisy measurements into a
// latency map (NS1 route-map format): the core of `steer build`, and of
// the held-out scoring behind `steer eval --store` and `steer publish`.
//
// # Pipeline
//
//  1. Read (Load): beacons and samples through DuckDB's C API in 2,048-row
//     chunks (store.ScanChunks), not row by row; each network's samples go
//     into one preallocated slab (sized from the beacons' sample counts),
//     8 bytes a sample, then sorted by (PoP, RTT) per network.
//  2. Clean: the rules of docs/DESIGN.md, "Cleaning rules", each named and
//     counted in the report (see Rules): duplicate beacons, HTTPS only,
//     impossible RTTs, clocks far from the server's, declared and detected
//     tick timers, first DNS query wins. A share of beacons (Options.HoldOut, by a hash of the beacon ID)
//     is held out for evaluation and never read by the build.
//  3. Join: DNS test name → the first query's resolver (and whether it sent
//     ECS) ↔ the beacon's client network, weighted by beacons.
//  4. Estimate: per (network, PoP) the configured percentile of RTT; each
//     estimate shrunk toward the network's announced prefix's relative
//     latency profile (itself shrunk toward its AS's), shifted to the
//     network's own level, with Options.Prior pseudo-samples; PoPs a
//     network did not measure take the group's value.
//  5. Select: PoPs ranked per client network; per resolver, ranked by the
//     traffic-weighted mean estimate over its joined clients; the previous
//     map's choice kept unless beaten by MarginMs and MarginPct; capacity
//     caps enforced by moving the cheapest detours first.
//  6. Extrapolate: an AS whose measured networks agree maps all its
//     announced prefixes; else a prefix whose networks agree; then (with a
//     GeoIP database) every remaining database block by its prefix's
//     pooled latencies, else its AS's networks weighted by nearness.
//
// # Measured
//
// On the simulator's default world (100k networks, 30 % measured with 2–5
// beacons each, full noise): the whole build takes about 1 s; the map is
// within 2 % of the perfect map's p75 per network and within 0.6 % as DNS
// serves it, and measured networks' mean regret is 0.15 ms (details and
// the 10M/100M-sample runs in docs/BENCHMARKS.md).
//
// The builder reads the store with DuckDB's single-writer lock free: open
// the store read-only (store.Options.ReadOnly) while no collector holds it,
// or build inside the collector's process.
package builder
