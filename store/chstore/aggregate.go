package chstore

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/steer-gslb/steer/rum"
	"github.com/steer-gslb/steer/store"
)

// Aggregate implements store.Reader, pushed down: every node runs the
// cleaning rules and the per (network, PoP) aggregation over its own
// local table (a network's beacons live on one shard), and returns only
// cells, per-network counters and rule counts, which are merged here. The
// rules follow the DuckDB store's loader rule by rule (see aggregateSQL).
//
// Two small reads come first, through the Distributed table: the PoP
// labels (every sample target but anycast, over all beacons; without
// EdgeRTT not those of edge logs) and the distinct timer names, which Go
// classifies with store.IsTickTimer. ClickHouse has no snapshot across
// statements: beacons added while Aggregate runs may or may not count.
func (s *Store) Aggregate(ctx context.Context, c store.Clean, q float64) (*store.Aggregate, error) {
	if s.closed.Load() {
		return nil, errClosed
	}
	if !(q >= 0 && q <= 1) {
		return nil, fmt.Errorf("chstore: quantile %v outside [0, 1]", q)
	}
	c.Defaults()
	pops, ticks, err := s.labels(ctx, c.EdgeRTT)
	if err != nil {
		return nil, err
	}
	query := aggregateSQL(s.beaconsLocal, &c, q, ticks)
	settings := s.readSettings()
	m := newMerge(pops)
	err = s.eachNode(func(n node) error {
		return s.c.query(ctx, n.addr, query, m.read, settings...)
	})
	if err != nil {
		return nil, fmt.Errorf("aggregating samples: %w", err)
	}
	return m.result(q)
}

// labels reads the PoP labels and the tick-counting timers' names.
func (s *Store) labels(ctx context.Context, edgeRTT bool) (pops, ticks []string, err error) {
	targets := `target`
	if !edgeRTT {
		targets = `if(kind = ` + quote(store.EdgeKind) + `, emptyArrayString(), target)`
	}
	err = s.query1(ctx, `SELECT groupUniqArrayArray(`+targets+`), groupUniqArray(timer) FROM `+s.beacons, func(r *rowReader) error {
		for r.more() {
			for range r.uvarint() {
				if t := r.str(); t != rum.Anycast {
					pops = append(pops, t)
				}
			}
			for range r.uvarint() {
				if t := r.str(); store.IsTickTimer(t) {
					ticks = append(ticks, t)
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("reading PoP labels and timers: %w", err)
	}
	slices.Sort(pops)
	slices.Sort(ticks)
	if len(pops) >= store.AnycastPoP {
		return nil, nil, fmt.Errorf("chstore: %d sample targets, more than %d", len(pops), store.AnycastPoP-1)
	}
	return pops, ticks, nil
}

// Sample fates: aggregateSQL's code array.
const (
	fateIgnored    = 0 // an edge RTT of another PoP, or anycast: not counted anywhere
	fateHTTPSOnly  = 1
	fateImpossible = 2
	fateBadClock   = 3
	fateKept       = 4
)

// Beacon fates: what the per-beacon rules did with its surviving samples.
const (
	beaconEmpty        = 0 // no sample survived
	beaconTickTimer    = 1
	beaconTickDetected = 2
	beaconKept         = 3
)

// aggregateSQL is the per-shard aggregation over a local beacons table,
// the DuckDB store's loader in SQL:
//
// Beacons (each once: FINAL keeps the earliest receipt of one stored
// twice): edge-log beacons only with EdgeRTT and never in the held-out
// split; the split by IsHeldOut on the ID (edge beacons never held out).
//
// Samples of a beacon, tested in this order: an edge beacon's sample
// counts only for the PoP that served it (target = served, not anycast),
// silently; https-only (not for edge beacons); impossible-rtt
// (!(v >= 0.001) || v > MaxRTT ms); bad-clock (ts against received, µs).
//
// Then per beacon on its surviving RTTs (anycast ones included): a
// declared tick-counting timer drops them all (tick-timer), else a
// quantized set drops them all (tick-detected, store.Quantized in SQL);
// else the beacon is kept.
//
// The kept samples are grouped per (network, target): the count, and the
// float32 RTTs sorted, of which the order statistics at 0-based ranks
// ⌊q·(n−1)⌋ and the next are returned. A beacon with no kept sample
// still yields one row for its network (pop ""), carrying its counts: a
// network with a beacon in the split is a network of the result. The
// rule counts ride on one row per beacon (its first).
func aggregateSQL(table string, c *store.Clean, q float64, ticks []string) string {
	edge := `kind = ` + quote(store.EdgeKind)
	anycast := quote(rum.Anycast)
	var where []string
	if !c.EdgeRTT || c.Split == store.HoldoutBeacons {
		where = append(where, `NOT (`+edge+`)`)
	}
	held := `0`
	if c.HoldOut > 0 {
		held = `(intDiv(id, 128) % 10000 < ` + float64SQL(c.HoldOut*10000) + ` AND NOT (` + edge + `))`
	}
	if !c.Since.IsZero() {
		where = append(where, `received >= `+int64SQL(c.SinceUS()))
	}
	switch c.Split {
	case store.TrainBeacons:
		where = append(where, `NOT `+held)
	case store.HoldoutBeacons:
		where = append(where, held)
	}
	if len(where) == 0 {
		where = append(where, `1`)
	}
	tick := `0`
	if len(ticks) > 0 && !c.Skip[store.RuleTickTimer] {
		tick = `has(` + quoteList(ticks) + `, timer)`
	}

	// per sample: t target, s served, p probe, v rtt, x ts, e edge, r
	// received (lambdas get no column from outside: 18.16 prunes a column
	// of a subquery that only a lambda uses, hence replicate)
	fate := []string{`e AND (t = ` + anycast + ` OR t != s), ` + strconv.Itoa(fateIgnored)}
	if !c.Skip[store.RuleHTTPSOnly] {
		fate = append(fate, `p != `+strconv.Itoa(int(rum.ProbeHTTPS))+` AND NOT e, `+strconv.Itoa(fateHTTPSOnly))
	}
	if !c.Skip[store.RuleImpossibleRTT] {
		maxRTT := c.MaxRTT.Seconds() * 1000
		fate = append(fate, `NOT (v >= `+float64SQL(0.001)+`) OR v > `+float64SQL(maxRTT)+`, `+strconv.Itoa(fateImpossible))
	}
	if !c.Skip[store.RuleBadClock] {
		fate = append(fate, `x > r + `+int64SQL(c.MaxClockAhead.Microseconds())+
			` OR x < r - `+int64SQL(c.MaxAge.Microseconds())+`, `+strconv.Itoa(fateBadClock))
	}
	fate = append(fate, strconv.Itoa(fateKept))

	// store.Quantized over kv (n values)
	near := func(step string) string {
		return `arrayCount(v -> v >= 5 AND abs(v - round(v / ` + step + `) * ` + step + `) <= 1, kv) >= intDiv(n * 9 + 9, 10)`
	}
	quantized := `0`
	if !c.Skip[store.RuleTickDetected] {
		quantized = `(n >= 5 AND (` + near(float64SQL(15.625)) + ` OR ` + near(`16`) + `))`
	}
	kept := strconv.Itoa(fateKept)

	return `SELECT network, pop, beacons, kept_beacons, n_https, n_impossible, n_clock, n_tick_timer, n_tick_detected, rum, edge_n, cnt,
	arrayElement(xs, i + 1) AS lo, arrayElement(xs, least(i + 2, cnt)) AS hi
FROM (
	SELECT network, pop,
		toUInt64(countIf(k <= 1)) AS beacons,
		toUInt64(countIf(k <= 1 AND fate = ` + strconv.Itoa(beaconKept) + `)) AS kept_beacons,
		toUInt64(sumIf(n_https, k <= 1)) AS n_https,
		toUInt64(sumIf(n_impossible, k <= 1)) AS n_impossible,
		toUInt64(sumIf(n_clock, k <= 1)) AS n_clock,
		toUInt64(sumIf(n, k <= 1 AND fate = ` + strconv.Itoa(beaconTickTimer) + `)) AS n_tick_timer,
		toUInt64(sumIf(n, k <= 1 AND fate = ` + strconv.Itoa(beaconTickDetected) + `)) AS n_tick_detected,
		toUInt64(countIf(k >= 1 AND NOT edge AND pop != ` + anycast + `)) AS rum,
		toUInt64(countIf(k >= 1 AND edge)) AS edge_n,
		toUInt32(countIf(k >= 1)) AS cnt,
		arraySort(groupArrayIf(toFloat32(v), k >= 1)) AS xs,
		toUInt32(` + float64SQL(q) + ` * (greatest(cnt, 1) - 1)) AS i
	FROM (
		SELECT network, edge, fate, n, n_https, n_impossible, n_clock,
			if(fate = ` + strconv.Itoa(beaconKept) + `, kt, emptyArrayString()) AS pt,
			if(fate = ` + strconv.Itoa(beaconKept) + `, kv, emptyArrayFloat64()) AS pv
		FROM (
			SELECT network, edge,
				arrayFilter((t, f) -> f = ` + kept + `, target, code) AS kt,
				arrayFilter((v, f) -> f = ` + kept + `, rtt, code) AS kv,
				length(kv) AS n,
				arrayCount(f -> f = ` + strconv.Itoa(fateHTTPSOnly) + `, code) AS n_https,
				arrayCount(f -> f = ` + strconv.Itoa(fateImpossible) + `, code) AS n_impossible,
				arrayCount(f -> f = ` + strconv.Itoa(fateBadClock) + `, code) AS n_clock,
				multiIf(n = 0, ` + strconv.Itoa(beaconEmpty) + `, tick, ` + strconv.Itoa(beaconTickTimer) + `,
					` + quantized + `, ` + strconv.Itoa(beaconTickDetected) + `, ` + strconv.Itoa(beaconKept) + `) AS fate
			FROM (
				SELECT network, edge, tick, target, rtt,
					arrayMap((t, s, p, v, x, e, r) -> multiIf(` + strings.Join(fate, `, `) + `),
						target, served, probe, rtt, ts, replicate(edge, ts), replicate(received, ts)) AS code
				FROM (
					SELECT network, ` + edge + ` AS edge, ` + tick + ` AS tick, received, ts, target, probe, rtt, served
					FROM ` + table + ` FINAL
					WHERE ` + strings.Join(where, ` AND `) + `
				)
			)
		)
	)
	LEFT ARRAY JOIN pt AS pop, pv AS v, arrayEnumerate(pt) AS k
	GROUP BY network, pop
)`
}

// merge collects the shards' rows of aggregateSQL.
type merge struct {
	mu       sync.Mutex
	pops     []string
	labels   map[string]uint16 // label → index in labelStr (the shards' rows)
	labelStr []string
	nets     map[uint64]*store.NetworkAgg
	cells    []rawCell
	counts   map[store.Rule]int
}

type rawCell struct {
	network uint64
	label   uint16 // index in labelStr
	count   uint32
	lo, hi  float32
}

func newMerge(pops []string) *merge {
	return &merge{pops: pops, labels: map[string]uint16{}, nets: map[uint64]*store.NetworkAgg{}, counts: map[store.Rule]int{}}
}

// read consumes one shard's rows.
func (m *merge) read(r *rowReader) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for r.more() {
		network := r.u64()
		label := r.bytes()
		li, ok := m.labels[string(label)]
		if !ok && r.err == nil {
			if len(m.labelStr) >= math.MaxUint16 {
				return fmt.Errorf("chstore: more than %d sample targets", math.MaxUint16)
			}
			li = uint16(len(m.labelStr))
			m.labelStr = append(m.labelStr, string(label))
			m.labels[string(label)] = li
		}
		beacons, keptBeacons := r.u64(), r.u64()
		https, impossible, clock, tickTimer, tickDetected := r.u64(), r.u64(), r.u64(), r.u64(), r.u64()
		rumN, edgeN := r.u64(), r.u64()
		cnt := r.u32()
		lo, hi := r.f32(), r.f32()
		if r.err != nil {
			return nil
		}
		if !store.NetworkPrefix(network).IsValid() {
			// bad-network: the beacon is dropped before any sample rule
			m.add(store.RuleBadNetwork, beacons)
			continue
		}
		m.add(store.RuleHTTPSOnly, https)
		m.add(store.RuleImpossibleRTT, impossible)
		m.add(store.RuleBadClock, clock)
		m.add(store.RuleTickTimer, tickTimer)
		m.add(store.RuleTickDetected, tickDetected)
		na := m.nets[network]
		if na == nil {
			na = &store.NetworkAgg{Network: network}
			m.nets[network] = na
		}
		na.Beacons += int32(keptBeacons)
		na.RUMSamples += int64(rumN)
		na.EdgeSamples += int64(edgeN)
		if cnt > 0 {
			m.cells = append(m.cells, rawCell{network, li, cnt, lo, hi})
		}
	}
	return nil
}

func (m *merge) add(r store.Rule, n uint64) {
	if n != 0 {
		m.counts[r] += int(n)
	}
}

// result sorts what the shards returned into an Aggregate. A label in the
// cells that the PoP read did not see (a beacon added in between) joins
// the PoPs.
func (m *merge) result(q float64) (*store.Aggregate, error) {
	pops := m.pops
	for _, l := range m.labelStr {
		if l != "" && l != rum.Anycast {
			if _, found := slices.BinarySearch(pops, l); !found {
				pops = append(pops, l)
				slices.Sort(pops)
			}
		}
	}
	if len(pops) >= store.AnycastPoP {
		return nil, fmt.Errorf("chstore: %d sample targets, more than %d", len(pops), store.AnycastPoP-1)
	}
	index := make([]uint16, len(m.labelStr))
	for i, l := range m.labelStr {
		if l == rum.Anycast {
			index[i] = store.AnycastPoP
			continue
		}
		p, _ := slices.BinarySearch(pops, l)
		index[i] = uint16(p)
	}
	agg := &store.Aggregate{Quantile: q, PoPs: pops, Counts: m.counts}
	agg.Networks = make([]store.NetworkAgg, 0, len(m.nets))
	for _, n := range m.nets {
		agg.Networks = append(agg.Networks, *n)
	}
	slices.SortFunc(agg.Networks, func(a, b store.NetworkAgg) int { return cmp.Compare(a.Network, b.Network) })
	agg.Cells = make([]store.Cell, len(m.cells))
	for i, c := range m.cells {
		agg.Cells[i] = store.Cell{Network: c.network, PoP: index[c.label], Count: c.count, Lo: c.lo, Hi: c.hi}
	}
	slices.SortFunc(agg.Cells, func(a, b store.Cell) int {
		if c := cmp.Compare(a.Network, b.Network); c != 0 {
			return c
		}
		return cmp.Compare(a.PoP, b.PoP)
	})
	if len(agg.Networks) == 0 {
		agg.Networks = nil
	}
	if len(agg.Cells) == 0 {
		agg.Cells = nil
	}
	return agg, nil
}
