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
//   - Load per unit weight of p's own networks is estimated as
//     k_p = (L_p − traffic moved into p) / (weight of p's own networks), the
//     traffic moved in counted at its source's k: the weights are relative
//     (beacons), the loads absolute, and a receiver's own networks must not
//     look as busy as the ramped ones it took.
//   - A PoP over Target×C_p sheds Gain × its excess (damping: the
//     estimates are rough and DNS moves traffic late, so each period closes
//     only part of the gap and the next measurement corrects the rest). Its
//     networks move, least added RTT per unit traffic first (unknown RTT
//     last, ties by prefix), to the first PoP after it in their ranking that
//     is usable and has room: a receiver q is never estimated over its own
//     target (L_q + k_p × weight ≤ Target_q×C_q). The order is by the
//     penalty of the move actually possible: when a network's next PoP is
//     full, it is ranked again by the cost of the one after (a lazy heap),
//     not left at the cost of a move it cannot make. A network with no
//     receiver with room stays.
//   - Traffic moved into a PoP grows with its source's demand (a ramp);
//     when that takes the receiver over its target, the receiver first
//     passes those networks on to another PoP of their rankings, and only
//     then moves its own networks: another PoP's overload is paid for with
//     that PoP's networks, and the receiver's own users stay put.
//   - A PoP under (Target−Hysteresis)×C_p takes its moves back, newest
//     first (per PoP; a move that does not fit blocks older ones), as far
//     as it stays under Target−Hysteresis. A move never takes its source
//     under Target−Hysteresis/2, so nothing is undone the period after it
//     is made, and a PoP between the two thresholds is left alone: the band
//     is what keeps the move set from flapping.
//   - Moves and undos together shift at most MaxMove of the total weight
//     per period, whatever the errors in the estimates.
//   - Options.Delay accounts for answers that clients keep longer than a
//     period (DNS TTL): the changes of the last Delay periods are added to
//     the measured load, so the same excess is not shed twice.
//
// Everything is deterministic: networks are kept in prefix order, PoPs in
// label order, and ties break by prefix.
//
// # Optimality and the ramp experiment
//
// Optimum computes, for one PoP, the least penalty (Σ weight × added RTT)
// of any way to bring it to its target when networks may be split: a
// transportation LP solved exactly by min-cost flow (greedy is not optimal
// once receivers' rooms bind; see Optimum). It is a lower bound for the
// controller, whose moves are whole networks chosen greedily over several
// periods.
//
// ramp_test.go runs the controller on the simulator's world (10k
// networks, true p75 RTTs, each network ranking its 4 best PoPs; the
// simulator has no capacities, so every PoP is sized for 50 % of its
// natural load): fra's demand ramps from 50 % to 150 % of its capacity
// over 20 periods, holds 40, ramps down over 20. Defaults (Gain 0.5,
// MaxMove 0.05, Hysteresis 0.1). Measured, with no DNS lag / one period of
// lag (Delay 1):
//
//   - settled at or under target 5 / 6 periods after the ramp ends (the
//     bar: 8), no overshoot after settling (0.00 %), no direction change of
//     the move set from then to the end, every move undone once the demand
//     is back down, and no receiver put over its target by a move;
//   - final penalty +0.95 % over Optimum (0.980 ms against 0.971 ms of
//     added RTT averaged over all traffic; 382 networks, 9.9 % of traffic
//     moved); other seeds of the world (lag 1): +2.8 %, +1.8 %, +1.2 %;
//   - during the ramp fra peaks at 88 % / 93 %: a proportional controller
//     trails a ramp by rate/Gain (5 points a period / 0.5), and receivers
//     reach 82–83 % as the traffic moved to them keeps growing, until they
//     pass it on.
//
// With the lag but Delay 0 the controller sheds the same excess twice:
// receivers are pushed to 96 % by its moves and the final penalty is
// +7.2 % over Optimum. The chart, docs/img/load-ramp.png (lag 1), is drawn
// from the repository root by
//
//	LOADCTL_CHART=$PWD/docs/img/load-ramp.png go test ./loadctl -run TestRampChart
//
// The package exports no metrics; the control server that runs it reports
// moves and loads.
package loadctl
