package health

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/steer-gslb/steer/config"
	"github.com/steer-gslb/steer/popmap"
)

// waitLimit bounds every wait of these tests; checks run every 25ms.
const waitLimit = 5 * time.Second

// Test checks run every testInterval with a timeout far above it: on a
// loaded machine under -race a loopback check can take 100ms, and a spurious
// timeout would break the exact counts asserted here. (Config requires
// timeout < interval; the Checker does not, a slow check delays the next.)
const (
	testInterval = 25 * time.Millisecond
	testTimeout  = 2 * time.Second
)

func httpCheck(url string, rise, fall int) *config.Check {
	typ := config.CheckHTTP
	if strings.HasPrefix(url, "https:") {
		typ = config.CheckHTTPS
	}
	return &config.Check{
		Type: typ, URL: url, Status: 200,
		Interval: testInterval, Timeout: testTimeout, Rise: rise, Fall: fall,
	}
}

func tcpCheck(addr string, rise, fall int) *config.Check {
	return &config.Check{
		Type: config.CheckTCP, Addr: netip.MustParseAddrPort(addr),
		Interval: testInterval, Timeout: testTimeout, Rise: rise, Fall: fall,
	}
}

func pop(label string, ck *config.Check) config.PoP {
	return config.PoP{Label: popmap.Label(label), Lat: 1, Lon: 2, IPv4: []netip.Addr{netip.MustParseAddr("192.0.2.1")}, Capacity: 1, State: config.StateUp, Check: ck}
}

// harness is a started Checker whose transitions arrive on events.
type harness struct {
	*Checker
	events chan Status
	reg    *prometheus.Registry
}

func start(t *testing.T, pops ...config.PoP) *harness {
	t.Helper()
	h := &harness{events: make(chan Status, 64), reg: prometheus.NewRegistry()}
	h.Checker = New(pops, Options{
		Logger:   slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug})),
		Registry: h.reg,
		OnChange: func(s Status) { h.events <- s },
	})
	h.Start(t.Context())
	t.Cleanup(h.Stop)
	return h
}

// next returns the next transition.
func (h *harness) next(t *testing.T) Status {
	t.Helper()
	select {
	case s := <-h.events:
		return s
	case <-time.After(waitLimit):
		t.Fatalf("no transition within %v; statuses %+v", waitLimit, h.Statuses())
		return Status{}
	}
}

// noEvents fails if a transition was reported.
func (h *harness) noEvents(t *testing.T) {
	t.Helper()
	select {
	case s := <-h.events:
		t.Errorf("unexpected transition %+v", s)
	default:
	}
}

// status returns the status of label.
func (h *harness) status(label popmap.Label) Status {
	for _, s := range h.Statuses() {
		if s.Label == label {
			return s
		}
	}
	return Status{}
}

// waitStatus polls until cond holds for label's status.
func (h *harness) waitStatus(t *testing.T, label popmap.Label, what string, cond func(Status) bool) Status {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for {
		s := h.status(label)
		if cond(s) {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %s not reached within %v; status %+v", label, what, waitLimit, s)
		}
		<-tick.C
	}
}

// waitCount polls until n reaches want.
func waitCount(t *testing.T, what string, n *atomic.Int64, want int64) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for n.Load() < want {
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d within %v, want %d", what, n.Load(), waitLimit, want)
		}
		<-tick.C
	}
}

// toggleServer answers 200, or 503 while failing is set, and counts requests.
type toggleServer struct {
	*httptest.Server
	failing  atomic.Bool
	requests atomic.Int64
}

func newToggleServer(t *testing.T) *toggleServer {
	ts := &toggleServer{}
	ts.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		ts.requests.Add(1)
		if ts.failing.Load() {
			http.Error(w, "maintenance", http.StatusServiceUnavailable)
			return
		}
		_, _ = fmt.Fprintln(w, "ok")
	}))
	t.Cleanup(ts.Close)
	return ts
}

func TestRecord(t *testing.T) {
	tests := []struct {
		name       string
		rise, fall int
		results    string // o = ok, x = fail
		want       string // state after each result: U or D
	}{
		{"stays up", 2, 3, "oooo", "UUUU"},
		{"down after fall", 2, 3, "xxxx", "UUDD"},
		{"fall resets on success", 2, 3, "xxoxxox", "UUUUUUU"},
		{"flapping", 2, 3, "xoxoxoxo", "UUUUUUUU"},
		{"up after rise", 2, 3, "xxxoo", "UUDDU"},
		{"rise resets on failure", 2, 3, "xxxoxoxoo", "UUDDDDDDU"},
		{"fall 1 rise 1", 1, 1, "xoxo", "DUDU"},
		{"rise 3", 3, 1, "xooxooo", "DDDDDDU"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tg := newTarget(&config.PoP{Label: "fra", Check: &config.Check{Type: config.CheckTCP, Rise: tc.rise, Fall: tc.fall}}, time.Time{})
			var got strings.Builder
			for i, r := range tc.results {
				var err error
				if r == 'x' {
					err = errors.New("refused")
				}
				now := time.Unix(int64(i), 0)
				before := tg.st.Up
				changed := tg.record(err, now)
				if changed != (before != tg.st.Up) {
					t.Errorf("result %d: record = %v, but Up went %v → %v", i, changed, before, tg.st.Up)
				}
				if changed && !tg.st.Since.Equal(now) {
					t.Errorf("result %d: Since = %v, want %v", i, tg.st.Since, now)
				}
				if tg.up.Load() != tg.st.Up {
					t.Errorf("result %d: up = %v, st.Up = %v", i, tg.up.Load(), tg.st.Up)
				}
				got.WriteString(map[bool]string{true: "U", false: "D"}[tg.st.Up])
			}
			if got.String() != tc.want {
				t.Errorf("record(%s) states = %s, want %s", tc.results, got.String(), tc.want)
			}
		})
	}
}

func TestStartDelay(t *testing.T) {
	for _, iv := range []time.Duration{time.Nanosecond, 20 * time.Millisecond, 2 * time.Second, time.Hour} {
		limit := max(min(iv, maxStartJitter), 1)
		for range 100 {
			if d := startDelay(iv); d < 0 || d >= limit {
				t.Fatalf("startDelay(%v) = %v, want in [0, %v)", iv, d, limit)
			}
		}
	}
}

// TestHTTPToggle: down after exactly fall failures, up after rise
// successes, with the metrics to match.
func TestHTTPToggle(t *testing.T) {
	t.Parallel()
	ts := newToggleServer(t)
	h := start(t, pop("fra", httpCheck(ts.URL+"/healthz", 2, 3)))

	if s := h.waitStatus(t, "fra", "2 successes", func(s Status) bool { return s.Successes >= 2 }); !s.Up || !s.Checked || s.LastError != "" {
		t.Errorf("healthy status = %+v", s)
	}
	ts.failing.Store(true)
	s := h.next(t)
	if s.Up || s.Failures != 3 || s.Successes != 0 || !strings.Contains(s.LastError, "status 503, want 200") {
		t.Errorf("transition = %+v, want down after 3 failures with status 503", s)
	}
	if h.Up("fra") {
		t.Errorf("Up(fra) = true after the down transition")
	}
	ts.failing.Store(false)
	s = h.next(t)
	if !s.Up || s.Successes != 2 || s.Failures != 0 || s.LastError != "" {
		t.Errorf("transition = %+v, want up after 2 successes", s)
	}
	if !h.Up("fra") {
		t.Errorf("Up(fra) = false after the up transition")
	}
	h.Stop()
	h.noEvents(t)

	for _, c := range []struct {
		name string
		c    prometheus.Collector
		want float64
	}{
		{`steer_health_up{pop="fra"}`, h.m.up.WithLabelValues("fra"), 1},
		{`steer_health_transitions_total{pop="fra",to="down"}`, h.m.transitions.WithLabelValues("fra", "down"), 1},
		{`steer_health_transitions_total{pop="fra",to="up"}`, h.m.transitions.WithLabelValues("fra", "up"), 1},
	} {
		if got := testutil.ToFloat64(c.c); got != c.want {
			t.Errorf("%s = %v, want %v", c.name, got, c.want)
		}
	}
	if ok, fail := testutil.ToFloat64(h.m.checks.WithLabelValues("fra", "ok")), testutil.ToFloat64(h.m.checks.WithLabelValues("fra", "fail")); ok < 4 || fail < 3 {
		t.Errorf("checks ok %v fail %v, want ≥ 4 and ≥ 3", ok, fail)
	}
	problems, err := testutil.GatherAndLint(h.reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("metric %s: %s", p.Metric, p.Text)
	}
	if n, err := testutil.GatherAndCount(h.reg, "steer_health_up", "steer_health_checks_total", "steer_health_transitions_total", "steer_health_check_duration_seconds"); err != nil || n != 6 {
		t.Errorf("GatherAndCount = %d, %v, want 6 series", n, err)
	}
}

// TestHTTPFlapping: fail, ok, fail, ok … with fall 3 never goes down.
func TestHTTPFlapping(t *testing.T) {
	t.Parallel()
	var n atomic.Int64
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if n.Add(1)%2 == 1 {
			w.WriteHeader(http.StatusInternalServerError)
		}
	}))
	t.Cleanup(ts.Close)
	h := start(t, pop("fra", httpCheck(ts.URL, 2, 3)))
	waitCount(t, "requests", &n, 8)
	h.Stop()
	h.noEvents(t)
	if s := h.status("fra"); !s.Up || s.Failures > 1 || s.Successes > 1 {
		t.Errorf("status after flapping = %+v, want up", s)
	}
}

func TestHTTPS(t *testing.T) {
	t.Parallel()
	var requests atomic.Int64
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { requests.Add(1) }))
	ts.Config.ErrorLog = log.New(io.Discard, "", 0) // the failed handshakes are the point
	ts.StartTLS()
	t.Cleanup(ts.Close)
	verify, insecure, named := httpCheck(ts.URL, 1, 1), httpCheck(ts.URL, 1, 1), httpCheck(ts.URL, 1, 1)
	insecure.Insecure = true
	named.Host = "example.com:443" // a name httptest's certificate holds, signed by a CA we do not trust
	h := start(t, pop("verify", verify), pop("insecure", insecure), pop("named", named))

	down := map[popmap.Label]Status{}
	for range 2 {
		s := h.next(t)
		down[s.Label] = s
	}
	for _, l := range []popmap.Label{"verify", "named"} {
		if s, ok := down[l]; !ok || s.Up || !strings.Contains(s.LastError, "certificate") {
			t.Errorf("%s: transition %+v, want down with a certificate error", l, s)
		}
	}
	if s := h.waitStatus(t, "insecure", "3 successes", func(s Status) bool { return s.Successes >= 3 }); !s.Up || s.LastError != "" {
		t.Errorf("insecure: status %+v, want up", s)
	}
	h.noEvents(t)
	if requests.Load() < 3 {
		t.Errorf("server saw %d requests, want ≥ 3 (the insecure check's)", requests.Load())
	}
}

func TestHTTPResponses(t *testing.T) {
	t.Parallel()
	var followed atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("/json", func(w http.ResponseWriter, _ *http.Request) { _, _ = fmt.Fprint(w, `{"status":"ok"}`) })
	mux.HandleFunc("/nocontent", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	mux.HandleFunc("/moved", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/json", http.StatusFound) })
	mux.HandleFunc("/target", func(http.ResponseWriter, *http.Request) { followed.Add(1) })
	mux.HandleFunc("/away", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/target", http.StatusFound) })
	mux.HandleFunc("/long", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(strings.Repeat("x", config.MaxCheckBody)))
		_, _ = w.Write([]byte("needle"))
	})
	mux.HandleFunc("/host", func(w http.ResponseWriter, r *http.Request) {
		if r.Host != "fra.example.net" || r.UserAgent() != userAgent {
			w.WriteHeader(http.StatusMisdirectedRequest)
		}
	})
	mux.HandleFunc("/slow", func(_ http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	ts := httptest.NewServer(mux)
	t.Cleanup(ts.Close)

	with := func(path string, f func(*config.Check)) *config.Check {
		ck := httpCheck(ts.URL+path, 1, 1)
		f(ck)
		return ck
	}
	tests := []struct {
		name    string
		check   *config.Check
		wantErr string // "" = stays up
	}{
		{"body", with("/json", func(c *config.Check) { c.Body = `"ok"` }), ""},
		{"body missing", with("/json", func(c *config.Check) { c.Body = "healthy" }), `body lacks "healthy"`},
		{"body beyond limit", with("/long", func(c *config.Check) { c.Body = "needle" }), `body lacks "needle"`},
		{"wrong status", with("/nocontent", func(*config.Check) {}), "status 204, want 200"},
		{"expected status", with("/nocontent", func(c *config.Check) { c.Status = 204 }), ""},
		{"redirect", with("/away", func(*config.Check) {}), "status 302, want 200"},
		{"redirect expected", with("/moved", func(c *config.Check) { c.Status = 302 }), ""},
		{"host", with("/host", func(c *config.Check) { c.Host = "fra.example.net" }), ""},
		{"not found", with("/nope", func(*config.Check) {}), "status 404, want 200"},
		{"timeout", with("/slow", func(c *config.Check) { c.Timeout = 50 * time.Millisecond }), "no answer within 50ms"},
	}
	var pops []config.PoP
	for i, tc := range tests {
		pops = append(pops, pop(fmt.Sprintf("p%d", i), tc.check))
	}
	h := start(t, pops...)
	for i, tc := range tests {
		label := popmap.Label(fmt.Sprintf("p%d", i))
		if tc.wantErr == "" {
			if s := h.waitStatus(t, label, "2 successes", func(s Status) bool { return s.Successes >= 2 }); !s.Up {
				t.Errorf("%s: status %+v, want up", tc.name, s)
			}
			continue
		}
		s := h.waitStatus(t, label, "down", func(s Status) bool { return !s.Up })
		if !strings.Contains(s.LastError, tc.wantErr) {
			t.Errorf("%s: LastError = %q, want %q", tc.name, s.LastError, tc.wantErr)
		}
	}
	if n := followed.Load(); n != 0 {
		t.Errorf("redirect followed %d times", n)
	}
}

func TestTCP(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var accepted atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			_ = c.Close()
		}
	}()
	h := start(t, pop("fra", tcpCheck(ln.Addr().String(), 1, 2)))
	if s := h.waitStatus(t, "fra", "2 successes", func(s Status) bool { return s.Successes >= 2 }); !s.Up {
		t.Errorf("status with listener = %+v, want up", s)
	}
	waitCount(t, "accepted", &accepted, 1)
	_ = ln.Close()
	<-done
	s := h.next(t)
	if s.Up || s.Failures != 2 || !strings.Contains(s.LastError, "refused") {
		t.Errorf("transition after close = %+v, want down after 2 refused connects", s)
	}
}

func TestUpdate(t *testing.T) {
	t.Parallel()
	ts := newToggleServer(t)
	ts.failing.Store(true)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_ = c.Close()
		}
	}()
	pops := []config.PoP{
		pop("fra", httpCheck(ts.URL, 2, 1)),
		pop("ams", tcpCheck(ln.Addr().String(), 1, 1)),
		pop("sin", nil),
	}
	h := start(t, pops...)
	down := h.next(t)
	if down.Label != "fra" || down.Up {
		t.Fatalf("transition = %+v, want fra down", down)
	}
	amsBefore := h.waitStatus(t, "ams", "3 successes", func(s Status) bool { return s.Successes >= 3 })

	// Same checks in new values (a reload builds a new config), sin
	// removed, nrt added: fra stays down, ams keeps counting.
	reloaded := []config.PoP{
		pop("nrt", nil),
		pop("ams", tcpCheck(ln.Addr().String(), 1, 1)),
		pop("fra", httpCheck(ts.URL, 2, 1)),
	}
	h.Update(reloaded)
	if got := labels(h.Statuses()); got != "nrt,ams,fra" {
		t.Errorf("Statuses() labels = %s, want nrt,ams,fra", got)
	}
	if s := h.status("fra"); s.Up || !s.Since.Equal(down.Since) || h.Up("fra") {
		t.Errorf("fra after Update = %+v, want still down since %v", s, down.Since)
	}
	h.waitStatus(t, "ams", "more successes", func(s Status) bool { return s.Successes > amsBefore.Successes })
	if s := h.status("nrt"); !s.Up || s.Checked || !h.Up("nrt") {
		t.Errorf("nrt = %+v, want up and unchecked", s)
	}
	if n, _ := testutil.GatherAndCount(h.reg, "steer_health_up"); n != 3 {
		t.Errorf("steer_health_up has %d series after removing sin, want 3", n)
	}

	// A changed check starts afresh (up) and reports the change; the
	// failing server then takes it down again.
	reloaded[2].Check = httpCheck(ts.URL, 2, 2)
	h.Update(reloaded)
	if s := h.next(t); s.Label != "fra" || !s.Up || s.Failures != 0 {
		t.Errorf("transition after changing the check = %+v, want fra up", s)
	}
	if s := h.next(t); s.Label != "fra" || s.Up || s.Failures != 2 {
		t.Errorf("transition = %+v, want fra down after 2 failures", s)
	}
	// A removed check makes the PoP up for good.
	reloaded[2].Check = nil
	h.Update(reloaded)
	if s := h.next(t); s.Label != "fra" || !s.Up || s.Checked {
		t.Errorf("transition after removing the check = %+v, want fra up and unchecked", s)
	}
	h.Stop()
	h.noEvents(t)
	if s := h.status("fra"); !s.Up || !h.Up("fra") {
		t.Errorf("fra = %+v, want up", s)
	}
}

func TestLifecycle(t *testing.T) {
	t.Parallel()
	c := New([]config.PoP{pop("fra", tcpCheck("127.0.0.1:9", 1, 1)), pop("ams", nil)}, Options{})
	st := c.Statuses()
	if len(st) != 2 || st[0].Label != "fra" || !st[0].Up || !st[0].Checked || !st[0].LastCheck.IsZero() || st[1].Checked || !st[1].Up {
		t.Errorf("Statuses() before Start = %+v", st)
	}
	if !c.Up("fra") || !c.Up("ams") || !c.Up("unknown") {
		t.Errorf("Up before Start = false, want true")
	}
	c.Stop() // before Start: returns at once, and Start does nothing after it
	c.Start(context.Background())
	c.Update(nil)
	if len(c.Statuses()) != 0 || !c.Up("fra") {
		t.Errorf("after Update(nil): %+v", c.Statuses())
	}

	// A cancelled context ends the checks; Stop still returns.
	ctx, cancel := context.WithCancel(context.Background())
	c2 := New([]config.PoP{pop("fra", tcpCheck("127.0.0.1:9", 1, 1))}, Options{})
	c2.Start(ctx)
	c2.Start(ctx) // second Start does nothing
	cancel()
	c2.Stop()
	c2.Stop()
}

func labels(ss []Status) string {
	var b strings.Builder
	for i, s := range ss {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(string(s.Label))
	}
	return b.String()
}
