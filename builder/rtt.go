package builder

import (
	"bufio"
	"io"
	"math"
	"net/netip"
	"slices"

	"github.com/gaissmai/bart"

	"github.com/steer-gslb/steer/popmap"
	"github.com/steer-gslb/steer/rttfile"
)

// RTT holds, for every network of a built map (in Sources order), its
// traffic weight and the builder's estimate (the percentile it ranked on,
// ms) at each ranked PoP: MAP.rtt.tsv, which the load controller (package
// loadctl) reads to know how much traffic moving a network shifts and what
// latency it costs. The format and its parser are in package rttfile,
// which a cgo-free program can import.
//
// Weights, by where the entry came from:
//   - measured: the network's beacons (the builder's weight everywhere);
//   - resolver: the beacons of the client networks the join found behind
//     it (the weight its ranking averaged over). Client networks and
//     resolvers are two keys to the same traffic (docs/DESIGN.md,
//     "Build"), so the two kinds are not to be summed: a load controller should count the
//     traffic DNS answers by each (ECS share) or stay with one kind;
//   - extrapolated: the beacons of the measured networks inside it (those
//     whose longest extrapolated entry it is): the count of beacons the
//     builder attributes to it. Its unmeasured networks are what it answers;
//     the measured ones are a sample of them, so where a share s of networks
//     sends beacons their traffic is (1−s)/s times this. The builder cannot
//     know s, so the weight is this sample, consistent from one extrapolated
//     entry to the next but low against measured entries by that factor
//     (s = 0.3 in the simulator's default world: 2.3×). An entry with no
//     measured network inside weighs 0: nothing is known of its traffic.
//     TestRTTWeights measures it on a 20k-network simulated world (s = 0.3,
//     so 0.43 expected): extrapolated entries weigh 0.37 × the true
//     traffic they answer (as ECS queries), correlation 0.50 entry by entry.
//
// Estimates are rounded to 0.1 ms (below their noise); a ranked PoP
// without a finite estimate is written without one.
type RTT struct {
	PoPs     []popmap.Label // PoP index → label
	Networks []netip.Prefix // shared with Sources.Networks
	Weight   []float64
	Ranked   [][]int32 // PoP indexes, best first (shared with the builder's rankings)
	est      []float32 // estimates, flat: network k's are est[offset[k]:offset[k+1]]
	offset   []int32
	extrap   []bool // an extrapolated entry
}

func (t *RTT) add(r []int32, est []float32, w float64, extrap bool) {
	t.Weight = append(t.Weight, w)
	t.Ranked = append(t.Ranked, r)
	t.est = append(t.est, est...)
	t.offset = append(t.offset, int32(len(t.est)))
	t.extrap = append(t.extrap, extrap)
}

// Entry returns network k's line of the file.
func (t *RTT) Entry(k int) rttfile.Entry {
	e := rttfile.Entry{Network: t.Networks[k], Weight: t.Weight[k], Ranked: make([]rttfile.Choice, len(t.Ranked[k]))}
	t.fill(k, &e)
	return e
}

func (t *RTT) fill(k int, e *rttfile.Entry) {
	est := t.est[t.offset[k]:t.offset[k+1]]
	for j, p := range t.Ranked[k] {
		v := float64(est[j])
		if math.IsInf(v, 0) || math.IsNaN(v) || v < 0 {
			v = math.NaN()
		} else {
			v = math.Round(v*10) / 10
		}
		e.Ranked[j] = rttfile.Choice{Label: t.PoPs[p], RTT: v}
	}
}

// Entries returns every line of the file, in map order.
func (t *RTT) Entries() []rttfile.Entry {
	out := make([]rttfile.Entry, len(t.Networks))
	for k := range out {
		out[k] = t.Entry(k)
	}
	return out
}

// WriteTSV writes MAP.rtt.tsv (rttfile's format), one network a line, in
// map order, without holding every line in memory.
func (t *RTT) WriteTSV(w io.Writer) error {
	bw := bufio.NewWriterSize(w, 1<<16)
	if _, err := bw.WriteString(rttfile.Header); err != nil {
		return err
	}
	var e rttfile.Entry
	var buf []byte
	for k := range t.Networks {
		e.Network, e.Weight = t.Networks[k], t.Weight[k]
		e.Ranked = slices.Grow(e.Ranked[:0], len(t.Ranked[k]))[:len(t.Ranked[k])]
		t.fill(k, &e)
		buf = append(rttfile.AppendEntry(buf[:0], &e), '\n')
		if _, err := bw.Write(buf); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// extrapolatedWeights sets the weight of every extrapolated entry (see
// RTT): the beacons of the measured networks inside it, the longest
// extrapolated entry holding each.
func (b *mapBuilder) extrapolatedWeights(t *RTT) {
	ex := &bart.Table[int32]{}
	for k, x := range t.extrap {
		if x {
			ex.Insert(t.Networks[k], int32(k))
		}
	}
	if ex.Size() == 0 {
		return
	}
	for i, r := range b.ranked {
		if len(r) == 0 {
			continue // not in the map: an unmeasured network as far as the map goes
		}
		if _, k, ok := ex.LookupPrefixLPM(b.d.Networks[i].Prefix); ok {
			t.Weight[k] += b.weight[i]
		}
	}
}
