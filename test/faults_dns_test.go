package test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// Faults of the DNS server (docs/RELIABILITY.md, "DNS server"): a second
// server on our port, idle TCP clients holding every slot, a UDP flood from
// one /24 and a flood of garbage. Each runs the server as a child process
// (the test binary re-executed, STEER_TEST_ROLE=dns) and talks to it over
// loopback, using several 127.x.y.z source addresses as distinct clients.

// dnsFaultConfig writes a DNS server config listening on listen with the
// server: block server and returns its path.
func dnsFaultConfig(t *testing.T, listen, server string) string {
	t.Helper()
	cfg := fmt.Sprintf(`listen: {dns: [%q], admin: "127.0.0.1:0", udp_sockets: 2}
reload: {watch: false}
server: %s
pops:
  - {label: fra, lat: 50, lon: 8, ipv4: ["192.0.2.10"]}
zones:
  - name: example.net
    ns: [{name: ns1.example.net, ipv4: ["127.0.0.1"]}]
    records:
      - {name: www, steering: [default], default: {ipv4: ["192.0.2.1"]}}
`, listen, server)
	p := filepath.Join(t.TempDir(), "steer.yaml")
	if err := os.WriteFile(p, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// runDNSChild runs a DNS server child on cfg that is expected to fail, and
// returns its output and exit error.
func runDNSChild(t *testing.T, cfg string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "STEER_TEST_ROLE=dns", "STEER_TEST_ROLE_CONFIG="+cfg)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// askWWW asks for www.example.net A from src over UDP and checks the answer.
func askWWW(addr netip.AddrPort, src netip.Addr) error {
	r, err := query(addr, src, "www.example.net", dns.TypeA, netip.Prefix{}, 2*time.Second)
	if err != nil {
		return err
	}
	if r.Truncated || len(answerAddrs(r)) != 1 || answerAddrs(r)[0] != netip.MustParseAddr("192.0.2.1") {
		return fmt.Errorf("unexpected answer %v", r)
	}
	return nil
}

// TestFaultDNSSecondServerSamePort: a second server started on the port of
// a running one (our sockets use SO_REUSEPORT, which would let it join and
// take half the queries) exits non-zero naming the address and the
// holder's pid; the first keeps answering every query. A port held by
// another program is refused too, and a kill -9 leaves no stale lock.
func TestFaultDNSSecondServerSamePort(t *testing.T) {
	listen := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cfg := dnsFaultConfig(t, listen, "{}")
	first := startRole(t, "dns", cfg)
	addr := netip.MustParseAddrPort(first.addr)

	out, err := runDNSChild(t, cfg)
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() == 0 {
		t.Fatalf("second server on %s: exit %v, want a non-zero exit; output:\n%s", listen, err, out)
	}
	for _, want := range []string{listen, "already served by another steer DNS server", fmt.Sprintf("pid %d", first.cmd.Process.Pid)} {
		if !strings.Contains(out, want) {
			t.Errorf("second server's error lacks %q:\n%s", want, out)
		}
	}
	const n = 50
	for i := range n {
		if err := askWWW(addr, netip.Addr{}); err != nil {
			t.Fatalf("query %d to the first server: %v", i, err)
		}
	}
	// Every query reached the first server (none went to a second socket
	// group member).
	if got := scrape(t, first.admin).sum("steer_dns_queries_total", nil); got != n {
		t.Errorf("first server counted %v queries, want %d", got, n)
	}

	// kill -9 releases the lock: a new server starts on the port at once.
	first.kill(t)
	again := startRole(t, "dns", cfg)
	if err := askWWW(netip.MustParseAddrPort(again.addr), netip.Addr{}); err != nil {
		t.Fatalf("server restarted after kill -9: %v", err)
	}

	// A port held by another program (here a plain UDP socket of this
	// process) is refused with a message saying so.
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = pc.Close() }()
	taken := pc.LocalAddr().String()
	out, err = runDNSChild(t, dnsFaultConfig(t, taken, "{}"))
	if !errors.As(err, &ee) || ee.ExitCode() == 0 || !strings.Contains(out, taken) || !strings.Contains(out, "in use by another program") {
		t.Fatalf("server on a port held by another program: exit %v, output:\n%s", err, out)
	}
}

// dialTCP connects from src (port chosen by the kernel) within a second.
func dialTCP(t *testing.T, addr netip.AddrPort, src netip.Addr) net.Conn {
	t.Helper()
	d := net.Dialer{Timeout: time.Second, LocalAddr: net.TCPAddrFromAddrPort(netip.AddrPortFrom(src, 0))}
	c, err := d.Dial("tcp", addr.String())
	if err != nil {
		t.Fatalf("dial from %v: %v", src, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// closedByServer reports whether the server closed c (EOF or reset).
func closedByServer(c net.Conn) bool {
	_ = c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	_, err := c.Read(make([]byte, 1))
	var ne net.Error
	return err != nil && (!errors.As(err, &ne) || !ne.Timeout())
}

// TestFaultDNSTCPIdleClients: idle TCP clients from four /24s try to hold
// every slot. A /24 gets no more than max_per_client; once all slots are
// taken a fresh client still gets its answer at once, in the slot of the
// connection idle longest; a client whose /24 is at its limit is closed
// at once rather than left hanging.
func TestFaultDNSTCPIdleClients(t *testing.T) {
	const maxConns, perClient = 32, 8
	child := startRole(t, "dns", dnsFaultConfig(t, "127.0.0.1:0",
		fmt.Sprintf("{tcp_idle_timeout: 10s, tcp: {max_connections: %d, max_per_client: %d, busy_idle_timeout: 8s}}", maxConns, perClient)))
	addr := netip.MustParseAddrPort(child.addr)
	metric := func(name, reason string) float64 {
		var labels map[string]string
		if reason != "" {
			labels = map[string]string{"reason": reason}
		}
		return scrape(t, child.admin).sum(name, labels)
	}

	// 10 from 127.0.1.1 (2 too many for its /24), then 8 from each of
	// three more /24s: every slot taken.
	var first []net.Conn
	for range perClient + 2 {
		first = append(first, dialTCP(t, addr, netip.MustParseAddr("127.0.1.1")))
	}
	for _, src := range []string{"127.0.2.1", "127.0.3.1", "127.0.4.1"} {
		for range perClient {
			dialTCP(t, addr, netip.MustParseAddr(src))
		}
	}
	eventually(t, 10*time.Second, "all slots taken and 2 refused", func() bool {
		return metric("steer_dns_tcp_connections", "") == maxConns && metric("steer_dns_tcp_connections_refused_total", "per_client") == 2
	})
	// The two over the limit were closed by the server.
	eventually(t, 5*time.Second, "the 2 connections over max_per_client closed", func() bool {
		n := 0
		for _, c := range first {
			if closedByServer(c) {
				n++
			}
		}
		return n == 2
	})

	// A fresh client gets its answer over TCP within the deadline.
	start := time.Now()
	c := &dns.Client{Net: "tcp", Timeout: 3 * time.Second, Dialer: &net.Dialer{Timeout: 3 * time.Second,
		LocalAddr: net.TCPAddrFromAddrPort(netip.MustParseAddrPort("127.0.9.1:0"))}}
	m := new(dns.Msg)
	m.SetQuestion("www.example.net.", dns.TypeA)
	r, _, err := c.Exchange(m, addr.String())
	if err != nil || len(answerAddrs(r)) != 1 {
		t.Fatalf("fresh client with every slot taken: %v %v", r, err)
	}
	t.Logf("fresh client answered in %v with %d idle connections open", time.Since(start), maxConns)
	if got := metric("steer_dns_tcp_connections_reclaimed_total", "evicted"); got != 1 {
		t.Errorf("evicted = %v, want 1", got)
	}
	// The evicted one is the connection idle longest: 127.0.1.1's first.
	eventually(t, 5*time.Second, "the oldest idle connection closed", func() bool { return closedByServer(first[0]) })

	// A client of a /24 at its limit is closed at once, not left waiting.
	start = time.Now()
	c.Dialer.LocalAddr = net.TCPAddrFromAddrPort(netip.MustParseAddrPort("127.0.2.77:0"))
	if _, _, err := c.Exchange(m, addr.String()); err == nil || time.Since(start) > 2*time.Second {
		t.Errorf("client of a full /24: err %v after %v, want a quick failure", err, time.Since(start))
	}
	if got := metric("steer_dns_tcp_connections_refused_total", "per_client"); got != 3 {
		t.Errorf("refused per_client = %v, want 3", got)
	}
	if got := metric("steer_dns_tcp_connections", ""); got > maxConns {
		t.Errorf("%v connections open, limit %d", got, maxConns)
	}
}

// floodResult counts what one flooding socket got back.
type floodResult struct {
	sent, full, truncated atomic.Int64
}

// flood sends count queries for www.example.net from src to addr, one per
// tick, and counts the answers (full and truncated) until ctx ends.
func flood(ctx context.Context, t *testing.T, addr netip.AddrPort, src netip.Addr, count int, tick time.Duration, res *floodResult, wg *sync.WaitGroup) {
	t.Helper()
	conn, err := net.DialUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(src, 0)), net.UDPAddrFromAddrPort(addr))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	_ = conn.SetReadBuffer(4 << 20)
	q := new(dns.Msg)
	q.SetQuestion("www.example.net.", dns.TypeA)
	wire, _ := q.Pack()
	wg.Add(2)
	go func() {
		defer wg.Done()
		buf := make([]byte, 4096)
		for {
			_ = conn.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
			n, err := conn.Read(buf)
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				continue
			}
			var m dns.Msg
			if m.Unpack(buf[:n]) != nil {
				continue
			}
			if m.Truncated {
				res.truncated.Add(1)
			} else if len(m.Answer) == 1 {
				res.full.Add(1)
			}
		}
	}()
	go func() {
		defer wg.Done()
		tk := time.NewTicker(tick)
		defer tk.Stop()
		for range count {
			if _, err := conn.Write(wire); err == nil {
				res.sent.Add(1)
			}
			select {
			case <-tk.C:
			case <-ctx.Done():
				return
			}
		}
	}()
}

// TestFaultDNSUDPFlood: with RRL at 50 answers/s per /24, a flood of valid
// queries from eight addresses of 127.0.0.0/24 gets about 50 answers a
// second (plus one burst), every second limited response slips through
// truncated, and a client of another /24 gets all its answers meanwhile.
// Then a flood of garbage (short, oversize, responses, bogus counts,
// random bytes) is dropped or answered FORMERR and counted, and valid
// queries are still answered.
func TestFaultDNSUDPFlood(t *testing.T) {
	const rate = 50
	child := startRole(t, "dns", dnsFaultConfig(t, "127.0.0.1:0", fmt.Sprintf("{rrl: {responses_per_second: %d, window: 1s, slip: 2}}", rate)))
	addr := netip.MustParseAddrPort(child.addr)

	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	results := make([]floodResult, 8)
	start := time.Now()
	for i := range results {
		flood(ctx, t, addr, netip.AddrFrom4([4]byte{127, 0, 0, byte(2 + i)}), 400, 2500*time.Microsecond, &results[i], &wg)
	}
	// A resolver in another /24 asks 40 times meanwhile (within its burst).
	var clientErrs []error
	for range 40 {
		if err := askWWW(addr, netip.MustParseAddr("127.0.1.1")); err != nil {
			clientErrs = append(clientErrs, err)
		}
	}
	var sent int64
	eventually(t, 15*time.Second, "the flood sent", func() bool {
		sent = 0
		for i := range results {
			sent += results[i].sent.Load()
		}
		return sent == int64(len(results))*400
	})
	elapsed := time.Since(start)
	// Every query the server read is counted; wait for all of them.
	eventually(t, 10*time.Second, "the server to count every query", func() bool {
		return scrape(t, child.admin).sum("steer_dns_queries_total", nil) == float64(sent+40)
	})
	cancel()
	wg.Wait()
	if len(clientErrs) > 0 {
		t.Errorf("the client of another /24 lost %d of 40 answers: %v", len(clientErrs), clientErrs[0])
	}
	ms := scrape(t, child.admin)
	dropped := ms.sum("steer_dns_rrl_responses_total", map[string]string{"category": "answer", "action": "dropped"})
	slipped := ms.sum("steer_dns_rrl_responses_total", map[string]string{"category": "answer", "action": "slipped"})
	limited := int64(dropped + slipped)
	answered := sent - limited
	maxAnswered := int64(rate + rate*elapsed.Seconds() + 2)
	t.Logf("flood: %d queries in %v, %d answered (at most %d allowed), %d slipped, %d dropped", sent, elapsed.Round(time.Millisecond), answered, maxAnswered, int64(slipped), int64(dropped))
	if answered > maxAnswered || answered < rate {
		t.Errorf("flooding /24 got %d answers in %v, want %d..%d (%d/s and one burst)", answered, elapsed, rate, maxAnswered, rate)
	}
	if d, s := int64(dropped), int64(slipped); s != limited/2 || d != limited-s {
		t.Errorf("slip 2: %d dropped and %d slipped of %d limited, want every second one slipped", d, s, limited)
	}
	var full, truncated int64
	for i := range results {
		full += results[i].full.Load()
		truncated += results[i].truncated.Load()
	}
	if full > answered || truncated > int64(slipped) || truncated == 0 {
		t.Errorf("the flooders received %d answers and %d truncated replies; the server sent %d and %d", full, truncated, answered, int64(slipped))
	}

	// Garbage from 127.0.2.1.
	before := scrape(t, child.admin)
	conn, err := net.DialUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort("127.0.2.1:0")), net.UDPAddrFromAddrPort(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close() }()
	rng := rand.New(rand.NewPCG(7, 8))
	var wantDropped int
	header := func(flags uint16, qd, an, ns, ar uint16) []byte {
		b := make([]byte, 12)
		binary.BigEndian.PutUint16(b, uint16(rng.Uint32()))
		binary.BigEndian.PutUint16(b[2:], flags)
		binary.BigEndian.PutUint16(b[4:], qd)
		binary.BigEndian.PutUint16(b[6:], an)
		binary.BigEndian.PutUint16(b[8:], ns)
		binary.BigEndian.PutUint16(b[10:], ar)
		return b
	}
	var packets [][]byte
	for i := range 500 {
		packets = append(packets, make([]byte, i%12)) // shorter than a header: dropped
		wantDropped++
	}
	for range 300 {
		packets = append(packets, header(0x8000, 1, 0, 0, 0)) // a response: dropped
		wantDropped++
	}
	for range 50 {
		packets = append(packets, make([]byte, 4097+rng.IntN(4000))) // longer than any query: dropped
		wantDropped++
	}
	for range 300 {
		packets = append(packets, header(0, 65535, 65535, 65535, 65535)) // huge counts, no records: FORMERR
	}
	for range 300 {
		p := header(0, 1, 0, 0, 1)
		p = append(p, 63, 'x') // a label running past the end: FORMERR
		packets = append(packets, p)
	}
	for range 300 {
		p := make([]byte, 12+rng.IntN(600))
		for i := range p {
			p[i] = byte(rng.Uint32())
		}
		p[2] &^= 0x80 // a query, so answered (FORMERR, NOTIMP, REFUSED…), not dropped
		packets = append(packets, p)
	}
	rng.Shuffle(len(packets), func(i, j int) { packets[i], packets[j] = packets[j], packets[i] })
	tk := time.NewTicker(time.Millisecond)
	for i, p := range packets {
		if _, err := conn.Write(p); err != nil {
			t.Fatalf("garbage %d: %v", i, err)
		}
		if i%20 == 19 {
			<-tk.C // about 20k packets/s
		}
	}
	tk.Stop()
	eventually(t, 10*time.Second, fmt.Sprintf("%d garbage datagrams counted as dropped", wantDropped), func() bool {
		return scrape(t, child.admin).sum("steer_dns_queries_dropped_total", nil)-before.sum("steer_dns_queries_dropped_total", nil) == float64(wantDropped)
	})
	after := scrape(t, child.admin)
	formerr := after.sum("steer_dns_queries_total", map[string]string{"rcode": "FORMERR"}) - before.sum("steer_dns_queries_total", map[string]string{"rcode": "FORMERR"})
	if formerr < 600 {
		t.Errorf("%v garbage queries answered FORMERR, want at least the 600 malformed ones", formerr)
	}
	// Their FORMERR replies to one /24 are rate limited too (errors).
	if after.sum("steer_dns_rrl_responses_total", map[string]string{"category": "error"}) == 0 {
		t.Error("no error response was rate limited")
	}
	for i := range 10 {
		if err := askWWW(addr, netip.MustParseAddr("127.0.1.1")); err != nil {
			t.Fatalf("valid query %d after the garbage: %v", i, err)
		}
	}
}
