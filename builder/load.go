package builder

import (
	"context"
	"fmt"
	"math"
	"net/netip"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/steer-gslb/steer/popmap"
	"github.com/steer-gslb/steer/rum"
	"github.com/steer-gslb/steer/store"
)

// Data is what the builder (or the evaluator) keeps of the store after
// cleaning: per client network its samples, per PoP sorted by RTT, and
// the networks' anycast observations.
type Data struct {
	PoPs     []popmap.Label // PoP labels seen as sample targets, sorted
	Networks []Network
	Counts   Counts // what the cleaning rules did
	Beacons  int    // beacons used
	Samples  int    // samples used
}

// Network is one client subnet's cleaned measurements.
type Network struct {
	Key     uint64 // store.NetworkKey
	Prefix  netip.Prefix
	Beacons int32 // beacons it contributed
	// samples per PoP, packed pop<<32 | float32 bits of RTT, sorted: the
	// samples of PoP p are a run, in increasing RTT
	packed []uint64
	// anycast: samples to the anycast address, packed servedBy<<32 |
	// float32 RTT (servedBy = index in PoPs, or noPoP)
	anycast []uint64
}

const noPoP = 0xffff

// PoPSamples calls fn with each PoP index that has samples and their RTTs
// in increasing order.
func (n *Network) PoPSamples(fn func(p int, rtts []float32)) {
	var buf [256]float32
	for i := 0; i < len(n.packed); {
		p := int(n.packed[i] >> 32)
		j := i
		rtts := buf[:0]
		for j < len(n.packed) && int(n.packed[j]>>32) == p {
			rtts = append(rtts, rttValue(n.packed[j]))
			j++
		}
		fn(p, rtts)
		i = j
	}
}

// dropSamples releases every network's samples (one backing array).
func (d *Data) dropSamples() {
	for i := range d.Networks {
		d.Networks[i].packed = nil
		d.Networks[i].anycast = nil
	}
}

// Anycast calls fn for each anycast sample: the PoP that served it (-1
// when not said) and its RTT.
func (n *Network) Anycast(fn func(servedBy int, rtt float32)) {
	for _, v := range n.anycast {
		s := int(v >> 32)
		if s == noPoP {
			s = -1
		}
		fn(s, rttValue(v))
	}
}

// Split chooses which beacons a build or an evaluation reads.
type Split int

const (
	AllBeacons     Split = iota // every beacon
	TrainBeacons                // beacons not held out (the build's)
	HoldoutBeacons              // held-out beacons (the evaluator's)
)

// IsHeldOut reports whether a beacon (by its store ID) is held out for
// evaluation when share of beacons are: a fixed hash split, the same in
// every run, so steer build and steer eval agree on it without talking.
func IsHeldOut(id uint64, share float64) bool {
	return share > 0 && float64((id>>7)%10000) < share*10000
}

// rttKey maps an RTT to 32 bits whose unsigned order is the values' order
// (negative ones included, which reach here only with impossible-rtt
// switched off); rttValue is its inverse.
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

// loader reads a store through its C API in chunks.
type loader struct {
	st   *store.DuckDB
	opt  *Options
	cnt  Counts
	dict map[uint32]string

	popIndex []int32 // dict id → index in pops, -1 if the id is not a PoP label (a slice: looked up per sample)
	pops     []popmap.Label
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

	nets     []Network
	netIndex map[uint64]int32
	edgeN    []int32 // per network: edge RTT samples kept
	rumN     []int32 // per network: beacon (not edge) samples of PoPs kept
}

// Load reads and cleans the beacons and samples of split from st.
func Load(ctx context.Context, st *store.DuckDB, opt Options, split Split) (*Data, error) {
	opt.defaults()
	l := &loader{st: st, opt: &opt, netIndex: map[uint64]int32{}, https: uint8(rum.ProbeHTTPS)}
	// one consistent read: writes wait (store.DuckDB.Read)
	if err := st.Read(func() error {
		if err := l.loadDict(ctx); err != nil {
			return err
		}
		if err := l.loadBeacons(ctx, split); err != nil {
			return err
		}
		return l.loadSamples(ctx)
	}); err != nil {
		return nil, err
	}
	l.dropEdgeOnly()
	d := &Data{PoPs: l.pops, Networks: l.nets, Counts: l.cnt}
	l.sortNetworks()
	for i := range d.Networks {
		d.Samples += len(d.Networks[i].packed)
		d.Beacons += int(d.Networks[i].Beacons)
	}
	return d, nil
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
	var labels []popmap.Label
	ids := map[popmap.Label]uint32{}
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
		labels = append(labels, popmap.Label(v))
		ids[popmap.Label(v)] = id
	}
	if err := trows.Err(); err != nil {
		return err
	}
	slices.Sort(labels)
	if len(labels) > noPoP {
		return fmt.Errorf("builder: %d sample targets, more than %d", len(labels), noPoP)
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
		if isTickTimer(v) {
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

// isTickTimer reports whether a declared timer name is a coarse, tick-
// counting clock (Windows GetTickCount/GetTickCount64, timeGetTime, ...).
func isTickTimer(name string) bool {
	n := strings.ToLower(name)
	return strings.Contains(n, "tick") || n == "timegettime" || n == "gettime" || n == "date"
}

func (l *loader) loadBeacons(ctx context.Context, split Split) error {
	// seq range first, to index beacons by seq in an array
	var lo, hi, count uint64
	row := l.st.DB().QueryRowContext(ctx, `SELECT coalesce(min(seq), 0), coalesce(max(seq), 0), count(*) FROM beacons`)
	if err := row.Scan(&lo, &hi, &count); err != nil {
		return fmt.Errorf("builder: reading beacons: %w", err)
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
	err := l.st.ScanChunks(ctx, `SELECT seq, id, network, epoch_us(received), timer, samples, kind FROM beacons`, func(c *store.Chunk) error {
		seqs := store.Column[uint64](c, 0)
		ids := store.Column[uint64](c, 1)
		nets := store.Column[uint64](c, 2)
		recv := store.Column[int64](c, 3)
		timers := store.Column[uint32](c, 4)
		ns := store.Column[uint16](c, 5)
		kinds := store.Column[uint32](c, 6)
		for r := range c.Len() {
			edge := l.edge != 0 && kinds[r] == l.edge
			if edge && (!l.opt.EdgeRTT || split == HoldoutBeacons) {
				continue // not asked for; never held out for scoring
			}
			if _, dup := seen[ids[r]]; dup && !l.opt.Skip[RuleDuplicateBeacon] {
				l.cnt.add(RuleDuplicateBeacon, 1)
				continue
			}
			seen[ids[r]] = struct{}{}
			switch held := IsHeldOut(ids[r], l.opt.HoldOut) && !edge; {
			case split == TrainBeacons && held, split == HoldoutBeacons && !held:
				continue
			}
			ni, ok := l.netIndex[nets[r]]
			if !ok {
				pfx := store.NetworkPrefix(nets[r])
				if !pfx.IsValid() {
					l.cnt.add(RuleBadNetwork, 1)
					continue
				}
				ni = int32(len(l.nets))
				l.netIndex[nets[r]] = ni
				l.nets = append(l.nets, Network{Key: nets[r], Prefix: pfx})
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
		return fmt.Errorf("builder: reading beacons: %w", err)
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
	slot    int32
	pops    []int32
	rtts    []float64
	servers []int32
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
	err := l.st.ScanChunks(ctx, `SELECT seq, epoch_us(ts), target, probe, rtt_ms, served_by FROM samples`, func(c *store.Chunk) error {
		seqs := store.Column[uint64](c, 0)
		ts := store.Column[int64](c, 1)
		targets := store.Column[uint32](c, 2)
		probes := store.Column[uint8](c, 3)
		rtts := store.Column[float64](c, 4)
		served := store.Column[uint32](c, 5)
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
			if probes[r] != l.https && !edge && !l.opt.Skip[RuleHTTPSOnly] {
				l.cnt.add(RuleHTTPSOnly, 1)
				continue
			}
			v := rtts[r]
			if !l.opt.Skip[RuleImpossibleRTT] && (!(v >= 0.001) || v > maxRTT) {
				l.cnt.add(RuleImpossibleRTT, 1)
				continue
			}
			if !l.opt.Skip[RuleBadClock] {
				recv := l.bRecv[slot]
				if ts[r] > recv+future || ts[r] < recv-past {
					l.cnt.add(RuleBadClock, 1)
					continue
				}
			}
			p, srv := int32(-1), int32(noPoP)
			if targets[r] == l.anycast {
				if i := l.pop(served[r]); i >= 0 {
					srv = i
				}
			} else if p = l.pop(targets[r]); p < 0 {
				continue
			}
			cur.pops = append(cur.pops, p)
			cur.rtts = append(cur.rtts, v)
			cur.servers = append(cur.servers, srv)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("builder: reading samples: %w", err)
	}
	l.flush(&cur)
	return nil
}

// flush applies the per-beacon rules to a beacon's samples and keeps them.
func (l *loader) flush(cur *pending) {
	defer func() { cur.pops, cur.rtts, cur.servers = cur.pops[:0], cur.rtts[:0], cur.servers[:0] }()
	if cur.slot < 0 || len(cur.rtts) == 0 {
		return
	}
	if l.bTick[cur.slot] && !l.opt.Skip[RuleTickTimer] {
		l.cnt.add(RuleTickTimer, len(cur.rtts))
		return
	}
	if !l.opt.Skip[RuleTickDetected] && quantized(cur.rtts) {
		l.cnt.add(RuleTickDetected, len(cur.rtts))
		return
	}
	ni := l.bNet[cur.slot]
	n := &l.nets[ni]
	n.Beacons++
	counter := &l.rumN[ni]
	if l.bEdge[cur.slot] {
		counter = &l.edgeN[ni]
	}
	for i, v := range cur.rtts {
		f := rttKey(v)
		if cur.pops[i] < 0 {
			n.anycast = append(n.anycast, uint64(cur.servers[i])<<32|f)
			continue
		}
		*counter++
		if len(n.packed) < cap(n.packed) {
			n.packed = append(n.packed, uint64(cur.pops[i])<<32|f)
		}
	}
}

// quantized reports whether a beacon's RTTs look like a tick-counting
// timer's: at least 5 values, and 90 % of them at least 5 ms and within
// 1 ms of a multiple of 15.625 ms (the 64 Hz Windows tick, read rounded or
// truncated to whole ms: 15, 31, 46, 62, ...) or of 16 ms. Values from a
// fine clock land that close by chance one time in 8: nine in ten of five
// or more is a chance of 4e-5 or less.
func quantized(rtts []float64) bool {
	if len(rtts) < 5 {
		return false
	}
	near := func(v, step float64) bool {
		d := v - math.Round(v/step)*step
		return v >= 5 && math.Abs(d) <= 1
	}
	a, b := 0, 0
	for _, v := range rtts {
		if near(v, 15.625) {
			a++
		}
		if near(v, 16) {
			b++
		}
	}
	need := (len(rtts)*9 + 9) / 10
	return a >= need || b >= need
}

// dropEdgeOnly applies RuleEdgeOnly: a network whose only kept samples
// are edge RTTs is dropped. Its edge RTTs measure the one PoP DNS sends it
// to; given a row of one PoP the builder would map it there, pinning it to
// today's answer, and its one-PoP level would skew the pooled profiles of
// its prefix and AS (and break their agreement) for every other network.
func (l *loader) dropEdgeOnly() {
	if !l.opt.EdgeRTT || l.opt.Skip[RuleEdgeOnly] {
		return
	}
	kept := l.nets[:0]
	for i := range l.nets {
		if l.edgeN[i] > 0 && l.rumN[i] == 0 {
			l.cnt.add(RuleEdgeOnly, int(l.edgeN[i]))
			continue
		}
		kept = append(kept, l.nets[i])
	}
	clear(l.nets[len(kept):])
	l.nets = kept
}

// sortNetworks sorts every network's samples by (PoP, RTT), in parallel.
func (l *loader) sortNetworks() {
	var wg sync.WaitGroup
	workers := runtime.GOMAXPROCS(0)
	for w := range workers {
		wg.Go(func() {
			for i := w; i < len(l.nets); i += workers {
				slices.Sort(l.nets[i].packed)
			}
		})
	}
	wg.Wait()
}
