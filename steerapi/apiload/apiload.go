// Package apiload is the steering API's load generator (cmd/steer-apiload,
// bench/api.sh): Resolve calls from one Connect client over one HTTP/2
// (h2c) connection at a fixed, open-loop rate. Each call's latency counts
// from the moment it was due, not from when it was sent, so a server that
// falls behind shows in the percentiles (no coordinated omission).
package apiload

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/netip"
	"slices"
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
	// MaxInFlight bounds calls outstanding; a call due while that many
	// are is not sent and counts as Overload.
	MaxInFlight int
	Seed        uint64
}

// Result is what a run measured.
type Result struct {
	Sent, OK, Errors, Overload int
	Elapsed                    time.Duration
	P50, P99, P999, Max        time.Duration
}

// Rate is the completed calls per second.
func (r Result) Rate() float64 { return float64(r.OK) / r.Elapsed.Seconds() }

func (r Result) String() string {
	return fmt.Sprintf("rate %.0f/s ok %d errors %d overload %d p50 %s p99 %s p99.9 %s max %s",
		r.Rate(), r.OK, r.Errors, r.Overload, r.P50, r.P99, r.P999, r.Max)
}

// Run sends Resolve calls for random IPv4 clients at opt.Rate for
// opt.Duration and waits for the answers (at most 5 s more).
func Run(ctx context.Context, opt Options) (Result, error) {
	if opt.Rate <= 0 || opt.Duration <= 0 {
		return Result{}, errors.New("apiload: rate and duration must be positive")
	}
	if opt.MaxInFlight <= 0 {
		opt.MaxInFlight = 4096
	}
	var protos http.Protocols
	protos.SetUnencryptedHTTP2(true)
	hc := &http.Client{Transport: &http.Transport{Protocols: &protos}, Timeout: 5 * time.Second}
	client := steerv1connect.NewSteeringServiceClient(hc, opt.URL)
	rng := rand.New(rand.NewPCG(opt.Seed, 16))
	reqs := make([]*connect.Request[steerv1.ResolveRequest], 1<<14)
	for i := range reqs {
		var a [4]byte
		binary.BigEndian.PutUint32(a[:], rng.Uint32())
		reqs[i] = connect.NewRequest(&steerv1.ResolveRequest{Ip: netip.AddrFrom4(a).String()})
	}
	// One call first: the connection is up before the clock starts.
	if _, err := client.Resolve(ctx, reqs[0]); err != nil {
		return Result{}, fmt.Errorf("apiload: first call: %w", err)
	}
	var (
		mu       sync.Mutex
		lat      = make([]time.Duration, 0, opt.Rate*int(opt.Duration/time.Second+1))
		errs     atomic.Int64
		inFlight atomic.Int64
		wg       sync.WaitGroup
		res      Result
	)
	interval := time.Second / time.Duration(opt.Rate)
	start := time.Now()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for due := start; due.Sub(start) < opt.Duration; {
		select {
		case <-ctx.Done():
			return res, ctx.Err()
		case now := <-tick.C:
			for ; !due.After(now) && due.Sub(start) < opt.Duration; due = due.Add(interval) {
				res.Sent++
				if inFlight.Load() >= int64(opt.MaxInFlight) {
					res.Overload++
					continue
				}
				inFlight.Add(1)
				wg.Add(1)
				go func(due time.Time, req *connect.Request[steerv1.ResolveRequest]) {
					defer wg.Done()
					defer inFlight.Add(-1)
					_, err := client.Resolve(ctx, req)
					d := time.Since(due)
					if err != nil {
						errs.Add(1)
						return
					}
					mu.Lock()
					lat = append(lat, d)
					mu.Unlock()
				}(due, reqs[res.Sent%len(reqs)])
			}
		}
	}
	wg.Wait()
	res.Elapsed = time.Since(start)
	res.Errors = int(errs.Load())
	res.OK = len(lat)
	if len(lat) > 0 {
		slices.Sort(lat)
		q := func(p float64) time.Duration { return lat[min(len(lat)-1, int(p*float64(len(lat))))] }
		res.P50, res.P99, res.P999, res.Max = q(0.5), q(0.99), q(0.999), lat[len(lat)-1]
	}
	return res, nil
}
