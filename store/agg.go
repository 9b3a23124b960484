package store

import (
	"context"
	"math"
	"net/netip"
	"sort"
	"strings"
	"time"
)

// This file is the read side the map builder and the evaluator use: the
// cleaning rules and the per (network, PoP) aggregation, pushed down to
// the engine. Every engine must return the same Aggregate and Join for the
// same rows (store/storetest checks DuckDB against ClickHouse), which is
// what makes `steer build` give the same map from either.

// Split chooses which beacons a read includes.
type Split int

const (
	AllBeacons     Split = iota // every beacon
	TrainBeacons                // beacons not held out (the build's)
	HoldoutBeacons              // held-out beacons (the evaluator's)
)

// IsHeldOut reports whether a beacon (by its store ID) is held out for
// evaluation when share of beacons are: a fixed hash split, the same in
// every run and every engine ((id>>7) mod 10000 < share·10000), so steer
// build and steer eval agree on it without talking.
func IsHeldOut(id uint64, share float64) bool {
	return share > 0 && float64((id>>7)%10000) < share*10000
}

// Rule names a cleaning rule (the builder adds its own building rules to
// the same report).
type Rule = string

// The cleaning rules an Aggregate applies, in the order they are tested on
// a sample.
const (
	RuleDuplicateBeacon Rule = "duplicate-beacon" // a beacon stored twice (delivered again after the store's dedup window)
	RuleBadNetwork      Rule = "bad-network"      // a beacon whose network key is not a client subnet
	RuleHTTPSOnly       Rule = "https-only"       // plain HTTP and TCP probes (hijacked in the wild): samples dropped
	RuleImpossibleRTT   Rule = "impossible-rtt"   // negative, sub-microsecond or above MaxRTT: samples dropped
	RuleBadClock        Rule = "bad-clock"        // sample time after received+MaxClockAhead or before received-MaxAge
	RuleTickTimer       Rule = "tick-timer"       // beacons declaring a tick-counting timer: samples dropped
	RuleTickDetected    Rule = "tick-detected"    // beacons whose values sit on 15.6/16 ms steps: samples dropped
	RuleDNSDuplicate    Rule = "dns-duplicate"    // repeated queries for one test name: first wins, the rest counted
	RuleDNSUnjoined     Rule = "dns-unjoined"     // beacons whose DNS test name never reached the server
)

// Clean is what a read keeps: the split and the cleaning rules' settings.
// Zero durations take the defaults (Defaults).
type Clean struct {
	Split         Split
	HoldOut       float64       // share of beacons held out; <= 0: none
	MaxRTT        time.Duration // impossible-rtt ceiling; default 30 s
	MaxClockAhead time.Duration // bad-clock: sample time after received by more; default 24 h
	MaxAge        time.Duration // bad-clock: sample time before received by more; default 30 days
	Skip          map[Rule]bool // rules switched off
	// EdgeRTT includes the edge access logs' TCP RTTs (beacons of kind
	// EdgeKind), each for the PoP that served it only, never held out.
	// Without it they are skipped and PoPs only they name are not PoPs.
	EdgeRTT bool
	// Since, when not zero, reads only the beacons received at or after
	// it: a window over the store (the builder's --window, and its recent
	// window for change detection). Beacons received before it are not
	// read at all: no rule counts them and their networks are not listed.
	Since time.Time
}

// SinceUS is Since in µs since the epoch (store.UnixMicro), or MinTimeUS-1
// when Since is zero: every beacon is received at or after it.
func (c *Clean) SinceUS() int64 {
	if c.Since.IsZero() {
		return MinTimeUS - 1
	}
	return UnixMicro(c.Since)
}

// Defaults fills zero settings.
func (c *Clean) Defaults() {
	if c.MaxRTT == 0 {
		c.MaxRTT = 30 * time.Second
	}
	if c.MaxClockAhead == 0 {
		c.MaxClockAhead = 24 * time.Hour
	}
	if c.MaxAge == 0 {
		c.MaxAge = 30 * 24 * time.Hour
	}
}

// AnycastPoP is the PoP index of a Cell holding a network's samples to the
// anycast address (whatever PoP served them).
const AnycastPoP = math.MaxUint16

// Cell is one client network's kept samples to one PoP: how many, and the
// two order statistics the pinned quantile interpolates between.
type Cell struct {
	Network uint64 // NetworkKey
	PoP     uint16 // index in Aggregate.PoPs, or AnycastPoP
	Count   uint32
	// Lo and Hi are the RTTs (as float32) at 0-based ranks ⌊q·(Count−1)⌋
	// and the next one (Hi = Lo at the last rank) of the cell's samples in
	// increasing order.
	Lo, Hi float32
}

// Quantile is the pinned quantile definition, the one every engine's
// aggregate and the builder use: the sample values rounded to float32,
// sorted; position h = q·(n−1) (0-based), i = ⌊h⌋; the value is
// x[i] + (h−i)·(x[i+1]−x[i]) computed in float64 as x[i]·(1−f) + x[i+1]·f
// with f = h−i, and x[n−1] when i ≥ n−1. It is DuckDB's quantile_cont
// (Hyndman and Fan's type 7, numpy's default) on float32 values: on
// [1,2,3,4] at 0.75 it gives 3.25. NaN for no values.
func Quantile(sorted []float32, q float64) float64 {
	n := len(sorted)
	if n == 0 {
		return math.NaN()
	}
	i := QuantileRank(n, q)
	if i >= n-1 {
		return float64(sorted[n-1])
	}
	return interpolate(sorted[i], sorted[i+1], n, q)
}

// QuantileRank is i = ⌊q·(n−1)⌋ of Quantile.
func QuantileRank(n int, q float64) int {
	return int(q * float64(n-1))
}

func interpolate(lo, hi float32, n int, q float64) float64 {
	pos := q * float64(n-1)
	f := pos - float64(int(pos))
	if f == 0 {
		return float64(lo)
	}
	return float64(lo)*(1-f) + float64(hi)*f
}

// Value is the cell's quantile q (the q its Aggregate was read at).
func (c *Cell) Value(q float64) float64 {
	if c.Count == 0 {
		return math.NaN()
	}
	if QuantileRank(int(c.Count), q) >= int(c.Count)-1 {
		return float64(c.Lo)
	}
	return interpolate(c.Lo, c.Hi, int(c.Count), q)
}

// NetworkCells is network's cells (anycast last), found by binary search
// in Cells (sorted by network): nil when it has none.
func (a *Aggregate) NetworkCells(network uint64) []Cell {
	i := sort.Search(len(a.Cells), func(i int) bool { return a.Cells[i].Network >= network })
	j := i
	for j < len(a.Cells) && a.Cells[j].Network == network {
		j++
	}
	return a.Cells[i:j:j]
}

// NetworkAgg is one client network with a beacon in the read's split.
type NetworkAgg struct {
	Network uint64 // NetworkKey
	Beacons int32  // beacons with at least one sample kept
	// RUMSamples and EdgeSamples count its kept samples to PoPs (not
	// anycast) from beacons and from edge logs.
	RUMSamples, EdgeSamples int64
}

// Aggregate is a store's cleaned samples, aggregated per (network, PoP).
type Aggregate struct {
	Quantile float64  // the q the cells' order statistics are at
	PoPs     []string // PoP labels: the sample targets (not "anycast"), sorted
	// Networks is sorted by Network; Cells by (Network, PoP), anycast last.
	Networks []NetworkAgg
	Cells    []Cell
	Counts   map[Rule]int // samples (beacons for duplicate-beacon and bad-network) each rule dropped
}

// ResolverClients is one (resolver, client network) pair of the DNS join:
// beacons of the network whose DNS test name reached the server through
// the resolver, and how many of those queries carried ECS.
type ResolverClients struct {
	Resolver netip.Addr // unmapped
	Network  uint64
	N, ECS   int64
}

// Join is the beacons' DNS test names joined with the query log: for each
// test name the first query (by time) gives its resolver and whether it
// carried ECS, unless RuleDNSDuplicate is skipped (then every query
// counts). Names are compared lowercased, without the query's trailing
// dots.
type Join struct {
	Queries int64 // rows of the query log
	Names   int64 // distinct (normalized) query names
	Tests   int64 // beacons of the split with a DNS test name
	// Rows is sorted by (resolver as text, network).
	Rows []ResolverClients
}

// Reader is the read side of a store that the map builder and the
// evaluator use.
type Reader interface {
	// Aggregate applies the cleaning rules c to the stored beacons and
	// returns, per (network, PoP) with kept samples, the count and the
	// order statistics of quantile q.
	Aggregate(ctx context.Context, c Clean, q float64) (*Aggregate, error)
	// JoinDNS joins the split's DNS test names with the query log.
	JoinDNS(ctx context.Context, c Clean) (*Join, error)
}

// IsTickTimer reports whether a declared timer name is a coarse, tick-
// counting clock (Windows GetTickCount/GetTickCount64, timeGetTime, ...):
// the name, lowercased, contains "tick" or is "timegettime", "gettime" or
// "date".
func IsTickTimer(name string) bool {
	n := strings.ToLower(name)
	return strings.Contains(n, "tick") || n == "timegettime" || n == "gettime" || n == "date"
}

// Quantized reports whether a beacon's kept RTTs look like a tick-counting
// timer's: at least 5 values, and 90 % of them (⌈0.9·n⌉) at least 5 ms and
// within 1 ms of a multiple of 15.625 ms (the 64 Hz Windows tick, read
// rounded or truncated to whole ms: 15, 31, 46, 62, ...) or of 16 ms.
// Values from a fine clock land that close by chance one time in 8: nine in
// ten of five or more is a chance of 4e-5 or less.
func Quantized(rtts []float64) bool {
	if len(rtts) < 5 {
		return false
	}
	a, b := 0, 0
	for _, v := range rtts {
		if NearTick(v, 15.625) {
			a++
		}
		if NearTick(v, 16) {
			b++
		}
	}
	need := (len(rtts)*9 + 9) / 10
	return a >= need || b >= need
}

// NearTick is Quantized's test of one value against a step.
func NearTick(v, step float64) bool {
	d := v - math.Round(v/step)*step
	return v >= 5 && math.Abs(d) <= 1
}

// Spread model: an aggregate keeps, per (network, PoP), the count and the
// order statistics of one quantile, not the dispersion. The measurement
// planner and the builder's change detection take a sample's spread
// around a network's p75 to be SpreadBase ms plus SpreadShare of the p75
// (RTT noise grows with the path: queues, Wi-Fi, the hosts of a /24 on
// different access links).
const (
	SpreadBase  = 2.0
	SpreadShare = 0.15
)

// Spread is the spread model's per-sample dispersion (ms) of a cell whose
// quantile is v ms.
func Spread(v float64) float64 { return SpreadBase + SpreadShare*v }
