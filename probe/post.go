package probe

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/steer-gslb/steer/rum"
)

// Post sends b to cfg.Collector as one JSON body (rum.AppendBeacon), with
// "Authorization: Bearer <cfg.Token>" when a token is set, within
// cfg.Timeout. A status other than 2xx is an error that quotes the start of
// the collector's answer (its 4xx bodies name the problem). Post does not
// retry: the next round measures afresh. A token is only sent over https,
// or over http to a loopback address (a local collector, tests).
func Post(ctx context.Context, cfg Config, b *rum.Beacon) error {
	if cfg.Collector == "" {
		return errors.New("posting beacon: no collector URL")
	}
	u, err := url.Parse(cfg.Collector)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("posting beacon: collector %q: want an http or https URL", cfg.Collector)
	}
	if cfg.Token != "" && u.Scheme == "http" && !isLoopback(u.Hostname()) {
		return fmt.Errorf("posting beacon: refusing to send the token over plain HTTP to %s (use https)", u.Host)
	}
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	body := rum.AppendBeacon(make([]byte, 0, 128+96*len(b.Samples)), b)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, cfg.Collector, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("posting beacon: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", userAgent)
	if cfg.Token != "" {
		req.Header.Set("Authorization", "Bearer "+cfg.Token)
	}
	client := cfg.HTTPClient
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("posting beacon: %w", err)
	}
	defer func() { _ = resp.Body.Close() }()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("posting beacon to %s: %s%s", cfg.Collector, resp.Status, bodySnippet(answer))
	}
	return nil
}

// isLoopback reports whether host is "localhost" or a loopback address.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Run measures and posts a round at once and then every interval ±20 %
// (each wait drawn anew, uniformly), until ctx ends; it then returns nil.
// Each round's outcome goes to cfg.OnRound: a failed round (no sample,
// PoP list or post failure) is reported there and does not stop Run. With
// a TargetsURL, a round whose PoP list cannot be fetched uses the last
// list fetched, if any. Without a Collector, rounds are measured and
// reported but not posted. Run returns an error only for an invalid
// config or interval.
//
// The first round starts at once; an agent deployed to many machines that
// start together (after an update) should wait a random part of the
// interval before calling Run.
func Run(ctx context.Context, cfg Config, interval time.Duration) error {
	if interval <= 0 {
		return fmt.Errorf("probe: interval %v: must be > 0", interval)
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return err
	}
	report := cfg.OnRound
	if report == nil {
		report = func(*Round, error) {}
	}
	var last []Target // the last PoP list fetched
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C:
		}
		r, err := runRound(ctx, &cfg, &last)
		if ctx.Err() != nil {
			return nil
		}
		report(r, err)
		wait := jitter(interval, rand.Float64())
		if r != nil && r.Plan != nil {
			wait = max(wait, r.Plan.Next) // the collector's back-off for this network
		}
		timer.Reset(wait)
	}
}

// runRound measures one round for Run and posts its beacon.
func runRound(ctx context.Context, cfg *Config, last *[]Target) (*Round, error) {
	targets := cfg.Targets
	if cfg.TargetsURL != "" {
		fetched, plan, err := cfg.targets(ctx)
		switch {
		case err == nil:
			*last, targets = fetched, fetched
			r, err := measure(ctx, cfg, targets)
			if r != nil {
				r.Plan = plan
			}
			if err != nil {
				return r, err
			}
			return r, post(ctx, cfg, r)
		case *last != nil:
			targets = *last // keep measuring; the failure is reported below
			r, merr := measure(ctx, cfg, targets)
			return r, errors.Join(err, merr, post(ctx, cfg, r))
		default:
			return nil, err
		}
	}
	r, err := measure(ctx, cfg, targets)
	if err != nil {
		return r, err
	}
	return r, post(ctx, cfg, r)
}

// post posts r's beacon when there is one and a collector to post it to.
func post(ctx context.Context, cfg *Config, r *Round) error {
	if r == nil || r.Beacon == nil || cfg.Collector == "" {
		return nil
	}
	return Post(ctx, *cfg, r.Beacon)
}

// jitter spreads interval over ±20 %: u in [0, 1) maps to [0.8, 1.2)
// times interval.
func jitter(interval time.Duration, u float64) time.Duration {
	return time.Duration(float64(interval) * (0.8 + 0.4*u))
}
