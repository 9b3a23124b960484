// Package apiload is the steering API's load generator (cmd/steer-apiload,
// bench/api.sh): Resolve calls from Connect clients over HTTP/2 (h2c) at a
// fixed, open-loop rate.
//
// Call k is due at start + k/rate. A pacer wakes at the due times (on
// Linux a timerfd in Go's netpoller: Go's own timers sleep at least 1 ms
// on an idle process, which alone would put 1 ms into every percentile)
// and hands each due call to a fixed pool of workers spread over Conns
// HTTP/2 connections. A call's latency counts from the moment it was due,
// not from when a worker sent it, so a server that falls behind shows in
// the percentiles (no coordinated omission); Lag reports how late the
// calls were sent, the generator's own share of those latencies.
package apiload

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"connectrpc.com/connect"

	steerv1 "github.com/steer-gslb/steer/gen/steer/v1"
	"github.com/steer-gslb/steer/gen/steer/v1/steerv1connect"
)

// Options configure Run.
type Options struct {
	URL      string        // the API's base URL, http://host:port
	Rate     int           // calls per second
	Duration time.Duration // how long to send
	// Conns is the number of HTTP/2 connections (default 1); each has
	// its own http.Transport.
	Conns int
	// Workers is the number of goroutines making calls (default 64),
	// spread over the connections; it bounds the calls on the wire.
	Workers int
	// MaxInFlight bounds the calls due but not answered yet, waiting for
	// a worker or on the wire (default 4096); a call due while that many
	// are is not sent and counts as Overload.
	MaxInFlight int
	// Drain bounds how long Run waits for answers after the last call
	// was due (default 5 s); calls still unanswered then are errors.
	Drain time.Duration
	Seed  uint64
}

// Result is what a run measured.
type Result struct {
	Sent, OK, Errors, Overload int
	// Elapsed is from the first call's due time to the last answer.
	Elapsed time.Duration
	// Latency of the answered calls, counted from when each was due.
	P50, P99, P999, Max time.Duration
	// LagP99 and LagMax: how late workers started the calls after they
	// were due (pacer wake-up, waiting for a free worker, the generator's
	// own CPU). Part of the latencies above.
	LagP99, LagMax time.Duration
	// WireP50 and WireP99: latency of the answered calls from when a
	// worker started each (the client library, the connection and the
	// server, without the generator's lag).
	WireP50, WireP99 time.Duration
	// Proto is the protocol the server answered with ("HTTP/2.0").
	Proto string
}

// Rate is the completed calls per second.
func (r Result) Rate() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.OK) / r.Elapsed.Seconds()
}

func (r Result) String() string {
	return fmt.Sprintf("rate %.0f/s ok %d errors %d overload %d p50 %s p99 %s p99.9 %s max %s lag-p99 %s lag-max %s wire-p50 %s wire-p99 %s",
		r.Rate(), r.OK, r.Errors, r.Overload, r.P50, r.P99, r.P999, r.Max, r.LagP99, r.LagMax, r.WireP50, r.WireP99)
}

// Run sends Resolve calls for random IPv4 clients at opt.Rate for
// opt.Duration and waits for the answers (at most opt.Drain more).
func Run(ctx context.Context, opt Options) (Result, error) {
	if opt.Rate <= 0 || opt.Duration <= 0 {
		return Result{}, errors.New("apiload: rate and duration must be positive")
	}
	if opt.Rate > int(time.Second) {
		return Result{}, fmt.Errorf("apiload: rate %d/s: at most one call per nanosecond", opt.Rate)
	}
	opt.Conns = cmp.Or(opt.Conns, 1)
	opt.Workers = max(cmp.Or(opt.Workers, 64), opt.Conns)
	opt.MaxInFlight = cmp.Or(opt.MaxInFlight, 4096)
	opt.Drain = cmp.Or(opt.Drain, 5*time.Second)
	if opt.Conns < 0 || opt.Workers < 0 || opt.MaxInFlight < 0 || opt.Drain < 0 {
		return Result{}, errors.New("apiload: conns, workers, max-in-flight and drain must not be negative")
	}

	var res Result
	clients := make([]steerv1connect.SteeringServiceClient, opt.Conns)
	for i := range clients {
		var protos http.Protocols
		protos.SetUnencryptedHTTP2(true)
		hc := &http.Client{Transport: &http.Transport{Protocols: &protos}}
		defer hc.CloseIdleConnections()
		// Each transport's connection is up, and speaks HTTP/2, before
		// the clock starts.
		proto, err := checkH2(ctx, hc, opt.URL)
		if err != nil {
			return Result{}, err
		}
		res.Proto = proto
		clients[i] = steerv1connect.NewSteeringServiceClient(hc, opt.URL)
	}
	rng := rand.New(rand.NewPCG(opt.Seed, 16))
	reqs := make([]*connect.Request[steerv1.ResolveRequest], 1<<14)
	for i := range reqs {
		var a [4]byte
		binary.BigEndian.PutUint32(a[:], rng.Uint32())
		reqs[i] = connect.NewRequest(&steerv1.ResolveRequest{Ip: netip.AddrFrom4(a).String()})
	}
	for _, c := range clients {
		if _, err := c.Resolve(ctx, reqs[0]); err != nil {
			return Result{}, fmt.Errorf("apiload: first call: %w", err)
		}
	}

	n := int(int64(opt.Duration) * int64(opt.Rate) / int64(time.Second))
	// Calls run under their own context, canceled Drain after the last
	// one is due (or when ctx is).
	callCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	period := pacePeriod(opt.Rate)
	p, err := newPacer(period)
	if err != nil {
		return Result{}, fmt.Errorf("apiload: pacer: %w", err)
	}
	defer p.close()

	type call struct {
		due time.Time
		i   int
	}
	var (
		queue    = make(chan call, opt.MaxInFlight)
		inFlight atomic.Int64
		wg       sync.WaitGroup
		lats     = make([][]time.Duration, opt.Workers)
		lags     = make([][]time.Duration, opt.Workers)
		wires    = make([][]time.Duration, opt.Workers)
		errs     = make([]int, opt.Workers)
		lastDone = make([]time.Time, opt.Workers)
	)
	for w := range opt.Workers {
		lats[w] = make([]time.Duration, 0, n/opt.Workers+16)
		lags[w] = make([]time.Duration, 0, n/opt.Workers+16)
		wires[w] = make([]time.Duration, 0, n/opt.Workers+16)
		client := clients[w%len(clients)]
		wg.Go(func() {
			for c := range queue {
				sent := time.Now()
				lags[w] = append(lags[w], sent.Sub(c.due))
				_, err := client.Resolve(callCtx, reqs[c.i%len(reqs)])
				now := time.Now()
				inFlight.Add(-1)
				lastDone[w] = now
				if err != nil {
					errs[w]++
					continue
				}
				lats[w] = append(lats[w], now.Sub(c.due))
				wires[w] = append(wires[w], now.Sub(sent))
			}
		})
	}

	start := time.Now()
	if err := p.start(); err != nil {
		close(queue)
		wg.Wait()
		return Result{}, fmt.Errorf("apiload: pacer: %w", err)
	}
	due := func(k int) time.Time {
		return start.Add(time.Duration(int64(k) * int64(time.Second) / int64(opt.Rate)))
	}
	var runErr error
	for k := 0; k < n; {
		if err := p.wait(ctx); err != nil {
			runErr = err
			break
		}
		now := time.Now()
		for ; k < n && !due(k).After(now); k++ {
			res.Sent++
			if inFlight.Load() >= int64(opt.MaxInFlight) {
				res.Overload++
				continue
			}
			inFlight.Add(1)
			queue <- call{due(k), k}
		}
	}
	close(queue)
	stop := time.AfterFunc(time.Until(due(n).Add(opt.Drain)), cancel)
	wg.Wait()
	stop.Stop()
	if runErr != nil {
		return res, runErr
	}

	var lat, lag, wire []time.Duration
	end := start
	for w := range opt.Workers {
		lat = append(lat, lats[w]...)
		lag = append(lag, lags[w]...)
		wire = append(wire, wires[w]...)
		res.Errors += errs[w]
		if lastDone[w].After(end) {
			end = lastDone[w]
		}
	}
	res.Elapsed = end.Sub(start)
	res.OK = len(lat)
	if len(lat) > 0 {
		slices.Sort(lat)
		res.P50, res.P99, res.P999, res.Max = quantile(lat, 0.5), quantile(lat, 0.99), quantile(lat, 0.999), lat[len(lat)-1]
		slices.Sort(wire)
		res.WireP50, res.WireP99 = quantile(wire, 0.5), quantile(wire, 0.99)
	}
	if len(lag) > 0 {
		slices.Sort(lag)
		res.LagP99, res.LagMax = quantile(lag, 0.99), lag[len(lag)-1]
	}
	return res, nil
}

// quantile returns the q-quantile of sorted, which is not empty.
func quantile(sorted []time.Duration, q float64) time.Duration {
	return sorted[min(len(sorted)-1, int(q*float64(len(sorted))))]
}

// pacePeriod is how often the pacer wakes at rate calls per second: at
// every due time down to 50 µs apart, else at a multiple of the interval
// (each wake-up sends the calls due since the last one).
func pacePeriod(rate int) time.Duration {
	interval := time.Second / time.Duration(rate)
	if interval <= 0 {
		interval = 1
	}
	const minPeriod = 50 * time.Microsecond
	return interval * max(1, (minPeriod+interval-1)/interval)
}

// checkH2 posts a JSON Resolve to url's API with hc and returns the
// protocol of the answer, an error unless it is HTTP/2 and a 200.
func checkH2(ctx context.Context, hc *http.Client, url string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(url, "/")+steerv1connect.SteeringServiceResolveProcedure,
		strings.NewReader(`{"ip":"192.0.2.1"}`))
	if err != nil {
		return "", fmt.Errorf("apiload: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return "", fmt.Errorf("apiload: first call: %w", err)
	}
	defer func() { _ = resp.Body.Close() }()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("apiload: first call: %s", resp.Status)
	}
	if resp.ProtoMajor != 2 {
		return "", fmt.Errorf("apiload: the server answered with %s, not HTTP/2 (h2c)", resp.Proto)
	}
	return resp.Proto, nil
}
