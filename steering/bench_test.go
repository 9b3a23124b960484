package steering

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"

	"github.com/steer-gslb/steer/config"
	"github.com/steer-gslb/steer/popmap"
)

// benchWorld is the benchmark map (1M IPv4 /24 + 200k IPv6 /56,
// two ranked labels each from 20 PoPs), its PoPs and a patch moving 10k
// of its /24s (a large load move).
func benchWorld(b *testing.B) (*popmap.Map, *popmap.Table, []config.PoP, *popmap.Table) {
	b.Helper()
	labels := make([]popmap.Label, 20)
	pops := make([]config.PoP, 20)
	for i := range labels {
		labels[i] = popmap.Label(fmt.Sprintf("p%02d", i))
		pops[i] = config.PoP{Label: labels[i], IPv4: []netip.Addr{netip.AddrFrom4([4]byte{192, 0, 2, byte(i + 1)})}, IPv6: []netip.Addr{netip.MustParseAddr(fmt.Sprintf("2001:db8::%x", i+1))}, State: config.StateUp}
	}
	m := popmap.Synthetic(1_000_000, 200_000, labels, 1)
	t, err := popmap.Compile(m)
	if err != nil {
		b.Fatal(err)
	}
	patch := &popmap.Map{}
	moved, rng := 0, rand.New(rand.NewPCG(3, 4))
	for _, e := range m.Entries {
		var nets []netip.Prefix
		for _, p := range e.Networks {
			if p.Addr().Is4() && moved < 10_000 && rng.IntN(100) == 0 {
				nets = append(nets, p)
				moved++
			}
		}
		if len(nets) > 0 {
			patch.Entries = append(patch.Entries, popmap.Entry{Networks: nets, Labels: []popmap.Label{e.Labels[len(e.Labels)-1]}})
		}
	}
	pt, err := popmap.Compile(patch)
	if err != nil {
		b.Fatal(err)
	}
	return m, t, pops, pt
}

// BenchmarkDecide is the decision on the query path without and with a
// load-move patch (one more lookup); both must not allocate.
func BenchmarkDecide(b *testing.B) {
	m, t, list, patch := benchWorld(b)
	pops := NewPoPs(list)
	rng := rand.New(rand.NewPCG(1, 2))
	clients := make([]Client, 4096)
	for i := range clients {
		e := m.Entries[rng.IntN(len(m.Entries))]
		p := e.Networks[rng.IntN(len(e.Networks))]
		if p.Addr().Is4() {
			clients[i] = Client{ECS: p, Resolver: netip.MustParseAddr("198.51.100.7")}
		} else {
			clients[i] = Client{ECS: netip.PrefixFrom(p.Addr(), 56), Resolver: netip.MustParseAddr("198.51.100.7")}
		}
	}
	def := config.Addrs{IPv4: []netip.Addr{netip.MustParseAddr("192.0.2.100")}}
	for _, c := range []struct {
		name  string
		patch *popmap.Table
	}{{"map", nil}, {"map+patch", patch}} {
		chain := NewChainWith(config.DefaultSteering(), t, nil, pops, def, Options{ECSPatch: c.patch})
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				d := chain.Decide(FamilyV4, clients[i&4095])
				if d.Source == SourceNone {
					b.Fatal("no decision")
				}
				i++
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "decisions/s")
		})
	}
}

// BenchmarkOverlay is what a drain costs a DNS server: new chains over the
// compiled 1.2M-network map (one pass over its distinct answers), not a
// recompile.
func BenchmarkOverlay(b *testing.B) {
	_, t, list, patch := benchWorld(b)
	def := config.Addrs{IPv4: []netip.Addr{netip.MustParseAddr("192.0.2.100")}}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		drained := list[i%len(list)].Label
		pops := NewPoPsWith(list, func(j int) (config.State, bool) {
			if list[j].Label == drained {
				return config.StateDrain, true
			}
			return config.StateUp, true
		})
		_ = NewChainWith(config.DefaultSteering(), t, t, pops, def, Options{ECSPatch: patch, Open: pops})
		i++
	}
	b.ReportMetric(float64(t.NumAnswers()), "answers")
}
