// Package loadreport sends the edge's load to the control server (`steer
// control`, POST /v1/load) every few seconds, closing the load-feedback
// loop: the control server's load controller moves client networks away
// from a PoP whose load nears its capacity.
//
// The load is whatever the caller measures, in the unit of the PoP's
// configured capacity; Meter gives requests per second, counted on the
// request path with one atomic add. A failed report is retried with
// exponential backoff (up to MaxBackoff); reports are small and
// idempotent (the latest replaces the previous one), so a lost one costs
// nothing but freshness. The package depends on the standard library only:
// the lean edge binary links it.
package loadreport

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Options configure a Reporter.
type Options struct {
	// URL is the control server's base URL ("https://control.example.net:8443").
	URL string
	// Token is a bearer token of role operate (or higher).
	Token string
	// PoP is the label of the PoP this edge serves.
	PoP string
	// Capacity, when > 0, is sent with each report (else the control
	// server uses the PoP's configured capacity).
	Capacity float64
	// Every is the report period (default 5 s).
	Every time.Duration
	// MaxBackoff bounds the retry delay after failures (default 1 min).
	MaxBackoff time.Duration
	// Timeout bounds one report (default 5 s).
	Timeout time.Duration
	// Client sends the reports (default: a client with Timeout).
	Client *http.Client
	// Log reports failures and recoveries (default slog.Default()).
	Log *slog.Logger
}

// Reporter posts a PoP's load to the control server.
type Reporter struct {
	opt      Options
	endpoint string
	load     func() float64

	sent, failed atomic.Uint64
	mu           sync.Mutex
	lastErr      error
}

// New returns a Reporter that reports load(), called once per report.
func New(opt Options, load func() float64) (*Reporter, error) {
	if load == nil {
		return nil, errors.New("load report: no load function")
	}
	u, err := url.Parse(opt.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("load report: control URL %q: want http(s)://host[:port]", opt.URL)
	}
	if opt.Token == "" {
		return nil, errors.New("load report: no token (POST /v1/load needs one of role operate)")
	}
	if opt.PoP == "" {
		return nil, errors.New("load report: no PoP label")
	}
	if opt.Capacity < 0 || math.IsNaN(opt.Capacity) || math.IsInf(opt.Capacity, 0) {
		return nil, fmt.Errorf("load report: capacity %v: want a finite number ≥ 0", opt.Capacity)
	}
	if opt.Every <= 0 {
		opt.Every = 5 * time.Second
	}
	if opt.MaxBackoff <= 0 {
		opt.MaxBackoff = time.Minute
	}
	if opt.Timeout <= 0 {
		opt.Timeout = 5 * time.Second
	}
	if opt.Client == nil {
		opt.Client = &http.Client{Timeout: opt.Timeout}
	}
	if opt.Log == nil {
		opt.Log = slog.Default()
	}
	return &Reporter{opt: opt, endpoint: strings.TrimRight(opt.URL, "/") + "/v1/load", load: load}, nil
}

// report is POST /v1/load's body (control.LoadReport).
type report struct {
	PoP      string  `json:"pop"`
	Load     float64 `json:"load"`
	Capacity float64 `json:"capacity,omitempty"`
}

// Report sends one report now.
func (r *Reporter) Report(ctx context.Context) error {
	v := r.load()
	if !(v >= 0) || math.IsInf(v, 0) {
		return fmt.Errorf("load report: load %v is not a finite number ≥ 0", v)
	}
	body, _ := json.Marshal(report{PoP: r.opt.PoP, Load: v, Capacity: r.opt.Capacity}) // cannot fail
	ctx, cancel := context.WithTimeout(ctx, r.opt.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.endpoint, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("load report: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+r.opt.Token)
	resp, err := r.opt.Client.Do(req)
	if err != nil {
		return fmt.Errorf("load report: %w", err)
	}
	defer func() { _ = resp.Body.Close() }()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	if resp.StatusCode/100 != 2 {
		var ae struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(msg, &ae) == nil && ae.Error != "" {
			return fmt.Errorf("load report: control server answered %s: %s", resp.Status, ae.Error)
		}
		return fmt.Errorf("load report: control server answered %s", resp.Status)
	}
	return nil
}

// Run reports every Every until ctx ends, backing off (doubling from
// Every up to MaxBackoff) while reports fail. It logs the first failure of
// a streak and the recovery, and returns ctx's error.
func (r *Reporter) Run(ctx context.Context) error {
	delay := r.opt.Every
	t := time.NewTimer(0) // the first report at once
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
		err := r.Report(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		r.mu.Lock()
		prev := r.lastErr
		r.lastErr = err
		r.mu.Unlock()
		if err == nil {
			r.sent.Add(1)
			if prev != nil {
				r.opt.Log.Info("load reports reach the control server again", "pop", r.opt.PoP)
			}
			delay = r.opt.Every
		} else {
			r.failed.Add(1)
			if prev == nil {
				r.opt.Log.Warn("load report failed; retrying with backoff", "pop", r.opt.PoP, "err", err)
			}
			if delay = min(2*delay, r.opt.MaxBackoff); delay < r.opt.Every {
				delay = r.opt.Every
			}
		}
		t.Reset(delay)
	}
}

// Stats returns the reports sent and failed by Run, and the last error
// (nil after a success).
func (r *Reporter) Stats() (sent, failed uint64, last error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.sent.Load(), r.failed.Load(), r.lastErr
}

// Meter measures requests per second: Inc on the request path (one atomic
// add), Rate from the reporter.
type Meter struct {
	n   atomic.Uint64
	now func() time.Time

	mu     sync.Mutex
	lastN  uint64
	lastAt time.Time
}

// NewMeter returns a Meter whose first Rate covers the time since now.
func NewMeter() *Meter {
	m := &Meter{now: time.Now}
	m.lastAt = m.now()
	return m
}

// Inc counts one request.
func (m *Meter) Inc() { m.n.Add(1) }

// Rate returns the requests per second since the previous Rate (or
// NewMeter).
func (m *Meter) Rate() float64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	now, n := m.now(), m.n.Load()
	d := now.Sub(m.lastAt).Seconds()
	rate := 0.0
	if d > 0 {
		rate = float64(n-m.lastN) / d
	}
	m.lastN, m.lastAt = n, now
	return rate
}
