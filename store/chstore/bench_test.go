package chstore

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/steer-gslb/steer/rum"
	"github.com/steer-gslb/steer/store"
)

// benchWorld makes beacons of 20 samples each from nets (< 65536) /24
// networks to
// 20 PoPs (an anycast sample in ten), RTTs log-normal around 40 ms.
func benchWorld(rng *rand.Rand, beacons, nets int) []store.Beacon {
	pops := make([]string, 20)
	for i := range pops {
		pops[i] = fmt.Sprintf("pop%02d", i)
	}
	bs := make([]store.Beacon, beacons)
	for i := range bs {
		n := rng.IntN(nets)
		ss := make([]rum.Sample, 20)
		recv := base.Add(time.Duration(rng.IntN(86400)) * time.Second)
		for j := range ss {
			target, served := pops[rng.IntN(len(pops))], ""
			if rng.IntN(10) == 0 {
				target, served = rum.Anycast, pops[rng.IntN(len(pops))]
			}
			ss[j] = rum.Sample{TS: recv.Add(-time.Duration(j) * time.Second), Target: target, Probe: rum.ProbeHTTPS,
				RTTms: math.Exp(math.Log(40) + 0.6*rng.NormFloat64()), ServedBy: served}
		}
		// distinct /24s for n < 65536: the second and third octets
		net := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(n >> 8), byte(n), 0}), 24)
		bs[i] = store.Beacon{
			Beacon: rum.Beacon{V: 1, ClientSubnet: net,
				Agent: rum.Agent{Kind: "web", Platform: "linux", Timer: "performance"}, Samples: ss},
			Received: recv, Source: "http",
		}
	}
	return bs
}

// BenchmarkAddBeacons: batches of 1,000 beacons (20,000 samples) into the
// two-shard cluster, each with its duplicate lookup and a synchronous
// Distributed insert.
func BenchmarkAddBeacons(b *testing.B) {
	st, _ := openCluster(b)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 1))
	batches := make([][]store.Beacon, 8)
	for i := range batches {
		batches[i] = benchWorld(rng, 1000, 50_000)
	}
	b.ReportAllocs()
	b.ResetTimer()
	samples := 0
	for i := 0; b.Loop(); i++ {
		res, err := st.AddBeacons(ctx, batches[i%len(batches)])
		if err != nil {
			b.Fatal(err)
		}
		samples += 20 * res.Added
	}
	b.ReportMetric(float64(samples)/b.Elapsed().Seconds(), "samples/s")
}

// BenchmarkAggregate aggregates a world of $STEER_CH_BENCH_SAMPLES samples
// (default 1M; 20 a beacon, a network per 10 beacons) on the two-shard
// cluster.
func BenchmarkAggregate(b *testing.B) {
	n := 1_000_000
	if v := os.Getenv("STEER_CH_BENCH_SAMPLES"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil {
			b.Fatal(err)
		}
	}
	st, _ := openCluster(b)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(2, 2))
	beacons := n / 20
	t0 := time.Now()
	for done := 0; done < beacons; {
		k := min(10_000, beacons-done)
		if _, err := st.AddBeacons(ctx, benchWorld(rng, k, min(max(beacons/10, 1), 65535))); err != nil {
			b.Fatal(err)
		}
		done += k
	}
	b.Logf("loaded %d samples in %v", n, time.Since(t0).Round(time.Millisecond))
	b.ResetTimer()
	var agg *store.Aggregate
	for b.Loop() {
		var err error
		if agg, err = st.Aggregate(ctx, store.Clean{Split: store.TrainBeacons, HoldOut: 0.1}, 0.75); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n)/(b.Elapsed().Seconds()/float64(b.N)), "samples/s")
	b.Logf("%d networks, %d cells, counts %v; servers' peak RSS %s", len(agg.Networks), len(agg.Cells), agg.Counts, serverPeaks())
}

// serverPeaks is the cluster's processes' peak resident memory (VmHWM).
func serverPeaks() string {
	var out []string
	for _, n := range cluster.Nodes {
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", n.Pid()))
		if err != nil {
			return "unknown"
		}
		for line := range strings.SplitSeq(string(data), "\n") {
			if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
				out = append(out, strings.TrimSpace(v))
			}
		}
	}
	return strings.Join(out, ", ")
}
