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
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"

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
// waits until it answers. It is killed when the test ends.
func startUnbound(t *testing.T, bin string, steerPort uint16) netip.AddrPort {
	t.Helper()
	dir := t.TempDir()
	logFile := filepath.Join(dir, "unbound.log")
	conf := filepath.Join(dir, "unbound.conf")
	port := freePort(t)
	text := fmt.Sprintf(unboundConf, logFile, port, dir, filepath.Join(dir, "unbound.pid"), steerPort)
	if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-d", "-c", conf)
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	out := &syncBuffer{}
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
