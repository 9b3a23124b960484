package popmap

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
)

// Synthetic returns a deterministic map of n4 distinct IPv4 /24s and n6
// distinct IPv6 /56s (in 2000::/3), each with two ranked labels drawn from
// pops, grouped into one entry per label list as map builders emit them.
// Benchmarks and the DNS load generator use it; it is not real data.
func Synthetic(n4, n6 int, pops []Label, seed uint64) *Map {
	if len(pops) < 2 {
		panic("popmap.Synthetic: need at least two PoPs")
	}
	r := rand.New(rand.NewPCG(seed, 0x57ee7))
	byAnswer := map[[2]int]*Entry{}
	var order [][2]int
	add := func(p netip.Prefix) {
		i := r.IntN(len(pops))
		j := r.IntN(len(pops) - 1)
		if j >= i {
			j++
		}
		k := [2]int{i, j}
		e, ok := byAnswer[k]
		if !ok {
			e = &Entry{Labels: []Label{pops[i], pops[j]}}
			byAnswer[k] = e
			order = append(order, k)
		}
		e.Networks = append(e.Networks, p)
	}
	// IPv4: distinct /24s in 1.0.0.0–223.255.255.0.
	v4 := make([]uint32, 0, n4)
	seen := make(map[uint32]struct{}, n4)
	const lo, hi = 1 << 16, 224 << 16 // in /24 units
	if n4 > hi-lo {
		panic(fmt.Sprintf("popmap.Synthetic: at most %d IPv4 /24s", hi-lo))
	}
	for len(v4) < n4 {
		v := uint32(lo + r.IntN(hi-lo))
		if _, dup := seen[v]; dup {
			continue
		}
		seen[v] = struct{}{}
		v4 = append(v4, v)
	}
	for _, v := range v4 {
		var b [4]byte
		binary.BigEndian.PutUint32(b[:], v<<8)
		add(netip.PrefixFrom(netip.AddrFrom4(b), 24))
	}
	seen6 := make(map[uint64]struct{}, n6)
	for n := 0; n < n6; {
		v := (uint64(0x2000)<<48 | r.Uint64()>>3) &^ 0xff // a /56 inside 2000::/3
		if _, dup := seen6[v]; dup {
			continue
		}
		seen6[v] = struct{}{}
		n++
		var b [16]byte
		binary.BigEndian.PutUint64(b[:8], v)
		add(netip.PrefixFrom(netip.AddrFrom16(b), 56))
	}
	slices.SortFunc(order, func(a, b [2]int) int {
		if a[0] != b[0] {
			return a[0] - b[0]
		}
		return a[1] - b[1]
	})
	m := &Map{Meta: Meta{Version: 1}}
	for _, k := range order {
		m.Entries = append(m.Entries, *byAnswer[k])
	}
	return m
}
