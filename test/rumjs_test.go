package test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/steer-gslb/steer/collector"
	"github.com/steer-gslb/steer/probe"
	"github.com/steer-gslb/steer/rum"
	"github.com/steer-gslb/steer/store"
	"github.com/steer-gslb/steer/store/duckstore"
)

// statusRecorder remembers a handler's status code.
type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.code = code
	s.ResponseWriter.WriteHeader(code)
}

// TestRUMJSThroughCollector is the web beacon end to end with real parts:
// headless Chromium loads a page (its own origin) that embeds /rum.js from
// the real collector; the script measures three PoPs and the anycast
// address served by probe.Handler on their own listeners (one PoP 40 ms
// slower), runs the random-name test, and sends its beacon with
// navigator.sendBeacon to the collector, which spools it and loads it into
// the DuckDB store. The store must then hold one beacon from 127.0.0.0/24
// with one sample per PoP and anycast, served_by on the anycast sample.
func TestRUMJSThroughCollector(t *testing.T) {
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("chromium not found in PATH: install the Debian package chromium (scripts/install-test-deps.sh does, as root) to run the browser test")
	}
	const delayed, anycastPoP, zone = "ams", "lhr", "rum.example.net"
	labels := []string{"fra", delayed, "sin"}

	// probe endpoints, each its own origin
	probes := map[string]string{}
	for _, l := range append(append([]string(nil), labels...), rum.Anycast) {
		pop := l
		if l == rum.Anycast {
			pop = anycastPoP // the PoP that answers the anycast address
		}
		h := probe.Handler(pop)
		if l == delayed {
			inner := h
			h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method == http.MethodGet { // the PoP is 40 ms further away
					select {
					case <-time.After(40 * time.Millisecond):
					case <-r.Context().Done():
					}
				}
				inner.ServeHTTP(w, r)
			})
		}
		srv := httptest.NewServer(h)
		t.Cleanup(srv.Close)
		probes[l] = srv.URL + probe.Path
	}

	// the page server (and the DNS test's target, via host-resolver-rules)
	beaconed := make(chan struct{})
	var once sync.Once
	var dnsHosts []string
	var mu sync.Mutex
	mux := http.NewServeMux()
	page := httptest.NewServer(mux)
	t.Cleanup(page.Close)

	// the real collector, with the page's origin allowed
	dir := t.TempDir()
	st, err := duckstore.Open(dir, duckstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cfg := collector.Defaults()
	cfg.Origins = []string{page.URL}
	for _, l := range labels {
		cfg.PoPs = append(cfg.PoPs, collector.PoPURL{Label: l, URL: probes[l]})
	}
	cfg.Anycast = probes[rum.Anycast]
	cfg.RUMZone = zone
	coll, err := collector.New(cfg, st, collector.Options{SpoolDir: filepath.Join(dir, "spool")})
	if err != nil {
		t.Fatal(err)
	}
	collSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w, code: 200}
		coll.ServeHTTP(rec, r)
		if r.URL.Path == "/beacon" && r.Method == http.MethodPost && rec.code == 200 {
			once.Do(func() { close(beaconed) })
		}
	}))
	t.Cleanup(collSrv.Close)

	pu, err := url.Parse(page.URL)
	if err != nil {
		t.Fatal(err)
	}
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, `<!doctype html><title>harness</title><iframe src="/page"></iframe><img src="/gate" alt="">`)
	})
	mux.HandleFunc("GET /page", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><title>page</title><script async src="%s/rum.js" data-collector="%s/beacon" data-pops="%s/rum/pops.json" data-dns-test="http://{name}.%s:%s/rum/probe"></script><p>hello</p>`,
			collSrv.URL, collSrv.URL, collSrv.URL, zone, pu.Port())
	})
	mux.HandleFunc("GET /gate", func(w http.ResponseWriter, r *http.Request) {
		select { // hold the harness's load event until the beacon is in
		case <-beaconed:
		case <-time.After(8 * time.Second):
		case <-r.Context().Done():
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /rum/probe", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		dnsHosts = append(dnsHosts, r.Host)
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	})

	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
		"--disable-background-networking", "--disable-extensions", "--mute-audio", "--user-data-dir="+t.TempDir(),
		"--host-resolver-rules=MAP *."+zone+" 127.0.0.1", "--dump-dom", page.URL+"/")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 2 * time.Second
	out, err := cmd.CombinedOutput()
	if kerr := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); kerr != nil && !errors.Is(kerr, syscall.ESRCH) {
		t.Logf("killing chromium's group: %v", kerr)
	}
	select {
	case <-beaconed:
	default:
		t.Fatalf("the collector accepted no beacon (chromium: %v):\n%s", err, tailString(string(out), 3000))
	}

	// closing the collector loads the spool into the store
	if err := coll.Close(); err != nil {
		t.Fatal(err)
	}
	byTarget := map[string]store.SampleRow{}
	beacons := map[uint64]bool{}
	if err := st.ScanSamples(context.Background(), func(r *store.SampleRow) error {
		byTarget[r.Target] = *r
		beacons[r.BeaconID] = true
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if len(beacons) != 1 || len(byTarget) != len(labels)+1 {
		t.Fatalf("%d beacons, samples for %v; want 1 beacon measuring %v and anycast", len(beacons), byTarget, labels)
	}
	for target, s := range byTarget {
		if s.Network != netip.MustParsePrefix("127.0.0.0/24") || s.Agent.Kind != rum.KindWeb || s.Agent.Timer != "performance" {
			t.Errorf("%s: network %v agent %+v", target, s.Network, s.Agent)
		}
		if !strings.HasSuffix(s.DNSTest, "."+zone) {
			t.Errorf("%s: dns_test %q", target, s.DNSTest)
		}
		if s.RTTms <= 0 {
			t.Errorf("%s: rtt %v", target, s.RTTms)
		}
	}
	if s := byTarget[rum.Anycast]; s.ServedBy != anycastPoP {
		t.Errorf("anycast sample served_by %q, want %q", s.ServedBy, anycastPoP)
	}
	for _, l := range labels {
		if l != delayed && byTarget[delayed].RTTms < byTarget[l].RTTms+30 {
			t.Errorf("%s %.1f ms is not ≥ 30 ms slower than %s %.1f ms", delayed, byTarget[delayed].RTTms, l, byTarget[l].RTTms)
		}
	}
	if byTarget[delayed].RTTms < 40 {
		t.Errorf("%s: %.1f ms, want ≥ 40", delayed, byTarget[delayed].RTTms)
	}
	mu.Lock()
	defer mu.Unlock()
	name := strings.TrimSuffix(byTarget["fra"].DNSTest, "."+zone)
	found := false
	for _, h := range dnsHosts {
		found = found || strings.HasPrefix(h, name+"."+zone)
	}
	if !found {
		t.Errorf("the DNS test %q never reached the page server (hosts %v)", byTarget["fra"].DNSTest, dnsHosts)
	}
}

func tailString(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}
