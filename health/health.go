// Package health runs gdnsd-style health checks of PoPs: each PoP with a
// config.Check is probed on its interval (HTTP or HTTPS GET with an expected
// status and optional body substring, or a TCP connect), and its state moves
// between up and down only after Rise consecutive successes or Fall
// consecutive failures, so that a flapping service within the thresholds
// changes nothing.
//
// Every PoP starts up, checked or not, as gdnsd's monitors do: a server that
// starts (or reloads) must not blackhole traffic before its checks have had
// the chance to run, and a down PoP needs Fall failed checks to be declared
// down, which is the same evidence whether the server just started or not.
// A PoP without a check, or unknown to the Checker, is always up.
//
// [Checker] runs one goroutine per checked PoP. [Checker.Up] is lock-free, so
// the DNS server may call it per answer; [Checker.Update] applies a config
// reload and keeps the state of every check that did not change.
//
// Metrics (registered only when [Options].Registry is set):
//
//	steer_health_up{pop}                          1 if the PoP is up (always 1 without a check), else 0
//	steer_health_checks_total{pop,result}         checks run, result ok or fail
//	steer_health_transitions_total{pop,to}        state changes, to up or down
//	steer_health_check_duration_seconds{pop}      histogram of check durations
package health

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/steer-gslb/steer/config"
	"github.com/steer-gslb/steer/popmap"
)

// maxStartJitter bounds the random delay before a check's first run. The
// delay is uniform in [0, min(interval, maxStartJitter)): enough to spread a
// fleet restarted at once over the period, short enough that a long interval
// does not also postpone the first check by as long.
const maxStartJitter = time.Second

// Status is the health of one PoP.
type Status struct {
	Label popmap.Label
	// Up is the PoP's state: true until Fall consecutive checks fail, then
	// false until Rise consecutive checks succeed. Always true when Checked
	// is false.
	Up bool
	// Checked is false if the PoP has no check configured.
	Checked bool
	// Since is when Up last changed, or when the Checker learned of the PoP
	// (New, or the Update that added it or changed its check).
	Since time.Time
	// LastCheck is when the last check finished; zero before the first.
	LastCheck time.Time
	// LastError is the error of the last check, "" if it succeeded.
	LastError string
	// Successes and Failures count the current run of consecutive
	// successful or failed checks; one of them is always 0.
	Successes, Failures int
}

// Options tune New.
type Options struct {
	// Logger receives one Info line per transition; nil means slog.Default.
	Logger *slog.Logger
	// Registry receives the metrics; nil means none are exported. Use one
	// Checker per registry.
	Registry prometheus.Registerer
	// OnChange, if set, is called on every up↔down transition with the new
	// Status, including a down PoP that becomes up because a reload changed
	// or removed its check. It is called from one goroutine of the Checker,
	// without any lock held, in the order of the transitions, one call at a
	// time; a slow OnChange delays later calls, not the checks. OnChange may
	// call Up, Statuses and Update, but not Stop.
	OnChange func(Status)
}

// Checker runs the health checks of a set of PoPs. Its methods are safe for
// concurrent use. A Checker runs once: Start after Stop does nothing.
type Checker struct {
	log      *slog.Logger
	onChange func(Status)
	m        *metrics // nil without a registry

	// index maps labels to targets for Up. The map is immutable; Update
	// stores a new one.
	index atomic.Pointer[map[popmap.Label]*target]

	mu      sync.Mutex
	targets []*target          // config order; guarded by mu
	ctx     context.Context    // set by Start, guarded by mu; nil before
	cancel  context.CancelFunc // guarded by mu
	stopped bool               // guarded by mu
	// events are transitions not yet reported, queued under mu in the
	// order the state changed; guarded by mu. wake tells the dispatcher.
	events []transition
	wake   chan struct{}
	wg     sync.WaitGroup // the check goroutines and the dispatcher
}

// target is one PoP's check and state.
type target struct {
	check *config.Check // nil = no check; immutable
	probe prober        // nil when check is nil
	up    atomic.Bool   // mirrors st.Up for the lock-free Up

	// The fields below are guarded by Checker.mu.
	st      Status
	cancel  context.CancelFunc // stops the goroutine; nil if not running
	retired bool               // replaced or removed by Update: results are dropped
}

// New returns a Checker for pops, all up. pops must have passed
// config.Validate (labels unique, checks valid). Checks run after Start.
func New(pops []config.PoP, opts Options) *Checker {
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	c := &Checker{log: log.With("component", "health"), onChange: opts.OnChange, wake: make(chan struct{}, 1)}
	if opts.Registry != nil {
		c.m = newMetrics(opts.Registry, c.log)
	}
	now := time.Now()
	index := make(map[popmap.Label]*target, len(pops))
	for i := range pops {
		if _, dup := index[pops[i].Label]; dup {
			continue // Validate rejects duplicate labels; the first wins
		}
		t := newTarget(&pops[i], now)
		c.targets = append(c.targets, t)
		index[t.st.Label] = t
		c.m.add(t)
	}
	c.index.Store(&index)
	return c
}

func newTarget(p *config.PoP, now time.Time) *target {
	t := &target{st: Status{Label: p.Label, Up: true, Since: now}}
	t.up.Store(true)
	if p.Check != nil {
		ck := *p.Check // the caller's config may be reused; keep our own copy
		t.check = &ck
		t.probe = newProber(&ck)
		t.st.Checked = true
	}
	return t
}

// Start starts the checks and returns at once. They run until ctx is done or
// Stop is called. A second Start does nothing.
func (c *Checker) Start(ctx context.Context) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ctx != nil || c.stopped {
		return
	}
	c.ctx, c.cancel = context.WithCancel(ctx)
	c.wg.Add(1)
	go c.dispatch(c.ctx)
	for _, t := range c.targets {
		c.launch(t)
	}
}

// launch starts t's goroutine if the Checker runs. c.mu must be held.
func (c *Checker) launch(t *target) {
	if t.check == nil || c.ctx == nil || c.stopped {
		return
	}
	ctx, cancel := context.WithCancel(c.ctx)
	t.cancel = cancel
	c.wg.Add(1)
	go c.run(ctx, t)
}

// Stop stops every check and waits for their goroutines. Transitions
// recorded before Stop are reported before it returns; no OnChange call
// happens after.
func (c *Checker) Stop() {
	c.mu.Lock()
	c.stopped = true
	if c.cancel != nil {
		c.cancel()
	}
	c.mu.Unlock()
	c.wg.Wait()
}

// Statuses returns the status of every PoP, in config order.
func (c *Checker) Statuses() []Status {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]Status, len(c.targets))
	for i, t := range c.targets {
		out[i] = t.st
	}
	return out
}

// Up reports whether the PoP is up. A PoP without a check, and a label the
// Checker does not know, are up: health checks only ever take away a PoP
// whose check failed. Up takes no lock.
func (c *Checker) Up(label popmap.Label) bool {
	t, ok := (*c.index.Load())[label]
	return !ok || t.up.Load()
}

// Update applies a config reload. A PoP whose label and check are unchanged
// keeps its state and its running check; a new PoP, or one whose check
// changed, starts up with a fresh check; the checks of PoPs no longer in pops
// stop. A down PoP whose check changed or was removed becomes up, which is
// reported to OnChange. Update does not wait for the stopped checks: a
// result they produce late is dropped.
func (c *Checker) Update(pops []config.PoP) {
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	old := make(map[popmap.Label]*target, len(c.targets))
	for _, t := range c.targets {
		old[t.st.Label] = t
	}
	next := make([]*target, 0, len(pops))
	var fresh, flips []*target
	index := make(map[popmap.Label]*target, len(pops))
	for i := range pops {
		p := &pops[i]
		if _, dup := index[p.Label]; dup {
			continue // Validate rejects duplicate labels; the first wins
		}
		t, ok := old[p.Label]
		if ok && sameCheck(t.check, p.Check) {
			delete(old, p.Label) // kept, state and goroutine alike
		} else {
			if ok && !t.st.Up {
				flips = append(flips, t)
			}
			t = newTarget(p, now)
			fresh = append(fresh, t)
		}
		next = append(next, t)
		index[p.Label] = t
	}
	// What is left in old is retired: removed PoPs and changed checks. Its
	// series go before the fresh targets add theirs, under mu, so that a
	// check finishing late cannot bring them back (it sees retired).
	for _, t := range old {
		t.retired = true
		if t.cancel != nil {
			t.cancel()
		}
		c.m.forget(t.st.Label)
	}
	for _, t := range fresh {
		c.m.add(t)
		c.launch(t)
	}
	c.targets = next
	c.index.Store(&index)
	for _, t := range flips {
		nt := index[t.st.Label]
		reason := "check changed by reload"
		if nt.check == nil {
			reason = "check removed by reload"
		}
		c.enqueue(transition{from: t.st, to: nt.st, reason: reason})
	}
}

// sameCheck reports whether two checks are equal (both nil counts).
func sameCheck(a, b *config.Check) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

// run checks t every interval until ctx is done.
func (c *Checker) run(ctx context.Context, t *target) {
	defer c.wg.Done()
	iv := max(t.check.Interval, time.Millisecond)
	timer := time.NewTimer(startDelay(iv))
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return
	case <-timer.C:
	}
	tick := time.NewTicker(iv)
	defer tick.Stop()
	for {
		c.checkOnce(ctx, t)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// startDelay is the random delay before the first check of a check with
// interval iv.
func startDelay(iv time.Duration) time.Duration {
	return rand.N(max(min(iv, maxStartJitter), 1))
}

// checkOnce runs one check of t and records its result.
func (c *Checker) checkOnce(ctx context.Context, t *target) {
	start := time.Now()
	err := t.probe(ctx)
	end := time.Now()
	if c.log.Enabled(ctx, slog.LevelDebug) {
		c.log.Debug("check", "pop", t.st.Label, "duration", end.Sub(start), "error", errString(err))
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	if t.retired || ctx.Err() != nil {
		// Stopped or replaced during the check: a failure is ours, not
		// the PoP's.
		return
	}
	from := t.st
	changed := t.record(err, end)
	c.m.observe(t, err == nil, end.Sub(start), changed)
	if changed {
		to := t.st
		reason := fmt.Sprintf("%d consecutive successes", to.Successes)
		if !to.Up {
			reason = fmt.Sprintf("%d consecutive failures, last: %s", to.Failures, to.LastError)
		}
		c.enqueue(transition{from: from, to: to, reason: reason})
	}
}

// record applies one check result at time now to t's state and reports
// whether Up changed. The caller holds Checker.mu (tests need no lock).
func (t *target) record(err error, now time.Time) bool {
	st := &t.st
	st.LastCheck = now
	changed := false
	if err == nil {
		st.LastError = ""
		st.Successes++
		st.Failures = 0
		if !st.Up && st.Successes >= t.check.Rise {
			st.Up, changed = true, true
		}
	} else {
		st.LastError = err.Error()
		st.Failures++
		st.Successes = 0
		if st.Up && st.Failures >= t.check.Fall {
			st.Up, changed = false, true
		}
	}
	if changed {
		st.Since = now
		t.up.Store(st.Up)
	}
	return changed
}

// transition is an up↔down change to log and report.
type transition struct {
	from, to Status
	reason   string
}

// enqueue queues a transition for the dispatcher. c.mu must be held. A
// Checker that is not running (before Start, after Stop or once Start's
// context is done) reports nothing.
func (c *Checker) enqueue(tr transition) {
	if c.ctx == nil || c.ctx.Err() != nil {
		return
	}
	c.events = append(c.events, tr)
	select {
	case c.wake <- struct{}{}:
	default: // already woken
	}
}

// dispatch reports queued transitions until ctx is done, then reports what
// is left: nothing is queued after ctx is done, since enqueue checks it
// under the same lock.
func (c *Checker) dispatch(ctx context.Context) {
	defer c.wg.Done()
	for {
		select {
		case <-c.wake:
			c.reportQueued()
		case <-ctx.Done():
			c.reportQueued()
			return
		}
	}
}

// reportQueued takes the queued transitions and reports them.
func (c *Checker) reportQueued() {
	c.mu.Lock()
	evs := c.events
	c.events = nil
	c.mu.Unlock()
	for _, tr := range evs {
		c.report(tr)
	}
}

// report logs a transition and calls OnChange. No lock may be held.
func (c *Checker) report(tr transition) {
	c.log.Info("pop health changed", "pop", tr.to.Label, "from", upDown(tr.from.Up), "to", upDown(tr.to.Up), "reason", tr.reason)
	if c.onChange != nil {
		c.onChange(tr.to)
	}
}

func upDown(up bool) string {
	if up {
		return "up"
	}
	return "down"
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
