// Package measureplan decides, for one client network, which PoPs its next
// beacon should time and when it should come back: the measurement planner
// of issue 20. Measurement is a budget (every timed PoP costs the user two
// small requests), and a network whose best PoP is obvious gains nothing
// from more samples, while one torn between two PoPs a few milliseconds
// apart, or never measured to a newly opened PoP, gains a lot.
//
// The policy ([Policy.Plan]) is pure: given what is known per PoP for one
// network ([PoPState]: sample count, p75 estimate, per-sample spread, time
// of the last sample) and a budget ([Budget]), it returns a [Plan]. It does
// not allocate (the caller passes the plan's buffer) and takes about
// 0.4 µs for 4 PoPs, 0.75 µs for 16 and 1.7 µs for 64 on a shared 2-core
// machine (BenchmarkPlan). [Knowledge] holds PoPState for
// every network, built from a store's [store.Aggregate]; the collector
// refreshes it periodically and serves each network its plan at
// /rum/plan.json (package collector).
//
// # Scoring
//
// Each measured PoP i has an estimate m_i (the network's p75 to it, ms)
// and an uncertainty
//
//	s_i = Spread_i / sqrt(n_eff),   n_eff = Count_i · 2^(−age_i / HalfLife)
//
// Spread is the per-sample dispersion (ms); samples lose half their weight
// every HalfLife since the last one, so a PoP not measured for a while
// grows uncertain again and is re-measured (the internet changes). Let b be
// the PoP with the lowest m (the map's choice for the network). For every
// other PoP i the planner computes the expected regret of keeping b when i
// may be better, with d = m_i − m_b ≥ 0 and σ = sqrt(s_i² + s_b²):
//
//	EI_i = σ·φ(d/σ) − d·(1 − Φ(d/σ))
//
// (φ, Φ: the standard normal density and distribution), the expected
// improvement E[max(0, m_b − X_i)] of a normal X_i. It is the value of
// resolving the contest between b and i: large when the intervals overlap
// (d small against σ), near 0 when i is clearly worse (d/σ > 5 is taken as
// 0). PoP i's score is EI_i; b's score is the largest EI of its rivals,
// since every contest involves it. A PoP never measured (Count 0, or no
// usable p75) scores [Unknown], above any contest: a newly opened PoP is
// timed by every network at its next beacon.
//
// The plan takes the PoPs scoring at least MinGain, best first, up to
// MaxPoPs; ties (several never-measured PoPs, the cold start of a network
// the collector knows nothing about) are broken by a hash of the network,
// the day and the beacon slot, so that different networks, and successive
// beacons of one network, cover different PoPs. A plan is never empty:
// when nothing scores MinGain it holds b alone (a settled network keeps
// its choice fresh at one PoP's cost). Then, with
// probability Explore (a hash of network, day and slot: reproducible),
// one more PoP chosen by that hash among the rest is added, or replaces the
// lowest-scoring one when the plan is full: the exploration share that
// finds what the model cannot (a route change to a PoP believed far).
//
// The back-off After is MinInterval when the plan's total score reaches
// UrgentGain (or holds an unknown PoP), MaxInterval when it is below
// MinGain, and in between MinInterval·UrgentGain/total, clamped: a clear,
// fresh network gets a one-PoP plan and the long back-off; an uncertain
// one gets a full plan and is asked back soon.
package measureplan
