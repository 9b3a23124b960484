// Package storetest holds what the RUM store engines' tests share: a
// beacon generator and (in parity_test.go) the check that every engine
// aggregates the same rows to the same cells.
package storetest

import (
	"maps"
	"math/rand/v2"
	"net/netip"
	"slices"
	"time"

	"github.com/steer-gslb/steer/rum"
	"github.com/steer-gslb/steer/store"
)

// PoPs are the generated samples' targets.
var PoPs = []string{"fra", "ams", "lhr", "cdg", "iad", "sin", "syd", "gru"}

// Start is the time the generated samples start at.
var Start = time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)

// GenBeacons makes n beacons of k samples each, from distinct networks
// (IPv4 /24s and every fifth an IPv6 /56), deterministic for a seed.
func GenBeacons(seed uint64, n, k int, received time.Time) []store.Beacon {
	r := rand.New(rand.NewPCG(seed, 7))
	out := make([]store.Beacon, n)
	for i := range out {
		var p netip.Prefix
		if i%5 == 4 {
			var a [16]byte
			a[0], a[1], a[2], a[3] = 0x20, 0x01, 0x0d, 0xb8
			a[4], a[5], a[6] = byte(i>>16), byte(i>>8), byte(i)
			p = netip.PrefixFrom(netip.AddrFrom16(a), 56)
		} else {
			p = netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(10 + i>>16), byte(i >> 8), byte(i), 0}), 24)
		}
		b := rum.Beacon{V: 1, ClientSubnet: p, Agent: rum.Agent{Kind: rum.KindDesktop, Platform: "windows", Timer: "qpc"}}
		if i%3 != 0 {
			b.DNSTest = "t" + itoa(seed) + "x" + itoa(uint64(i)) + ".rum.example.net"
		}
		if i%7 == 0 {
			b.Agent = rum.Agent{Kind: rum.KindWeb}
		}
		ts := Start.Add(time.Duration(r.IntN(3600_000)) * time.Millisecond)
		for j := range k {
			s := rum.Sample{TS: ts.Add(time.Duration(j) * 137 * time.Millisecond), Target: PoPs[(i+j)%len(PoPs)], Probe: rum.ProbeHTTPS, RTTms: float64(r.IntN(300_000)) / 1000}
			if j == k-1 {
				s.Target, s.ServedBy = rum.Anycast, PoPs[i%len(PoPs)]
			}
			if j == 1 && i%11 == 0 {
				s.Probe = rum.ProbeTCP
			}
			b.Samples = append(b.Samples, s)
		}
		out[i] = store.Beacon{Beacon: b, Received: received, Source: "http"}
	}
	return out
}

func itoa(v uint64) string {
	if v == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for v > 0 {
		i--
		b[i] = byte('0' + v%10)
		v /= 10
	}
	return string(b[i:])
}

// WebBeacon is a browser's beacon from network pfx received at at, timing
// each PoP of rtts (in label order, a second before at) over HTTPS.
func WebBeacon(pfx string, at time.Time, rtts map[string]float64) store.Beacon {
	b := store.Beacon{Received: at, Source: "ingest"}
	b.V, b.ClientSubnet = 1, netip.MustParsePrefix(pfx)
	b.Agent = rum.Agent{Kind: rum.KindWeb, Platform: "linux", Timer: "performance"}
	for _, p := range slices.Sorted(maps.Keys(rtts)) {
		b.Samples = append(b.Samples, rum.Sample{TS: at.Add(-time.Second), Target: p, Probe: rum.ProbeHTTPS, RTTms: rtts[p]})
	}
	return b
}
