package dnsserver

import (
	"encoding/binary"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/steer-gslb/steer/config"
)

func rrlConfig(rate int, slip int) config.RRL {
	c := config.DefaultRRL()
	c.ResponsesPerSecond, c.ErrorsPerSecond, c.Slip = rate, rate, slip
	return c
}

// run takes n responses of cat for a at now and counts the actions.
func run(l *rrl, a netip.Addr, cat int, now int64, n int) (pass, drop, slip int) {
	for range n {
		switch l.check(a, cat, now) {
		case rrlPass:
			pass++
		case rrlDrop:
			drop++
		case rrlSlip:
			slip++
		}
	}
	return
}

func TestRRLRate(t *testing.T) {
	l := newRRL(rrlConfig(10, 2))
	a := netip.MustParseAddr("192.0.2.7")
	const s = int64(time.Second)
	now := 5 * s
	// A burst of one window's worth passes; of the rest every second one
	// slips.
	if p, d, sl := run(l, a, rrlAnswer, now, 30); p != 10 || d != 10 || sl != 10 {
		t.Fatalf("burst: pass %d drop %d slip %d, want 10 10 10", p, d, sl)
	}
	// 100 ms later one more (10/s).
	if p, _, _ := run(l, a, rrlAnswer, now+s/10, 5); p != 1 {
		t.Errorf("after 100 ms: %d passed, want 1", p)
	}
	// Over 10 s at 100 queries/s, about 10/s pass.
	pass := 0
	for i := range 1000 {
		p, _, _ := run(l, a, rrlAnswer, now+s/10+int64(i+1)*s/100, 1)
		pass += p
	}
	if pass < 99 || pass > 101 {
		t.Errorf("10 s at 100 q/s: %d passed, want 100 ±1", pass)
	}
	// Idle for a long time: one burst again, not more.
	if p, _, _ := run(l, a, rrlAnswer, now+100*s, 50); p != 10 {
		t.Errorf("after idling: %d passed, want 10", p)
	}
}

func TestRRLWindow(t *testing.T) {
	c := rrlConfig(10, 0)
	c.Window = 3 * time.Second
	l := newRRL(c)
	if p, d, sl := run(l, netip.MustParseAddr("192.0.2.7"), rrlAnswer, int64(time.Hour), 100); p != 30 || d != 70 || sl != 0 {
		t.Fatalf("window 3 s: pass %d drop %d slip %d, want 30 70 0", p, d, sl)
	}
}

func TestRRLSlip(t *testing.T) {
	for _, tc := range []struct{ slip, drop, slipped int }{{0, 20, 0}, {1, 0, 20}, {2, 10, 10}, {3, 14, 6}} {
		l := newRRL(rrlConfig(1, tc.slip))
		p, d, sl := run(l, netip.MustParseAddr("192.0.2.7"), rrlAnswer, 0, 21)
		if p != 1 || d != tc.drop || sl != tc.slipped {
			t.Errorf("slip %d: pass %d drop %d slip %d, want 1 %d %d", tc.slip, p, d, sl, tc.drop, tc.slipped)
		}
	}
}

// TestRRLKeys: one bucket per client prefix and category; exempt clients
// and categories without a rate are never limited.
func TestRRLKeys(t *testing.T) {
	c := rrlConfig(5, 0)
	c.ErrorsPerSecond = 0
	c.Exempt = []netip.Prefix{netip.MustParsePrefix("198.51.100.0/24"), netip.MustParsePrefix("2001:db8:ff::/48"), netip.MustParsePrefix("203.0.113.5/32")}
	l := newRRL(c)
	a := netip.MustParseAddr
	passes := func(addr string, cat int) int {
		p, _, _ := run(l, a(addr), cat, 0, 20)
		return p
	}
	if got := passes("192.0.2.1", rrlAnswer); got != 5 {
		t.Fatalf("first client: %d passed, want 5", got)
	}
	for _, tc := range []struct {
		addr string
		cat  int
		want int
	}{
		{"192.0.2.200", rrlAnswer, 0},          // same /24: same bucket, already empty
		{"::ffff:192.0.2.9", rrlAnswer, 0},     // IPv4-mapped is the same client
		{"192.0.3.1", rrlAnswer, 5},            // next /24
		{"192.0.2.1", rrlError, 20},            // errors not limited (rate 0)
		{"198.51.100.77", rrlAnswer, 20},       // exempt /24
		{"203.0.113.5", rrlAnswer, 20},         // exempt /32
		{"203.0.113.6", rrlAnswer, 5},          // not exempt
		{"2001:db8:0:100::1", rrlAnswer, 5},    // a /56
		{"2001:db8:0:1ff::2", rrlAnswer, 0},    // same /56
		{"2001:db8:0:200::1", rrlAnswer, 5},    // next /56
		{"2001:db8:ff:1234::1", rrlAnswer, 20}, // exempt /48
	} {
		if got := passes(tc.addr, tc.cat); got != tc.want {
			t.Errorf("%s %s: %d passed, want %d", tc.addr, rrlCategoryNames[tc.cat], got, tc.want)
		}
	}
}

// TestRRLFloodBoundedMemory: a flood from a million spoofed sources into
// a small table neither grows it nor frees the one /24 that floods too.
func TestRRLFloodBoundedMemory(t *testing.T) {
	c := rrlConfig(100, 0)
	c.TableSize = 1024
	l := newRRL(c)
	slots := len(l.slots)
	attacker := netip.MustParseAddr("192.0.2.1")
	rng := rand.New(rand.NewPCG(1, 2))
	const step = int64(time.Millisecond) / 100 // 100k responses/s
	var now int64
	pass := 0
	for i := range 1_000_000 {
		now += step
		var b [4]byte
		binary.BigEndian.PutUint32(b[:], rng.Uint32())
		l.check(netip.AddrFrom4(b), rrlAnswer, now)
		if i%10 == 0 { // the attacker's /24: 10k/s
			p, _, _ := run(l, attacker, rrlAnswer, now, 1)
			pass += p
		}
	}
	if len(l.slots) != slots {
		t.Errorf("table grew from %d to %d slots", slots, len(l.slots))
	}
	// 10 s at 100/s plus one burst of 100.
	if elapsed := time.Duration(now); pass > 100+int(elapsed.Seconds()*100)+1 {
		t.Errorf("flooding /24 got %d answers in %v at 100/s", pass, elapsed)
	}
	if pass < 900 {
		t.Errorf("flooding /24 got only %d answers in 10 s at 100/s: its bucket was lost", pass)
	}
}

func TestTruncateResponse(t *testing.T) {
	s, r, _ := testServer(t)
	for _, q := range []*dns.Msg{newQuery("www.example.net.", dns.TypeA, "203.0.113.0/24"), newQuery("nope.example.net.", dns.TypeAAAA, "")} {
		wire, _ := q.Pack()
		resp := r.answer(s.snap.Load(), wire, resolver, false, nil)
		var m dns.Msg
		if err := m.Unpack(truncateResponse(resp)); err != nil {
			t.Fatal(err)
		}
		if !m.Truncated || !m.Response || m.Id != q.Id || len(m.Question) != 1 || m.Question[0] != q.Question[0] ||
			len(m.Answer)+len(m.Ns)+len(m.Extra) != 0 {
			t.Errorf("truncated reply to %v:\n%v", q.Question[0], &m)
		}
	}
	// A FORMERR reply without a question, and garbage, stay short and valid.
	if got := truncateResponse([]byte{1, 2, 0x80, 1, 0, 0, 0, 0, 0, 0, 0, 0}); len(got) != headerLen || got[2]&0x02 == 0 {
		t.Errorf("header-only reply: %x", got)
	}
	bad := []byte{1, 2, 0x80, 1, 0, 1, 0, 1, 0, 0, 0, 0, 63, 'x'}
	if got := truncateResponse(bad); len(got) != headerLen || got[5] != 0 {
		t.Errorf("reply with a broken question: %x", got)
	}
}

func TestRRLHolder(t *testing.T) {
	var h rrlHolder
	p := exampleConfig(t)
	load := func(edit func(*config.RRL)) *config.Config {
		c, err := config.Load(p)
		if err != nil {
			t.Fatal(err)
		}
		edit(&c.Server.RRL)
		return c
	}
	off := load(func(*config.RRL) {})
	if h.get(off) != nil {
		t.Fatal("limiter without a rate")
	}
	on := load(func(r *config.RRL) { r.ResponsesPerSecond = 10 })
	l := h.get(on)
	if l == nil || h.get(on) != l {
		t.Fatalf("limiter %p, then %p", l, h.get(on))
	}
	if h.get(load(func(r *config.RRL) { r.ResponsesPerSecond = 10 })) != l {
		t.Error("same settings in a new config: the buckets were not kept")
	}
	if l2 := h.get(load(func(r *config.RRL) { r.ResponsesPerSecond = 20 })); l2 == l || l2.interval[rrlAnswer] != int64(time.Second)/20 {
		t.Error("a new rate was not applied")
	}
	if h.get(off) != nil {
		t.Error("RRL turned off is still on")
	}
}

// TestRateLimitResponses drives the responder with RRL on: answers and
// errors are limited apart, truncated replies slip through, a valid server
// cookie is never limited, and nothing allocates.
func TestRateLimitResponses(t *testing.T) {
	s, r, _ := testServer(t, "  tcp_idle_timeout: 10s", "  tcp_idle_timeout: 10s\n  rrl: {responses_per_second: 2, slip: 2}")
	snap := s.snap.Load()
	lim := s.guard.rrl.get(snap.cfg)
	if lim == nil {
		t.Fatal("RRL off")
	}
	src := netip.MustParseAddrPort("192.0.2.1:5300")
	send := func(q *dns.Msg, n int) (full, tc, dropped int) {
		wire, _ := q.Pack()
		for range n {
			resp := r.answer(snap, wire, src, false, nil)
			switch resp = r.rateLimit(lim, snap, resp, src, 0); {
			case resp == nil:
				dropped++
			case resp[2]&0x02 != 0:
				tc++
			default:
				full++
			}
		}
		return
	}
	if f, tc, d := send(newQuery("www.example.net.", dns.TypeA, "203.0.113.0/24"), 10); f != 2 || tc != 4 || d != 4 {
		t.Errorf("answers: %d full %d TC %d dropped, want 2 4 4", f, tc, d)
	}
	if f, tc, d := send(newQuery("nope.example.net.", dns.TypeA, ""), 4); f != 2 || tc != 1 || d != 1 {
		t.Errorf("NXDOMAIN: %d full %d TC %d dropped, want 2 1 1", f, tc, d)
	}
	st := r.stats
	if st.rrl[rrlAnswer][rrlDropped].Load() != 4 || st.rrl[rrlAnswer][rrlSlipped].Load() != 4 ||
		st.rrl[rrlError][rrlDropped].Load() != 1 || st.rrl[rrlError][rrlSlipped].Load() != 1 {
		t.Errorf("counters %v", &st.rrl)
	}
	// With a valid server cookie the source is proven: no limit.
	cc := []byte{1, 2, 3, 4, 5, 6, 7, 8}
	cookie := snap.cookie.appendServerCookie(append([]byte(nil), cc...), cc, src.Addr())
	m := newQuery("www.example.net.", dns.TypeA, "")
	m.IsEdns0().Option = append(m.IsEdns0().Option, &dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: hexString(string(cookie))})
	if f, _, _ := send(m, 5); f != 5 {
		t.Errorf("valid cookie: %d of 5 answered", f)
	}
	// The limited path allocates nothing either.
	wire, _ := newQuery("www.example.net.", dns.TypeA, "203.0.113.0/24").Pack()
	out := make([]byte, 0, 4096)
	if n := testing.AllocsPerRun(200, func() {
		resp := r.answer(snap, wire, src, false, out)
		r.rateLimit(lim, snap, resp, src, 0)
	}); n != 0 {
		t.Errorf("answer + rate limit allocates %v times", n)
	}
}

// BenchmarkRRL measures the limiter's check alone: one client under its
// rate, one over it, a flood from random sources, and a client checked
// against 100 exempt prefixes.
func BenchmarkRRL(b *testing.B) {
	exempt := make([]netip.Prefix, 100)
	for i := range exempt {
		exempt[i] = netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i), 0, 0}), 16+i%9)
		exempt[i] = exempt[i].Masked()
	}
	srcs := make([]netip.Addr, 4096)
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range srcs {
		var a [4]byte
		binary.BigEndian.PutUint32(a[:], rng.Uint32())
		srcs[i] = netip.AddrFrom4(a)
	}
	for _, c := range []struct {
		name   string
		rate   int
		exempt []netip.Prefix
		src    func(i int) netip.Addr
	}{
		{"pass", 1_000_000, nil, func(int) netip.Addr { return netip.MustParseAddr("192.0.2.1") }},
		{"limited", 1, nil, func(int) netip.Addr { return netip.MustParseAddr("192.0.2.1") }},
		{"random-sources", 100, nil, func(i int) netip.Addr { return srcs[i%len(srcs)] }},
		{"ipv6", 100, nil, func(int) netip.Addr { return netip.MustParseAddr("2001:db8:1:2::3") }},
		{"exempt-100", 100, exempt, func(int) netip.Addr { return netip.MustParseAddr("192.0.2.1") }},
	} {
		cfg := rrlConfig(c.rate, 2)
		cfg.Exempt = c.exempt
		l := newRRL(cfg)
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			now := monoNow()
			i := 0
			for b.Loop() {
				l.check(c.src(i), rrlAnswer, now)
				i++
			}
		})
	}
}

// TestPrefixSet compares the bisection with netip.Prefix.Contains over
// nested prefixes, both families, and random and boundary addresses.
func TestPrefixSet(t *testing.T) {
	var ps []netip.Prefix
	for _, p := range []string{"10.0.0.0/8", "10.1.0.0/16", "192.0.2.0/24", "192.0.2.128/25", "198.51.100.7/32", "0.0.0.0/32",
		"2001:db8::/32", "2001:db8:1::/48", "2001:db9::/56", "::/128", "fe80::1/128"} {
		ps = append(ps, netip.MustParsePrefix(p))
	}
	set := newPrefixSet(ps)
	want := func(a netip.Addr) bool {
		for _, p := range ps {
			if p.Contains(a.Unmap()) {
				return true
			}
		}
		return false
	}
	addrs := []netip.Addr{netip.MustParseAddr("::ffff:10.200.0.1"), netip.MustParseAddr("9.255.255.255"), netip.MustParseAddr("11.0.0.0")}
	for _, p := range ps {
		hi, lo := words(p.Addr())
		bits := p.Bits()
		if p.Addr().Is4() {
			bits += 96 // IPv4-mapped
		}
		m := wordMask(bits)
		for _, w := range []u128{{hi & m[0], lo & m[1]}, {hi | ^m[0], lo | ^m[1]}, {hi & m[0], lo&m[1] - 1}, {hi | ^m[0], (lo | ^m[1]) + 1}} {
			var b [16]byte
			binary.BigEndian.PutUint64(b[:8], w.hi)
			binary.BigEndian.PutUint64(b[8:], w.lo)
			a := netip.AddrFrom16(b)
			if p.Addr().Is4() && a.Is4In6() {
				a = a.Unmap()
			}
			addrs = append(addrs, a)
		}
	}
	rng := rand.New(rand.NewPCG(5, 6))
	for range 10000 {
		var b [16]byte
		binary.BigEndian.PutUint64(b[:8], rng.Uint64())
		binary.BigEndian.PutUint64(b[8:], rng.Uint64())
		if rng.IntN(2) == 0 {
			b = [16]byte{0x20, 0x01, 0x0d, byte(0xb8 + rng.IntN(2)), 0, byte(rng.IntN(2)), byte(rng.IntN(2))}
		}
		addrs = append(addrs, netip.AddrFrom16(b), netip.AddrFrom4([4]byte{10 + byte(rng.IntN(2)), byte(rng.IntN(3)), b[2], b[3]}))
	}
	for _, a := range addrs {
		if got := set.contains(a); got != want(a) {
			t.Errorf("contains(%v) = %v, want %v", a, got, !got)
		}
	}
	if (&prefixSet{}).contains(netip.MustParseAddr("10.0.0.1")) {
		t.Error("empty set contains an address")
	}
	all6 := newPrefixSet([]netip.Prefix{netip.MustParsePrefix("::/0")})
	if all6.contains(netip.MustParseAddr("192.0.2.1")) {
		t.Error("::/0 covers IPv4")
	}
}

// FuzzTruncateResponse: any bytes, never a panic; a header-sized result is
// marked TC, holds at most the question, and unpacks when the input did.
func FuzzTruncateResponse(f *testing.F) {
	s, r, _ := testServer(f)
	for _, q := range []*dns.Msg{newQuery("www.example.net.", dns.TypeA, "203.0.113.0/24"), newQuery("nope.example.net.", dns.TypeAAAA, ""), newQuery("example.net.", dns.TypeNS, "-")} {
		wire, _ := q.Pack()
		f.Add(r.answer(s.snap.Load(), wire, resolver, false, nil))
	}
	f.Add([]byte{1, 2, 0x80, 1, 0, 1, 0, 1, 0, 0, 0, 0, 63, 'x'})
	f.Fuzz(func(t *testing.T, b []byte) {
		var in dns.Msg
		unpacks := in.Unpack(b) == nil
		n := len(b)
		out := truncateResponse(append([]byte(nil), b...))
		if len(out) > n {
			t.Fatalf("grew from %d to %d bytes", n, len(out))
		}
		if n < headerLen {
			return
		}
		if out[2]&0x02 == 0 || binary.BigEndian.Uint16(out[4:]) > 1 || binary.BigEndian.Uint16(out[6:])|binary.BigEndian.Uint16(out[8:])|binary.BigEndian.Uint16(out[10:]) != 0 {
			t.Fatalf("not a truncated reply: %x", out)
		}
		var m dns.Msg
		if unpacks && len(in.Question) <= 1 && m.Unpack(out) != nil {
			t.Fatalf("%x unpacked, its truncated form %x does not", b, out)
		}
	})
}
