package apiload

import (
	"context"
	"errors"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"

	steerv1 "github.com/steer-gslb/steer/gen/steer/v1"
	"github.com/steer-gslb/steer/gen/steer/v1/steerv1connect"
)

// service answers Resolve after delay, or after blockAfter calls not
// before the request is canceled, and counts the calls.
type service struct {
	steerv1connect.UnimplementedSteeringServiceHandler
	delay      time.Duration
	blockAfter int64 // 0: never block
	calls      atomic.Int64
}

func (s *service) Resolve(ctx context.Context, _ *connect.Request[steerv1.ResolveRequest]) (*connect.Response[steerv1.ResolveResponse], error) {
	n := s.calls.Add(1)
	switch {
	case s.blockAfter > 0 && n > s.blockAfter:
		<-ctx.Done()
		return nil, connect.NewError(connect.CodeCanceled, ctx.Err())
	case s.delay > 0:
		t := time.NewTimer(s.delay) // the service time of a slow server
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return nil, connect.NewError(connect.CodeCanceled, ctx.Err())
		}
	}
	return connect.NewResponse(&steerv1.ResolveResponse{Source: "geo"}), nil
}

// serve starts an HTTP server for svc on a loopback port, speaking
// HTTP/1.1 and, with h2c, unencrypted HTTP/2, and returns its URL; it is
// closed at the end of the test. h2 counts the requests that came over
// HTTP/2.
func serve(t *testing.T, svc *service, h2c bool, h2 *atomic.Int64) string {
	t.Helper()
	path, h := steerv1connect.NewSteeringServiceHandler(svc)
	mux := http.NewServeMux()
	mux.Handle(path, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ProtoMajor == 2 {
			h2.Add(1)
		}
		h.ServeHTTP(w, r)
	}))
	var protos http.Protocols
	protos.SetHTTP1(true)
	protos.SetUnencryptedHTTP2(h2c)
	srv := &http.Server{Handler: mux, Protocols: &protos, ReadHeaderTimeout: 5 * time.Second}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return "http://" + ln.Addr().String()
}

func TestRun(t *testing.T) {
	svc := &service{}
	var h2 atomic.Int64
	url := serve(t, svc, true, &h2)
	res, err := Run(t.Context(), Options{URL: url, Rate: 1000, Duration: 300 * time.Millisecond, Conns: 2, Workers: 8})
	if err != nil {
		t.Fatal(err)
	}
	t.Log(res)
	if res.Sent != 300 {
		t.Errorf("sent %d calls, want 300 (1000/s for 300 ms)", res.Sent)
	}
	if res.OK+res.Errors+res.Overload != res.Sent {
		t.Errorf("ok %d + errors %d + overload %d != sent %d", res.OK, res.Errors, res.Overload, res.Sent)
	}
	if res.Errors != 0 || res.Overload != 0 {
		t.Errorf("errors %d, overload %d, want none at 1000/s", res.Errors, res.Overload)
	}
	if res.Proto != "HTTP/2.0" {
		t.Errorf("proto %q, want HTTP/2.0", res.Proto)
	}
	// Every call reached the server over HTTP/2: the run's calls, and on
	// each of the 2 connections the protocol check and the first Connect
	// call.
	if got, want := svc.calls.Load(), int64(res.OK+2*2); got != want {
		t.Errorf("server saw %d Resolve calls, want %d", got, want)
	}
	if got, want := h2.Load(), int64(res.OK+2*2); got != want {
		t.Errorf("server saw %d HTTP/2 requests, want %d", got, want)
	}
	if res.P50 <= 0 || !slices.IsSorted([]time.Duration{res.P50, res.P99, res.P999, res.Max}) {
		t.Errorf("percentiles out of order: %v", res)
	}
	if res.WireP50 <= 0 || !slices.IsSorted([]time.Duration{res.WireP50, res.WireP99, res.Max}) {
		t.Errorf("wire percentiles out of order: %v", res)
	}
	if res.LagMax > res.Max {
		t.Errorf("lag max %v > latency max %v: lag is part of the latency", res.LagMax, res.Max)
	}
	// Not more than asked for (less when the machine is slow, as under
	// the race detector).
	if r := res.Rate(); r <= 0 || r > 1050 {
		t.Errorf("rate %.0f/s, want at most 1000/s", r)
	}
	for _, f := range []string{"rate ", "ok 300", "errors 0", "p99 ", "lag-p99 "} {
		if !strings.Contains(res.String(), f) {
			t.Errorf("String() = %q, missing %q", res, f)
		}
	}
}

// TestRunCountsFromDue: one worker against a server taking 5 ms a call
// at 1000 calls/s, so the calls queue up; their latencies count the
// queueing (from when each was due), not only the 5 ms on the wire.
func TestRunCountsFromDue(t *testing.T) {
	svc := &service{delay: 5 * time.Millisecond}
	var h2 atomic.Int64
	url := serve(t, svc, true, &h2)
	res, err := Run(t.Context(), Options{URL: url, Rate: 1000, Duration: 40 * time.Millisecond, Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Log(res)
	if res.OK != 40 || res.Errors != 0 {
		t.Fatalf("ok %d errors %d, want 40 and 0", res.OK, res.Errors)
	}
	// The last call was due at 39 ms and answered after 40 calls of at
	// least 5 ms each: at least 200 ms after the start.
	if res.Max < 150*time.Millisecond {
		t.Errorf("max latency %v, want ≥ 150 ms (40 calls × 5 ms behind one worker)", res.Max)
	}
	if res.LagMax < 100*time.Millisecond {
		t.Errorf("lag max %v, want ≥ 100 ms: the calls waited for the worker", res.LagMax)
	}
	if res.P50 < 50*time.Millisecond {
		t.Errorf("p50 %v, want ≥ 50 ms", res.P50)
	}
	// On the wire, each call took its 5 ms and not much more.
	if res.WireP50 < 5*time.Millisecond || res.WireP50 > 50*time.Millisecond {
		t.Errorf("wire p50 %v, want about 5 ms", res.WireP50)
	}
}

func TestRunOverload(t *testing.T) {
	svc := &service{delay: 20 * time.Millisecond}
	var h2 atomic.Int64
	url := serve(t, svc, true, &h2)
	res, err := Run(t.Context(), Options{URL: url, Rate: 1000, Duration: 50 * time.Millisecond, Workers: 2, MaxInFlight: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Log(res)
	if res.Overload == 0 || res.OK == 0 {
		t.Errorf("overload %d ok %d: want both (2 in flight at most, 20 ms a call, a call due every 1 ms)", res.Overload, res.OK)
	}
	if res.OK+res.Errors+res.Overload != res.Sent || res.Sent != 50 {
		t.Errorf("ok %d + errors %d + overload %d, sent %d: want a sum of 50", res.OK, res.Errors, res.Overload, res.Sent)
	}
}

// TestRunDrain: calls unanswered Drain after the last was due are
// canceled and counted as errors, and Run returns.
func TestRunDrain(t *testing.T) {
	// The protocol check and the first Connect call are answered, then
	// nothing.
	svc := &service{blockAfter: 2}
	var h2 atomic.Int64
	url := serve(t, svc, true, &h2)
	start := time.Now()
	res, err := Run(t.Context(), Options{URL: url, Rate: 100, Duration: 50 * time.Millisecond, Drain: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Log(res)
	if res.Sent != 5 || res.Errors != 5 || res.OK != 0 {
		t.Errorf("sent %d errors %d ok %d, want 5, 5 and 0", res.Sent, res.Errors, res.OK)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Run took %v, want about 150 ms", d)
	}
}

func TestRunNotHTTP2(t *testing.T) {
	var h2 atomic.Int64
	url := serve(t, &service{}, false, &h2) // HTTP/1.1 only
	_, err := Run(t.Context(), Options{URL: url, Rate: 100, Duration: 10 * time.Millisecond})
	if err == nil {
		t.Fatal("Run against an HTTP/1.1-only server: no error")
	}
	t.Log(err)
}

func TestRunBadOptions(t *testing.T) {
	for _, opt := range []Options{
		{URL: "http://127.0.0.1:1", Rate: 0, Duration: time.Second},
		{URL: "http://127.0.0.1:1", Rate: 10, Duration: 0},
		{URL: "http://127.0.0.1:1", Rate: 10, Duration: time.Second, Workers: -1},
		{URL: "http://127.0.0.1:1", Rate: 2e9, Duration: time.Second},
	} {
		if _, err := Run(t.Context(), opt); err == nil || !strings.HasPrefix(err.Error(), "apiload: ") {
			t.Errorf("Run(%+v): err %v, want an apiload error", opt, err)
		}
	}
}

func TestPacePeriod(t *testing.T) {
	for _, tc := range []struct {
		rate int
		want time.Duration
	}{
		{1000, time.Millisecond},
		{10000, 100 * time.Microsecond},
		{20000, 50 * time.Microsecond},
		{30000, 66666 * time.Nanosecond}, // 2 × 33.333 µs
		{80000, 50 * time.Microsecond},   // 4 × 12.5 µs
		{7, 142857142 * time.Nanosecond}, // 1 s / 7
		{1e9, 50 * time.Microsecond},     // 50000 × 1 ns
		{3e9, 50 * time.Microsecond},     // the interval rounds to 0, taken as 1 ns
	} {
		if got := pacePeriod(tc.rate); got != tc.want {
			t.Errorf("pacePeriod(%d) = %v, want %v", tc.rate, got, tc.want)
		}
	}
}

// TestPacer: 100 wake-ups 50 µs apart take about 5 ms; with Go's timers
// (at least 1 ms a sleep on an idle process) they would take 100 ms.
func TestPacer(t *testing.T) {
	p, err := newPacer(50 * time.Microsecond)
	if err != nil {
		t.Fatal(err)
	}
	defer p.close()
	start := time.Now()
	if err := p.start(); err != nil {
		t.Fatal(err)
	}
	for range 100 {
		if err := p.wait(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	d := time.Since(start)
	t.Logf("100 wake-ups 50 µs apart in %v", d)
	if d < 4*time.Millisecond {
		t.Errorf("100 wake-ups 50 µs apart in %v: faster than the period", d)
	}
	if d > 60*time.Millisecond {
		t.Errorf("100 wake-ups 50 µs apart in %v: the pacer sleeps too long", d)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := p.wait(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("wait with a canceled context: %v", err)
	}
}
