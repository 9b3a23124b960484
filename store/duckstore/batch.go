package duckstore

import (
	"fmt"
	"math"
	"net/netip"
	"time"
	"unsafe"

	"github.com/steer-gslb/steer/rum"

	"github.com/steer-gslb/steer/store"
)

// batch holds beacons and queries ready to append, in columns: the bulk
// import's workers fill one each in parallel (parsing, hashing, label
// lookups), and the single writer copies the columns into DuckDB's vectors
// with little more than memmove.
type batch struct {
	// Beacons, one entry per beacon.
	ids       []uint64
	nets      []uint64
	recv      []int64  // µs since the epoch
	kinds     []uint32 // codes (see code)
	platforms []uint32
	timers    []uint32
	dnsTests  []string
	sources   []uint32
	sampleEnd []int32 // beacon i's samples are [sampleEnd[i-1], sampleEnd[i])

	// Samples.
	ts       []int64  // µs since the epoch
	target   []uint32 // codes
	probe    []uint8
	rtt      []float64
	servedBy []uint32 // codes; 0: absent

	// Queries.
	qts       []int64
	qnames    []string
	qtypes    []string
	resolvers []string
	ecs       []uint64
	hasECS    []bool
	pops      []string
	qsources  []string

	// labels are the batch's short strings: PoP labels (and "anycast"),
	// agent kinds, platforms and timers, sources. A code is a label's
	// index + 1, 0 standing for ""; the writer maps codes to the ids of
	// the store's dict table.
	labels     []string
	labelIdx   map[string]uint32 // used once labels outgrows a linear scan
	labelCache [1 << labelCacheBits]labelCacheEntry

	hashBuf []byte

	// dupSamples is set by DuckDB.write: the samples of the beacons it
	// found to be duplicates.
	dupSamples int
}

// newBatch returns a batch with room for beacons and samples.
func newBatch(beacons, samples int) *batch {
	return &batch{
		ids: make([]uint64, 0, beacons), nets: make([]uint64, 0, beacons), recv: make([]int64, 0, beacons),
		kinds: make([]uint32, 0, beacons), platforms: make([]uint32, 0, beacons), timers: make([]uint32, 0, beacons),
		dnsTests: make([]string, 0, beacons), sources: make([]uint32, 0, beacons), sampleEnd: make([]int32, 0, beacons),
		ts: make([]int64, 0, samples), target: make([]uint32, 0, samples), probe: make([]uint8, 0, samples),
		rtt: make([]float64, 0, samples), servedBy: make([]uint32, 0, samples),
	}
}

func (b *batch) reset() {
	b.ids, b.nets, b.recv = b.ids[:0], b.nets[:0], b.recv[:0]
	b.kinds, b.platforms, b.timers, b.dnsTests, b.sources = b.kinds[:0], b.platforms[:0], b.timers[:0], b.dnsTests[:0], b.sources[:0]
	b.sampleEnd = b.sampleEnd[:0]
	b.ts, b.target, b.probe, b.rtt, b.servedBy = b.ts[:0], b.target[:0], b.probe[:0], b.rtt[:0], b.servedBy[:0]
	b.qts, b.qnames, b.qtypes, b.resolvers = b.qts[:0], b.qnames[:0], b.qtypes[:0], b.resolvers[:0]
	b.ecs, b.hasECS, b.pops, b.qsources = b.ecs[:0], b.hasECS[:0], b.pops[:0], b.qsources[:0]
	b.labels = b.labels[:0]
	clear(b.labelIdx)
	b.labelCache = [1 << labelCacheBits]labelCacheEntry{}
	b.dupSamples = 0
}

func (b *batch) beacons() int { return len(b.ids) }
func (b *batch) samples() int { return len(b.ts) }
func (b *batch) queries() int { return len(b.qts) }

// code returns the code of a short string: 0 for "", else its label
// index + 1.
func (b *batch) code(s string) uint32 {
	if s == "" {
		return 0
	}
	return b.label(s) + 1
}

// label returns the batch index of a PoP label. rum interns labels, so a
// small cache keyed by the string's address answers most lookups with one
// comparison of pointers.
func (b *batch) label(s string) uint32 {
	p := unsafe.StringData(s)
	c := &b.labelCache[uint64(uintptr(unsafe.Pointer(p)))*0x9E3779B97F4A7C15>>(64-labelCacheBits)]
	if c.p == p && c.n == len(s) && p != nil {
		return c.idx
	}
	i := b.labelSlow(s)
	*c = labelCacheEntry{p: p, n: len(s), idx: i}
	return i
}

const labelCacheBits = 8

type labelCacheEntry struct {
	p   *byte
	n   int
	idx uint32
}

func (b *batch) labelSlow(s string) uint32 {
	if b.labelIdx == nil {
		for i, l := range b.labels {
			if l == s {
				return uint32(i)
			}
		}
		if len(b.labels) < 32 {
			b.labels = append(b.labels, s)
			return uint32(len(b.labels) - 1)
		}
		b.labelIdx = make(map[string]uint32, 64)
		for i, l := range b.labels {
			b.labelIdx[l] = uint32(i)
		}
	}
	if i, ok := b.labelIdx[s]; ok {
		return i
	}
	b.labels = append(b.labels, s)
	b.labelIdx[s] = uint32(len(b.labels) - 1)
	return uint32(len(b.labels) - 1)
}

// addBeacon checks bc and appends it. Errors name the field but never the
// client address.
func (b *batch) addBeacon(bc *rum.Beacon, received time.Time, source string) error {
	key, err := store.NetworkKey(bc.ClientSubnet)
	if err != nil {
		return fmt.Errorf("client subnet: %w", err)
	}
	if len(bc.Samples) == 0 || len(bc.Samples) > rum.MaxSamples {
		return fmt.Errorf("%d samples (want 1..%d)", len(bc.Samples), rum.MaxSamples)
	}
	if bc.Agent.Kind == "" {
		return fmt.Errorf("agent.kind: empty")
	}
	// Samples first, in one pass that checks and appends them; on an
	// error they are cut off again, so that the batch is unchanged.
	n0 := len(b.ts)
	for i := range bc.Samples {
		s := &bc.Samples[i]
		us := store.UnixMicro(s.TS)
		switch {
		case s.Target == "":
			b.cutSamples(n0)
			return fmt.Errorf("samples[%d].target: empty", i)
		case s.Probe < rum.ProbeHTTPS || s.Probe > rum.ProbeTCP:
			b.cutSamples(n0)
			return fmt.Errorf("samples[%d].probe: %v is not https, http or tcp", i, s.Probe)
		case math.IsNaN(s.RTTms) || math.IsInf(s.RTTms, 0):
			b.cutSamples(n0)
			return fmt.Errorf("samples[%d].rtt_ms: not finite", i)
		case us < store.MinTimeUS || us >= store.MaxTimeUS:
			b.cutSamples(n0)
			return fmt.Errorf("samples[%d].ts: year %d outside 0000..9999", i, s.TS.Year())
		}
		b.ts = append(b.ts, us)
		b.target = append(b.target, b.label(s.Target)+1)
		b.probe = append(b.probe, uint8(s.Probe))
		b.rtt = append(b.rtt, s.RTTms)
		b.servedBy = append(b.servedBy, b.code(s.ServedBy))
	}
	var id uint64
	id, b.hashBuf = store.BeaconIDBuf(b.hashBuf, bc)
	b.ids = append(b.ids, id)
	b.nets = append(b.nets, key)
	b.recv = append(b.recv, received.UnixMicro())
	b.kinds = append(b.kinds, b.code(bc.Agent.Kind))
	b.platforms = append(b.platforms, b.code(bc.Agent.Platform))
	b.timers = append(b.timers, b.code(bc.Agent.Timer))
	b.dnsTests = append(b.dnsTests, bc.DNSTest)
	b.sources = append(b.sources, b.code(source))
	b.sampleEnd = append(b.sampleEnd, int32(len(b.ts)))
	return nil
}

// cutSamples drops the samples from index n on.
func (b *batch) cutSamples(n int) {
	b.ts, b.target, b.probe, b.rtt, b.servedBy = b.ts[:n], b.target[:n], b.probe[:n], b.rtt[:n], b.servedBy[:n]
}

// addQuery checks e and appends it.
func (b *batch) addQuery(e *rum.LogEntry) error {
	var key uint64
	if e.ECS.IsValid() {
		k, err := store.NetworkKey(e.ECS)
		if err != nil {
			return fmt.Errorf("ecs: %w", err)
		}
		key = k
	}
	switch {
	case e.QName == "":
		return fmt.Errorf("qname: empty")
	case !e.Resolver.IsValid():
		return fmt.Errorf("resolver: no address")
	case store.UnixMicro(e.TS) < store.MinTimeUS || store.UnixMicro(e.TS) >= store.MaxTimeUS:
		return fmt.Errorf("ts: year %d outside 0000..9999", e.TS.Year())
	}
	b.qts = append(b.qts, e.TS.UnixMicro())
	b.qnames = append(b.qnames, e.QName)
	b.qtypes = append(b.qtypes, e.QType)
	b.resolvers = append(b.resolvers, e.Resolver.String())
	b.ecs = append(b.ecs, key)
	b.hasECS = append(b.hasECS, e.ECS.IsValid())
	b.pops = append(b.pops, e.PoP)
	b.qsources = append(b.qsources, e.Source)
	return nil
}

// resolverAddr parses a stored resolver address.
func resolverAddr(s string) netip.Addr {
	a, _ := netip.ParseAddr(s)
	return a
}

// beaconSamples is the number of samples of beacon j.
func (b *batch) beaconSamples(j int) int {
	if j == 0 {
		return int(b.sampleEnd[0])
	}
	return int(b.sampleEnd[j] - b.sampleEnd[j-1])
}
