package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/miekg/dns"

	"github.com/steer-gslb/steer/dnsserver"
	"github.com/steer-gslb/steer/examples"
	"github.com/steer-gslb/steer/internal/cli"
)

// demoCase is one client the demo asks for.
type demoCase struct {
	what   string
	qtype  uint16
	subnet string // ECS source prefix; "" = no ECS
}

var demoCases = []demoCase{
	{"client subnet in the ECS map", dns.TypeA, "203.0.113.0/24"},
	{"inside a /20 map entry: the scope tells resolvers to cache for the /20", dns.TypeA, "198.18.16.0/24"},
	{"inside a /18 entry", dns.TypeA, "198.19.64.0/24"},
	{"not in the map: GeoIP places it in Singapore, nearest PoP sin", dns.TypeA, "100.64.7.0/24"},
	{"not in the map: GeoIP places it in São Paulo, nearest PoP gru", dns.TypeA, "198.18.200.0/24"},
	{"unknown to map and GeoIP: the default (anycast) answer", dns.TypeA, "192.0.2.0/24"},
	{"IPv6 client subnet, AAAA", dns.TypeAAAA, "2001:db8:10::/56"},
	{"no ECS: the resolver's own address decides (127.0.0.1: default)", dns.TypeA, ""},
}

const demoUsage = `usage: steer demo [--networks N] [--seed S] [--keep DIR] [--ui ADDR]
       steer demo serve DIR [--listen ADDR] [--ui ADDR]
       steer demo dns [--listen ADDR] [--serve]

Runs the whole loop on a simulated world built from real data: the world's
beacons go through a real collector into a RUM store, the DNS server answers
the random-name tests, a map is built, scored on held-out samples and the
world's truth against GeoIP and anycast, published, and served by the DNS
server, which then answers a few clients. Needs a C compiler (DuckDB).

With --keep DIR, everything stays in DIR (a previous demo's DIR is
replaced; any other non-empty directory is refused, untouched), and
steer demo serve DIR serves its map again on 127.0.0.1:5353 and the map
explorer (steer ui) on http://127.0.0.1:8090/. With --ui ADDR the demo
itself ends by serving the map explorer on ADDR until interrupted.

steer demo dns runs the DNS server alone on the embedded example config and
map (no C compiler needed).
`

func runDemo(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "dns" {
		return runDNSDemo(args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "serve" {
		return runDemoServe(args[1:], stdout, stderr)
	}
	fs := cli.New("steer demo", demoUsage, "steer demo\nsteer demo --networks 200000 --keep demo", stdout, stderr)
	fs.Subcommands = []string{"dns", "serve"}
	var o loopOptions
	fs.IntVar(&o.networks, "networks", 50_000, "client networks in the simulated world")
	fs.Uint64Var(&o.seed, "seed", 1, "the world's random seed")
	fs.StringVar(&o.keep, "keep", "", "keep the world, store and maps in this directory (replaces a previous demo's; steer demo serve DIR serves it)")
	fs.IntVar(&o.workers, "workers", 8, "concurrent HTTP posts and DNS queries")
	fs.StringVar(&o.ui, "ui", "", "after the demo, serve the map explorer (steer ui) on this address until interrupted, e.g. "+demoServeUI)
	if code, ok := fs.Parse(args); !ok {
		return code
	}
	if fs.NArg() > 0 {
		return fs.Usagef("unexpected argument %q", fs.Arg(0))
	}
	if err := runLoopDemo(stdout, o); err != nil {
		fmt.Fprintln(stderr, "steer demo:", err)
		return 1
	}
	return 0
}

// runDNSDemo is `steer demo dns`: the DNS server alone on the embedded
// example config and map (no C compiler needed).
func runDNSDemo(args []string, stdout, stderr io.Writer) int {
	fs := cli.New("steer demo dns", `usage: steer demo dns [--listen ADDR] [--serve]

Starts the DNS server on the embedded example config and map, asks it for a
few clients (ECS map hits, GeoIP fallbacks, the anycast default) and prints
the answers dig-style; with --serve it keeps serving until interrupted.`, "steer demo dns\nsteer demo dns --listen 127.0.0.1:5353 --serve", stdout, stderr)
	serve := fs.Bool("serve", false, "keep serving on --listen after the demo, until interrupted")
	listen := fs.String("listen", "127.0.0.1:0", "DNS listen address (UDP and TCP)")
	if code, ok := fs.Parse(args); !ok {
		return code
	}
	if fs.NArg() > 0 {
		return fs.Usagef("unexpected argument %q", fs.Arg(0))
	}
	if err := demo(stdout, *listen, *serve); err != nil {
		fmt.Fprintln(stderr, "steer demo:", err)
		return 1
	}
	return 0
}

func demo(w io.Writer, listen string, serve bool) error {
	dir, err := os.MkdirTemp("", "steer-demo-")
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(dir) }()
	if err := examples.WriteTo(dir); err != nil {
		return err
	}
	cfgPath := filepath.Join(dir, "steer.yaml")
	b, err := os.ReadFile(cfgPath)
	if err != nil {
		return err
	}
	cfgText := strings.Replace(withListen(string(b), listen), "debounce: 100ms", "debounce: 50ms", 1)
	if err := os.WriteFile(cfgPath, []byte(cfgText), 0o644); err != nil {
		return err
	}
	s, err := startDemoServer(w, cfgPath)
	if err != nil {
		return err
	}
	defer s.Close()
	addr := s.Addrs()[0]
	fmt.Fprintf(w, "steer demo: DNS server on %s (UDP+TCP), metrics on http://%s/metrics\n", addr, s.AdminAddr())
	fmt.Fprintf(w, "config %s, map %s (the embedded examples/)\n\n", cfgPath, filepath.Join(dir, "map.json"))

	for _, c := range demoCases {
		if err := demoQuery(w, addr, "www.example.net.", c); err != nil {
			return err
		}
	}

	// Hot reload: a new map is picked up; a broken one is rejected and the
	// old answers continue.
	fmt.Fprintln(w, "── hot reload: the map now sends 203.0.113.0/24 to ams first")
	mapPath := filepath.Join(dir, "map.json")
	orig, err := os.ReadFile(mapPath)
	if err != nil {
		return err
	}
	changed := strings.Replace(string(orig), `{"networks": ["203.0.113.0/24"], "labels": ["fra", "ams"]}`, `{"networks": ["203.0.113.0/24"], "labels": ["ams", "fra"]}`, 1)
	serial := s.Serial()
	if err := replaceFile(mapPath, []byte(changed)); err != nil {
		return err
	}
	if err := waitFor(func() bool { return s.Serial() > serial }); err != nil {
		return fmt.Errorf("new map not loaded: %w", err)
	}
	if err := demoQuery(w, addr, "www.example.net.", demoCase{"after the reload", dns.TypeA, "203.0.113.0/24"}); err != nil {
		return err
	}
	fmt.Fprintln(w, "── a broken map (host bits set) is rejected; the server keeps the previous one")
	broken := strings.Replace(changed, `"203.0.113.0/24"`, `"203.0.113.7/24"`, 1)
	slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelWarn})).Warn("writing a broken map on purpose")
	if err := replaceFile(mapPath, []byte(broken)); err != nil {
		return err
	}
	if err := waitFor(func() bool { return reloadFailures(s) > 0 }); err != nil {
		return fmt.Errorf("broken map not reported: %w", err)
	}
	if err := demoQuery(w, addr, "www.example.net.", demoCase{"still served from the last good map", dns.TypeA, "203.0.113.0/24"}); err != nil {
		return err
	}
	if !serve {
		fmt.Fprintln(w, "done. `steer demo dns --serve --listen 127.0.0.1:5353` keeps the server running for your own dig queries.")
		return nil
	}
	if err := replaceFile(mapPath, orig); err != nil {
		return err
	}
	fmt.Fprintf(w, "serving on %s until interrupted; try:\n  dig @%s -p %d www.example.net +subnet=203.0.113.0/24\n", addr, addr.Addr(), addr.Port())
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	return nil
}

// demoQuery asks like `dig +subnet=…` and prints the interesting part of the
// answer in dig's format.
func demoQuery(w io.Writer, server netip.AddrPort, name string, c demoCase) error {
	var ecs netip.Prefix
	if c.subnet != "" {
		ecs = netip.MustParsePrefix(c.subnet)
	}
	m := newQuery(name, c.qtype, ecs, true)
	cl := &dns.Client{Net: "udp", Timeout: 2 * time.Second}
	r, _, err := cl.Exchange(m, server.String())
	if err != nil {
		return fmt.Errorf("query %s: %w", name, err)
	}
	fmt.Fprintf(w, "; %s\n$ dig @%s -p %d %s %s", c.what, server.Addr(), server.Port(), strings.TrimSuffix(name, "."), dns.TypeToString[c.qtype])
	if c.subnet != "" {
		fmt.Fprintf(w, " +subnet=%s", c.subnet)
	}
	fmt.Fprintf(w, "\n;; ->>HEADER<<- status: %s, flags: %s\n", dns.RcodeToString[r.Rcode], flagString(r))
	if o := r.IsEdns0(); o != nil {
		for _, e := range o.Option {
			if s, ok := e.(*dns.EDNS0_SUBNET); ok {
				fmt.Fprintf(w, "; CLIENT-SUBNET: %s/%d/%d\n", s.Address, s.SourceNetmask, s.SourceScope)
			}
		}
	}
	for _, rr := range r.Answer {
		fmt.Fprintln(w, rr.String())
	}
	fmt.Fprintln(w)
	return nil
}

// newQuery is a question for name, with an EDNS OPT record (1232-byte UDP
// payload) when edns is set or an ECS option is given, like dig +subnet.
func newQuery(name string, qtype uint16, ecs netip.Prefix, edns bool) *dns.Msg {
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	if !edns && !ecs.IsValid() {
		return m
	}
	opt := &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT, Class: 1232}}
	if ecs.IsValid() {
		fam := uint16(1)
		if ecs.Addr().Is6() {
			fam = 2
		}
		opt.Option = append(opt.Option, &dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: fam, SourceNetmask: uint8(ecs.Bits()), Address: ecs.Addr().AsSlice()})
	}
	m.Extra = append(m.Extra, opt)
	return m
}

func flagString(r *dns.Msg) string {
	var f []string
	for _, x := range []struct {
		on   bool
		name string
	}{{r.Response, "qr"}, {r.Authoritative, "aa"}, {r.Truncated, "tc"}, {r.RecursionDesired, "rd"}, {r.RecursionAvailable, "ra"}} {
		if x.on {
			f = append(f, x.name)
		}
	}
	return strings.Join(f, " ")
}

// replaceFile writes b to path atomically (temp file + rename), as a map
// publisher does.
func replaceFile(path string, b []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func waitFor(cond func() bool) error {
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			return errors.New("timed out after 10s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	return nil
}

func reloadFailures(s *dnsserver.Server) int { return int(s.ReloadFailures()) }
