package web_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"html"
	"html/template"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/steer-gslb/steer/rum"
	"github.com/steer-gslb/steer/web"
)

// The browser test runs rum.js in headless Chromium against probe
// endpoints, an anycast endpoint and a collector, each its own listener on
// 127.0.0.1 (so each its own origin, as in production), and checks the
// beacon the collector receives.
//
// How Chromium is driven: `chromium --headless --dump-dom URL` loads URL,
// waits for its load event, prints the DOM and exits; no DevTools protocol
// is needed. rum.js itself starts only after a load event, so the page
// under test (which includes /rum.js like any page) is loaded in an iframe
// of a harness page whose load event is held by an image, /gate, that the
// test answers only once the collector has received a beacon (or after
// gateTimeout). Chromium therefore exits by itself right after the beacon
// arrives, running the page's timers and fetches in real time;
// --virtual-time-budget would also keep it alive, but it runs timers on a
// virtual clock, and performance.now() with it (the fall-back timer). The
// context deadline kills Chromium's process group if anything hangs.

const (
	delayedPoP   = "ams"
	probeDelay   = 40 * time.Millisecond
	anycastLabel = "lhr" // the PoP the anycast endpoint says answered
	rumZone      = "rum.example.net"
	gateTimeout  = 8 * time.Second
	runTimeout   = 15 * time.Second
)

var pops = []string{"fra", delayedPoP, "sin"}

// targets are the targets every beacon must measure: the PoPs and anycast.
func targets() []string { return slices.Concat(pops, []string{rum.Anycast}) }

// request is what a test server saw of one request.
type request struct {
	host, remote, path, rawQuery, origin, contentType string
}

// recorder records the requests a test server sees.
type recorder struct {
	mu   sync.Mutex
	reqs []request // guarded by mu
}

func (rec *recorder) add(r *http.Request) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	rec.reqs = append(rec.reqs, request{
		host: r.Host, remote: r.RemoteAddr, path: r.URL.Path, rawQuery: r.URL.RawQuery,
		origin: r.Header.Get("Origin"), contentType: r.Header.Get("Content-Type"),
	})
}

func (rec *recorder) all() []request {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]request(nil), rec.reqs...)
}

// probeHandler is a minimal /rum/probe: uncacheable, readable and timeable
// from any origin, naming its PoP; delay stands for distance. A bare one
// sends neither Timing-Allow-Origin nor Access-Control-Expose-Headers.
func probeHandler(label string, delay time.Duration, bare bool, rec *recorder) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec.add(r)
		if delay > 0 {
			t := time.NewTimer(delay)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
				return
			}
		}
		h := w.Header()
		if !bare {
			h.Set("Timing-Allow-Origin", "*")
			h.Set("Access-Control-Expose-Headers", "X-Edge-PoP")
		}
		h.Set("Access-Control-Allow-Origin", "*")
		h.Set("Cache-Control", "no-store")
		h.Set("X-Edge-PoP", label)
		w.WriteHeader(http.StatusNoContent)
	})
}

// received is one beacon the collector got.
type received struct {
	beacon      rum.Beacon
	body        []byte
	err         error
	origin      string
	contentType string
}

// collector stands in for steer's collector: it validates beacons as the
// real one does (rum.ParseBeacon in Strict mode) and serves /rum/pops.json.
// Unless bare, it answers CORS for the page's origin on /beacon (a bare one
// shows that sendBeacon needs none).
type collector struct {
	pageOrigin string
	popsJSON   []byte
	planJSON   []byte // /rum/plan.json; nil: 404
	bare       bool
	next       atomic.Pointer[string] // what the page posted to /next (plan_chromium_test.go)

	mu         sync.Mutex
	beacons    []received    // guarded by mu
	preflights int           // guarded by mu
	got        chan struct{} // closed at the first beacon, valid or not
	once       sync.Once
}

func (c *collector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	if r.URL.Path == "/rum/pops.json" {
		h.Set("Access-Control-Allow-Origin", "*")
		h.Set("Content-Type", "application/json")
		_, _ = w.Write(c.popsJSON)
		return
	}
	if r.URL.Path == "/rum/plan.json" && c.planJSON != nil {
		h.Set("Access-Control-Allow-Origin", "*")
		h.Set("Content-Type", "application/json")
		h.Set("Cache-Control", "no-store")
		_, _ = w.Write(c.planJSON)
		return
	}
	if r.URL.Path == "/next" && r.Method == http.MethodPost {
		b, _ := io.ReadAll(io.LimitReader(r.Body, 64))
		v := string(b)
		c.next.Store(&v)
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if r.URL.Path != "/beacon" {
		http.NotFound(w, r)
		return
	}
	if r.Header.Get("Origin") == c.pageOrigin && !c.bare {
		h.Set("Access-Control-Allow-Origin", c.pageOrigin)
		h.Set("Access-Control-Allow-Credentials", "true")
		h.Set("Vary", "Origin")
	}
	switch r.Method {
	case http.MethodOptions:
		c.mu.Lock()
		c.preflights++
		c.mu.Unlock()
		h.Set("Access-Control-Allow-Methods", "POST")
		h.Set("Access-Control-Allow-Headers", "Content-Type")
		w.WriteHeader(http.StatusNoContent)
		return
	case http.MethodPost:
	default:
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, rum.MaxBeaconSize))
	rc := received{body: body, origin: r.Header.Get("Origin"), contentType: r.Header.Get("Content-Type")}
	if err == nil {
		_, err = rum.ParseBeacon(body, rum.Strict, &rc.beacon)
	}
	rc.err = err
	c.mu.Lock()
	c.beacons = append(c.beacons, rc)
	c.mu.Unlock()
	c.once.Do(func() { close(c.got) })
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (c *collector) all() []received {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]received(nil), c.beacons...)
}

// env is one set of servers for one browser run.
type env struct {
	page      *httptest.Server // harness, page under test, /rum.js, DNS-test target
	pageRec   *recorder
	probes    map[string]*httptest.Server // by label, and "anycast"
	probeRecs map[string]*recorder
	coll      *collector
	collSrv   *httptest.Server
	pageHTML  atomic.Pointer[string] // the page under test, set by the case after the servers start
	bare      bool                   // probes without Timing-Allow-Origin and Access-Control-Expose-Headers, collector without CORS

	mu         sync.Mutex
	pageErrors []string // guarded by mu: errors and unhandled rejections the page saw
}

func newEnv(t *testing.T, bare bool) *env {
	t.Helper()
	e := &env{pageRec: &recorder{}, probes: map[string]*httptest.Server{}, probeRecs: map[string]*recorder{}, bare: bare}
	for _, label := range targets() {
		rec := &recorder{}
		var delay time.Duration
		name := label
		if label == delayedPoP {
			delay = probeDelay
		}
		if label == rum.Anycast {
			name = anycastLabel
		}
		srv := httptest.NewServer(probeHandler(name, delay, bare, rec))
		t.Cleanup(srv.Close)
		e.probes[label], e.probeRecs[label] = srv, rec
	}

	mux := http.NewServeMux()
	e.page = httptest.NewServer(mux)
	t.Cleanup(e.page.Close)
	e.coll = &collector{pageOrigin: e.page.URL, bare: bare, got: make(chan struct{})}
	var pj bytes.Buffer
	pj.WriteString(`{"pops":[`)
	for i, label := range pops {
		if i > 0 {
			pj.WriteByte(',')
		}
		fmt.Fprintf(&pj, `{"label":%q,"url":%q}`, label, e.probes[label].URL+"/rum/probe")
	}
	fmt.Fprintf(&pj, `],"anycast":%q}`, e.probes[rum.Anycast].URL+"/rum/probe")
	e.coll.popsJSON = pj.Bytes()
	e.collSrv = httptest.NewServer(e.coll)
	t.Cleanup(e.collSrv.Close)

	mux.Handle("GET /rum.js", web.Handler())
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, `<!doctype html><title>harness</title><iframe src="/page"></iframe><img src="/gate" alt="">`)
	})
	mux.HandleFunc("GET /page", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, *e.pageHTML.Load())
	})
	mux.HandleFunc("GET /gate", func(w http.ResponseWriter, r *http.Request) {
		timer := time.NewTimer(gateTimeout)
		defer timer.Stop()
		select {
		case <-e.coll.got:
		case <-timer.C:
		case <-r.Context().Done():
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /rum/probe", func(w http.ResponseWriter, r *http.Request) {
		e.pageRec.add(r) // the DNS test's fetch
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /rum/fail", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Access-Control-Allow-Origin", "*")
		http.Error(w, "probe failed", http.StatusInternalServerError)
	})
	mux.HandleFunc("POST /page-error", func(w http.ResponseWriter, r *http.Request) {
		msg, _ := io.ReadAll(io.LimitReader(r.Body, 4096))
		e.mu.Lock()
		e.pageErrors = append(e.pageErrors, string(msg))
		e.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	})
	return e
}

// probeURL is label's probe URL.
func (e *env) probeURL(label string) string { return e.probes[label].URL + "/rum/probe" }

// dnsTest is the DNS test template: a name under the RUM zone that
// Chromium's --host-resolver-rules sends to 127.0.0.1, on the page
// server's port.
func (e *env) dnsTest(t *testing.T) string {
	u, err := url.Parse(e.page.URL)
	if err != nil {
		t.Fatal(err)
	}
	return "http://{name}." + rumZone + ":" + u.Port() + "/rum/probe"
}

// pageTmpl is the page under test. Its first script reports every error and
// unhandled promise rejection to /page-error: rum.js must cause none.
var pageTmpl = template.Must(template.New("page").Parse(`<!doctype html>
<html><head><title>page under test</title>
<script>
function report(what) { navigator.sendBeacon("/page-error", String(what)); }
addEventListener("error", function (e) { report(e.message); });
addEventListener("unhandledrejection", function (e) { report(e.reason); });
</script>
{{if .Global}}<script>window.steerRUM = {{.Global}};</script>
{{end}}<script async src="/rum.js"{{range .Attrs}} {{.}}{{end}}></script>
</head><body><p>A page that embeds steer's RUM beacon.</p></body></html>
`))

type pageConfig struct {
	Global map[string]any      // window.steerRUM, or nil
	Attrs  []template.HTMLAttr // the script tag's data-* attributes
}

// attrs renders name, value pairs as attributes.
func attrs(kv ...string) []template.HTMLAttr {
	var a []template.HTMLAttr
	for i := 0; i+1 < len(kv); i += 2 {
		a = append(a, template.HTMLAttr(kv[i]+`="`+html.EscapeString(kv[i+1])+`"`))
	}
	return a
}

func TestRUMJSInChromium(t *testing.T) {
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("chromium not found in PATH: install the Debian package chromium (scripts/install-test-deps.sh does, as root) to run the browser test")
	}

	for _, tc := range []struct {
		name string
		bare bool
		cfg  func(t *testing.T, e *env) pageConfig
	}{
		{
			// The collector's deployment: the PoP list from
			// /rum/pops.json, configured by data attributes.
			name: "attributes and pops.json",
			cfg: func(t *testing.T, e *env) pageConfig {
				return pageConfig{Attrs: attrs(
					"data-collector", e.collSrv.URL+"/beacon",
					"data-pops", e.collSrv.URL+"/rum/pops.json",
					"data-dns-test", e.dnsTest(t),
					"data-sample", "1",
				)}
			},
		},
		{
			// A global object with the PoPs listed inline.
			name: "global object and PoP list",
			cfg: func(t *testing.T, e *env) pageConfig {
				var list []map[string]string
				for _, label := range pops {
					list = append(list, map[string]string{"label": label, "url": e.probeURL(label)})
				}
				return pageConfig{Global: map[string]any{
					"collector": e.collSrv.URL + "/beacon",
					"pops":      list,
					"anycast":   e.probeURL(rum.Anycast),
					"dnsTest":   e.dnsTest(t),
					"sample":    1.0,
					"timeout":   5000,
				}}
			},
		},
		{
			// Probe endpoints without Timing-Allow-Origin (Resource
			// Timing zeroes requestStart and responseStart: rtt_ms
			// falls back to performance.now()) and without
			// Access-Control-Expose-Headers (no served_by), and a
			// collector that sends no CORS headers for the beacon.
			name: "no Timing-Allow-Origin, exposed headers or collector CORS",
			bare: true,
			cfg: func(t *testing.T, e *env) pageConfig {
				return pageConfig{Attrs: attrs(
					"data-collector", e.collSrv.URL+"/beacon",
					"data-pops", e.collSrv.URL+"/rum/pops.json",
					"data-dns-test", e.dnsTest(t),
				)}
			},
		},
		{
			// Targets that fail are left out, and nothing reaches the
			// page: a closed port, a 500, a label the collector would
			// reject (never fetched), an entry without a URL.
			name: "failing and invalid PoPs",
			cfg: func(t *testing.T, e *env) pageConfig {
				list := []map[string]string{
					{"label": "dead", "url": "http://" + closedAddr(t) + "/rum/probe"},
					{"label": "err", "url": e.page.URL + "/rum/fail"},
					{"label": "Not A Label", "url": e.probeURL("fra")},
					{"label": "nourl"},
				}
				for _, label := range pops {
					list = append(list, map[string]string{"label": label, "url": e.probeURL(label)})
				}
				return pageConfig{Global: map[string]any{
					"collector": e.collSrv.URL + "/beacon",
					"pops":      list,
					"anycast":   e.probeURL(rum.Anycast),
					"dnsTest":   e.dnsTest(t),
					"timeout":   3000,
				}}
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, tc.bare)
			var page bytes.Buffer
			if err := pageTmpl.Execute(&page, tc.cfg(t, e)); err != nil {
				t.Fatal(err)
			}
			doc := page.String()
			e.pageHTML.Store(&doc)

			start := time.Now()
			stderr := runChromium(t, chromium, e.page.URL+"/")
			elapsed := time.Since(start)

			// The gate released Chromium once a beacon arrived; poll a
			// little in case it is still being recorded.
			var got []received
			for deadline := time.Now().Add(2 * time.Second); ; {
				if got = e.coll.all(); len(got) > 0 || time.Now().After(deadline) {
					break
				}
				select {
				case <-e.coll.got:
				case <-time.After(50 * time.Millisecond):
				}
			}
			t.Logf("Chromium ran %v", elapsed.Round(time.Millisecond))
			if len(got) == 0 {
				t.Fatalf("no beacon within %v; probe requests %v; page requests %v; chromium stderr:\n%s",
					gateTimeout, e.probeCounts(), e.pageRec.all(), tail(stderr, 4000))
			}
			if len(got) != 1 {
				t.Errorf("collector got %d beacons, want 1", len(got))
			}
			rc := got[0]
			t.Logf("beacon (Content-Type %q, Origin %q): %s", rc.contentType, rc.origin, rc.body)
			if rc.err != nil {
				t.Fatalf("beacon rejected in Strict mode: %v\n%s", rc.err, rc.body)
			}
			checkBeacon(t, e, &rc.beacon, start)
			e.mu.Lock()
			pageErrors := e.pageErrors
			e.mu.Unlock()
			if len(pageErrors) > 0 {
				t.Errorf("the page saw errors: %q", pageErrors)
			}
			if !strings.HasPrefix(rc.contentType, "text/plain") {
				t.Errorf("beacon Content-Type = %q, want text/plain (no CORS preflight)", rc.contentType)
			}
			e.coll.mu.Lock()
			preflights := e.coll.preflights
			e.coll.mu.Unlock()
			if preflights != 0 {
				t.Errorf("collector got %d CORS preflights, want none (text/plain beacon)", preflights)
			}
			if rc.origin != e.page.URL {
				t.Errorf("beacon Origin = %q, want the page's origin %q", rc.origin, e.page.URL)
			}
			e.checkWarmConnections(t)
		})
	}
}

// checkBeacon checks the beacon's agent, its samples and its DNS test.
func checkBeacon(t *testing.T, e *env, b *rum.Beacon, start time.Time) {
	t.Helper()
	if b.ClientSubnet.IsValid() {
		t.Errorf("beacon has client_subnet %v", b.ClientSubnet)
	}
	if want := (rum.Agent{Kind: rum.KindWeb, Platform: "linux", Timer: "performance"}); b.Agent != want {
		t.Errorf("agent = %+v, want %+v", b.Agent, want)
	}
	byTarget := map[string]rum.Sample{}
	for _, s := range b.Samples {
		if _, dup := byTarget[s.Target]; dup {
			t.Errorf("two samples for target %q", s.Target)
		}
		byTarget[s.Target] = s
		if s.Probe != rum.ProbeHTTP {
			t.Errorf("%s: probe %v, want http (the test's URLs are http)", s.Target, s.Probe)
		}
		if s.TS.Before(start.Add(-time.Second).Truncate(time.Millisecond)) || s.TS.After(time.Now().Add(time.Second)) {
			t.Errorf("%s: ts %v outside the test's run (started %v)", s.Target, s.TS, start.UTC())
		}
		if s.RTTms < 0 || s.RTTms > 5000 {
			t.Errorf("%s: rtt_ms %v, want 0..5000", s.Target, s.RTTms)
		}
		if x := s.RTTms * 10; math.Abs(x-math.Round(x)) > 1e-6 {
			t.Errorf("%s: rtt_ms %v not rounded to 0.1", s.Target, s.RTTms)
		}
		wantBy := ""
		if s.Target == rum.Anycast && !e.bare {
			wantBy = anycastLabel
		}
		if s.ServedBy != wantBy {
			t.Errorf("%s: served_by %q, want %q", s.Target, s.ServedBy, wantBy)
		}
	}
	for _, label := range targets() {
		if _, ok := byTarget[label]; !ok {
			t.Errorf("no sample for %s", label)
		}
	}
	if len(b.Samples) != len(pops)+1 {
		t.Errorf("%d samples, want %d (one per PoP and the anycast address)", len(b.Samples), len(pops)+1)
	}
	slow := byTarget[delayedPoP].RTTms
	if slow < float64(probeDelay/time.Millisecond) {
		t.Errorf("%s (delayed %v): rtt_ms %v, want ≥ %d", delayedPoP, probeDelay, slow, probeDelay/time.Millisecond)
	}
	for _, label := range targets() {
		if label != delayedPoP && byTarget[label].RTTms >= slow {
			t.Errorf("%s: rtt_ms %v, not below the delayed %s's %v", label, byTarget[label].RTTms, delayedPoP, slow)
		}
	}

	// The DNS test: a fresh 12-character name under the RUM zone, whose
	// fetch reached the page server through Chromium's resolver rule.
	if !regexp.MustCompile(`^[a-z0-9]{12}\.` + regexp.QuoteMeta(rumZone) + `$`).MatchString(b.DNSTest) {
		t.Errorf("dns_test = %q, want 12 of [a-z0-9] under %s", b.DNSTest, rumZone)
	}
	u, _ := url.Parse(e.page.URL)
	seen := false
	for _, r := range e.pageRec.all() {
		if r.path == "/rum/probe" {
			seen = seen || r.host == b.DNSTest+":"+u.Port()
			if !strings.HasSuffix(strings.Split(r.host, ":")[0], "."+rumZone) {
				t.Errorf("DNS test request with Host %q, not under %s", r.host, rumZone)
			}
		}
	}
	if !seen {
		t.Errorf("no request with Host %s:%s reached the page server (requests: %v)", b.DNSTest, u.Port(), e.pageRec.all())
	}
}

// checkWarmConnections checks rtt_ms's premise: each target got a warm-up
// and a measured request, both cache-busted, on one connection.
func (e *env) checkWarmConnections(t *testing.T) {
	t.Helper()
	for label, rec := range e.probeRecs {
		reqs := rec.all()
		if len(reqs) != 2 {
			t.Errorf("%s: %d probe requests, want 2 (warm-up and measured): %v", label, len(reqs), reqs)
			continue
		}
		if reqs[0].remote != reqs[1].remote {
			t.Errorf("%s: warm-up from %s, measured from %s: want one connection", label, reqs[0].remote, reqs[1].remote)
		}
		q0, q1 := reqs[0].rawQuery, reqs[1].rawQuery
		if !strings.HasPrefix(q0, "r=") || !strings.HasPrefix(q1, "r=") || q0 == q1 {
			t.Errorf("%s: queries %q and %q: want two different r= cache busters", label, q0, q1)
		}
		if reqs[0].origin != e.page.URL {
			t.Errorf("%s: Origin %q, want %q (a CORS fetch)", label, reqs[0].origin, e.page.URL)
		}
	}
}

func (e *env) probeCounts() map[string]int {
	n := map[string]int{}
	for label, rec := range e.probeRecs {
		n[label] = len(rec.all())
	}
	return n
}

// runChromium loads url in headless Chromium with --dump-dom, which exits
// after the page's load event, and returns Chromium's stderr. It kills
// Chromium's process group at runTimeout, or when the test ends.
func runChromium(t *testing.T, chromium, url string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), runTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, chromium,
		"--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
		"--disable-background-networking", "--disable-extensions", "--mute-audio",
		"--enable-logging=stderr", // the page's console messages too
		"--user-data-dir="+t.TempDir(),
		"--host-resolver-rules=MAP *."+rumZone+" 127.0.0.1",
		"--dump-dom", url)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	// /usr/bin/chromium is a shell script that starts the browser, which
	// starts its zygote, renderer and utility processes: give them a
	// process group of their own, and kill the group.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 2 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	err := cmd.Wait()
	// Whatever Chromium left behind in its group goes too.
	if kerr := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); kerr != nil && !errors.Is(kerr, syscall.ESRCH) {
		t.Logf("killing chromium's process group: %v", kerr)
	}
	if ctx.Err() != nil {
		t.Errorf("chromium did not exit within %v", runTimeout)
	} else if err != nil {
		t.Errorf("chromium: %v", err)
	}
	if !strings.Contains(stdout.String(), `<iframe src="/page">`) {
		t.Errorf("chromium's --dump-dom printed no harness page:\n%s", tail(stdout.String(), 2000))
	}
	// Chromium complains at length about the missing D-Bus; keep the rest.
	var kept []string
	for line := range strings.Lines(stderr.String()) {
		if !strings.Contains(line, "dbus") {
			kept = append(kept, line)
		}
	}
	return strings.Join(kept, "")
}

// closedAddr returns a 127.0.0.1 address where nothing listens.
func closedAddr(t *testing.T) string {
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

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}
