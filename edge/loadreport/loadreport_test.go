package loadreport

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/steer-gslb/steer/control"
	"github.com/steer-gslb/steer/internal/controltest"
)

const (
	readTok    = controltest.ReadToken
	operateTok = controltest.OperateToken
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// startControl starts a real control server (package control) on
// 127.0.0.1 with PoPs fra (capacity 1000) and ams.
func startControl(t *testing.T) (*control.Server, string) {
	t.Helper()
	dir := t.TempDir()
	dns := `
pops:
  - {label: fra, lat: 50.1, lon: 8.7, ipv4: ["192.0.2.10"], capacity: 1000}
  - {label: ams, lat: 52.4, lon: 4.9, ipv4: ["192.0.2.20"]}
zones:
  - name: example.net
    ns: [{name: ns1.example.net, ipv4: ["127.0.0.1"]}]
    records:
      - {name: www, steering: [default], default: {ipv4: ["192.0.2.1"]}}
`
	if err := os.WriteFile(filepath.Join(dir, "dns.yaml"), []byte(dns), 0o644); err != nil {
		t.Fatal(err)
	}
	return controltest.Start(t, dir, "dns.yaml", "")
}

// waitLoad polls the control server's state (every 10 ms, for at most
// 10 s) until fra's load satisfies ok.
func waitLoad(t *testing.T, s *control.Server, ok func(load float64) bool) float64 {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		st, _ := s.Snapshot()
		if ps := st.PoPs["fra"]; ps != nil && ps.LoadAge >= 0 && ok(ps.Load) {
			return ps.Load
		}
		if time.Now().After(deadline) {
			t.Fatalf("fra's load never satisfied the condition; state %+v", st.PoPs["fra"])
		}
		<-tick.C
	}
}

func TestReportToControl(t *testing.T) {
	s, url := startControl(t)
	m := NewMeter()
	clock := time.Unix(1000, 0)
	m.now = func() time.Time { return clock }
	m.lastAt = clock
	for range 500 {
		m.Inc()
	}
	clock = clock.Add(time.Second) // 500 requests in 1 s
	r, err := New(Options{URL: url, Token: operateTok, PoP: "fra", Every: 20 * time.Millisecond, Log: quiet}, m.Rate)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Report(context.Background()); err != nil {
		t.Fatal(err)
	}
	// 500 req/s against capacity 1000.
	if got := waitLoad(t, s, func(l float64) bool { return l > 0 }); got != 0.5 {
		t.Fatalf("fra load %v, want 0.5", got)
	}

	// Run reports periodically: a new load arrives without a call.
	var load atomic.Uint64 // requests/s
	load.Store(900)
	r, err = New(Options{URL: url, Token: operateTok, PoP: "fra", Every: 20 * time.Millisecond, Log: quiet},
		func() float64 { return float64(load.Load()) })
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	waitLoad(t, s, func(l float64) bool { return l == 0.9 })
	load.Store(250)
	waitLoad(t, s, func(l float64) bool { return l == 0.25 })
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Run returned %v, want context.Canceled", err)
	}
	if sent, failed, last := r.Stats(); sent == 0 || failed != 0 || last != nil {
		t.Errorf("stats: sent %d failed %d last %v", sent, failed, last)
	}
}

func TestReportErrors(t *testing.T) {
	_, url := startControl(t)
	one := func() float64 { return 1 }
	for _, c := range []struct {
		name string
		opt  Options
		load func() float64
		want string
	}{
		{"read token", Options{URL: url, Token: readTok, PoP: "fra"}, one, "403"},
		{"bad token", Options{URL: url, Token: "nope", PoP: "fra"}, one, "401"},
		{"unknown PoP", Options{URL: url, Token: operateTok, PoP: "xyz"}, one, `unknown PoP "xyz"`},
		{"negative load", Options{URL: url, Token: operateTok, PoP: "fra"}, func() float64 { return -1 }, "not a finite number"},
	} {
		r, err := New(c.opt, c.load)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		err = r.Report(context.Background())
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error with %q", c.name, err, c.want)
		}
	}
	for _, c := range []struct {
		opt  Options
		want string
	}{
		{Options{URL: "ftp://x", Token: "t", PoP: "fra"}, "control URL"},
		{Options{URL: url, PoP: "fra"}, "no token"},
		{Options{URL: url, Token: "t"}, "no PoP"},
		{Options{URL: url, Token: "t", PoP: "fra", Capacity: -1}, "capacity"},
	} {
		if _, err := New(c.opt, one); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("New(%+v): %v, want %q", c.opt, err, c.want)
		}
	}
	if _, err := New(Options{URL: url, Token: "t", PoP: "fra"}, nil); err == nil {
		t.Error("New without a load function: no error")
	}
}

// TestFaultControlDownBacksOff: while the control server fails, Run
// retries with growing delays (not every period) and recovers when it
// answers again.
func TestFaultControlDownBacksOff(t *testing.T) {
	var calls atomic.Int64
	var times [64]atomic.Int64
	var healthy atomic.Bool
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		if n <= int64(len(times)) {
			times[n-1].Store(time.Now().UnixNano())
		}
		if !healthy.Load() {
			http.Error(w, `{"error":"overloaded"}`, http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer hs.Close()
	r, err := New(Options{URL: hs.URL, Token: "t", PoP: "fra", Every: 10 * time.Millisecond, MaxBackoff: 80 * time.Millisecond, Log: quiet},
		func() float64 { return 1 })
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for calls.Load() < 6 {
		if time.Now().After(deadline) {
			t.Fatal("Run did not retry")
		}
		<-tick.C
	}
	// Gaps between failed attempts grow: 20, 40, 80, 80 ms (at least).
	for i, want := range []time.Duration{20, 40, 80, 80} {
		gap := time.Duration(times[i+1].Load() - times[i].Load())
		if gap < want*time.Millisecond*9/10 {
			t.Errorf("gap %d: %v, want ≥ %v ms (backoff)", i, gap, want)
		}
	}
	if _, failed, last := r.Stats(); failed == 0 || last == nil || !strings.Contains(last.Error(), "503") {
		t.Errorf("stats while down: failed %d, last %v", failed, last)
	}
	healthy.Store(true)
	for {
		if sent, _, last := r.Stats(); sent > 0 && last == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("Run did not recover")
		}
		<-tick.C
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Run returned %v, want context.Canceled", err)
	}
}

func TestMeter(t *testing.T) {
	m := NewMeter()
	clock := time.Unix(0, 0)
	m.now = func() time.Time { return clock }
	m.lastAt = clock
	for range 30 {
		m.Inc()
	}
	clock = clock.Add(2 * time.Second)
	if r := m.Rate(); r != 15 {
		t.Errorf("rate %v, want 15", r)
	}
	if r := m.Rate(); r != 0 {
		t.Errorf("rate with no time passed %v, want 0", r)
	}
}
