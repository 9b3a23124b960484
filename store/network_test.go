package store

import (
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/steer-gslb/steer/rum"
)

var networkKeyCases = []struct {
	prefix string
	key    uint64 // 0: an error containing err
	err    string
}{
	{"203.0.113.0/24", 203<<31 | 0<<23 | 113<<15 | 24, ""},
	{"0.0.0.0/0", 0, ""},
	{"255.255.255.0/24", 0xffffff00<<7 | 24, ""},
	{"10.0.0.0/8", 10<<31 | 8, ""},
	{"::ffff:203.0.113.0/120", 203<<31 | 113<<15 | 24, ""},
	{"2001:db8:10::/56", 1<<63 | 0x20010db80010<<15 | 56, ""},
	{"2001:db8:10:ff00::/56", 1<<63 | (0x20010db80010ff00>>8)<<7 | 56, ""},
	{"::/0", 1 << 63, ""},
	{"203.0.113.7/32", 0, "an IPv4 /32 is finer"},
	{"203.0.113.128/25", 0, "an IPv4 /25 is finer"},
	{"203.0.113.7/24", 0, "IPv4 /24 with host bits set"},
	{"2001:db8::1/128", 0, "an IPv6 /128 is finer"},
	{"2001:db8:10:1::/64", 0, "an IPv6 /64 is finer"},
	{"2001:db8:10:1::/56", 0, "IPv6 /56 with host bits set"},
	{"::ffff:203.0.113.7/128", 0, "an IPv4 /32 is finer"},
	{"::ffff:0.0.0.0/80", 0, "v4-mapped prefix shorter than /96"},
	{"", 0, "no client subnet"},
}

func TestNetworkKey(t *testing.T) {
	for _, tc := range networkKeyCases {
		var p netip.Prefix
		if tc.prefix != "" {
			p = netip.MustParsePrefix(tc.prefix)
		}
		k, err := NetworkKey(p)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("NetworkKey(%s) = %#x, %v; want an error containing %q", tc.prefix, k, err, tc.err)
			}
			if err != nil && tc.prefix != "" && strings.Contains(err.Error(), p.Addr().Unmap().String()) {
				t.Errorf("NetworkKey(%s) error %q shows the address", tc.prefix, err)
			}
			continue
		}
		if err != nil || k != tc.key {
			t.Errorf("NetworkKey(%s) = %#x, %v; want %#x", tc.prefix, k, err, tc.key)
			continue
		}
		want := p
		if p.Addr().Is4In6() {
			want = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		if got := NetworkPrefix(k); got != want {
			t.Errorf("NetworkPrefix(NetworkKey(%s)) = %s, want %s", tc.prefix, got, want)
		}
	}
}

func TestNetworkPrefixRejectsForeignKeys(t *testing.T) {
	for _, k := range []uint64{25, 1<<63 | 57, 1 << 39, 10<<31 | 1<<7 | 24, 1<<63 | 1<<7 | 48} {
		if p := NetworkPrefix(k); p.IsValid() {
			t.Errorf("NetworkPrefix(%#x) = %s, want the zero Prefix", k, p)
		}
	}
}

// TestNetworkKeyOrder: keys sort as (family, address, length).
func TestNetworkKeyOrder(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	var ps []netip.Prefix
	for range 2000 {
		if r.IntN(2) == 0 {
			a := netip.AddrFrom4([4]byte{byte(r.Uint32()), byte(r.Uint32()), byte(r.Uint32()), byte(r.Uint32())})
			ps = append(ps, netip.PrefixFrom(a, r.IntN(25)).Masked())
		} else {
			var b [16]byte
			for i := range b {
				b[i] = byte(r.Uint32())
			}
			ps = append(ps, netip.PrefixFrom(netip.AddrFrom16(b), r.IntN(57)).Masked())
		}
	}
	byKey := slices.Clone(ps)
	key := func(p netip.Prefix) uint64 {
		k, err := NetworkKey(p)
		if err != nil {
			t.Fatalf("NetworkKey(%s): %v", p, err)
		}
		return k
	}
	slices.SortFunc(byKey, func(a, b netip.Prefix) int {
		ka, kb := key(a), key(b)
		switch {
		case ka < kb:
			return -1
		case ka > kb:
			return 1
		}
		return 0
	})
	slices.SortFunc(ps, func(a, b netip.Prefix) int {
		if c := a.Addr().BitLen() - b.Addr().BitLen(); c != 0 {
			return c
		}
		if c := a.Addr().Compare(b.Addr()); c != 0 {
			return c
		}
		return a.Bits() - b.Bits()
	})
	if !slices.Equal(byKey, ps) {
		t.Error("keys do not sort as (family, address, length)")
	}
}

func TestTruncate(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"203.0.113.77/32", "203.0.113.0/24"},
		{"203.0.113.77/24", "203.0.113.0/24"},
		{"203.0.113.0/24", "203.0.113.0/24"},
		{"203.0.113.77/16", "203.0.0.0/16"},
		{"::ffff:203.0.113.77/128", "203.0.113.0/24"},
		{"2001:db8:1:2:3:4:5:6/128", "2001:db8:1::/56"},
		{"2001:db8:1:ff00::/56", "2001:db8:1:ff00::/56"},
	} {
		got, changed := Truncate(netip.MustParsePrefix(tc.in))
		if got.String() != tc.want || changed != (tc.in != tc.want) {
			t.Errorf("Truncate(%s) = %s, %v; want %s, %v", tc.in, got, changed, tc.want, tc.in != tc.want)
		}
		if _, err := NetworkKey(got); err != nil {
			t.Errorf("NetworkKey(Truncate(%s)): %v", tc.in, err)
		}
	}
}

// FuzzNetworkKey: a prefix gets a key exactly when it is a valid client
// subnet, and the key gives it back.
func FuzzNetworkKey(f *testing.F) {
	for _, tc := range networkKeyCases {
		if tc.prefix != "" {
			p := netip.MustParsePrefix(tc.prefix)
			b := p.Addr().As16()
			f.Add(b[:], p.Bits(), p.Addr().Is4())
		}
	}
	f.Fuzz(func(t *testing.T, addr []byte, bits int, is4 bool) {
		var a netip.Addr
		switch {
		case is4 && len(addr) >= 4:
			a = netip.AddrFrom4([4]byte(addr[:4]))
		case len(addr) >= 16:
			a = netip.AddrFrom16([16]byte(addr[:16]))
		default:
			return
		}
		p := netip.PrefixFrom(a, bits)
		k, err := NetworkKey(p)
		if err != nil {
			if tp, _ := Truncate(p); p.IsValid() && !a.Is4In6() && tp == p {
				t.Fatalf("NetworkKey(%s) refused a client subnet: %v", p, err)
			}
			return
		}
		q := NetworkPrefix(k)
		if a.Is4In6() {
			p = netip.PrefixFrom(a.Unmap(), bits-96)
		}
		if q != p {
			t.Fatalf("NetworkPrefix(NetworkKey(%s)) = %s", p, q)
		}
		if tp, changed := Truncate(p); changed || tp != p {
			t.Fatalf("NetworkKey accepted %s, which Truncate changes to %s", p, tp)
		}
	})
}

// TestBeaconIDMatchesAppendBeacon: two beacons have the same ID exactly
// when rum.AppendBeacon writes the same bytes for them.
func TestBeaconIDMatchesAppendBeacon(t *testing.T) {
	ts := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	base := rum.Beacon{V: 1, ClientSubnet: netip.MustParsePrefix("10.0.0.0/24"),
		Agent: rum.Agent{Kind: rum.KindDesktop, Platform: "windows", Timer: "qpc"}, DNSTest: "t5x0.rum.example.net",
		Samples: []rum.Sample{
			{TS: ts, Target: "fra", Probe: rum.ProbeHTTPS, RTTms: 12.5},
			{TS: ts.Add(137 * time.Millisecond), Target: "ams", Probe: rum.ProbeHTTPS, RTTms: 20.25},
			{TS: ts.Add(274 * time.Millisecond), Target: rum.Anycast, Probe: rum.ProbeHTTPS, RTTms: 15, ServedBy: "fra"},
		}}
	mods := []func(b *rum.Beacon){
		func(b *rum.Beacon) {},
		func(b *rum.Beacon) { b.V = 2 },
		func(b *rum.Beacon) { b.ClientSubnet = netip.MustParsePrefix("10.0.1.0/24") },
		func(b *rum.Beacon) { b.ClientSubnet = netip.Prefix{} },
		func(b *rum.Beacon) { b.Agent.Kind = rum.KindWeb },
		func(b *rum.Beacon) { b.Agent.Platform = "" },
		func(b *rum.Beacon) { b.Agent.Platform, b.Agent.Timer = b.Agent.Timer, b.Agent.Platform },
		func(b *rum.Beacon) { b.DNSTest = "x.rum.example.net" },
		func(b *rum.Beacon) { b.Samples = b.Samples[:2] },
		func(b *rum.Beacon) { b.Samples[0].TS = b.Samples[0].TS.Add(time.Nanosecond) },
		func(b *rum.Beacon) { b.Samples[0].TS = b.Samples[0].TS.In(time.FixedZone("x", 3600)) }, // same instant
		func(b *rum.Beacon) { b.Samples[1].Target = "zzz" },
		func(b *rum.Beacon) { b.Samples[1].Probe = rum.ProbeTCP },
		func(b *rum.Beacon) { b.Samples[1].RTTms = -b.Samples[1].RTTms },
		func(b *rum.Beacon) { b.Samples[1].RTTms = 0 },
		func(b *rum.Beacon) { b.Samples[1].RTTms = negZero() },
		func(b *rum.Beacon) { b.Samples[2].ServedBy = "" },
		func(b *rum.Beacon) { b.Samples[0].ServedBy = "fra" },
		// Field boundaries: moving a character between fields.
		func(b *rum.Beacon) { b.Agent.Platform, b.Agent.Timer = "windowsq", "pc" },
	}
	var bs []rum.Beacon
	for _, m := range mods {
		b := base
		b.Samples = slices.Clone(base.Samples)
		m(&b)
		bs = append(bs, b)
	}
	for i := range bs {
		for j := range bs {
			sameText := string(rum.AppendBeacon(nil, &bs[i])) == string(rum.AppendBeacon(nil, &bs[j]))
			sameID := BeaconID(&bs[i]) == BeaconID(&bs[j])
			if sameText != sameID {
				t.Errorf("beacons %d and %d: same AppendBeacon bytes %v, same ID %v", i, j, sameText, sameID)
			}
		}
	}
}

func negZero() float64 {
	z := 0.0
	return -z
}

// TestBeaconIDStable pins the ID of one beacon: IDs are stored, so they
// must not change between processes, machines or versions.
func TestBeaconIDStable(t *testing.T) {
	var b rum.Beacon
	line := `{"v":1,"client_subnet":"203.0.113.0/24","agent":{"kind":"desktop","platform":"windows","timer":"qpc"},"dns_test":"k3f9q2x7w1.rum.example.net","samples":[{"ts":"2026-11-21T10:00:00.123Z","target":"fra","probe":"https","rtt_ms":23.4},{"ts":"2026-11-21T10:00:01.456Z","target":"anycast","probe":"https","rtt_ms":31,"served_by":"ams"}]}`
	if _, err := rum.ParseBeacon([]byte(line), rum.Bulk, &b); err != nil {
		t.Fatal(err)
	}
	const want = 0xbcd23a4ac08b644f
	if got := BeaconID(&b); got != want {
		t.Errorf("BeaconID = %#x, want %#x", got, uint64(want))
	}
}
