package test

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
	"go.yaml.in/yaml/v3"

	"github.com/steer-gslb/steer/config"
	"github.com/steer-gslb/steer/internal/syncbuf"
	"github.com/steer-gslb/steer/popmap"
)

// findUnbound returns the unbound binary, looking in PATH and /usr/sbin
// (which is not in every user's PATH on Debian).
func findUnbound() (string, error) {
	if p, err := exec.LookPath("unbound"); err == nil {
		return p, nil
	}
	const p = "/usr/sbin/unbound"
	if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
		return p, nil
	}
	return "", errors.New("unbound not found in PATH or /usr/sbin (Debian package unbound)")
}

// freePort returns a port that is free on 127.0.0.1 for both UDP and TCP
// at the time of the call.
func freePort(t *testing.T) int {
	t.Helper()
	for range 20 {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := pc.LocalAddr().(*net.UDPAddr).Port
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		_ = pc.Close()
		if err == nil {
			_ = ln.Close()
			return port
		}
	}
	t.Fatal("no free port on 127.0.0.1 for UDP and TCP")
	return 0
}

// unboundConf is a resolver with the ECS module on, listening on
// 127.0.0.1:port, that sends every query for example.net to steer (a stub
// zone on loopback) with the client's /24 as ECS source and caches the
// answers by their ECS scope.
//
// client-subnet-always-forward is left at its default (no): it only matters
// for client queries that already carry ECS (ours carry none: unbound takes
// the source from the client address), and when on it also skips the
// regular cache.
const unboundConf = `server:
	interface: 127.0.0.1
	port: %[2]d
	do-ip4: yes
	do-ip6: no
	do-udp: yes
	do-tcp: yes
	do-daemonize: no
	use-syslog: no
	logfile: %[1]q
	verbosity: 1
	chroot: ""
	username: ""
	directory: %[3]q
	pidfile: %[4]q
	num-threads: 1
	access-control: 127.0.0.0/8 allow
	module-config: "subnetcache iterator"
	send-client-subnet: 127.0.0.1
	max-client-subnet-ipv4: 24
	max-client-subnet-ipv6: 56
	do-not-query-localhost: no
	qname-minimisation: no
	harden-referral-path: no
	domain-insecure: "example.net"
	prefetch: no
	cache-min-ttl: 0
remote-control:
	control-enable: no
stub-zone:
	name: "example.net"
	stub-addr: 127.0.0.1@%[5]d
`

// startUnbound runs unbound in the foreground in front of steerPort and
// waits until it answers. extra is appended to its config (more stub
// zones). It is killed when the test ends.
func startUnbound(t *testing.T, bin string, steerPort uint16, extra ...string) netip.AddrPort {
	t.Helper()
	dir := t.TempDir()
	logFile := filepath.Join(dir, "unbound.log")
	conf := filepath.Join(dir, "unbound.conf")
	port := freePort(t)
	text := fmt.Sprintf(unboundConf, logFile, port, dir, filepath.Join(dir, "unbound.pid"), steerPort) + strings.Join(extra, "")
	if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-d", "-c", conf)
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	out := &syncbuf.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", bin, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	dumpLog := func() {
		b, _ := os.ReadFile(logFile)
		t.Logf("unbound config:\n%s\nunbound output:\n%s\nunbound log:\n%s", text, out.String(), b)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		err := <-exited
		if t.Failed() {
			t.Logf("unbound exit: %v", err)
			dumpLog()
		}
	})

	addr := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port))
	// unbound answers localhost. from its built-in local zone: a readiness
	// probe that neither reaches steer nor fills the ECS cache.
	deadline := time.After(10 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		r, err := query(addr, netip.Addr{}, "localhost.", dns.TypeA, netip.Prefix{}, 200*time.Millisecond)
		if err == nil && r.Rcode == dns.RcodeSuccess {
			return addr
		}
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("unbound exited before answering: %v", err)
		case <-deadline:
			t.Fatalf("unbound on %s did not answer within 10 s: %v", addr, err)
		case <-tick.C:
		}
	}
}

// TestUnboundECS puts a real unbound (Debian package, ECS module on) in front
// of steer on loopback. Unbound derives the ECS source from the client's
// address, and all of 127/8 is loopback on Linux, so clients bound to
// 127.0.0.x and 127.0.1.x are two client subnets. It checks that the two get
// their two PoPs through the resolver, and that unbound's cache honours the
// scope steer returns: repeated queries and queries from other clients in a
// cached scope are answered from the cache (steer sees no new query), while
// a client in another /24 causes one, and a /23 scope (two sibling /24s with
// the same answer, merged) is shared by both /24s.
func TestUnboundECS(t *testing.T) {
	bin, err := findUnbound()
	if err != nil {
		t.Skip(err)
	}
	for _, a := range []string{"127.0.1.1", "127.0.4.1"} {
		pc, err := net.ListenPacket("udp", a+":0")
		if err != nil {
			t.Skipf("cannot use %s as a local source address: %v", a, err)
		}
		_ = pc.Close()
	}

	m := mapOf(t, 7,
		"127.0.0.0/24=fra,ams",
		"127.0.1.0/24=sin,iad",
		"127.0.2.0/24=fra,ams", // same answer as 127.0.0.0/24, not adjacent: its own /24 scope
		"127.0.4.0/24=lhr",     // with 127.0.5.0/24: one /23 scope
		"127.0.5.0/24=lhr",
	)
	tab, err := popmap.Compile(m)
	if err != nil {
		t.Fatal(err)
	}
	s := startSteer(t, m)
	ub := startUnbound(t, bin, s.addr.Port())

	type client struct {
		src      string
		upstream bool // whether unbound must ask steer (cache miss)
	}
	const name = "www.example.net."
	ecsA := map[string]string{"qtype": "A", "source": "ecs"}
	step := func(t *testing.T, c client) {
		t.Helper()
		src := netip.MustParseAddr(c.src)
		pfx := netip.PrefixFrom(src, 24).Masked()
		labels, scope := tab.LookupPrefix(pfx)
		if len(labels) == 0 {
			t.Fatalf("test map does not cover %s", pfx)
		}
		want := s.popAddr4(t, labels[0])

		// What steer itself answers for that subnet, and the scope it
		// tells the resolver to cache by.
		r, err := query(s.addr, netip.Addr{}, name, dns.TypeA, pfx, 2*time.Second)
		if err != nil {
			t.Fatalf("direct query for %s: %v", pfx, err)
		}
		if got := answerAddrs(r); !slices.Equal(got, want) || replyScope(r) != scope {
			t.Fatalf("steer for ECS %s: %v scope %d, want %v (%s) scope %d", pfx, got, replyScope(r), want, labels[0], scope)
		}

		before := s.metrics(t)
		r, err = query(ub, src, name, dns.TypeA, netip.Prefix{}, 3*time.Second)
		if err != nil {
			t.Fatalf("query through unbound from %s: %v", src, err)
		}
		if r.Rcode != dns.RcodeSuccess {
			t.Fatalf("unbound from %s: rcode %s", src, dns.RcodeToString[r.Rcode])
		}
		if got := answerAddrs(r); !slices.Equal(got, want) {
			t.Errorf("through unbound from %s: %v, want %v (PoP %s of %s scope /%d)", src, got, want, labels[0], pfx, scope)
		}
		after := s.metrics(t)
		upstream := after.sum("steer_dns_queries_total", ecsA) - before.sum("steer_dns_queries_total", ecsA)
		ecs := after.sum("steer_dns_queries_ecs_total", nil) - before.sum("steer_dns_queries_ecs_total", nil)
		switch {
		case c.upstream && (upstream != 1 || ecs < 1):
			t.Errorf("from %s (%s, scope /%d not cached yet): steer saw %v ECS-decided A queries and %v with ECS, want 1 and ≥1", src, pfx, scope, upstream, ecs)
		case !c.upstream && upstream != 0:
			t.Errorf("from %s (%s, inside a cached scope /%d): steer saw %v new A queries, want 0 (answer from unbound's cache)", src, pfx, scope, upstream)
		}
	}

	steps := []client{
		{"127.0.0.1", true},  // fra, caches 127.0.0.0/24
		{"127.0.1.1", true},  // sin, caches 127.0.1.0/24
		{"127.0.0.1", false}, // both again: from the cache
		{"127.0.1.1", false},
		{"127.0.0.9", false},  // another client of a cached /24
		{"127.0.1.77", false}, //
		{"127.0.2.1", true},   // a new /24 with a /24 scope: a new upstream query
		{"127.0.2.200", false},
		{"127.0.4.1", true},    // lhr, scope /23
		{"127.0.5.1", false},   // the other half of the /23: from the cache
		{"127.0.0.200", false}, // still fra: the /23 did not spill over
	}
	for i, c := range steps {
		t.Run(fmt.Sprintf("%d_%s", i, c.src), func(t *testing.T) { step(t, c) })
		if t.Failed() {
			break
		}
	}
	// Every query steer saw, from unbound or direct, carried ECS and was
	// decided by it (the per-step deltas above show unbound's did).
	ms := s.metrics(t)
	all, byECS := ms.sum("steer_dns_queries_total", nil), ms.sum("steer_dns_queries_total", ecsA)
	if all != byECS || all != ms.sum("steer_dns_queries_ecs_total", nil) {
		t.Errorf("steer answered %v queries, %v of them A decided by ECS, %v with ECS; want all the same", all, byECS, ms.sum("steer_dns_queries_ecs_total", nil))
	}
}

// appendRecords appends YAML sequence items to zones[0].records of the
// config at path.
func appendRecords(t *testing.T, path, items string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc, add yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal([]byte(items), &add); err != nil {
		t.Fatalf("records to add: %v", err)
	}
	zones := doc.Content[0].Content[mappingIndex(doc.Content[0], "zones")]
	z := zones.Content[0]
	recs := z.Content[mappingIndex(z, "records")]
	recs.Content = append(recs.Content, add.Content[0].Content...)
	out, err := yaml.Marshal(&doc)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, out, 0o644); err != nil {
		t.Fatal(err)
	}
}

// startOtherZone serves example.com on 127.0.0.1 (UDP) with one name,
// shops.example.com A 192.0.2.77, standing for a zone on another
// provider's servers. It returns the port and a count of the queries it
// answered; it stops when the test ends.
func startOtherZone(t *testing.T) (uint16, *atomic.Int64) {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var n atomic.Int64
	h := dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		n.Add(1)
		m := new(dns.Msg)
		m.SetReply(r)
		m.Authoritative = true
		switch q := r.Question[0]; {
		case !dns.IsSubDomain("example.com.", q.Name):
			m.Rcode = dns.RcodeRefused
		case dns.CanonicalName(q.Name) == "shops.example.com." && q.Qtype == dns.TypeA:
			m.Answer = append(m.Answer, &dns.A{Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60}, A: net.IPv4(192, 0, 2, 77)})
		case dns.CanonicalName(q.Name) != "shops.example.com." && dns.CanonicalName(q.Name) != "example.com.":
			m.Rcode = dns.RcodeNameError
		}
		_ = w.WriteMsg(m)
	})
	srv := &dns.Server{PacketConn: pc, Handler: h}
	done := make(chan error, 1)
	go func() { done <- srv.ActivateAndServe() }()
	t.Cleanup(func() {
		_ = srv.Shutdown()
		if err := <-done; err != nil {
			t.Logf("example.com server: %v", err)
		}
	})
	return uint16(pc.LocalAddr().(*net.UDPAddr).Port), &n
}

// TestUnboundCNAME resolves CNAME names of steer through a real unbound:
// cdn.example.net, steered to a CNAME to the chosen PoP's name inside the
// zone ({pop}.edge.example.net, static addresses), and shop.example.net, a
// static CNAME to shops.example.com, a zone unbound finds on another
// server (startOtherZone). Unbound must return the whole chain: the CNAME
// and the PoP's address per client subnet for cdn, the CNAME and the other
// server's address for shop, which only unbound can follow (steer is not
// authoritative for example.com and ends its answer at the CNAME).
func TestUnboundCNAME(t *testing.T) {
	bin, err := findUnbound()
	if err != nil {
		t.Skip(err)
	}
	pc, err := net.ListenPacket("udp", "127.0.1.1:0")
	if err != nil {
		t.Skipf("cannot use 127.0.1.1 as a local source address: %v", err)
	}
	_ = pc.Close()

	s := layoutSteer(t, mapOf(t, 7, "127.0.0.0/24=fra,ams", "127.0.1.0/24=sin,iad"))
	var edges strings.Builder
	for _, p := range s.cfg.PoPs {
		fmt.Fprintf(&edges, "- {name: %s.edge, ttl: 300, static: {ipv4: [%q]}}\n", p.Label, p.IPv4[0])
	}
	appendRecords(t, s.cfgPath, `
- name: cdn
  ttl: 30
  steering: [ecs, resolver, default]
  ecs_map: map.json
  resolver_map: map.json
  cname_template: "{pop}.edge"
  default: {cname: anycast.edge}
- {name: anycast.edge, ttl: 300, static: {ipv4: ["192.0.2.1"]}}
- {name: shop, ttl: 60, static: {cname: shops.example.com.}}
`+edges.String())
	if s.cfg, err = config.Load(s.cfgPath); err != nil {
		t.Fatal(err)
	}
	s.start(t, s.newServer(t))
	otherPort, otherQueries := startOtherZone(t)
	ub := startUnbound(t, bin, s.addr.Port(), fmt.Sprintf("stub-zone:\n\tname: \"example.com\"\n\tstub-addr: 127.0.0.1@%d\nserver:\n\tdomain-insecure: \"example.com\"\n", otherPort))

	chain := func(r *dns.Msg) string {
		var out []string
		for _, rr := range r.Answer {
			switch rr := rr.(type) {
			case *dns.CNAME:
				out = append(out, dns.CanonicalName(rr.Hdr.Name)+" CNAME "+rr.Target)
			case *dns.A:
				out = append(out, dns.CanonicalName(rr.Hdr.Name)+" A "+rr.A.String())
			default:
				out = append(out, rr.String())
			}
		}
		return strings.Join(out, "; ")
	}
	for _, tc := range []struct {
		src, name string
		want      string
	}{
		{"127.0.0.1", "cdn.example.net.", "cdn.example.net. CNAME fra.edge.example.net.; fra.edge.example.net. A " + s.popAddr4(t, "fra")[0].String()},
		{"127.0.1.1", "cdn.example.net.", "cdn.example.net. CNAME sin.edge.example.net.; sin.edge.example.net. A " + s.popAddr4(t, "sin")[0].String()},
		{"127.0.0.1", "shop.example.net.", "shop.example.net. CNAME shops.example.com.; shops.example.com. A 192.0.2.77"},
	} {
		// What steer itself answers: the whole chain inside its zone, the
		// CNAME alone for the other zone's name.
		direct, err := query(s.addr, netip.Addr{}, tc.name, dns.TypeA, netip.PrefixFrom(netip.MustParseAddr(tc.src), 24).Masked(), 2*time.Second)
		if err != nil {
			t.Fatalf("direct query for %s: %v", tc.name, err)
		}
		wantDirect := tc.want
		if tc.name == "shop.example.net." {
			wantDirect = "shop.example.net. CNAME shops.example.com."
		}
		if got := chain(direct); got != wantDirect || !direct.Authoritative {
			t.Errorf("steer for %s from %s/24: %s (aa %v), want %s", tc.name, tc.src, got, direct.Authoritative, wantDirect)
		}

		before := s.metrics(t)
		r, err := query(ub, netip.MustParseAddr(tc.src), tc.name, dns.TypeA, netip.Prefix{}, 3*time.Second)
		if err != nil {
			t.Fatalf("%s through unbound from %s: %v", tc.name, tc.src, err)
		}
		if r.Rcode != dns.RcodeSuccess {
			t.Fatalf("%s through unbound from %s: rcode %s", tc.name, tc.src, dns.RcodeToString[r.Rcode])
		}
		if got := chain(r); got != tc.want {
			t.Errorf("%s through unbound from %s:\n%s\nwant\n%s", tc.name, tc.src, got, tc.want)
		}
		after := s.metrics(t)
		delta := func(l map[string]string) float64 {
			return after.sum("steer_dns_queries_total", l) - before.sum("steer_dns_queries_total", l)
		}
		t.Logf("%s from %s: unbound asked steer %v times (%v decided by ECS, %v static)", tc.name, tc.src,
			delta(nil), delta(map[string]string{"source": "ecs"}), delta(map[string]string{"source": "none"}))
	}
	if n := otherQueries.Load(); n < 1 {
		t.Errorf("the example.com server saw %d queries: unbound did not follow the CNAME out of steer's zone", n)
	}
}
