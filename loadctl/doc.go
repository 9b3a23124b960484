// Package loadctl is steer's load feedback: a damped controller that moves
// client networks off a PoP whose measured load is over its target, to the
// next PoPs of their own rankings, at the least latency cost, and takes the
// moves back when the load falls. It works from the builder's MAP.rtt.tsv
// (package rttfile: each network's traffic weight and expected RTT per
// ranked PoP) and the PoPs' load reports, and yields a move set that Patch
// turns into an override map for the DNS server: state is an overlay on the
// compiled map, never a rebuild.
//
// # The controller
//
// Each period (Step), with each PoP's measured load L_p and capacity C_p:
//
//   - A network is answered at the first usable PoP of its ranking, unless
//     it is moved (then at the move's To). Moves whose To became unusable,
//     or whose From is no longer the network's natural answer, are dropped:
//     health and admin state win over load.
//   - Load per unit weight at p is estimated as k_p = L_p / (weight answered
//     at p): the weights are relative (beacons), the loads absolute.
//   - A PoP over Target×C_p sheds Gain × its excess (damping: the
//     estimates are rough and DNS moves traffic late, so each period closes
//     only part of the gap and the next measurement corrects the rest). Its
//     networks move, least added RTT per unit traffic first (unknown RTT
//     last, ties by prefix), to the first PoP after it in their ranking that
//     is usable and has room: a receiver q is never estimated over its own
//     target (L_q + k_p × weight ≤ Target_q×C_q). A network with no such
//     receiver stays. Moved networks are pinned: they do not move again
//     until undone.
//   - A PoP under (Target−Hysteresis)×C_p takes its moves back, newest
//     first, as far as it stays under Target−Hysteresis. A move never takes
//     its source under Target−Hysteresis/2, so nothing is undone the period
//     after it is made, and a PoP between the two thresholds is left alone:
//     the band is what keeps the move set from flapping.
//   - Moves and undos together shift at most MaxMove of the total weight
//     per period, whatever the errors in the estimates.
//   - Options.Delay accounts for answers that clients keep longer than a
//     period (DNS TTL): the changes of the last Delay periods are added to
//     the measured load, so the same excess is not shed twice.
//
// Everything is deterministic: networks are kept in prefix order, PoPs in
// label order, and ties break by prefix.
//
// # Optimality
//
// Optimum computes, for one PoP, the least penalty (Σ weight × added RTT)
// of any way to bring it to its target when networks may be split: a
// transportation LP solved exactly by min-cost flow. It is a lower bound
// for the controller, whose moves are whole networks chosen greedily over
// several periods. On the simulator's world (ramp_test.go: one PoP's
// demand ramped from 50 % to 150 % of capacity over 20 periods, then held)
// the controller settles at or under target within 8 periods of the ramp's
// end, with no overshoot after settling, no direction change in the move
// set while the load holds, and a final penalty within 5 % of Optimum (the
// test logs the measured numbers). `go test ./loadctl -run TestRampChart`
// with LOADCTL_CHART=docs/img/load-ramp.png draws the chart.
//
// The package exports no metrics; the control server that runs it reports
// moves and loads.
package loadctl
