package store

import (
	"math/rand/v2"
	"net/netip"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/steer-gslb/steer/rum"
)

var testPoPs = []string{"fra", "ams", "lhr", "cdg", "iad", "sin", "syd", "gru"}

// testStart is the time the generated samples start at.
var testStart = time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)

// genBeacons makes n beacons of k samples each, from distinct networks
// (IPv4 /24s and every fifth an IPv6 /56), deterministic for a seed.
func genBeacons(seed uint64, n, k int, received time.Time) []Beacon {
	r := rand.New(rand.NewPCG(seed, 7))
	out := make([]Beacon, n)
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
		ts := testStart.Add(time.Duration(r.IntN(3600_000)) * time.Millisecond)
		for j := range k {
			s := rum.Sample{TS: ts.Add(time.Duration(j) * 137 * time.Millisecond), Target: testPoPs[(i+j)%len(testPoPs)], Probe: rum.ProbeHTTPS, RTTms: float64(r.IntN(300_000)) / 1000}
			if j == k-1 {
				s.Target, s.ServedBy = rum.Anycast, testPoPs[i%len(testPoPs)]
			}
			if j == 1 && i%11 == 0 {
				s.Probe = rum.ProbeTCP
			}
			b.Samples = append(b.Samples, s)
		}
		out[i] = Beacon{Beacon: b, Received: received, Source: "http"}
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

func openTest(t testing.TB, dir string) *DuckDB {
	t.Helper()
	s, err := Open(dir, Options{Threads: testThreads})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// idArg passes a beacon ID to SQL: database/sql refuses uint64 arguments
// with the high bit set.
func idArg(id uint64) string { return strconv.FormatUint(id, 10) }

// testThreads is DuckDB's threads in tests (STEER_TEST_THREADS, default 2).
var testThreads = func() int {
	n, err := strconv.Atoi(os.Getenv("STEER_TEST_THREADS"))
	if err != nil {
		return 2
	}
	return n
}()
