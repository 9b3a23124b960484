package test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/steer-gslb/steer/control"
	"github.com/steer-gslb/steer/dnsserver"
	"github.com/steer-gslb/steer/internal/syncbuf"
	"github.com/steer-gslb/steer/popmap"
)

// The fleet test's processes: the test binary re-executed as a control
// server or a DNS server (STEER_TEST_ROLE), each printing "ADDR a b" once
// it listens, so that they can be killed, stopped and restarted for real.

func runChildRole(role, cfg string) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	switch role {
	case "control":
		c, err := control.LoadConfigFile(cfg)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		srv, err := control.New(c, control.Options{Logger: logger})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		ln, err := net.Listen("tcp", c.Listen.String())
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		fmt.Printf("ADDR %s -\n", ln.Addr())
		if err := srv.Serve(ctx, ln); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		return 0
	case "dns":
		err := dnsserver.Run(ctx, cfg, dnsserver.Options{Logger: logger}, func(s *dnsserver.Server) {
			fmt.Printf("ADDR %s %s\n", s.Addrs()[0], s.AdminAddr())
		})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		return 0
	}
	if run, ok := childRoles[role]; ok {
		return run(ctx, cfg)
	}
	fmt.Fprintln(os.Stderr, "unknown role", role)
	return 2
}

// childRoles are more roles of the test binary, registered by the files
// that use them (the fault suite's writers killed at random points).
var childRoles = map[string]func(ctx context.Context, arg string) int{}

// child is the test binary re-executed as another process: a collector
// (TestMain, STEER_TEST_COLLECTOR_DIR), a control server or a DNS server
// (STEER_TEST_ROLE). It prints "ADDR a b" once it listens: its address
// and, for a DNS server, its admin address.
type child struct {
	name   string
	cmd    *exec.Cmd
	addr   string // DNS address, or the control server's, or the collector's
	admin  string
	stderr *syncbuf.Buffer
	done   bool
}

// startRole starts a control server or a DNS server on the config cfg.
func startRole(t *testing.T, role, cfg string) *child {
	t.Helper()
	return startChild(t, role+" "+cfg, []string{"STEER_TEST_ROLE=" + role, "STEER_TEST_ROLE_CONFIG=" + cfg})
}

func startChild(t *testing.T, name string, env []string) *child {
	t.Helper()
	c := &child{name: name, cmd: exec.Command(os.Args[0], "-test.run=^$"), stderr: &syncbuf.Buffer{}}
	c.cmd.Env = append(os.Environ(), env...)
	stdout, err := c.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	c.cmd.Stderr = c.stderr
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if !c.done {
			_ = c.cmd.Process.Signal(syscall.SIGCONT)
			_ = c.cmd.Process.Kill()
			_ = c.cmd.Wait()
		}
		if t.Failed() {
			t.Logf("%s log:\n%s", name, tailString(c.stderr.String(), 6000))
		}
	})
	addrc := make(chan []string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if a, ok := strings.CutPrefix(sc.Text(), "ADDR "); ok {
				addrc <- strings.Fields(a)
			}
		}
		close(addrc)
	}()
	select {
	case a := <-addrc:
		if len(a) != 2 {
			t.Fatalf("%s exited; stderr:\n%s", name, c.stderr.String())
		}
		c.addr, c.admin = a[0], a[1]
	case <-time.After(60 * time.Second):
		t.Fatalf("%s did not start; stderr:\n%s", name, c.stderr.String())
	}
	return c
}

func (c *child) kill(t *testing.T) {
	t.Helper()
	_ = c.cmd.Process.Kill()
	_ = c.cmd.Wait()
	c.done = true
}

// healthEndpoints serves /NAME for each PoP check: 200 "ok" while the
// PoP's flag is up, 503 while down, alternating per request in flap mode.
type healthEndpoints struct {
	mu    sync.Mutex
	mode  map[string]string // path → up | down | flap
	count map[string]int
}

func (h *healthEndpoints) set(path, mode string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.mode[path] = mode
}

func (h *healthEndpoints) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	mode := h.mode[r.URL.Path]
	h.count[r.URL.Path]++
	n := h.count[r.URL.Path]
	h.mu.Unlock()
	if mode == "down" || (mode == "flap" && n%2 == 0) {
		http.Error(w, "unhealthy", http.StatusServiceUnavailable)
		return
	}
	_, _ = io.WriteString(w, "ok\n")
}

const (
	fleetRead    = "fleet-read-token-0123456789"
	fleetOperate = "fleet-operate-token-0123456789"
	fleetPublish = "fleet-publish-token-0123456789"
	anycastAddr  = "192.0.2.1"
	checkEvery   = 250 * time.Millisecond
	checkFall    = 3
	checkRise    = 2
)

var fleetPoPs = []struct{ label, addr string }{{"fra", "192.0.2.10"}, {"ams", "192.0.2.20"}, {"lhr", "192.0.2.30"}}

// dnsFleetConfig is a DNS server config following the control server at
// ctlURL, with HTTP checks of each PoP at health/<server>/<pop>.
func dnsFleetConfig(server, ctlURL, healthURL string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `listen: {dns: ["127.0.0.1:0"], admin: "127.0.0.1:0", udp_sockets: 1}
reload: {watch: false}
control: {url: %q, token: %s, map_file: map.json, server: %s, stale_after: 3s, report_every: 1s}
pops:
`, ctlURL, fleetRead, server)
	for _, p := range fleetPoPs {
		fmt.Fprintf(&b, "  - {label: %s, lat: 50, lon: 8, ipv4: [%q], check: {type: http, url: %q, interval: %s, timeout: 200ms, rise: %d, fall: %d}}\n",
			p.label, p.addr, healthURL+"/"+server+"/"+p.label, checkEvery, checkRise, checkFall)
	}
	b.WriteString(`zones:
  - name: example.net
    ns: [{name: ns1.example.net, ipv4: ["127.0.0.1"]}]
    records:
      - {name: www, steering: [ecs, default], ecs_map: map.json, default: {ipv4: ["` + anycastAddr + `"]}}
      - {name: closed, steering: [ecs, default], ecs_map: map.json, health_policy: fail_closed, default: {ipv4: ["` + anycastAddr + `"]}}
`)
	return b.String()
}

// fleet is one control server and two DNS servers on loopback.
type fleet struct {
	dir     string
	ctlCfg  string
	ctl     *child
	dns     []*child
	health  *healthEndpoints
	client  *control.Client
	operate *control.Client
}

func startFleet(t *testing.T) *fleet {
	t.Helper()
	f := &fleet{dir: t.TempDir(), health: &healthEndpoints{mode: map[string]string{}, count: map[string]int{}}}
	hs := httptest.NewServer(f.health)
	t.Cleanup(hs.Close)
	port := freePort(t)
	ctlURL := fmt.Sprintf("http://127.0.0.1:%d", port)
	// The control server's view of the fleet's PoPs: the first server's config.
	first := dnsFleetConfig("a", ctlURL, hs.URL)
	write := func(name, content string) string {
		p := filepath.Join(f.dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	initial := `{"meta": {"version": 0}, "map": []}`
	write("ctl/dns.yaml", first)
	write("ctl/map.json", initial)
	f.ctlCfg = write("ctl/control.yaml", fmt.Sprintf(`listen: 127.0.0.1:%d
state_dir: state
map_dir: maps
dns_config: dns.yaml
health_ttl: 4s
load: {period: 100ms, delay: 0}
tokens:
  - {name: fleet, role: read, token: %s}
  - {name: ops, role: operate, token: %s}
  - {name: ci, role: publish, token: %s}
`, port, fleetRead, fleetOperate, fleetPublish))
	f.ctl = startRole(t, "control", f.ctlCfg)
	f.client = &control.Client{URL: ctlURL, Token: fleetPublish}
	f.operate = &control.Client{URL: ctlURL, Token: fleetOperate}
	// Version 1: 10.0.0.0/8 ranks fra, ams, lhr.
	f.publish(t, `{"map": [{"networks": ["10.0.0.0/8"], "labels": ["fra", "ams", "lhr"]}]}`, false)
	for _, name := range []string{"a", "b"} {
		for _, p := range fleetPoPs {
			f.health.set("/"+name+"/"+p.label, "up")
		}
		if name == "a" {
			write(name+"/map.json", initial) // b starts without one, as a new server would
		}
		cfg := write(name+"/steer.yaml", dnsFleetConfig(name, ctlURL, hs.URL))
		f.dns = append(f.dns, startRole(t, "dns", cfg))
	}
	return f
}

func (f *fleet) publish(t *testing.T, js string, force bool) *control.PublishResult {
	t.Helper()
	m, err := popmap.Parse([]byte(js))
	if err != nil {
		t.Fatal(err)
	}
	res, err := f.client.Publish(context.Background(), control.PublishRequest{Map: m, Force: force})
	if err != nil {
		t.Fatalf("publish: %v", err)
	}
	return res
}

// answer is the first A record www (or name) gets for the ECS subnet
// 10.1.0.0/24 from server i ("" on error or no answer).
func (f *fleet) answer(i int, name string) string {
	return f.answerFor(i, name, "10.1.0.0/24")
}

func (f *fleet) answerFor(i int, name, ecs string) string {
	r, err := query(netip.MustParseAddrPort(f.dns[i].addr), netip.Addr{}, name+".example.net", dns.TypeA, netip.MustParsePrefix(ecs), time.Second)
	if err != nil || len(answerAddrs(r)) == 0 {
		return ""
	}
	return answerAddrs(r)[0].String()
}

// waitAll polls until every server answers want for name, and returns how
// long that took.
func (f *fleet) waitAll(t *testing.T, name, want, what string, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	eventually(t, within, what, func() bool {
		for i := range f.dns {
			if f.answer(i, name) != want {
				return false
			}
		}
		return true
	})
	return time.Since(start)
}

func (f *fleet) setAll(pop, mode string) {
	for _, s := range []string{"a", "b"} {
		f.health.set("/"+s+"/"+pop, mode)
	}
}

func TestFleetFollowsControl(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	f := startFleet(t)
	const fra, ams, lhr = "192.0.2.10", "192.0.2.20", "192.0.2.30"
	f.waitAll(t, "www", fra, "both servers serving map version 1 (fra)", 20*time.Second)

	t.Run("health: down after fall checks, up after rise, flapping changes nothing", func(t *testing.T) {
		start := time.Now()
		f.setAll("fra", "down")
		f.waitAll(t, "www", ams, "fra's failing check moving both servers to ams", 10*time.Second)
		took := time.Since(start)
		bound := checkEvery*checkFall + checkEvery
		t.Logf("health down → next-ranked PoP on both servers: %v (bound interval×fall + interval = %v)", took, bound)
		if took > bound {
			t.Errorf("took %v, more than interval×fall + one interval (%v)", took, bound)
		}
		start = time.Now()
		f.setAll("fra", "up")
		f.waitAll(t, "www", fra, "fra back after rise", 10*time.Second)
		took = time.Since(start)
		bound = checkEvery*checkRise + checkEvery
		t.Logf("health up → back on both servers: %v (bound %v)", took, bound)
		if took > bound {
			t.Errorf("recovery took %v, more than interval×rise + one interval (%v)", took, bound)
		}
		// Alternating results never reach fall (3) failures or rise (2)
		// successes in a row: over 12 intervals nothing changes.
		f.setAll("fra", "flap")
		deadline := time.Now().Add(12 * checkEvery)
		pace := time.NewTicker(20 * time.Millisecond)
		defer pace.Stop()
		for time.Now().Before(deadline) {
			for i := range f.dns {
				if got := f.answer(i, "www"); got != fra {
					t.Fatalf("flapping check changed server %d's answer to %q", i, got)
				}
			}
			<-pace.C
		}
		f.setAll("fra", "up")
	})

	t.Run("drain and anycast reach both servers within 2 s", func(t *testing.T) {
		ctx := context.Background()
		start := time.Now()
		if _, err := f.operate.SetState(ctx, "fra", "drain", ""); err != nil {
			t.Fatal(err)
		}
		f.waitAll(t, "www", ams, "drain", 2*time.Second)
		t.Logf("drain → both servers: %v", time.Since(start))
		start = time.Now()
		if _, err := f.operate.SetState(ctx, "fra", "anycast", ""); err != nil {
			t.Fatal(err)
		}
		f.waitAll(t, "www", anycastAddr, "anycast", 2*time.Second)
		t.Logf("anycast → both servers: %v", time.Since(start))
		if _, err := f.operate.SetState(ctx, "fra", "up", ""); err != nil {
			t.Fatal(err)
		}
		f.waitAll(t, "www", fra, "undrain", 2*time.Second)
		// Per record: down for www only; closed keeps fra.
		if _, err := f.operate.SetState(ctx, "fra", "down", "www.example.net"); err != nil {
			t.Fatal(err)
		}
		f.waitAll(t, "www", ams, "per-record down", 2*time.Second)
		if got := f.answer(0, "closed"); got != fra {
			t.Errorf("record closed answered %q, want fra (the down was for www only)", got)
		}
		if _, err := f.operate.SetState(ctx, "fra", "up", "www.example.net"); err != nil {
			t.Fatal(err)
		}
		f.waitAll(t, "www", fra, "per-record up", 2*time.Second)
	})

	t.Run("every PoP down: fail open and fail closed", func(t *testing.T) {
		for _, p := range fleetPoPs {
			f.setAll(p.label, "down")
		}
		f.waitAll(t, "closed", anycastAddr, "fail_closed answering the anycast addresses", 10*time.Second)
		for i := range f.dns {
			if got := f.answer(i, "www"); got != fra {
				t.Errorf("fail_open record on server %d answered %q, want fra (as if all were up)", i, got)
			}
		}
		for _, p := range fleetPoPs {
			f.setAll(p.label, "up")
		}
		f.waitAll(t, "closed", fra, "recovery", 10*time.Second)
	})

	t.Run("control server killed: last state kept, age reported, resync", func(t *testing.T) {
		ctx := context.Background()
		if _, err := f.operate.SetState(ctx, "lhr", "down", ""); err != nil {
			t.Fatal(err)
		}
		if _, err := f.operate.SetState(ctx, "fra", "drain", ""); err != nil {
			t.Fatal(err)
		}
		f.waitAll(t, "www", ams, "drain before the kill", 2*time.Second)
		f.ctl.kill(t)
		// The servers keep answering from their last state and say how old it is.
		eventually(t, 10*time.Second, "control contact age above 1 s in /healthz", func() bool {
			for i := range f.dns {
				if f.answer(i, "www") != ams {
					t.Fatalf("server %d changed its answer with the control server gone", i)
				}
				if age, err := strconv.ParseFloat(healthzField(f.dns[i].admin, "control_contact_age"), 64); err != nil || age < 1 {
					return false
				}
				if scrape(t, f.dns[i].admin).sum("steer_dns_control_contact_age_seconds", nil) < 1 {
					return false
				}
			}
			return true
		})
		// A DNS server restarted while the control server is away keeps
		// the last state it applied (fra drained).
		cfgA := f.dns[0].cmd.Env[len(f.dns[0].cmd.Env)-1]
		f.dns[0].kill(t)
		f.dns[0] = startRole(t, "dns", strings.TrimPrefix(cfgA, "STEER_TEST_ROLE_CONFIG="))
		if got := f.answer(0, "www"); got != ams {
			t.Errorf("server a restarted without the control server answers %q, want ams (fra drained)", got)
		}
		// Restart on the same port and state directory: the drain survived
		// kill -9; undrain reaches both servers.
		f.ctl = startRole(t, "control", f.ctlCfg)
		pops, err := f.operate.PoPs(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range pops {
			if (p.Label == "fra" && p.Admin != "drain") || (p.Label == "lhr" && p.Admin != "down") {
				t.Errorf("after kill -9 and restart: %s is %s", p.Label, p.Admin)
			}
		}
		if _, err := f.operate.SetState(ctx, "fra", "up", ""); err != nil {
			t.Fatal(err)
		}
		f.waitAll(t, "www", fra, "resync after the restart", 10*time.Second)

		// Server b cut off (SIGSTOP) while version 2 is published: a gets it
		// at once, b when it is back.
		if err := f.dns[1].cmd.Process.Signal(syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
		stopped := true
		defer func() {
			if stopped {
				_ = f.dns[1].cmd.Process.Signal(syscall.SIGCONT)
			}
		}()
		res := f.publish(t, `{"map": [{"networks": ["10.0.0.0/8"], "labels": ["ams", "fra"]}]}`, true)
		if res.Version != 2 {
			t.Fatalf("published version %d, want 2", res.Version)
		}
		eventually(t, 5*time.Second, "server a on version 2", func() bool { return f.answer(0, "www") == ams })
		if err := f.dns[1].cmd.Process.Signal(syscall.SIGCONT); err != nil {
			t.Fatal(err)
		}
		stopped = false
		eventually(t, 15*time.Second, "server b on version 2 after reconnecting", func() bool { return f.answer(1, "www") == ams })
		eventually(t, 10*time.Second, "both servers reporting map version 2", func() bool {
			fl, err := f.client.Fleet(ctx)
			if err != nil || len(fl.Servers) != 2 {
				return false
			}
			for _, s := range fl.Servers {
				if s.MapVersion != 2 || s.Error != "" {
					return false
				}
			}
			return true
		})

		// (In this subtest: the processes restarted here stop with it.)
		// Maps arrive as compiled tables; a table that does not decode
		// falls back to the JSON.
		mapFile := func(name string) []byte {
			b, err := os.ReadFile(filepath.Join(f.dir, name, "map.json"))
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
		eventually(t, 5*time.Second, "both servers' map files holding version 2's table", func() bool {
			return popmap.IsTable(mapFile("a")) && popmap.IsTable(mapFile("b"))
		})
		// Version 1's table damaged on the control server (restarted, so
		// that nothing of it is cached): activating version 1 sends the
		// servers its JSON, which they compile.
		f.ctl.kill(t)
		table1 := filepath.Join(f.dir, "ctl", "maps", "versions", "000001.table")
		if err := os.Chmod(table1, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(table1, []byte("steertb1 damaged"), 0o644); err != nil {
			t.Fatal(err)
		}
		f.ctl = startRole(t, "control", f.ctlCfg)
		if _, err := f.client.Activate(ctx, 1); err != nil {
			t.Fatal(err)
		}
		f.waitAll(t, "www", fra, "both servers on version 1 again", 10*time.Second)
		// A server answers from the fetched map first and writes it after.
		eventually(t, 5*time.Second, "both servers' map files holding version 1's JSON", func() bool {
			for _, name := range []string{"a", "b"} {
				if b := mapFile(name); popmap.IsTable(b) || !bytes.HasPrefix(bytes.TrimSpace(b), []byte("{")) {
					return false
				}
			}
			return true
		})
		if !strings.Contains(f.ctl.stderr.String(), "map table does not decode") {
			t.Errorf("the control server did not log the damaged table:\n%s", f.ctl.stderr.String())
		}
	})
}

// Load feedback through the fleet: a map published with its RTT file,
// fra reported over target, and the cheapest networks answered at ams by
// both servers; undone when the load falls.
func TestFleetLoadMoves(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	f := startFleet(t)
	var entries, rtt strings.Builder
	for i := range 100 {
		if i > 0 {
			entries.WriteString(",")
		}
		fmt.Fprintf(&entries, `{"networks": ["10.0.%d.0/24"], "labels": ["fra", "ams"]}`, i)
		fmt.Fprintf(&rtt, "10.0.%d.0/24\t1\tfra=10,ams=%v\n", i, 11+float64(i)/10)
	}
	m, err := popmap.Parse([]byte(`{"map": [` + entries.String() + `]}`))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := f.client.Publish(ctx, control.PublishRequest{Map: m, RTT: rtt.String(), Force: true}); err != nil {
		t.Fatal(err)
	}
	const fra, ams = "192.0.2.10", "192.0.2.20"
	eventually(t, 20*time.Second, "the map with RTTs on both servers", func() bool {
		return f.answerFor(0, "www", "10.0.0.0/24") == fra && f.answerFor(1, "www", "10.0.0.0/24") == fra
	})
	load := func(pop string, v float64) {
		if err := f.operate.ReportLoad(ctx, pop, v, 0); err != nil {
			t.Fatal(err)
		}
	}
	load("ams", 0.1)
	load("fra", 1.2)
	eventually(t, 10*time.Second, "the cheapest network moved to ams on both servers", func() bool {
		load("fra", 1.2)
		return f.answerFor(0, "www", "10.0.0.0/24") == ams && f.answerFor(1, "www", "10.0.0.0/24") == ams
	})
	for i := range f.dns {
		if got := f.answerFor(i, "www", "10.0.99.0/24"); got != fra {
			t.Errorf("server %d: the dearest network answered %s, want fra (not moved)", i, got)
		}
		if n := scrape(t, f.dns[i].admin).sum("steer_dns_load_moves", nil); n < 1 {
			t.Errorf("server %d: steer_dns_load_moves %v", i, n)
		}
	}
	// A server restarted while the control server is away keeps the moves
	// (the patch it fetched, kept beside its last state).
	f.ctl.kill(t)
	cfgA := strings.TrimPrefix(f.dns[0].cmd.Env[len(f.dns[0].cmd.Env)-1], "STEER_TEST_ROLE_CONFIG=")
	f.dns[0].kill(t)
	f.dns[0] = startRole(t, "dns", cfgA)
	if got := f.answerFor(0, "www", "10.0.0.0/24"); got != ams {
		t.Errorf("server a restarted without the control server answers %s, want ams (moved)", got)
	}
	f.ctl = startRole(t, "control", f.ctlCfg)
	pops, err := f.operate.PoPs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pops {
		if p.Label == "fra" && (p.MovedNetworks == 0 || p.MovedShare <= 0) {
			t.Errorf("pop list: fra moved %d networks (%v)", p.MovedNetworks, p.MovedShare)
		}
	}
	eventually(t, 10*time.Second, "moves undone when fra's load falls", func() bool {
		load("fra", 0.2)
		load("ams", 0.2)
		return f.answerFor(0, "www", "10.0.0.0/24") == fra && f.answerFor(1, "www", "10.0.0.0/24") == fra
	})
}

// healthzField returns the value of key=value in the server's /healthz line.
func healthzField(admin, key string) string {
	resp, err := http.Get("http://" + admin + "/healthz")
	if err != nil {
		return ""
	}
	defer func() { _ = resp.Body.Close() }()
	b, _ := io.ReadAll(resp.Body)
	for _, f := range strings.Fields(string(b)) {
		if v, ok := strings.CutPrefix(f, key+"="); ok {
			return strings.TrimSuffix(v, "s")
		}
	}
	return ""
}
