//go:build cgo

package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/steer-gslb/steer/collector"
	"github.com/steer-gslb/steer/edge"
	"github.com/steer-gslb/steer/internal/syncbuf"
	"github.com/steer-gslb/steer/ui"
	"github.com/steer-gslb/steer/web"
)

// The debug page end to end, with real parts on 127.0.0.1: the collector
// as steer collect runs it (store, spool, debug reports), three steer edge
// servers (fra, ams, sin) serving /rum/probe and the debug page, each
// behind a proxy that delays what it sends back (the world: fra near, ams
// and sin far), and headless Chromium (chromedp) loading the debug page
// from the fra edge. The page's report must hold every PoP with its
// X-Edge-PoP and request ID, find fra fastest, and be what `steer debug
// show` prints, offline and from the collector; no file the collector
// wrote may hold the client's address (127.0.0.1).

// The simulated world: a one-way delay on each PoP's answers.
var debugWorld = []struct {
	label string
	delay time.Duration
}{{"fra", 0}, {"ams", 30 * time.Millisecond}, {"sin", 60 * time.Millisecond}}

const (
	debugDNSConfig = `listen:
  dns: ["127.0.0.1:0"]
pops:
  - {label: fra, lat: 50.11, lon: 8.68, ipv4: ["192.0.2.10"]}
  - {label: ams, lat: 52.37, lon: 4.90, ipv4: ["192.0.2.20"]}
  - {label: sin, lat: 1.35, lon: 103.82, ipv4: ["198.51.100.20"]}
zones:
  - name: example.net
    ttl: 3600
    soa: {mname: ns1.example.net, rname: hostmaster.example.net, serial: 1, refresh: 3600, retry: 600, expire: 604800, minimum: 60}
    ns:
      - {name: ns1.example.net, ipv4: ["192.0.2.53"]}
    records:
      - name: www
        ttl: 30
        steering: [ecs, resolver, default]
        ecs_map: map.json
        resolver_map: map.json
        default: {ipv4: ["192.0.2.1"]}
`
	// The map sends the test's client network to fra (the nearest) and
	// the resolver 192.0.2.53 to ams.
	debugMapJSON = `{"meta": {"version": 3}, "map": [
  {"networks": ["127.0.0.0/24"], "labels": ["fra", "ams"]},
  {"networks": ["192.0.2.0/24"], "labels": ["ams", "fra"]}]}
`
	debugRUMZone   = "rum.example.net"
	debugResolver  = "192.0.2.53"
	debugLogToken  = "debug-querylog-token-0123"
	debugRunBudget = 60 * time.Second
)

func TestDebugPageInChromium(t *testing.T) {
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("chromium not found in PATH: install the Debian package chromium to run the browser test")
	}
	ctx, cancel := context.WithTimeout(t.Context(), debugRunBudget)
	defer cancel()
	tmp := t.TempDir()
	world := filepath.Join(tmp, "world")
	storeDir := filepath.Join(tmp, "rum")
	if err := os.MkdirAll(world, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(world, "steer.yaml"), debugDNSConfig)
	writeFile(t, filepath.Join(world, "map.json"), debugMapJSON)

	// The delaying proxies first: the collector publishes their URLs.
	proxies := map[string]*delayProxy{}
	for _, p := range debugWorld {
		proxies[p.label] = newDelayProxy(t, p.delay)
	}
	anycast := newDelayProxy(t, 15*time.Millisecond) // answered by ams

	// The collector, as steer collect runs it.
	cfg := collector.Defaults()
	cfg.Listen = "127.0.0.1:0"
	cfg.Origins = []string{"*"} // the edges' pages post their reports
	cfg.QueryLogTokens = []string{debugLogToken}
	cfg.RUMZone = debugRUMZone
	for _, p := range debugWorld {
		cfg.PoPs = append(cfg.PoPs, collector.PoPURL{Label: p.label, URL: proxies[p.label].url() + "/rum/probe"})
	}
	cfg.Anycast = anycast.url() + "/rum/probe"
	cfg.DebugDNSConfig = filepath.Join(world, "steer.yaml")
	cfg.DebugMap = filepath.Join(world, "map.json")
	cctx, stopCollector := context.WithCancel(ctx)
	defer stopCollector()
	var collOut, collLog syncbuf.Buffer
	addrc, codec := make(chan net.Addr, 1), make(chan int, 1)
	go func() {
		codec <- collect(cctx, storeDir, storeDir, cfg, slog.LevelDebug, 0, &collOut, &collLog, func(a net.Addr) { addrc <- a }, loopJobs{})
	}()
	var collURL string
	select {
	case a := <-addrc:
		collURL = "http://" + a.String()
	case c := <-codec:
		t.Fatalf("collect exited %d: %s", c, collLog.String())
	}

	// The edges: each PoP's /rum/probe and /debug, reporting to the collector.
	certFile, keyFile := selfSigned(t, tmp)
	edges := map[string]string{} // label → plain HTTP origin
	for _, p := range debugWorld {
		edges[p.label] = startDebugEdge(ctx, t, tmp, p.label, certFile, keyFile, collURL)
		proxies[p.label].target.Store(strings.TrimPrefix(edges[p.label], "http://"))
	}
	anycast.target.Store(strings.TrimPrefix(edges["ams"], "http://"))

	// The browser.
	shot := filepath.Join(tmp, "debug-page.png")
	rep := runDebugPage(ctx, t, chromium, edges["fra"]+web.DebugPath, shot)
	if os.Getenv("STEER_UPDATE_DOCS_IMG") != "" {
		data, err := os.ReadFile(shot)
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join("..", "..", "docs", "img", "debug-page.png"), string(data))
	}
	checkDebugReport(t, rep)

	// The collector has the report: GET /debug/report/ID, and steer debug
	// show --collector, which joins the DNS test with the query log lines
	// a DNS server shipped (here posted by the test, as steer ship does).
	postQueryLog(t, collURL, rep.DNSTest)
	var out string
	pollUntil(t, 10*time.Second, "the collector joins the DNS test with the query log", func() bool {
		out = runOK(t, "debug", "show", strings.ToLower(rep.ID), "--collector", collURL)
		return strings.Contains(out, "resolver   "+debugResolver)
	})
	t.Logf("steer debug show --collector:\n%s", out)
	for _, want := range []string{
		"debug report " + rep.ID, "network    127.0.0.0/24", "page       served by the edge of fra",
		"fastest    fra", "127.0.0.0/24 → fra (ecs), map version 3", "resolver " + debugResolver + " → ams (resolver)",
		"the map's PoP for this network is the fastest measured", rep.PoPs[0].RequestID,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("steer debug show --collector: no %q in\n%s", want, out)
		}
	}

	// The map explorer's Debug reports tab looks it up on the collector.
	b, err := ui.CollectorReports(collURL)(strings.ToLower(rep.ID))
	if err != nil || !strings.Contains(string(b), `"id":"`+rep.ID+`"`) {
		t.Errorf("steer ui's lookup of %s: %v %s", rep.ID, err, b)
	}
	if _, err := ui.CollectorReports(collURL)("ZZZZZZZZ"); err == nil {
		t.Error("steer ui's lookup of an unknown report: no error")
	}

	// Stop the collector (its announcement file goes), then read the
	// report offline and scan everything it wrote.
	stopCollector()
	if c := <-codec; c != 0 {
		t.Fatalf("collect exited %d: %s", c, collLog.String())
	}
	queryLog := filepath.Join(tmp, "queries.ndjson")
	writeFile(t, queryLog, queryLogLine(rep.DNSTest)+"\n")
	var js bytes.Buffer
	if c := run([]string{"debug", "show", rep.ID, "--dir", storeDir, "--json"}, &js, io.Discard); c != 0 {
		t.Fatalf("steer debug show --dir --json: exit %d", c)
	}
	var stored web.DebugReport
	if err := json.Unmarshal(js.Bytes(), &stored); err != nil {
		t.Fatal(err)
	}
	if stored.ID != rep.ID || stored.Fastest != rep.Fastest || len(stored.PoPs) != len(rep.PoPs) || stored.Network != rep.Network {
		t.Errorf("stored report %+v differs from the page's %+v", stored, *rep)
	}
	out = runOK(t, "debug", "show", rep.ID, "--dir", storeDir, "--config", cfg.DebugDNSConfig, "--query-log", queryLog)
	t.Logf("steer debug show --dir:\n%s", out)
	for _, want := range []string{"debug report " + rep.ID, "network    127.0.0.0/24", "fastest    fra", "resolver   " + debugResolver, "→ ams (resolver)"} {
		if !strings.Contains(out, want) {
			t.Errorf("steer debug show --dir: no %q in\n%s", want, out)
		}
	}
	scanForAddress(t, "127.0.0.1", storeDir, collLog.String())
}

// runDebugPage loads the debug page in headless Chromium, waits until it
// has stored its report, takes a screenshot and returns the report the
// collector answered.
func runDebugPage(ctx context.Context, t *testing.T, chromium, pageURL, shot string) *web.DebugReport {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium),
		chromedp.Flag("headless", true), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("mute-audio", true),
		chromedp.UserDataDir(t.TempDir()),
		// the DNS test's random names resolve, to a closed port: the fetch fails fast
		chromedp.Flag("host-resolver-rules", "MAP *."+debugRUMZone+" "+closedPort(t)),
		chromedp.WindowSize(960, 900),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(actx)
	defer cancelBrowser()
	start := time.Now()
	if err := chromedp.Do(bctx, chromedp.Navigate(pageURL)); err != nil {
		t.Fatalf("chromium: loading %s: %v", pageURL, err)
	}
	state, err := chromedp.Run(bctx, chromedp.Poll[string](`document.documentElement.getAttribute("data-state")`,
		chromedp.WithPollingTimeout(30*time.Second)))
	if err != nil {
		t.Fatalf("chromium: waiting for the page's report: %v", err)
	}
	reportJSON, err := chromedp.Run(bctx, chromedp.Evaluate[string](`JSON.stringify(window.steerDebugReport || null)`))
	if err != nil {
		t.Fatalf("chromium: reading the report: %v", err)
	}
	png, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("chromium: screenshot: %v", err)
	}
	t.Logf("the page ran %v, state %q", time.Since(start).Round(time.Millisecond), state)
	if state != "done" {
		status, _ := chromedp.Run(bctx, chromedp.Text("#status"))
		t.Fatalf("page state %q: %s", state, status)
	}
	if err := os.WriteFile(shot, png, 0o644); err != nil {
		t.Fatal(err)
	}
	var rep web.DebugReport
	if err := json.Unmarshal([]byte(reportJSON), &rep); err != nil {
		t.Fatalf("the page's report %q: %v", reportJSON, err)
	}
	return &rep
}

// checkDebugReport checks what the page measured and the collector stored.
func checkDebugReport(t *testing.T, rep *web.DebugReport) {
	t.Helper()
	if _, err := web.NormalizeDebugReportID(rep.ID); err != nil || len(rep.ID) != 8 {
		t.Errorf("report ID %q: %v", rep.ID, err)
	}
	if rep.Network.String() != "127.0.0.0/24" {
		t.Errorf("network %v, want 127.0.0.0/24", rep.Network)
	}
	if rep.PagePoP != "fra" {
		t.Errorf("page_pop %q, want fra", rep.PagePoP)
	}
	if !strings.HasSuffix(rep.DNSTest, "."+debugRUMZone) || len(rep.DNSTest) != 12+1+len(debugRUMZone) {
		t.Errorf("dns_test %q, want 12 characters under %s", rep.DNSTest, debugRUMZone)
	}
	if len(rep.PoPs) != len(debugWorld) {
		t.Fatalf("%d PoPs, want %d: %+v", len(rep.PoPs), len(debugWorld), rep.PoPs)
	}
	for i, p := range debugWorld {
		got := rep.PoPs[i]
		if got.Label != p.label || len(got.RTTms) != 3 || got.Error != "" {
			t.Errorf("PoP %d: %+v, want %s with 3 round trips", i, got, p.label)
			continue
		}
		if got.EdgePoP != p.label || !strings.HasPrefix(got.RequestID, p.label+"-") {
			t.Errorf("%s: X-Edge-PoP %q, request ID %q: want the edge's own", p.label, got.EdgePoP, got.RequestID)
		}
		if ms := float64(p.delay / time.Millisecond); got.MedianMs < ms {
			t.Errorf("%s: median %v ms, below its delay %v ms", p.label, got.MedianMs, ms)
		}
	}
	if rep.Fastest != "fra" {
		t.Errorf("fastest %q, want fra (the others are delayed): %+v", rep.Fastest, rep.PoPs)
	}
	if rep.Anycast == nil || rep.Anycast.EdgePoP != "ams" || len(rep.Anycast.RTTms) != 3 {
		t.Errorf("anycast %+v, want 3 round trips answered by ams", rep.Anycast)
	}
	if m := rep.Map; m == nil || m.NetworkPoP != "fra" || m.NetworkSource != "ecs" || m.Version != 3 {
		t.Errorf("map %+v, want fra by ecs from map version 3", rep.Map)
	}
}

// startDebugEdge runs a steer edge for label with a debug page reporting
// to collURL, and returns its plain HTTP origin.
func startDebugEdge(ctx context.Context, t *testing.T, dir, label, cert, key, collURL string) string {
	t.Helper()
	yml := fmt.Sprintf(`pop: %s
listen: 127.0.0.1:0
listen_http: 127.0.0.1:0
tls:
  certificates: [{cert: %s, key: %s}]
upstreams:
  - {name: origin, url: "http://127.0.0.1:9"}
drain_grace: 10ms
drain_timeout: 1s
debug: {collector: %q}
`, label, cert, key, collURL)
	path := filepath.Join(dir, label+"-edge.yaml")
	writeFile(t, path, yml)
	cfg, err := edge.LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	s, err := edge.New(cfg, edge.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ectx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- s.Run(ectx) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("edge %s: %v", label, err)
		}
	})
	return "http://" + s.HTTPAddr().String()
}

// delayProxy is a TCP proxy that holds what the target sends back for
// delay: a PoP that far away.
type delayProxy struct {
	ln     net.Listener
	delay  time.Duration
	target atomic.Value // host:port

	mu    sync.Mutex
	conns []net.Conn
}

func newDelayProxy(t *testing.T, delay time.Duration) *delayProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &delayProxy{ln: ln, delay: delay}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() { p.handle(c) })
		}
	})
	t.Cleanup(func() {
		_ = ln.Close()
		p.mu.Lock()
		for _, c := range p.conns {
			_ = c.Close()
		}
		p.mu.Unlock()
		wg.Wait()
	})
	return p
}

func (p *delayProxy) url() string { return "http://" + p.ln.Addr().String() }

func (p *delayProxy) track(c net.Conn) {
	p.mu.Lock()
	p.conns = append(p.conns, c)
	p.mu.Unlock()
}

func (p *delayProxy) handle(c net.Conn) {
	p.track(c)
	defer func() { _ = c.Close() }()
	target, _ := p.target.Load().(string)
	up, err := net.DialTimeout("tcp", target, 5*time.Second)
	if err != nil {
		return
	}
	p.track(up)
	defer func() { _ = up.Close() }()
	go func() {
		_, _ = io.Copy(up, c)
		_ = up.Close()
	}()
	type chunk struct {
		b  []byte
		at time.Time
	}
	chunks := make(chan chunk, 256)
	go func() {
		defer close(chunks)
		buf := make([]byte, 32<<10)
		for {
			n, err := up.Read(buf)
			if n > 0 {
				chunks <- chunk{append([]byte(nil), buf[:n]...), time.Now()}
			}
			if err != nil {
				return
			}
		}
	}()
	for ch := range chunks {
		if d := time.Until(ch.at.Add(p.delay)); d > 0 {
			timer := time.NewTimer(d) // the simulated distance, not a wait for a condition
			<-timer.C
		}
		if _, err := c.Write(ch.b); err != nil {
			return
		}
	}
}

// selfSigned writes a self-signed certificate for 127.0.0.1 (the edges
// need one for their TLS listener; the browser uses plain HTTP).
func selfSigned(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "edge.test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		DNSNames: []string{"edge.test"}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "edge.crt"), filepath.Join(dir, "edge.key")
	writeFile(t, certFile, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
	writeFile(t, keyFile, string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})))
	return certFile, keyFile
}

func queryLogLine(dnsTest string) string {
	return fmt.Sprintf(`{"ts":%q,"qname":"%s.","qtype":"A","resolver":%q,"pop":"ams","source":"resolver"}`,
		time.Now().UTC().Format(time.RFC3339Nano), dnsTest, debugResolver)
}

// postQueryLog sends the DNS test's query log line to the collector, as
// steer ship does from a DNS server.
func postQueryLog(t *testing.T, collURL, dnsTest string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, collURL+"/querylog", strings.NewReader(queryLogLine(dnsTest)+"\n"))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+debugLogToken)
	req.Header.Set("Content-Type", "application/x-ndjson")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /querylog: %s %s", resp.Status, body)
	}
}

// scanForAddress fails if addr appears in any file under dir or in log.
func scanForAddress(t *testing.T, addr, dir, log string) {
	t.Helper()
	files := 0
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		files++
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if bytes.Contains(data, []byte(addr)) {
			t.Errorf("%s holds the client address %s", path, addr)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	reports, _ := filepath.Glob(filepath.Join(dir, "debug", "*.json"))
	if len(reports) != 1 || files < 2 {
		t.Errorf("scanned %d files, %d debug reports (%v): want the store, the spool and 1 report", files, len(reports), reports)
	}
	if strings.Contains(log, addr) {
		t.Errorf("the collector's log holds the client address %s", addr)
	}
	if !strings.Contains(log, "network=127.0.0.0/24") {
		t.Errorf("the collector's log has no line for the report's network: %s", log)
	}
}

// closedPort returns a 127.0.0.1 address where nothing listens.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

// pollUntil polls cond every 50 ms until it holds, failing after within.
func pollUntil(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", within, what)
		}
		<-tick.C
	}
}

func runOK(t *testing.T, args ...string) string {
	t.Helper()
	var out, errb bytes.Buffer
	if c := run(args, &out, &errb); c != 0 {
		t.Fatalf("steer %s: exit %d: %s", strings.Join(args, " "), c, errb.String())
	}
	return out.String()
}

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}
