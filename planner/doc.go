// Package planner decides where the next PoPs should go: it splits the
// Earth into s2 level-7 cells, weights them by population (or users),
// places the existing PoPs, and finds by exhaustive search the site whose
// new PoP most reduces the weighted loss; then repeats (greedy, each step
// exact). `steer plan` runs it; this package has no cgo and reads nothing
// but what it is given and the embedded data of package data.
//
// # Inputs
//
//   - Demand: [Point]s (lat, lon, weight) summed into [Level] cells by
//     [Cells], each cell at the weighted centroid of its points and named
//     after its heaviest named point (its largest city). The shipped
//     GeoNames cities of 15,000 people or more ([PopulationPoints]) fill
//     8,791 of the 98,304 level-7 cells with 3.65 billion people; a weights
//     file is read by [ParseWeights]; users measured by the RUM store
//     (networks located by GeoIP, weighted by traffic; `steer plan --store
//     --geoip`) are a []Point the caller fills, each with its measured RTT
//     to its best existing PoP.
//   - Measured latency: with [Problem].Measured (a fibre line), a cell with
//     a MeasuredRTT starts from what its users measure, as the distance
//     whose modelled RTT that is, instead of its distance to the nearest
//     PoP; a candidate helps it only when nearer than that.
//   - Candidates: every populated cell at its largest city
//     ([CellCandidates], optionally only cells of at least some weight),
//     every cell of the sphere at its centre ([EveryCell]), or a list of
//     positions and city names ([ParseCandidates]) such as colocation
//     cities. A candidate's country is its city's (the cell's largest).
//   - Existing PoPs: from a DNS config ([ConfigSites]) or "label=City,..."
//     ([ParsePoPs]: WonderProxy's measured cities, as the simulator places
//     its PoPs, else GeoNames).
//   - Constraints: a minimum distance between any two PoPs, excluded
//     countries, and K.
//
// # Losses
//
// Each cell costs w·f(d), d the great-circle distance to its nearest PoP:
// [L1] f = d, [L2] f = d², and [TCP], the expected time to fetch a typical
// object, which is what users feel. Distance becomes RTT on a line fitted
// on the shipped WonderProxy matrix by [FitFibre]: over the 29,613 server
// pairs with a known min RTT (up to 19,852 km apart) the median
// (least-absolute-deviations) line is
//
//	RTT = 13.72 ms + 0.01680 ms/km × d     (1.68× light in fibre; mean |residual| 30.3 ms)
//
// with half the pairs below it. Least squares gives 25.34 ms + 0.01701
// ms/km (R² 0.728): the same slope, but detours pull its intercept up.
// Binned medians of the data against the median line (at each bin's mean
// distance):
//
//	km               pairs   median ms   line ms
//	0–500              885        12.3      18.9
//	500–1,000        1,596        24.6      26.4
//	1,000–1,500      1,613        35.2      34.7
//	1,500–2,000      1,472        44.0      42.8
//	2,000–4,000      3,202        67.6      62.2
//	4,000–6,000      2,431       105.7      99.9
//	6,000–8,000      5,532       124.7     132.5
//	8,000–10,000     5,867       168.0     164.0
//	10,000–12,000    2,703       202.9     196.9
//	12,000–14,000    1,955       239.2     231.7
//	14,000–20,000    2,357       280.2     282.7
//
// The line is within 8 ms of every binned median. The data bend: up to
// 2,000 km the medians climb 0.022 ms/km (2.2× light in fibre: metro and
// regional detours), beyond it 0.016 ms/km (long cables run straighter),
// so the line is 6.6 ms high below 500 km and a few ms low from 2,000 to
// 6,000 km. (The simulator uses
// the median of RTT / (km/100) over pairs beyond 1,000 km, 1.95, with no
// intercept: the same data seen as a ratio.)
//
// RTT becomes fetch time by [TCPModel]: 3 round trips of handshakes (TCP,
// TLS 1.3, the request), then a 100 kB object at the throughput of Mathis
// et al., MSS/(RTT·√p)·√(3/2) with p = 0.01 %, capped by a 50 Mbit/s
// access link. Up to an RTT of 28.6 ms (about 900 km) the link is the
// limit and a nearer PoP saves only the handshakes; beyond, each ms of RTT
// costs 3.56 ms. Every loss grows with distance, so a cell's nearest PoP is
// its cheapest under every loss.
//
// # Search
//
// [Problem.Plan] places K PoPs greedily. Each step evaluates every allowed
// candidate against every cell, exactly, and keeps the one with the
// largest loss reduction (ties: the first candidate). The loss reduction
// as a function of the set of new sites is a facility-location function,
// monotone and submodular, so greedy reaches at least 1 − 1/e of the best
// reduction any K sites could bring (Nemhauser, Wolsey and Fisher, 1978);
// a minimum distance voids that bound.
//
// The inner loop keeps cells as unit vectors with the dot product to their
// nearest PoP (32 bytes each). A candidate improves a cell only where its
// dot product is larger; only there are the distance and the loss worked
// out, with the loss rearranged once into divisions-free linear pieces.
// Cells are in s2 id order (along the Hilbert curve), and each run of 32
// has a bounding cap and the largest nearest-PoP angle in it: a candidate
// farther from the cap than that skips the run on one dot product. In the
// first step of the default plan 80 % of the 77.3M (candidate, cell) pairs
// are decided by the runs' bounds and 10.5 % improve their cell. Skipped
// pairs add nothing, so the gain of each candidate is the same sum, in the
// same order, as over every cell: the result does not depend on the
// pruning or on the schedule. Candidates are spread over GOMAXPROCS
// goroutines in blocks of 16. Tests check every step against a
// brute-force search written separately (plain loops, haversine).
//
// The loss curve ([Plan.Curve]) runs the greedy backwards on the existing
// PoPs: each stage drops the PoP whose removal raises the loss least, so
// the curve from 1 PoP up says which PoPs earn their place; the new sites
// follow.
//
// # Measured (2 cores, Go 1.26; docs/BENCHMARKS.md, bench/plan.sh)
//
// `steer plan --add 5` on the shipped world with the simulator's 20
// default PoPs: 0.73 s and 75 MiB for the whole command; the five steps
// take 123, 85, 57, 48 and 44 ms, 386M (candidate, cell) pairs at 1.08
// billion pairs/s. One step with every level-7 cell of the sphere as a
// candidate (98,304 × 8,791 = 864M pairs) takes 0.5–0.6 s. BenchmarkStep,
// 2,000 candidates against 1,000 to 98,304 cells: 2.6 ms to 168 ms a
// step, linear in the cells, 0.7–1.2 billion pairs/s, 36–55 allocations
// a step. Taking the divisions out of the TCP loss cut the default first
// step from 160 to 100 ms, the run bounds from 180 to 160 ms.
//
// # Output
//
// [Report] prints the sites with the reduction each brings and why (the
// weight it becomes nearest for, its distance before and after, the cells
// that gain most), the loss curve and the gains per continent
// ([Plan.Regions], from a country → continent table);
// [Plan.WriteGeoJSON] writes the cells (outlines, split at the
// antimeridian) and sites; [Plan.MapChart] and [Plan.CurveChart] draw them.
//
// The package exports no metrics.
package planner
