package collector

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"github.com/steer-gslb/steer/store"
	"github.com/steer-gslb/steer/store/duckstore"
)

const (
	token  = "agent-token-1"
	origin = "https://www.example.net"
)

func webBeacon(ts string, rtt float64) string {
	return fmt.Sprintf(`{"v":1,"agent":{"kind":"web","platform":"linux","timer":"performance"},"samples":[{"ts":%q,"target":"fra","probe":"https","rtt_ms":%v},{"ts":%q,"target":"anycast","probe":"https","rtt_ms":31,"served_by":"ams"}]}`, ts, rtt, ts)
}

func desktopBeacon(ts string, rtt float64) string {
	return fmt.Sprintf(`{"v":1,"agent":{"kind":"desktop","platform":"windows","timer":"qpc"},"dns_test":"k3f9q2x7w1.rum.example.net","samples":[{"ts":%q,"target":"fra","probe":"https","rtt_ms":%v}]}`, ts, rtt)
}

type fixture struct {
	srv *Server
	st  store.Store
	reg *prometheus.Registry
	now time.Time
}

func newFixture(t *testing.T, mod func(*Config)) *fixture {
	t.Helper()
	cfg := Defaults()
	cfg.Tokens = []string{token}
	cfg.Origins = []string{origin}
	cfg.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	cfg.MaxBody = 4096
	cfg.Rate = 0 // TestRateLimit and TestDefaultRateLimit test it
	if mod != nil {
		mod(cfg)
	}
	st, err := duckstore.Open(t.TempDir(), duckstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{st: st, reg: prometheus.NewRegistry(), now: time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)}
	f.srv, err = New(cfg, st, Options{Registry: f.reg, Now: func() time.Time { return f.now }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := f.srv.Close(); err != nil {
			t.Error(err)
		}
		if err := st.Close(); err != nil {
			t.Error(err)
		}
	})
	return f
}

type req struct {
	method, path, body string
	remote             string
	header             map[string]string
}

func (f *fixture) do(t *testing.T, r req) *httptest.ResponseRecorder {
	t.Helper()
	if r.method == "" {
		r.method = http.MethodPost
	}
	if r.path == "" {
		r.path = "/beacon"
	}
	hr := httptest.NewRequest(r.method, r.path, strings.NewReader(r.body))
	hr.RemoteAddr = "198.51.100.77:40000"
	if r.remote != "" {
		hr.RemoteAddr = r.remote
	}
	for k, v := range r.header {
		hr.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	f.srv.ServeHTTP(w, hr)
	return w
}

func (f *fixture) samples(t *testing.T) []store.SampleRow {
	t.Helper()
	var out []store.SampleRow
	if err := f.st.ScanSamples(context.Background(), func(r *store.SampleRow) error {
		out = append(out, *r)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

var (
	auth   = map[string]string{"Authorization": "Bearer " + token, "Content-Type": "application/json"}
	webHdr = map[string]string{"Origin": origin, "Content-Type": "text/plain;charset=UTF-8"}
)

func TestValidation(t *testing.T) {
	ts := "2026-11-21T10:00:00.123Z"
	big := desktopBeacon(ts, 1) + strings.Repeat(" ", 5000)
	for _, tc := range []struct {
		name string
		r    req
		code int
		want string // in the body
	}{
		{"desktop with token", req{body: desktopBeacon(ts, 23.4), header: auth}, 200, `{"accepted":1}`},
		{"web from allowed origin", req{body: webBeacon(ts, 23.4), header: webHdr}, 200, `{"accepted":1}`},
		{"GET", req{method: "GET", header: auth}, 405, "method GET not allowed"},
		{"no token, no origin", req{body: desktopBeacon(ts, 1)}, 401, "an agent token (Authorization: Bearer) or an allowed Origin is required"},
		{"bad token", req{body: desktopBeacon(ts, 1), header: map[string]string{"Authorization": "Bearer nope"}}, 401, "unknown token"},
		{"not bearer", req{body: desktopBeacon(ts, 1), header: map[string]string{"Authorization": "Basic x"}}, 401, "unknown token"},
		{"origin not allowed", req{body: webBeacon(ts, 1), header: map[string]string{"Origin": "https://evil.example"}}, 403, `Origin "https://evil.example" is not allowed`},
		{"anonymous desktop", req{body: desktopBeacon(ts, 1), header: webHdr}, 403, `agent.kind "desktop": only web beacons may come without an agent token`},
		{"client_subnet over HTTP", req{body: `{"v":1,"client_subnet":"203.0.113.0/24","agent":{"kind":"desktop"},"samples":[{"ts":"` + ts + `","target":"fra","probe":"https","rtt_ms":1}]}`, header: auth}, 400, "beacon: client_subnet"},
		{"unknown field", req{body: `{"v":1,"agent":{"kind":"desktop"},"x":1,"samples":[]}`, header: auth}, 400, "beacon: "},
		{"bad rtt", req{body: strings.Replace(desktopBeacon(ts, 1), `"rtt_ms":1`, `"rtt_ms":"1"`, 1), header: auth}, 400, "samples[0].rtt_ms"},
		{"bad target", req{body: strings.Replace(desktopBeacon(ts, 1), `"fra"`, `"Fra!"`, 1), header: auth}, 400, "samples[0].target"},
		{"bad version", req{body: strings.Replace(desktopBeacon(ts, 1), `"v":1`, `"v":2`, 1), header: auth}, 400, "beacon: v"},
		{"not json", req{body: "hello", header: auth}, 400, "beacon: "},
		{"too big", req{body: big, header: auth}, 413, "body larger than 4096 bytes"},
		{"content type", req{body: desktopBeacon(ts, 1), header: map[string]string{"Authorization": "Bearer " + token, "Content-Type": "application/xml"}}, 415, `Content-Type "application/xml"`},
		{"ndjson", req{body: desktopBeacon(ts, 1) + "\n\n" + desktopBeacon(ts, 2) + "\n", header: map[string]string{"Authorization": "Bearer " + token, "Content-Type": "application/x-ndjson"}}, 200, `{"accepted":2}`},
		{"ndjson bad line", req{body: desktopBeacon(ts, 3) + "\n{\n", header: map[string]string{"Authorization": "Bearer " + token, "Content-Type": "application/x-ndjson"}}, 400, "line 2: beacon: "},
		{"ndjson empty", req{body: "\n\n", header: map[string]string{"Authorization": "Bearer " + token, "Content-Type": "application/x-ndjson"}}, 400, "empty batch"},
		{"bad forwarded", req{body: desktopBeacon(ts, 1), header: map[string]string{"Authorization": "Bearer " + token, "X-Forwarded-For": "nonsense"}, remote: "10.1.2.3:5555"}, 400, "X-Forwarded-For: element 1 is not an IP address"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, nil)
			w := f.do(t, tc.r)
			if w.Code != tc.code || !strings.Contains(w.Body.String(), tc.want) {
				t.Errorf("got %d %q, want %d with %q", w.Code, w.Body.String(), tc.code, tc.want)
			}
			if tc.code != 200 {
				if n := len(f.samples(t)); n != 0 {
					t.Errorf("a rejected request stored %d samples", n)
				}
			}
		})
	}
}

func TestStoresTruncatedNetwork(t *testing.T) {
	f := newFixture(t, nil)
	ts := "2026-11-21T10:00:00.123Z"
	for _, tc := range []struct {
		remote, xff string
		want        string
	}{
		{"198.51.100.77:1", "", "198.51.100.0/24"},
		{"[2001:db8:1:2:3:4:5:6]:1", "", "2001:db8:1::/56"},
		{"[::ffff:192.0.2.9]:1", "", "192.0.2.0/24"},
		{"10.0.0.1:1", "81.2.69.45", "81.2.69.0/24"},               // trusted proxy
		{"10.0.0.1:1", "81.2.69.99, 10.9.9.9", "81.2.69.0/24"},     // rightmost untrusted
		{"192.0.2.1:1", "203.0.113.45", "192.0.2.0/24"},            // untrusted peer: header ignored
		{"10.0.0.1:1", "[2a01:4f8:ff::1]:443", "2a01:4f8:ff::/56"}, // with a port
		{"10.0.0.1:1", "10.2.2.2, 81.2.70.3", "81.2.70.0/24"},      // left of the rightmost untrusted: the client's own claim
	} {
		f.now = f.now.Add(time.Second)
		h := map[string]string{"Authorization": "Bearer " + token}
		if tc.xff != "" {
			h["X-Forwarded-For"] = tc.xff
		}
		rtt := float64(len(tc.remote) + len(tc.xff)) // distinct beacons
		if w := f.do(t, req{body: desktopBeacon(ts, rtt), remote: tc.remote, header: h}); w.Code != 200 {
			t.Fatalf("%s %s: %d %s", tc.remote, tc.xff, w.Code, w.Body.String())
		}
		got := f.samples(t)
		if last := got[len(got)-1].Network.String(); last != tc.want || got[len(got)-1].RTTms != rtt {
			t.Errorf("%s %s: stored %s, want %s", tc.remote, tc.xff, last, tc.want)
		}
	}
}

func TestDuplicatesCountedOnce(t *testing.T) {
	f := newFixture(t, nil)
	b := desktopBeacon("2026-11-21T10:00:00.123Z", 42.5)
	for range 3 {
		if w := f.do(t, req{body: b, header: auth}); w.Code != 200 {
			t.Fatalf("%d %s", w.Code, w.Body.String())
		}
	}
	if n := len(f.samples(t)); n != 1 {
		t.Errorf("%d samples stored, want 1", n)
	}
	if got := testutil.ToFloat64(f.srv.m.beacons.WithLabelValues("stored")); got != 1 {
		t.Errorf("stored %v, want 1", got)
	}
	if got := testutil.ToFloat64(f.srv.m.beacons.WithLabelValues("duplicate")); got != 2 {
		t.Errorf("duplicates %v, want 2", got)
	}
}

func TestRateLimit(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.Rate, c.Burst = 1, 2 })
	ts := "2026-11-21T10:00:00.123Z"
	codes := []int{}
	for i := range 4 {
		codes = append(codes, f.do(t, req{body: desktopBeacon(ts, float64(i)), header: auth}).Code)
	}
	if fmt.Sprint(codes) != "[200 200 429 429]" {
		t.Errorf("codes %v, want two accepted then 429", codes)
	}
	// another network is not limited; time refills the bucket
	if c := f.do(t, req{body: desktopBeacon(ts, 9), header: auth, remote: "192.0.2.1:1"}).Code; c != 200 {
		t.Errorf("another network: %d", c)
	}
	f.now = f.now.Add(1500 * time.Millisecond)
	if c := f.do(t, req{body: desktopBeacon(ts, 10), header: auth}).Code; c != 200 {
		t.Errorf("after 1.5 s: %d", c)
	}
	if got := testutil.ToFloat64(f.srv.m.rejected.WithLabelValues("rate")); got != 2 {
		t.Errorf("rate rejections %v, want 2", got)
	}
}

func TestCORS(t *testing.T) {
	f := newFixture(t, nil)
	w := f.do(t, req{method: "OPTIONS", header: map[string]string{"Origin": origin, "Access-Control-Request-Method": "POST"}})
	if w.Code != 204 || w.Header().Get("Access-Control-Allow-Origin") != origin || !strings.Contains(w.Header().Get("Access-Control-Allow-Headers"), "Authorization") {
		t.Errorf("preflight: %d %v", w.Code, w.Header())
	}
	w = f.do(t, req{method: "OPTIONS", header: map[string]string{"Origin": "https://evil.example"}})
	if w.Code != 403 || w.Header().Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("preflight from a foreign origin: %d %v", w.Code, w.Header())
	}
	w = f.do(t, req{body: webBeacon("2026-11-21T10:00:00.123Z", 5), header: webHdr})
	if w.Code != 200 || w.Header().Get("Access-Control-Allow-Origin") != origin {
		t.Errorf("beacon: %d %v", w.Code, w.Header())
	}
	anyOrigin := newFixture(t, func(c *Config) { c.Origins = []string{"*"} })
	w = anyOrigin.do(t, req{body: webBeacon("2026-11-21T10:00:00.123Z", 5), header: map[string]string{"Origin": "https://anywhere.example"}})
	if w.Code != 200 || w.Header().Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("origins [*]: %d %v", w.Code, w.Header())
	}
}

func TestEndpoints(t *testing.T) {
	f := newFixture(t, func(c *Config) {
		c.PoP = "fra"
		c.PoPs = []PoPURL{{"fra", "https://fra.example.net/rum/probe"}}
		c.Anycast = "https://www.example.net/rum/probe"
		c.RUMZone = "rum.example.net"
	})
	w := f.do(t, req{method: "GET", path: "/rum/pops.json"})
	want := `{"pops":[{"label":"fra","url":"https://fra.example.net/rum/probe"}],"anycast":"https://www.example.net/rum/probe","rum_zone":"rum.example.net"}`
	if w.Code != 200 || w.Body.String() != want {
		t.Errorf("pops.json: %d %s", w.Code, w.Body.String())
	}
	w = f.do(t, req{method: "GET", path: "/rum/probe"})
	if w.Code/100 != 2 || w.Header().Get("X-Edge-PoP") != "fra" || w.Header().Get("Timing-Allow-Origin") == "" {
		t.Errorf("probe: %d %v", w.Code, w.Header())
	}
	w = f.do(t, req{method: "GET", path: "/rum.js"})
	if w.Code != 200 || !strings.Contains(w.Header().Get("Content-Type"), "javascript") || w.Body.Len() == 0 {
		t.Errorf("rum.js: %d %v", w.Code, w.Header())
	}
	f.do(t, req{body: desktopBeacon("2026-11-21T10:00:00.123Z", 1), header: auth})
	w = f.do(t, req{method: "GET", path: "/metrics", remote: "127.0.0.1:5555"})
	for _, m := range []string{"steer_collector_beacons_total", "steer_collector_commit_duration_seconds", "steer_collector_requests_total"} {
		if !strings.Contains(w.Body.String(), m) {
			t.Errorf("/metrics lacks %s", m)
		}
	}
}

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"http: TLS handshake error from 203.0.113.7:4242: EOF": "http: TLS handshake error from 203.0.113.0/24: EOF",
		"from [2001:db8:1:2ab:3:4:5:6]:443 bad":                "from 2001:db8:1:200::/56 bad",
		"peer 2001:db8::1 and 198.51.100.200":                  "peer 2001:db8::/56 and 198.51.100.0/24",
		"no address here: 1.5 s, version 2.0":                  "no address here: 1.5 s, version 2.0",
	} {
		if got := Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}

// gatedStore holds its first AddBeacons until the gate opens: the real
// store underneath, with a pause the test controls.
type gatedStore struct {
	store.Store
	entered, gate chan struct{}
	first         bool
}

func (g *gatedStore) AddBeacons(ctx context.Context, bs []store.Beacon) (store.AddResult, error) {
	if !g.first {
		g.first = true
		close(g.entered)
		<-g.gate
	}
	return g.Store.AddBeacons(ctx, bs)
}

// TestGroupCommit: beacons arriving while a commit runs go into the next
// commit together, and every request is answered after its commit.
func TestGroupCommit(t *testing.T) {
	f := newFixture(t, nil)
	if err := f.srv.Close(); err != nil {
		t.Fatal(err)
	}
	g := &gatedStore{Store: f.st, entered: make(chan struct{}), gate: make(chan struct{})}
	f.srv.cfg.CommitTimeout = 30 * time.Second // the first commit waits for the test
	srv, err := New(f.srv.cfg, g, Options{Now: func() time.Time { return f.now }})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = srv.Close() }() // the fixture's cleanup closes it too
	f.srv = srv
	var once sync.Once
	open := func() { once.Do(func() { close(g.gate) }) }
	defer open() // a failed test must not leave the commit loop stuck
	const n = 200
	errc := make(chan error, n)
	send := func(i int) {
		w := f.do(t, req{body: desktopBeacon("2026-11-21T10:00:00.123Z", float64(i)), header: auth})
		if w.Code != 200 {
			errc <- fmt.Errorf("%d %s", w.Code, w.Body.String())
			return
		}
		errc <- nil
	}
	go send(0)
	<-g.entered // the first commit is running
	for i := 1; i < n; i++ {
		go send(i)
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(srv.beacons.jobs) < n-1 {
		if time.Now().After(deadline) {
			t.Fatalf("only %d requests queued", len(srv.beacons.jobs))
		}
		runtime.Gosched()
	}
	open()
	for range n {
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	}
	if got := len(f.samples(t)); got != n {
		t.Fatalf("%d samples stored, want %d", got, n)
	}
	var m dto.Metric
	if err := srv.m.batch.Write(&m); err != nil {
		t.Fatal(err)
	}
	if c, sum := m.GetHistogram().GetSampleCount(), m.GetHistogram().GetSampleSum(); c != 2 || sum != n {
		t.Errorf("%d commits holding %v beacons; want 2 commits (1, then the %d queued meanwhile)", c, sum, n-1)
	}
}

func TestParseConfig(t *testing.T) {
	c, err := ParseConfig([]byte(`
listen: 127.0.0.1:9999
tls: {cert: c.pem, key: k.pem}
trusted_proxies: [10.0.0.0/8, 192.0.2.1]
tokens: [abcdefgh12]
origins: ["https://www.example.net/"]
rate: 2.5
burst: 5
pop: fra
pops: [{label: fra, url: "https://fra.example.net/rum/probe"}]
anycast: https://www.example.net/rum/probe
rum_zone: RUM.example.net.
`))
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:9999" || c.TLSKey != "k.pem" || len(c.TrustedProxies) != 2 || c.TrustedProxies[1].Bits() != 32 ||
		c.Origins[0] != "https://www.example.net" || c.Rate != 2.5 || c.Burst != 5 || c.RUMZone != "rum.example.net" || c.PoPs[0].Label != "fra" {
		t.Errorf("parsed %+v", c)
	}
	if c, err := ParseConfig(nil); err != nil || c.Listen != Defaults().Listen {
		t.Errorf("empty config: %+v, %v", c, err)
	}
	c, err = ParseConfig([]byte(`
admin: 127.0.0.1:9101
commit_timeout: 2s
max_load_lag: 30s
max_sample_age: 0s
max_sample_ahead: 10m
max_rtt_ms: 30000
max_conns: 100
read_header_timeout: 3s
idle_timeout: 20s
`))
	if err != nil {
		t.Fatal(err)
	}
	if c.Admin != "127.0.0.1:9101" || c.CommitTimeout != 2*time.Second || c.MaxLoadLag != 30*time.Second || c.MaxSampleAge != 0 ||
		c.MaxSampleAhead != 10*time.Minute || c.MaxRTTms != 30000 || c.MaxConns != 100 || c.ReadHeaderTimeout != 3*time.Second || c.IdleTimeout != 20*time.Second {
		t.Errorf("parsed %+v", c)
	}
	for _, tc := range []struct{ in, want string }{
		{"listn: x", "field listn not found"},
		{"tls: {cert: a}", "tls: needs both cert and key"},
		{"trusted_proxies: [nope]", `trusted_proxies[0]: "nope" is not an address or CIDR`},
		{"tokens: [short]", "tokens[0]: a token needs at least 8 characters"},
		{"origins: [www.example.net]", `origins[0]: "www.example.net" is not an origin`},
		{"origins: [\"https://a.example/path\"]", "is not an origin"},
		{"max_body: 10", "max_body: 10 out of range"},
		{"rate: -1", "rate: -1 out of range"},
		{"burst: 0", "burst: 0 out of range"},
		{"commit_batch: 0", "commit_batch: 0 out of range"},
		{"admin: nope", `admin: "nope" is not host:port`},
		{"listen: 127.0.0.1:9000\nadmin: 127.0.0.1:9000", "admin: \"127.0.0.1:9000\" is also the listen address"},
		{"commit_timeout: soon", `commit_timeout: "soon" is not a duration`},
		{"commit_timeout: 0s", "commit_timeout: 0s out of range [10ms, 30s]"},
		{"commit_timeout: 1m", "commit_timeout: 1m0s out of range"},
		{"max_load_lag: 1ms", "max_load_lag: 1ms out of range"},
		{"max_sample_age: 1s", "max_sample_age: 1s out of range [1m0s"},
		{"max_sample_ahead: -5m", "max_sample_ahead: -5m0s out of range"},
		{"max_rtt_ms: 0.5", "max_rtt_ms: 0.5 out of range [1, 3600000] (0: no limit)"},
		{"max_rtt_ms: -1", "max_rtt_ms: -1 out of range"},
		{"max_conns: 1", "max_conns: 1 out of range [2, 1000000]"},
		{"read_header_timeout: 0s", "read_header_timeout: 0s out of range"},
		{"idle_timeout: 2h", "idle_timeout: 2h0m0s out of range"},
		{"pop: Frankfurt", `pop: "Frankfurt" is not a PoP label`},
		{"pops: [{label: fra, url: ftp://x}]", `pops[0].url: "ftp://x" is not an http(s) URL`},
		{"pops: [{label: anycast, url: http://x}]", `pops[0].label: "anycast"`},
		{"anycast: nope", `anycast: "nope" is not an http(s) URL`},
		{"proxy_header: 'X Y'", "proxy_header"},
		{"rum_zone: 'a b'", "rum_zone"},
		{"[", "did not find expected"},
	} {
		_, err := ParseConfig([]byte(tc.in))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want %q", tc.in, err, tc.want)
		}
	}
}

func FuzzParseConfig(f *testing.F) {
	for _, s := range []string{"listen: 127.0.0.1:1\nrate: 1\nburst: 2", "trusted_proxies: [10.0.0.0/8]", "origins: ['*']", "pops: [{label: a, url: 'http://x'}]", "tls: {cert: a}",
		"admin: 127.0.0.1:9101\ncommit_timeout: 2s\nmax_load_lag: 30s", "max_sample_age: 0s\nmax_sample_ahead: 10m\nmax_rtt_ms: 30000",
		"max_conns: 100\nread_header_timeout: 3s\nidle_timeout: 20s", "commit_timeout: soon", "max_rtt_ms: -1"} {
		f.Add(s)
	}
	for _, c := range queryLogTokenCases {
		f.Add(c.yaml)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseConfig([]byte(s))
		if err == nil && (c == nil || c.Burst < 1 || c.CommitBatch < 1 || !validLabel(c.PoP) || c.CommitTimeout <= 0 || c.MaxLoadLag <= 0 ||
			c.MaxSampleAge < 0 || c.MaxSampleAhead < 0 || c.MaxRTTms < 0 || c.MaxConns < 2 || c.ReadHeaderTimeout <= 0 || c.IdleTimeout <= 0) {
			t.Fatalf("accepted an invalid config: %+v", c)
		}
		if err == nil {
			for _, tok := range c.QueryLogTokens {
				if len(tok) < 16 || slices.Contains(c.Tokens, tok) {
					t.Fatalf("accepted query log token %q (agent tokens %q)", tok, c.Tokens)
				}
			}
		}
	})
}

// TestNoRawAddressInLogs: the debug log of rejected and accepted requests
// never holds a full client address.
func TestNoRawAddressInLogs(t *testing.T) {
	var logs bytes.Buffer
	st, err := duckstore.Open(t.TempDir(), duckstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = st.Close() }()
	cfg := Defaults()
	cfg.Tokens = []string{token}
	srv, err := New(cfg, st, Options{Logger: newTestLogger(&logs)})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = srv.Close() }()
	for i := range 20 {
		r := httptest.NewRequest("POST", "/beacon", strings.NewReader([]string{"garbage", desktopBeacon("2026-11-21T10:00:00.123Z", float64(i))}[i%2]))
		r.RemoteAddr = fmt.Sprintf("203.0.113.%d:5000", 100+i)
		r.Header.Set("Authorization", "Bearer "+token)
		srv.ServeHTTP(httptest.NewRecorder(), r)
	}
	srv.ErrorLog().Printf("http: TLS handshake error from 203.0.113.177:4242: EOF")
	if logs.Len() == 0 {
		t.Fatal("nothing logged at debug level")
	}
	for i := range 20 {
		if a := fmt.Sprintf("203.0.113.%d", 100+i); strings.Contains(logs.String(), a) {
			t.Errorf("log holds %s:\n%s", a, logs.String())
		}
	}
	if strings.Contains(logs.String(), "203.0.113.177") {
		t.Errorf("error log holds the full address:\n%s", logs.String())
	}
}

func newTestLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func netipPrefix(s string) netip.Prefix { return netip.MustParsePrefix(s) }
