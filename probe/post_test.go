package probe

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/steer-gslb/steer/rum"
)

// collector is a stand-in for steer collect: it checks the method, the
// token and the content type, validates the body with rum.ParseBeacon in
// Strict mode (what the real collector does over HTTP) and keeps the
// beacons it accepted.
type collector struct {
	token string
	mu    sync.Mutex // guards got
	got   []rum.Beacon
}

func (c *collector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/rum/beacon" {
		http.Error(w, "want POST /rum/beacon", http.StatusMethodNotAllowed)
		return
	}
	if r.Header.Get("Authorization") != "Bearer "+c.token {
		http.Error(w, "bad or missing token", http.StatusUnauthorized)
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		http.Error(w, "content type "+ct, http.StatusUnsupportedMediaType)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, rum.MaxBeaconSize+1))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var b rum.Beacon
	if _, err := rum.ParseBeacon(body, rum.Strict, &b); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	c.mu.Lock()
	c.got = append(c.got, b)
	c.mu.Unlock()
	w.WriteHeader(http.StatusAccepted)
}

func (c *collector) beacons() []rum.Beacon {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]rum.Beacon(nil), c.got...)
}

func startCollector(t *testing.T, token string) (*collector, string) {
	t.Helper()
	c := &collector{token: token}
	srv := httptest.NewServer(c)
	t.Cleanup(srv.Close)
	return c, srv.URL + "/rum/beacon"
}

func TestPost(t *testing.T) {
	c, url := startCollector(t, "s3cret")
	fra := probeServer(t, "fra", 0)
	cfg := Config{Targets: []Target{{"fra", fra.URL + Path}, {"anycast", fra.URL + Path}}, HTTPClient: fra.Client(), Collector: url, Token: "s3cret", RUMZone: "rum.example.net", Resolver: "127.0.0.1:1", Timeout: 2 * time.Second}
	b, err := Measure(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := Post(context.Background(), cfg, b); err != nil {
		t.Fatalf("Post: %v", err)
	}
	got := c.beacons()
	if len(got) != 1 || len(got[0].Samples) != 2 || got[0].DNSTest != b.DNSTest || got[0].Samples[1].ServedBy != "fra" {
		t.Fatalf("collector got %+v, want %+v", got, b)
	}
	if string(rum.AppendBeacon(nil, &got[0])) != string(rum.AppendBeacon(nil, b)) {
		t.Errorf("collector's beacon differs from the one posted")
	}
}

func TestPostErrors(t *testing.T) {
	_, url := startCollector(t, "s3cret")
	ok := &rum.Beacon{V: 1, Agent: rum.Agent{Kind: rum.KindCLI}, Samples: []rum.Sample{{TS: time.Now().UTC(), Target: "fra", Probe: rum.ProbeHTTPS, RTTms: 1}}}
	bad := &rum.Beacon{V: 1, Agent: rum.Agent{Kind: rum.KindCLI}} // no samples
	for _, tc := range []struct {
		name string
		cfg  Config
		b    *rum.Beacon
		err  string
	}{
		{"wrong token", Config{Collector: url, Token: "guess"}, ok, `401 Unauthorized: "bad or missing token"`},
		{"no token", Config{Collector: url}, ok, "401 Unauthorized"},
		{"rejected", Config{Collector: url, Token: "s3cret"}, bad, `400 Bad Request: "samples: empty"`},
		{"no collector", Config{}, ok, "no collector URL"},
		{"bad collector", Config{Collector: "collector.example.net/rum/beacon"}, ok, "want an http or https URL"},
		{"token over http", Config{Collector: "http://collector.example.net/rum/beacon", Token: "s3cret"}, ok, "refusing to send the token over plain HTTP"},
		{"down", Config{Collector: "http://127.0.0.1:1/rum/beacon", Token: "s3cret"}, ok, "connection refused"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Post(context.Background(), tc.cfg, tc.b)
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("Post = %v, want error containing %q", err, tc.err)
			}
			if err != nil && strings.Contains(err.Error(), "s3cret") {
				t.Errorf("error %q shows the token", err)
			}
		})
	}
}

// TestRun runs rounds every 30 ms ±20 % against a collector, stops after
// three through OnRound, and checks that Run returns and every round's
// beacon arrived.
func TestRun(t *testing.T) {
	c, url := startCollector(t, "tok")
	fra := probeServer(t, "fra", 0)
	ams := probeServer(t, "ams", 0)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var rounds []*Round
	cfg := Config{
		Targets:    []Target{{"fra", fra.URL + Path}, {"ams", ams.URL + Path}},
		Collector:  url,
		Token:      "tok",
		HTTPClient: fra.Client(),
		OnRound: func(r *Round, err error) {
			if err != nil {
				t.Errorf("round %d: %v", len(rounds), err)
			}
			rounds = append(rounds, r)
			if len(rounds) == 3 {
				cancel()
			}
		},
	}
	if err := Run(ctx, cfg, 30*time.Millisecond); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Fatal("Run did not stop when its context was canceled")
	}
	got := c.beacons()
	if len(rounds) != 3 || len(got) != 3 {
		t.Fatalf("%d rounds, collector got %d beacons; want 3 and 3", len(rounds), len(got))
	}
	for i, b := range got {
		if len(b.Samples) != 2 {
			t.Errorf("beacon %d: %d samples", i, len(b.Samples))
		}
	}
	if err := Run(context.Background(), cfg, 0); err == nil {
		t.Error("Run with interval 0: no error")
	}
}

// TestRunKeepsLastPoPList: when the PoP list cannot be fetched, Run keeps
// measuring the last list and reports the failure.
func TestRunKeepsLastPoPList(t *testing.T) {
	fra := probeServer(t, "fra", 0)
	doc, err := MarshalTargets([]Target{{"fra", fra.URL + Path}})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	served := 0
	list := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if served++; served > 1 {
			http.Error(w, "gone", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write(doc)
	}))
	t.Cleanup(list.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var errs []error
	var samples []int
	cfg := Config{
		TargetsURL: list.URL,
		HTTPClient: fra.Client(),
		OnRound: func(r *Round, err error) {
			errs = append(errs, err)
			n := -1
			if r != nil && r.Beacon != nil {
				n = len(r.Beacon.Samples)
			}
			samples = append(samples, n)
			if len(errs) == 3 {
				cancel()
			}
		},
	}
	if err := Run(ctx, cfg, 10*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if len(errs) != 3 || errs[0] != nil || errs[1] == nil || !strings.Contains(errs[1].Error(), "503 Service Unavailable") {
		t.Errorf("round errors %v: want nil, then the list's 503", errs)
	}
	for i, n := range samples {
		if n != 1 {
			t.Errorf("round %d: %d samples, want 1 (the last list)", i, n)
		}
	}
}

func TestJitter(t *testing.T) {
	const iv = 10 * time.Minute
	for _, tc := range []struct {
		u    float64
		want time.Duration
	}{{0, 8 * time.Minute}, {0.25, 9 * time.Minute}, {0.5, iv}} {
		if got := jitter(iv, tc.u); got != tc.want {
			t.Errorf("jitter(%v, %v) = %v, want %v", iv, tc.u, got, tc.want)
		}
	}
	if got := jitter(iv, 0.999999); got >= 12*time.Minute || got < 12*time.Minute-time.Millisecond {
		t.Errorf("jitter(%v, 0.999999) = %v, want just under 12m", iv, got)
	}
}
