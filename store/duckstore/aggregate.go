package duckstore

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"

	"github.com/steer-gslb/steer/rum"
	"github.com/steer-gslb/steer/store"
)

// Aggregate implements store.Reader: the cleaning rules run in Go over
// the columns DuckDB hands out in chunks (every sample is read once), and
// each (network, PoP)'s kept RTTs are sorted to take the order statistics
// of the pinned quantile.
func (s *DB) Aggregate(ctx context.Context, c store.Clean, q float64) (*store.Aggregate, error) {
	if !(q >= 0 && q <= 1) {
		return nil, fmt.Errorf("duckstore: quantile %v outside [0, 1]", q)
	}
	c.Defaults()
	l := &loader{st: s, opt: &c, netIndex: map[uint64]int32{}, https: uint8(rum.ProbeHTTPS), cnt: map[store.Rule]int{}}
	// one consistent read: writes wait (Read)
	if err := s.Read(func() error {
		if err := l.loadDict(ctx); err != nil {
			return err
		}
		if err := l.loadBeacons(ctx, c.Split); err != nil {
			return err
		}
		return l.loadSamples(ctx)
	}); err != nil {
		return nil, err
	}
	return l.aggregate(q), nil
}

// network is one client network's kept samples while they are read.
type network struct {
	key     uint64
	beacons int32
	// samples per PoP, packed pop<<32 | rttKey(RTT); sorted, the samples
	// of PoP p are a run in increasing RTT
	packed  []uint64
	anycast []uint32 // rttKey of samples to the anycast address
}

const noPoP = 0xffff

func (l *loader) add(r store.Rule, n int) {
	if n != 0 {
		l.cnt[r] += n
	}
}

// aggregate sorts every network's samples (in parallel) and takes its
// cells.
func (l *loader) aggregate(q float64) *store.Aggregate {
	agg := &store.Aggregate{Quantile: q, PoPs: l.pops, Counts: l.cnt}
	order := make([]int32, len(l.nets))
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortFunc(order, func(a, b int32) int {
		switch ka, kb := l.nets[a].key, l.nets[b].key; {
		case ka < kb:
			return -1
		case ka > kb:
			return 1
		}
		return 0
	})
	agg.Networks = make([]store.NetworkAgg, len(order))
	// two passes, both parallel: sort each network's samples and count its
	// cells; then write the cells in place into one slice (no second copy
	// of ~20M cells at 100M samples)
	ncells := make([]int, len(order)+1)
	parallel := func(fn func(j int)) {
		var wg sync.WaitGroup
		workers := runtime.GOMAXPROCS(0)
		for w := range workers {
			wg.Go(func() {
				for j := w; j < len(order); j += workers {
					fn(j)
				}
			})
		}
		wg.Wait()
	}
	parallel(func(j int) {
		i := order[j]
		n := &l.nets[i]
		agg.Networks[j] = store.NetworkAgg{Network: n.key, Beacons: n.beacons,
			RUMSamples: int64(l.rumN[i]), EdgeSamples: int64(l.edgeN[i])}
		slices.Sort(n.packed)
		slices.Sort(n.anycast)
		k := 0
		for a := 0; a < len(n.packed); a++ {
			if a == 0 || n.packed[a]>>32 != n.packed[a-1]>>32 {
				k++
			}
		}
		if len(n.anycast) > 0 {
			k++
		}
		ncells[j+1] = k
	})
	for j := range order {
		ncells[j+1] += ncells[j]
	}
	agg.Cells = make([]store.Cell, ncells[len(order)])
	parallel(func(j int) {
		n := &l.nets[order[j]]
		out := agg.Cells[ncells[j]:ncells[j]:ncells[j+1]]
		for a := 0; a < len(n.packed); {
			p := n.packed[a] >> 32
			b := a
			for b < len(n.packed) && n.packed[b]>>32 == p {
				b++
			}
			out = append(out, cell(n.key, uint16(p), b-a, q, func(k int) float32 { return rttValue(n.packed[a+k]) }))
			a = b
		}
		if len(n.anycast) > 0 { // the last cell
			agg.Cells[ncells[j+1]-1] = cell(n.key, store.AnycastPoP, len(n.anycast), q, func(k int) float32 { return rttValue(uint64(n.anycast[k])) })
		}
		n.packed, n.anycast = nil, nil
	})
	return agg
}

// cell is the Cell of n sorted values (at(k) is the k-th).
func cell(key uint64, pop uint16, n int, q float64, at func(int) float32) store.Cell {
	i := store.QuantileRank(n, q)
	return store.Cell{Network: key, PoP: pop, Count: uint32(n), Lo: at(i), Hi: at(min(i+1, n-1))}
}

// rttKey maps an RTT to 32 bits whose unsigned order is the values' order
// (as float32; negative ones included, which reach here only with
// impossible-rtt switched off); rttValue is its inverse.
func rttKey(v float64) uint64 {
	b := math.Float32bits(float32(v))
	if b&(1<<31) != 0 {
		return uint64(^b)
	}
	return uint64(b | 1<<31)
}

func rttValue(k uint64) float32 {
	b := uint32(k)
	if b&(1<<31) != 0 {
		return math.Float32frombits(b &^ (1 << 31))
	}
	return math.Float32frombits(^b)
}

// loader reads the store through its C API in chunks and applies the
// cleaning rules (store.Clean) sample by sample and beacon by beacon.
type loader struct {
	st   *DB
	opt  *store.Clean
	cnt  map[store.Rule]int
	dict map[uint32]string

	popIndex []int32 // dict id → index in pops, -1 if the id is not a PoP label (a slice: looked up per sample)
	pops     []string
	anycast  uint32 // dict id of "anycast"
	edge     uint32 // dict id of store.EdgeKind, 0 if none
	https    uint8
	tickIDs  map[uint32]bool // dict ids of tick-class timer names

	// beacons, indexed by seq - seq0
	seq0   uint64
	bIndex []int32 // beacon slot, -1 = not used
	bNet   []int32 // slot → network index
	bRecv  []int64 // slot → received, µs
	bTick  []bool  // slot → declared tick timer
	bEdge  []bool  // slot → an edge log's TCP RTT (Options.EdgeRTT)

	nets     []network
	netIndex map[uint64]int32
	edgeN    []int32 // per network: edge RTT samples kept
	rumN     []int32 // per network: beacon (not edge) samples of PoPs kept
}

func (l *loader) loadDict(ctx context.Context) error {
	rows, err := l.st.Query(ctx, `SELECT id, value FROM dict ORDER BY id`)
	if err != nil {
		return err
	}
	defer func() { _ = rows.Close() }()
	l.dict = map[uint32]string{}
	for rows.Next() {
		var id uint32
		var v string
		if err := rows.Scan(&id, &v); err != nil {
			return err
		}
		l.dict[id] = v
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for id, v := range l.dict {
		if v == store.EdgeKind {
			l.edge = id
		}
	}
	// PoP labels: the sample targets. Which dict ids are targets is in
	// the samples table; a label-shaped value that is never a target costs
	// nothing but a column in the arrays.
	q := `SELECT DISTINCT target FROM samples`
	if l.edge != 0 && !l.opt.EdgeRTT {
		// PoPs only edge logs name are not targets of this build.
		q = fmt.Sprintf(`SELECT DISTINCT target FROM samples WHERE seq NOT IN (SELECT seq FROM beacons WHERE kind = %d)`, l.edge)
	}
	trows, err := l.st.Query(ctx, q)
	if err != nil {
		return err
	}
	defer func() { _ = trows.Close() }()
	var labels []string
	ids := map[string]uint32{}
	for trows.Next() {
		var id uint32
		if err := trows.Scan(&id); err != nil {
			return err
		}
		v := l.dict[id]
		if v == "anycast" {
			l.anycast = id
			continue
		}
		labels = append(labels, v)
		ids[v] = id
	}
	if err := trows.Err(); err != nil {
		return err
	}
	slices.Sort(labels)
	if len(labels) > noPoP {
		return fmt.Errorf("duckstore: %d sample targets, more than %d", len(labels), noPoP)
	}
	l.pops = labels
	maxID := uint32(0)
	for id := range l.dict {
		maxID = max(maxID, id)
	}
	l.popIndex = make([]int32, int(maxID)+1)
	for i := range l.popIndex {
		l.popIndex[i] = -1
	}
	for i, lb := range labels {
		l.popIndex[ids[lb]] = int32(i)
	}
	l.tickIDs = map[uint32]bool{}
	for id, v := range l.dict {
		if store.IsTickTimer(v) {
			l.tickIDs[id] = true
		}
	}
	return nil
}

// pop is the PoP index of a dict id, or -1.
func (l *loader) pop(id uint32) int32 {
	if int(id) < len(l.popIndex) {
		return l.popIndex[id]
	}
	return -1
}

func (l *loader) loadBeacons(ctx context.Context, split store.Split) error {
	// seq range first, to index beacons by seq in an array
	var lo, hi, count uint64
	row := l.st.DB().QueryRowContext(ctx, `SELECT coalesce(min(seq), 0), coalesce(max(seq), 0), count(*) FROM beacons`)
	if err := row.Scan(&lo, &hi, &count); err != nil {
		return fmt.Errorf("duckstore: reading beacons: %w", err)
	}
	if count == 0 {
		return nil
	}
	if span := hi - lo + 1; span > 4*count+1<<20 {
		return fmt.Errorf("builder: beacon sequence numbers span %d for %d beacons", span, count)
	}
	l.seq0 = lo
	l.bIndex = make([]int32, hi-lo+1)
	for i := range l.bIndex {
		l.bIndex[i] = -1
	}
	var sampleCount []int32 // per network
	seen := map[uint64]struct{}{}
	since := l.opt.SinceUS()
	err := l.st.ScanChunks(ctx, `SELECT seq, id, network, epoch_us(received), timer, samples, kind FROM beacons`, func(c *Chunk) error {
		seqs := Column[uint64](c, 0)
		ids := Column[uint64](c, 1)
		nets := Column[uint64](c, 2)
		recv := Column[int64](c, 3)
		timers := Column[uint32](c, 4)
		ns := Column[uint16](c, 5)
		kinds := Column[uint32](c, 6)
		for r := range c.Len() {
			edge := l.edge != 0 && kinds[r] == l.edge
			if edge && (!l.opt.EdgeRTT || split == store.HoldoutBeacons) {
				continue // not asked for; never held out for scoring
			}
			if _, dup := seen[ids[r]]; dup && !l.opt.Skip[store.RuleDuplicateBeacon] {
				l.add(store.RuleDuplicateBeacon, 1)
				continue
			}
			seen[ids[r]] = struct{}{}
			if recv[r] < since {
				// outside the read's window (Clean.Since); after the
				// duplicate test, so that a beacon first received before
				// Since is not read from a later delivery either (as
				// ClickHouse's FINAL keeps the earliest receipt)
				continue
			}
			switch held := store.IsHeldOut(ids[r], l.opt.HoldOut) && !edge; {
			case split == store.TrainBeacons && held, split == store.HoldoutBeacons && !held:
				continue
			}
			ni, ok := l.netIndex[nets[r]]
			if !ok {
				pfx := store.NetworkPrefix(nets[r])
				if !pfx.IsValid() {
					l.add(store.RuleBadNetwork, 1)
					continue
				}
				ni = int32(len(l.nets))
				l.netIndex[nets[r]] = ni
				l.nets = append(l.nets, network{key: nets[r]})
				sampleCount = append(sampleCount, 0)
				l.edgeN = append(l.edgeN, 0)
				l.rumN = append(l.rumN, 0)
			}
			slot := int32(len(l.bNet))
			l.bIndex[seqs[r]-lo] = slot
			l.bNet = append(l.bNet, ni)
			l.bRecv = append(l.bRecv, recv[r])
			l.bTick = append(l.bTick, l.tickIDs[timers[r]])
			l.bEdge = append(l.bEdge, edge)
			sampleCount[ni] += int32(ns[r])
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("duckstore: reading beacons: %w", err)
	}
	// one backing array for every network's samples
	total := 0
	for _, n := range sampleCount {
		total += int(n)
	}
	backing := make([]uint64, total)
	off := 0
	for i, n := range sampleCount {
		l.nets[i].packed = backing[off : off : off+int(n)]
		off += int(n)
	}
	return nil
}

// pending is one beacon's samples while its cleaning decision is open.
type pending struct {
	slot int32
	pops []int32 // -1: anycast
	rtts []float64
}

func (l *loader) loadSamples(ctx context.Context) error {
	if len(l.bNet) == 0 {
		return nil
	}
	var cur pending
	cur.slot = -1
	maxRTT := l.opt.MaxRTT.Seconds() * 1000
	future := l.opt.MaxClockAhead.Microseconds()
	past := l.opt.MaxAge.Microseconds()
	err := l.st.ScanChunks(ctx, `SELECT seq, epoch_us(ts), target, probe, rtt_ms, served_by FROM samples`, func(c *Chunk) error {
		seqs := Column[uint64](c, 0)
		ts := Column[int64](c, 1)
		targets := Column[uint32](c, 2)
		probes := Column[uint8](c, 3)
		rtts := Column[float64](c, 4)
		served := Column[uint32](c, 5)
		for r := range c.Len() {
			s := seqs[r] - l.seq0
			if seqs[r] < l.seq0 || s >= uint64(len(l.bIndex)) {
				continue
			}
			slot := l.bIndex[s]
			if slot < 0 {
				continue // a beacon not in this split, or a duplicate
			}
			if slot != cur.slot {
				l.flush(&cur)
				cur.slot = slot
			}
			edge := l.bEdge[slot]
			if edge && (targets[r] == l.anycast || targets[r] != served[r]) {
				continue // an edge RTT counts for the PoP that served it only
			}
			if probes[r] != l.https && !edge && !l.opt.Skip[store.RuleHTTPSOnly] {
				l.add(store.RuleHTTPSOnly, 1)
				continue
			}
			v := rtts[r]
			if !l.opt.Skip[store.RuleImpossibleRTT] && (!(v >= 0.001) || v > maxRTT) {
				l.add(store.RuleImpossibleRTT, 1)
				continue
			}
			if !l.opt.Skip[store.RuleBadClock] {
				recv := l.bRecv[slot]
				if ts[r] > recv+future || ts[r] < recv-past {
					l.add(store.RuleBadClock, 1)
					continue
				}
			}
			p := int32(-1) // anycast
			if targets[r] != l.anycast {
				if p = l.pop(targets[r]); p < 0 {
					continue
				}
			}
			cur.pops = append(cur.pops, p)
			cur.rtts = append(cur.rtts, v)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("duckstore: reading samples: %w", err)
	}
	l.flush(&cur)
	return nil
}

// flush applies the per-beacon rules to a beacon's samples and keeps them.
func (l *loader) flush(cur *pending) {
	defer func() { cur.pops, cur.rtts = cur.pops[:0], cur.rtts[:0] }()
	if cur.slot < 0 || len(cur.rtts) == 0 {
		return
	}
	if l.bTick[cur.slot] && !l.opt.Skip[store.RuleTickTimer] {
		l.add(store.RuleTickTimer, len(cur.rtts))
		return
	}
	if !l.opt.Skip[store.RuleTickDetected] && store.Quantized(cur.rtts) {
		l.add(store.RuleTickDetected, len(cur.rtts))
		return
	}
	ni := l.bNet[cur.slot]
	n := &l.nets[ni]
	n.beacons++
	counter := &l.rumN[ni]
	if l.bEdge[cur.slot] {
		counter = &l.edgeN[ni]
	}
	for i, v := range cur.rtts {
		f := rttKey(v)
		if cur.pops[i] < 0 {
			n.anycast = append(n.anycast, uint32(f))
			continue
		}
		*counter++
		if len(n.packed) < cap(n.packed) {
			n.packed = append(n.packed, uint64(cur.pops[i])<<32|f)
		}
	}
}
