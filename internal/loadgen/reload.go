package loadgen

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// ReloadPlan replaces the server's map during a run and measures how long
// the server takes to answer from the new one. At After, From is renamed
// over To (an atomic replacement, as a map publisher does); then a
// separate socket polls, every Poll, Probes ECS prefixes whose answer
// differs between the old and the new map until each of them is answered
// from the new map.
type ReloadPlan struct {
	After    time.Duration
	From, To string
	Next     *Checker      // answers expected from the new map
	Probes   int           // default 8
	Poll     time.Duration // default 10 ms
	Settle   time.Duration // the measured window extends this far past the swap (default 1 s)
	// Stop ends the sending phase once the window is complete (every probe
	// new + Settle) instead of at the run's Duration, which then only bounds
	// a reload that never completes: repeated reload runs stay short.
	Stop bool
}

// ReloadResult is what the reload measured. Times are milliseconds after the
// rename.
type ReloadResult struct {
	RenameAt   float64 `json:"rename_at_s"`  // seconds since the run began
	FirstNewMs float64 `json:"first_new_ms"` // first probe answered from the new map; -1 = never
	AllNewMs   float64 `json:"all_new_ms"`   // every probe answered from the new map; -1 = never
	// The window: from the rename to Settle after AllNew (or the end of the run).
	WindowSeconds float64 `json:"window_s"`
	Sent          uint64  `json:"sent"`
	Received      uint64  `json:"received"`
	Lost          uint64  `json:"lost"`
	Latency       Latency `json:"latency"`
	// Baseline is the same run before the rename (less its first
	// baselineSkip, while sockets and caches warm up): the no-reload figure
	// to set the window's against.
	Baseline        Latency `json:"baseline"`
	BaselineSeconds float64 `json:"baseline_s"`
	BaselineSent    uint64  `json:"baseline_sent"`
	BaselineLost    uint64  `json:"baseline_lost"`
	// Sampled replies to queries sent after every probe saw the new map that
	// still carried the old map's answer (also counted in wrong_answer).
	StaleAfterSwap uint64 `json:"stale_after_swap"`
	ProbeErrors    uint64 `json:"probe_errors"`
}

type reloader struct {
	plan   ReloadPlan
	old    *Checker
	base   time.Time
	cancel context.CancelFunc
	done   chan struct{}

	mu       sync.Mutex // guards the fields below
	renaming int64      // just before the rename was attempted (0 = not yet, or it failed)
	renameAt int64
	firstNew int64
	allNew   int64
	probeErr uint64
	stale    uint64
	runEnd   int64
}

func startReload(ctx context.Context, o Options, base time.Time) (*reloader, error) {
	p := *o.Reload
	if o.Checker == nil || p.Next == nil {
		return nil, fmt.Errorf("reload: needs the old and the new map")
	}
	if p.Probes <= 0 {
		p.Probes = 8
	}
	if p.Poll <= 0 {
		p.Poll = 10 * time.Millisecond
	}
	if p.Settle <= 0 {
		p.Settle = time.Second
	}
	var probes []netip.Prefix
	for i := 0; i < o.Pool.Len() && len(probes) < p.Probes; i++ {
		pf := o.Pool.Prefix(i)
		a, _ := o.Checker.Expect(pf)
		b, _ := p.Next.Expect(pf)
		if !sameAddrs(a, b) {
			probes = append(probes, pf)
		}
	}
	if len(probes) == 0 {
		return nil, fmt.Errorf("reload: the new map %s answers no query differently", p.Next.MapPath)
	}
	if _, err := os.Stat(p.From); err != nil {
		return nil, fmt.Errorf("reload: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	r := &reloader{plan: p, old: o.Checker, base: base, cancel: cancel, done: make(chan struct{}), runEnd: int64(o.Duration)}
	go r.loop(ctx, o.Server, o.Pool.QName, probes)
	return r, nil
}

func (r *reloader) stop() { r.cancel(); <-r.done }

// settled reports whether the window is complete at t (nanoseconds since the
// run began): every probe answered from the new map Settle ago.
func (r *reloader) settled(t int64) bool {
	if !r.plan.Stop {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.allNew != 0 && t >= r.allNew+int64(r.plan.Settle)
}

// setEnd records when the sending phase ended (nanoseconds since the run
// began), which bounds a window whose probes never all turned new.
func (r *reloader) setEnd(t int64) {
	r.mu.Lock()
	r.runEnd = min(r.runEnd, t)
	r.mu.Unlock()
}

// baselineSkip is the start of a run left out of the reload's baseline.
const baselineSkip = 500 * time.Millisecond

func (r *reloader) since() int64 { return int64(time.Since(r.base)) + 1 }

func (r *reloader) loop(ctx context.Context, server netip.AddrPort, qname string, probes []netip.Prefix) {
	defer close(r.done)
	t := time.NewTimer(time.Until(r.base.Add(r.plan.After)))
	select {
	case <-ctx.Done():
		t.Stop()
		return
	case <-t.C:
	}
	// The file renamed over keeps a second name until the run ends: the
	// rename would otherwise drop its last link and free its pages (24 MB
	// for a 1.2M-network map) in the rename call, on this process's core,
	// which stalled the load's own sending and receiving for 2-3 ms right
	// at the rename — a cost of whoever replaces the file, not of the
	// server measured.
	keep := r.plan.To + ".loadgen-keep"
	if err := os.Link(r.plan.To, keep); err == nil {
		defer func() { _ = os.Remove(keep) }()
	}
	// Published before the rename: from then on a reply may come from the
	// new map, even for a query that was already in flight.
	r.mu.Lock()
	r.renaming = r.since()
	r.mu.Unlock()
	if err := os.Rename(r.plan.From, r.plan.To); err != nil {
		r.mu.Lock()
		r.renaming = 0
		r.probeErr++
		r.mu.Unlock()
		return
	}
	at := r.since()
	r.mu.Lock()
	r.renameAt = at
	r.mu.Unlock()

	c := &dns.Client{Net: "udp", Timeout: 200 * time.Millisecond, UDPSize: ednsUDPSize}
	pending := map[netip.Prefix]bool{}
	for _, p := range probes {
		pending[p] = true
	}
	tk := time.NewTicker(r.plan.Poll)
	defer tk.Stop()
	for len(pending) > 0 {
		for p := range pending {
			wire, err := BuildQuery(dns.Id(), qname, dns.TypeA, p)
			if err != nil {
				continue
			}
			q := new(dns.Msg)
			if err := q.Unpack(wire); err != nil {
				continue
			}
			resp, _, err := c.ExchangeContext(ctx, q, server.String())
			if ctx.Err() != nil {
				return
			}
			if err != nil {
				r.mu.Lock()
				r.probeErr++
				r.mu.Unlock()
				continue
			}
			if v, _ := r.plan.Next.CheckMsg(resp, p); v == OK {
				delete(pending, p)
				now := r.since()
				r.mu.Lock()
				if r.firstNew == 0 {
					r.firstNew = now
				}
				if len(pending) == 0 {
					r.allNew = now
				}
				r.mu.Unlock()
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tk.C:
		}
	}
	<-ctx.Done() // the kept link goes when the run ends (stop)
}

// check accepts only the old map's answer in replies read before the rename
// began, either answer during the swap (including replies to queries that
// were in flight when the file was renamed), and only the new one for
// queries sent after every probe saw it.
func (r *reloader) check(b []byte, p netip.Prefix, sentAt, recvAt int64) (Verdict, string) {
	r.mu.Lock()
	renaming, allNew := r.renaming, r.allNew
	r.mu.Unlock()
	if renaming == 0 || recvAt < renaming {
		return r.old.Check(b, p)
	}
	vn, why := r.plan.Next.Check(b, p)
	if vn == OK {
		return OK, ""
	}
	vo, _ := r.old.Check(b, p)
	if vo == OK {
		if allNew != 0 && sentAt > allNew {
			r.mu.Lock()
			r.stale++
			r.mu.Unlock()
			return WrongAnswer, "stale answer from the old map after the swap: " + why
		}
		return OK, ""
	}
	return vn, why
}

func (r *reloader) result(buckets []*bucket, interval time.Duration) *ReloadResult {
	r.mu.Lock()
	defer r.mu.Unlock()
	res := &ReloadResult{FirstNewMs: -1, AllNewMs: -1, ProbeErrors: r.probeErr, StaleAfterSwap: r.stale}
	if r.renameAt == 0 {
		return res
	}
	res.RenameAt = float64(r.renameAt) / 1e9
	if r.firstNew != 0 {
		res.FirstNewMs = float64(r.firstNew-r.renameAt) / 1e6
	}
	end := r.runEnd
	if r.allNew != 0 {
		res.AllNewMs = float64(r.allNew-r.renameAt) / 1e6
		end = min(end, r.allNew+int64(r.plan.Settle))
	}
	var h hist
	from := int(r.renameAt / int64(interval))
	to := int((end + int64(interval) - 1) / int64(interval))
	for i := from; i < to && i < len(buckets); i++ {
		b := buckets[i]
		res.Sent += b.sent
		res.Received += b.received
		res.Lost += b.lost
		h.merge(&b.h)
	}
	res.WindowSeconds = float64(to-from) * interval.Seconds()
	res.Latency = latencyOf(&h)
	var hb hist
	skip := int((baselineSkip + interval - 1) / interval)
	for i := skip; i < from && i < len(buckets); i++ {
		b := buckets[i]
		res.BaselineSent += b.sent
		res.BaselineLost += b.lost
		hb.merge(&b.h)
	}
	res.BaselineSeconds = float64(max(from-skip, 0)) * interval.Seconds()
	res.Baseline = latencyOf(&hb)
	return res
}
