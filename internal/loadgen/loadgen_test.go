package loadgen

import (
	"bytes"
	"context"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/steer-gslb/steer/popmap"
)

func readMap(path string) (*popmap.Map, error) { return popmap.ReadFile(path) }

func TestBuildQuery(t *testing.T) {
	for _, tc := range []struct {
		ecs    string
		family uint16
	}{
		{"203.0.113.0/24", 1},
		{"10.0.0.0/8", 1},
		{"2001:db8:10::/56", 2},
	} {
		t.Run(tc.ecs, func(t *testing.T) {
			p := netip.MustParsePrefix(tc.ecs)
			b, err := BuildQuery(0x1234, "www.example.net", dns.TypeA, p)
			if err != nil {
				t.Fatal(err)
			}
			m := new(dns.Msg)
			if err := m.Unpack(b); err != nil {
				t.Fatalf("Unpack: %v", err)
			}
			if m.Id != 0x1234 || m.RecursionDesired || m.Response {
				t.Errorf("header = id %#x rd %v qr %v, want id 0x1234 rd false qr false", m.Id, m.RecursionDesired, m.Response)
			}
			if len(m.Question) != 1 || m.Question[0].Name != "www.example.net." || m.Question[0].Qtype != dns.TypeA {
				t.Errorf("question = %v", m.Question)
			}
			got, scope, ok := QueryECS(m)
			if !ok || got != p || scope != 0 {
				t.Errorf("ECS = %v scope %d (present %v), want %v scope 0", got, scope, ok, p)
			}
			e := m.IsEdns0().Option[0].(*dns.EDNS0_SUBNET)
			if e.Family != tc.family {
				t.Errorf("family = %d, want %d", e.Family, tc.family)
			}
		})
	}
	if _, err := BuildQuery(1, "www.example.net", dns.TypeA, netip.MustParsePrefix("203.0.113.1/24")); err == nil {
		t.Error("BuildQuery accepted a prefix with host bits set")
	}
}

func smallWorld(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	if _, err := Synth(World{Dir: dir, V4: 2000, V6: 50, PoPs: 4, Seed: 1, SteerPort: 5353, AdminPort: 9153, GdnsdPort: 5354}); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestPoolAndDnsperfRoundTrip(t *testing.T) {
	dir := smallWorld(t)
	chk, err := NewChecker(filepath.Join(dir, SteerConfig), "", DefaultQName)
	if err != nil {
		t.Fatal(err)
	}
	m, err := readMap(chk.MapPath)
	if err != nil {
		t.Fatal(err)
	}
	prefixes := ECSPrefixes(m, 500, 1)
	if len(prefixes) != 500 {
		t.Fatalf("ECSPrefixes = %d prefixes, want 500", len(prefixes))
	}
	pool, err := NewPool(DefaultQName, dns.TypeA, prefixes)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := pool.WriteDnsperf(&buf); err != nil {
		t.Fatal(err)
	}
	msgs, err := ReadDnsperf(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != pool.Len() {
		t.Fatalf("read %d records, want %d", len(msgs), pool.Len())
	}
	seen := map[netip.Prefix]bool{}
	for i, b := range msgs {
		if !bytes.Equal(b, pool.Query(i)) {
			t.Fatalf("record %d differs from the pool's query", i)
		}
		m := new(dns.Msg)
		if err := m.Unpack(b); err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		p, _, ok := QueryECS(m)
		if !ok || p != prefixes[i] || p.Bits() != 24 {
			t.Fatalf("record %d: ECS %v (present %v), want %v", i, p, ok, prefixes[i])
		}
		if seen[p] {
			t.Fatalf("record %d: ECS %v repeated", i, p)
		}
		seen[p] = true
		if labels, _ := chk.Table().LookupPrefix(p); len(labels) == 0 {
			t.Fatalf("record %d: ECS %v is not in the map", i, p)
		}
	}
	// A truncated file is an error, not a silent short read.
	var short bytes.Buffer
	if err := pool.WriteDnsperf(&short); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadDnsperf(bytes.NewReader(short.Bytes()[:short.Len()-3])); err == nil {
		t.Error("ReadDnsperf accepted a truncated file")
	}
}

// testPool returns a pool of n queries whose ECS sources come from chk's map.
func testPool(t testing.TB, chk *Checker, n int) *Pool {
	t.Helper()
	m, err := readMap(chk.MapPath)
	if err != nil {
		t.Fatal(err)
	}
	pool, err := NewPool(DefaultQName, dns.TypeA, ECSPrefixes(m, n, 1))
	if err != nil {
		t.Fatal(err)
	}
	return pool
}

// ecsServer answers like a correct steer server would, from chk.
func ecsServer(t testing.TB, chk *Checker) netip.AddrPort {
	t.Helper()
	return ecsServerFunc(t, func() *Checker { return chk })
}

// ecsServerFunc answers each query from the checker cur returns then. The
// server listens on 127.0.0.1 and is shut down when the test ends.
func ecsServerFunc(t testing.TB, cur func() *Checker) netip.AddrPort {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		r := new(dns.Msg).SetReply(q)
		r.Authoritative = true
		p, _, ok := QueryECS(q)
		if !ok {
			r.Rcode = dns.RcodeFormatError
			if err := w.WriteMsg(r); err != nil {
				t.Errorf("test server: %v", err)
			}
			return
		}
		addrs, scope := cur().Expect(p)
		for _, a := range addrs {
			r.Answer = append(r.Answer, &dns.A{Hdr: dns.RR_Header{Name: q.Question[0].Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 30}, A: a.AsSlice()})
		}
		o := &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT}}
		o.SetUDPSize(1232)
		o.Option = []dns.EDNS0{&dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: 1, SourceNetmask: uint8(p.Bits()), SourceScope: uint8(scope), Address: p.Addr().AsSlice()}}
		r.Extra = append(r.Extra, o)
		if err := w.WriteMsg(r); err != nil {
			t.Errorf("test server: %v", err)
		}
	})
	started := make(chan struct{})
	served := make(chan error, 1)
	srv := &dns.Server{PacketConn: pc, Handler: h, NotifyStartedFunc: func() { close(started) }}
	go func() { served <- srv.ActivateAndServe() }()
	select {
	case <-started:
	case err := <-served:
		t.Fatalf("test server: %v", err)
	case <-time.After(5 * time.Second):
		t.Fatal("test server did not start")
	}
	// Shutdown waits for the handlers and closes pc.
	t.Cleanup(func() {
		if err := srv.Shutdown(); err != nil {
			t.Errorf("test server shutdown: %v", err)
		}
		if err := <-served; err != nil {
			t.Errorf("test server: %v", err)
		}
	})
	return netip.MustParseAddrPort(pc.LocalAddr().String())
}

func TestRunLoopback(t *testing.T) {
	dir := smallWorld(t)
	chk, err := NewChecker(filepath.Join(dir, SteerConfig), "", DefaultQName)
	if err != nil {
		t.Fatal(err)
	}
	pool := testPool(t, chk, 1000)
	addr := ecsServer(t, chk)
	res, err := Run(context.Background(), Options{
		Server: addr, Pool: pool, Duration: 300 * time.Millisecond, Window: 64, Batch: 16,
		Timeout: 2 * time.Second, CheckEvery: 1, Checker: chk, Logf: t.Logf,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("sent %d received %d lost %d qps %.0f p99 %.3f ms", res.Sent, res.Received, res.Lost, res.QPS, res.Latency.P99)
	if res.Received == 0 || res.Lost != 0 || res.Late != 0 || res.Rcode != 0 {
		t.Errorf("received %d lost %d late %d rcode errors %d, want >0, 0, 0, 0", res.Received, res.Lost, res.Late, res.Rcode)
	}
	if res.Checked != res.Received || res.WrongAnswer+res.WrongScope+res.Malformed != 0 {
		t.Errorf("checked %d of %d: wrong answer %d, wrong scope %d, malformed %d", res.Checked, res.Received, res.WrongAnswer, res.WrongScope, res.Malformed)
	}
	if res.Received != res.Sent {
		t.Errorf("received %d != sent %d", res.Received, res.Sent)
	}
}

func TestRunDetectsWrongScope(t *testing.T) {
	// The server answers from the rotated map: every checked answer is wrong.
	_, chk, next := worldCheckers(t)
	pool := testPool(t, chk, 200)
	res, err := Run(context.Background(), Options{
		Server: ecsServer(t, next), Pool: pool, Duration: 100 * time.Millisecond, Window: 16, CheckEvery: 1, Checker: chk,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Checked == 0 || res.WrongAnswer != res.Checked {
		t.Errorf("checked %d, wrong answers %d; want every checked answer wrong", res.Checked, res.WrongAnswer)
	}
}

func TestRunRefusesNonLoopback(t *testing.T) {
	pool, err := NewPool(DefaultQName, dns.TypeA, []netip.Prefix{netip.MustParsePrefix("203.0.113.0/24")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Run(context.Background(), Options{Server: netip.MustParseAddrPort("192.0.2.1:53"), Pool: pool, Duration: time.Millisecond}); err == nil {
		t.Error("Run accepted a non-loopback server")
	}
}

func TestHist(t *testing.T) {
	var h hist
	for v := int64(1); v <= 100000; v++ {
		h.record(v * 1000) // 1 µs … 100 ms
	}
	for _, q := range []float64{0.5, 0.9, 0.99} {
		want := q * 100e6
		got := float64(h.quantile(q))
		if got < want*0.98 || got > want*1.03 {
			t.Errorf("quantile(%v) = %v, want %v ±2%%", q, got, want)
		}
	}
	if h.quantile(1) != 100*time.Millisecond {
		t.Errorf("max = %v, want 100ms", h.quantile(1))
	}
	for v := int64(0); v < 1<<20; v += 7 {
		if i := histIndex(v); histValue(i) < v || (i > 0 && histValue(i-1) >= v) {
			t.Fatalf("value %d in bucket %d [%d, %d]", v, i, histValue(i-1)+1, histValue(i))
		}
	}
}

func TestRunReload(t *testing.T) {
	dir, chk, next := worldCheckers(t)
	from, to := filepath.Join(dir, "map.json.tmp"), filepath.Join(dir, MapFile)
	data, err := os.ReadFile(filepath.Join(dir, NextMapFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(from, data, 0o644); err != nil {
		t.Fatal(err)
	}
	// The server switches to the new map as soon as the rename happened
	// (the temp file is gone), like an ideal watcher.
	addr := ecsServerFunc(t, func() *Checker {
		if _, err := os.Stat(from); err != nil {
			return next
		}
		return chk
	})
	pool := testPool(t, chk, 500)
	res, err := Run(context.Background(), Options{
		Server: addr, Pool: pool, Duration: 600 * time.Millisecond, Window: 32, Rate: 5000, Timeout: 2 * time.Second,
		CheckEvery: 1, Checker: chk, Logf: t.Logf,
		Reload: &ReloadPlan{After: 200 * time.Millisecond, From: from, To: to, Next: next, Settle: 100 * time.Millisecond},
	})
	if err != nil {
		t.Fatal(err)
	}
	rl := res.Reload
	if rl == nil || rl.AllNewMs < 0 || rl.AllNewMs > 300 || rl.FirstNewMs > rl.AllNewMs {
		t.Fatalf("reload = %+v, want all probes new within 300 ms", rl)
	}
	if res.Lost != 0 || rl.Lost != 0 || res.WrongAnswer+res.WrongScope+res.Malformed != 0 || rl.Sent == 0 {
		t.Errorf("lost %d (in window %d of %d), wrong %d/%d/%d; want no loss, no wrong answer",
			res.Lost, rl.Lost, rl.Sent, res.WrongAnswer, res.WrongScope, res.Malformed)
	}
	if _, err := os.Stat(from); err == nil {
		t.Error("the new map was not renamed into place")
	}
}

// With Stop the run ends once the window is complete instead of at its
// Duration, and the baseline covers the time before the rename less the
// first baselineSkip.
func TestRunReloadStop(t *testing.T) {
	dir, chk, next := worldCheckers(t)
	from, to := filepath.Join(dir, "map.json.tmp"), filepath.Join(dir, MapFile)
	data, err := os.ReadFile(filepath.Join(dir, NextMapFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(from, data, 0o644); err != nil {
		t.Fatal(err)
	}
	addr := ecsServerFunc(t, func() *Checker {
		if _, err := os.Stat(from); err != nil {
			return next
		}
		return chk
	})
	pool := testPool(t, chk, 500)
	res, err := Run(context.Background(), Options{
		Server: addr, Pool: pool, Duration: 20 * time.Second, Window: 32, Rate: 5000, Timeout: 2 * time.Second,
		CheckEvery: 1, Checker: chk, Logf: t.Logf,
		Reload: &ReloadPlan{After: 800 * time.Millisecond, From: from, To: to, Next: next, Settle: 100 * time.Millisecond, Stop: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	rl := res.Reload
	if rl == nil || rl.AllNewMs < 0 {
		t.Fatalf("reload = %+v, want every probe new", rl)
	}
	if res.Seconds > 5 {
		t.Errorf("sent for %.1f s, want the run stopped about Settle after the new answers (< 5 s of its 20)", res.Seconds)
	}
	if rl.BaselineSeconds < 0.2 || rl.BaselineSeconds > 0.4 || rl.BaselineSent == 0 || rl.Baseline.P99 <= 0 || rl.Baseline.P999 < rl.Baseline.P99 {
		t.Errorf("baseline %.1f s, %d sent, %+v; want 0.3 s (0.8 s before the rename less 0.5 s) with latencies", rl.BaselineSeconds, rl.BaselineSent, rl.Baseline)
	}
	if rl.Sent == 0 || rl.Latency.P999 < rl.Latency.P99 {
		t.Errorf("window: %d sent, %+v", rl.Sent, rl.Latency)
	}
}

// BenchmarkLoopback runs the generator for 200 ms per iteration against the
// in-process miekg/dns test server on 127.0.0.1 and reports replies per
// second, lost queries per iteration and the worst p99. The test server (one
// goroutine per query) is the bottleneck, so this is a smoke test of the
// whole send/receive/check path and a rough regression signal, not a server
// figure (bench/dns-qps.sh is that). It stops by itself; one iteration takes
// well under a second, so CI can run it with -benchtime=1x.
func BenchmarkLoopback(b *testing.B) {
	dir := smallWorld(b)
	chk, err := NewChecker(filepath.Join(dir, SteerConfig), "", DefaultQName)
	if err != nil {
		b.Fatal(err)
	}
	pool := testPool(b, chk, 1000)
	addr := ecsServer(b, chk)
	var received, lost uint64
	var seconds, p99 float64
	for b.Loop() {
		res, err := Run(b.Context(), Options{
			Server: addr, Pool: pool, Duration: 200 * time.Millisecond, Window: 64, Batch: 16,
			Timeout: 500 * time.Millisecond, CheckEvery: 100, Checker: chk,
		})
		if err != nil {
			b.Fatal(err)
		}
		if res.Received == 0 || res.Rcode != 0 || res.WrongAnswer+res.WrongScope+res.Malformed != 0 {
			b.Fatalf("received %d, rcode errors %d, wrong %d/%d/%d; want >0 and no errors",
				res.Received, res.Rcode, res.WrongAnswer, res.WrongScope, res.Malformed)
		}
		received += res.Received
		lost += res.Lost
		seconds += res.Seconds
		p99 = max(p99, res.Latency.P99)
	}
	b.ReportMetric(float64(received)/seconds, "queries/s")
	b.ReportMetric(float64(lost)/float64(b.N), "lost/op")
	b.ReportMetric(p99, "p99-ms")
}

// worldCheckers makes the small world and checkers for its map and for the
// rotated map that replaces it.
func worldCheckers(t *testing.T) (dir string, chk, next *Checker) {
	t.Helper()
	dir = smallWorld(t)
	chk, err := NewChecker(filepath.Join(dir, SteerConfig), "", DefaultQName)
	if err != nil {
		t.Fatal(err)
	}
	if next, err = chk.WithMap(filepath.Join(dir, NextMapFile)); err != nil {
		t.Fatal(err)
	}
	return dir, chk, next
}
