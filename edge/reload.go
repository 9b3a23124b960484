package edge

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/steer-gslb/steer/edge/accesslog"
	"github.com/steer-gslb/steer/edge/loadreport"
	"github.com/steer-gslb/steer/probe"
	"github.com/steer-gslb/steer/steertoken"
	"github.com/steer-gslb/steer/web"
)

// reloadPrewarmTimeout bounds the prewarm of the new pools a reload waits
// for before it swaps them in (an origin that does not answer is warmed by
// the first requests instead).
const reloadPrewarmTimeout = 3 * time.Second

// snapshot is everything a request reads that comes from the config: built
// whole by New or Reload, never changed afterwards, and swapped atomically.
// A request holds the snapshot it started with to its end (refs); the
// resources a snapshot shares with its successor (pools, the access log,
// the certificates) are reused, the others are closed once the last
// request on the old snapshot finished.
type snapshot struct {
	cfg   *Config
	stamp fileStamp // the config file's, as it was read

	// refs is the requests using the snapshot, plus one while it is the
	// current one; at 0 it is retired for good and frees its resources.
	refs atomic.Int64

	certs     *certStore
	keys      *steertoken.KeySet
	upstreams map[string]*upstream
	routes    []*route // longest prefix first
	alog      *sharedLog
	reporter  *loadreport.Reporter
	probe     http.Handler
	debug     http.Handler // nil without debug.collector
	popHdr    []string
	onRequest func(*RequestInfo)
}

type route struct {
	Route
	up *upstream
}

func (sn *snapshot) route(path string) *route {
	for _, r := range sn.routes {
		if strings.HasPrefix(path, r.PathPrefix) {
			return r
		}
	}
	return nil
}

// acquire returns the current snapshot, held until release. A snapshot
// whose count already fell to 0 is retired (a newer one is stored): load
// again.
func (s *Server) acquire() *snapshot {
	for {
		sn := s.snap.Load()
		for n := sn.refs.Load(); n > 0; n = sn.refs.Load() {
			if sn.refs.CompareAndSwap(n, n+1) {
				return sn
			}
		}
	}
}

// release ends a request's hold on sn; the last one of a retired snapshot
// frees it, before its handler returns, so that a drain (which waits for
// the handlers) also waits for the old access log's last flush.
func (sn *snapshot) release() {
	if sn.refs.Add(-1) == 0 {
		sn.free()
	}
}

// retire drops the current snapshot's own reference (it was replaced):
// it is freed now if no request holds it, else by the last one.
func (sn *snapshot) retire() {
	if sn.refs.Add(-1) == 0 {
		sn.free()
	}
}

// free drops the snapshot's hold on what it shares: pools and the access
// log no snapshot holds any more are closed.
func (sn *snapshot) free() {
	for _, u := range sn.upstreams {
		u.pool.unhold()
	}
	if sn.alog != nil {
		sn.alog.unhold()
	}
}

// sharedLog is an access log writer and the snapshots holding it.
type sharedLog struct {
	w       *accesslog.Writer
	opts    AccessLog
	holders atomic.Int32
	log     func(msg string, args ...any)
}

func (l *sharedLog) unhold() {
	if l.holders.Add(-1) == 0 {
		if err := l.w.Close(); err != nil {
			l.log("closing the previous access log", "path", l.opts.Path, "err", err)
		}
	}
}

// build makes the snapshot of cfg. Whatever prev (nil at start) has that
// cfg did not change is reused: the certificate store, upstream pools with
// the same poolKey, the access log, the load reporter. It returns the new
// pools, to prewarm; on error nothing of prev was touched.
func (s *Server) build(cfg *Config, stamp fileStamp, prev *snapshot) (_ *snapshot, fresh []*upstream, err error) {
	sn := &snapshot{
		cfg:       cfg,
		stamp:     stamp,
		upstreams: map[string]*upstream{},
		probe:     probe.Handler(cfg.PoP),
		popHdr:    []string{cfg.PoP},
	}
	sn.refs.Store(1)
	defer func() {
		if err != nil {
			sn.free() // the holds taken so far
		}
	}()
	if prev != nil && slices.Equal(prev.cfg.Certificates, cfg.Certificates) {
		sn.certs = prev.certs
	} else if sn.certs, err = newCertStore(cfg.Certificates, s.log, s.m); err != nil {
		return nil, nil, err
	}
	if cfg.TokenKeys != "" {
		if sn.keys, err = steertoken.LoadKeySet(cfg.TokenKeys); err != nil {
			return nil, nil, fmt.Errorf("token_keys: %w", err)
		}
	}
	for i := range cfg.Upstreams {
		u := &cfg.Upstreams[i]
		key, caPEM, err := poolKey(u, &cfg.Timeouts)
		if err != nil {
			return nil, nil, err
		}
		var p *pool
		if prev != nil {
			if pu := prev.upstreams[u.Name]; pu != nil && pu.pool.key == key {
				p = pu.pool.hold()
			}
		}
		isNew := p == nil
		if isNew {
			tr, err := newTransport(u, caPEM, &cfg.Timeouts, s.m)
			if err != nil {
				return nil, nil, err
			}
			p = (&pool{key: key, tr: tr}).hold()
		}
		up := s.newUpstream(u, p, cfg.ForwardedFor)
		sn.upstreams[u.Name] = up
		if isNew {
			fresh = append(fresh, up)
		}
	}
	for _, r := range cfg.Routes {
		sn.routes = append(sn.routes, &route{Route: r, up: sn.upstreams[r.Upstream]})
	}
	slices.SortStableFunc(sn.routes, func(a, b *route) int { return len(b.PathPrefix) - len(a.PathPrefix) })
	if cfg.DebugCollector != "" {
		sn.debug = web.DebugHandler(cfg.DebugCollector, cfg.PoP)
	}
	if lr := cfg.LoadReport; lr != nil {
		if prev != nil && prev.reporter != nil && reflect.DeepEqual(prev.cfg.LoadReport, lr) && prev.cfg.PoP == cfg.PoP {
			sn.reporter = prev.reporter
		} else if sn.reporter, err = loadreport.New(loadreport.Options{URL: lr.URL, Token: lr.Token, PoP: cfg.PoP,
			Capacity: lr.Capacity, Every: lr.Every, Log: s.log}, s.meter.Rate); err != nil { // requests/s; the control server divides by Capacity
			return nil, nil, fmt.Errorf("load_report: %w", err)
		}
	}
	// The access log last: it is the one resource opening a file.
	if al := cfg.AccessLog; al.Path != "" {
		if prev != nil && prev.alog != nil && prev.alog.opts == al {
			prev.alog.holders.Add(1)
			sn.alog = prev.alog
		} else {
			w, err := accesslog.Open(al.Path, accesslog.Options{MaxBytes: al.MaxBytes, Keep: al.Keep, Log: s.log})
			if err != nil {
				return nil, nil, fmt.Errorf("access_log: %w", err)
			}
			sn.alog = &sharedLog{w: w, opts: al, log: s.log.Error}
			sn.alog.holders.Store(1)
		}
	}
	var hook func(*RequestInfo)
	if sn.alog != nil {
		hook = AccessLogHook(sn.alog.w, cfg.PoP)
	}
	if cfg.LoadReport != nil {
		hook = chainHooks(func(*RequestInfo) { s.meter.Inc() }, hook)
	}
	sn.onRequest = chainHooks(hook, s.onRequest)
	return sn, fresh, nil
}

// newUpstream is u's reverse proxy over the pool p.
func (s *Server) newUpstream(u *Upstream, p *pool, fwd string) *upstream {
	up := &upstream{cfg: *u, pool: p}
	target := u.URL
	up.proxy = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			host := pr.In.Host
			pr.SetURL(target)
			pr.Out.Host = host // the origin sees the name the client asked for
			pr.Out.Header.Set("X-Forwarded-Host", host)
			if pr.In.TLS != nil {
				pr.Out.Header.Set("X-Forwarded-Proto", "https")
			} else {
				pr.Out.Header.Set("X-Forwarded-Proto", "http")
			}
			if fwd == ForwardOff {
				return
			}
			ap, err := netip.ParseAddrPort(pr.In.RemoteAddr)
			if err != nil {
				return
			}
			if fwd == ForwardFull {
				pr.Out.Header.Set("X-Forwarded-For", ap.Addr().Unmap().String())
			} else {
				pr.Out.Header.Set("X-Forwarded-For", steertoken.ClientNetwork(ap.Addr()).Addr().String())
			}
		},
		Transport:      &retryTransport{rt: p.tr, retries: u.Retries, name: u.Name, m: s.m, log: s.log},
		FlushInterval:  0, // responses of unknown length and event streams flush at once
		BufferPool:     &s.buffers,
		ErrorLog:       log.New(io.Discard, "", 0),
		ModifyResponse: modifyResponse,
		ErrorHandler:   s.proxyError,
	}
	return up
}

// restartOnly are the settings a running edge cannot change: its listeners
// and what net/http and crypto/tls read without synchronisation. A reload
// that changes them keeps the running values and says so.
var restartOnly = []struct {
	key  string
	keep func(next, run *Config) bool // copies run's value into next; reports whether it differed
}{
	{"listen", func(n, r *Config) bool { return swapIf(&n.Listen, r.Listen) }},
	{"listen_http", func(n, r *Config) bool { return swapIf(&n.ListenHTTP, r.ListenHTTP) }},
	{"admin", func(n, r *Config) bool { return swapIf(&n.Admin, r.Admin) }},
	{"limits.max_conns", func(n, r *Config) bool { return swapIf(&n.MaxConns, r.MaxConns) }},
	{"limits.max_header_bytes", func(n, r *Config) bool { return swapIf(&n.MaxHeaderBytes, r.MaxHeaderBytes) }},
	{"timeouts.read_header", func(n, r *Config) bool { return swapIf(&n.Timeouts.ReadHeader, r.Timeouts.ReadHeader) }},
	{"timeouts.read", func(n, r *Config) bool { return swapIf(&n.Timeouts.Read, r.Timeouts.Read) }},
	{"timeouts.write", func(n, r *Config) bool { return swapIf(&n.Timeouts.Write, r.Timeouts.Write) }},
	{"timeouts.idle", func(n, r *Config) bool { return swapIf(&n.Timeouts.Idle, r.Timeouts.Idle) }},
	{"tls.session_tickets", func(n, r *Config) bool { return swapIf(&n.NoSessionTickets, r.NoSessionTickets) }},
}

func swapIf[T comparable](next *T, run T) bool {
	if *next == run {
		return false
	}
	*next = run
	return true
}

// Reload re-reads the config file (as on SIGHUP or a change of the file)
// and swaps in the new config for new requests: routes, upstreams and
// their pins, token checks and keys, upstream and body timeouts, access
// log, load report, debug page, PoP label, drain and reload settings.
// Requests in flight finish on the config they started with; unchanged
// upstream pools keep their connections. Settings that need a restart
// (listeners, limits, client-side timeouts, session tickets) keep their
// running values and are logged. A config that does not load, validate
// or build (a certificate, key set or CA file that fails to load) is
// rejected: logged, counted in steer_edge_config_reloads_total{result="error"},
// returned, and the old config keeps serving.
func (s *Server) Reload(reason string) error {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	start := time.Now()
	prev := s.snap.Load()
	stamp, _ := stampOf(s.file)
	err := s.reload(prev, stamp, reason)
	if err != nil {
		s.failedStamp = stamp
		s.m.configReloads.WithLabelValues("error").Inc()
		s.m.configLastOK.Set(0)
		s.log.Error("config reload failed; still serving the previous config", "reason", reason, "file", s.file, "err", err)
		return err
	}
	s.failedStamp = fileStamp{}
	s.m.configReloads.WithLabelValues("ok").Inc()
	s.m.configLastOK.Set(1)
	s.m.configLastOKTime.Set(float64(time.Now().UnixNano()) / 1e9)
	s.log.Info("config reloaded", "reason", reason, "file", s.file, "took", time.Since(start).Round(time.Microsecond))
	return nil
}

func (s *Server) reload(prev *snapshot, stamp fileStamp, reason string) error {
	switch {
	case s.stopped:
		return errors.New("edge: stopped")
	case s.file == "":
		return errors.New("edge: the config was not loaded from a file")
	}
	cfg, err := LoadConfig(s.file)
	if err != nil {
		return err
	}
	var kept []string
	for _, r := range restartOnly {
		if r.keep(cfg, prev.cfg) {
			kept = append(kept, r.key)
		}
	}
	if len(kept) > 0 {
		s.log.Warn("config reload: changed settings need a restart; keeping their running values",
			"reason", reason, "settings", strings.Join(kept, ", "))
	}
	sn, fresh, err := s.build(cfg, stamp, prev)
	if err != nil {
		return fmt.Errorf("edge config %s: %w", s.file, err)
	}
	if len(fresh) > 0 {
		// New pools warm up before the swap, so that the first requests
		// on them find connections open.
		ctx, cancel := context.WithTimeout(context.Background(), reloadPrewarmTimeout)
		var wg sync.WaitGroup
		for _, u := range fresh {
			wg.Go(func() { u.prewarm(ctx, u.cfg.Prewarm, s.log) })
		}
		wg.Wait()
		cancel()
	}
	s.snap.Store(sn)
	s.syncReporter(sn)
	prev.retire()
	s.log.Debug("config snapshot", "pop", cfg.PoP, "routes", len(sn.routes), "upstreams", len(sn.upstreams),
		"new_pools", len(fresh), "reused_pools", len(sn.upstreams)-len(fresh))
	return nil
}

// syncReporter runs sn's load reporter (and stops the one it replaced)
// once Run started. Called with reloadMu held.
func (s *Server) syncReporter(sn *snapshot) {
	if s.runCtx == nil || sn.reporter == s.repRunning {
		return
	}
	if s.repCancel != nil {
		s.repCancel()
		s.repCancel = nil
	}
	s.repRunning = sn.reporter
	if sn.reporter != nil {
		ctx, cancel := context.WithCancel(s.runCtx)
		s.repCancel = cancel
		go func() { _ = sn.reporter.Run(ctx) }()
	}
}

// watchConfig polls the config file every reload.poll and reloads once a
// change stayed put for reload.debounce. A file that failed to load is
// reported once, not at every poll; the next change tries again.
func (s *Server) watchConfig(ctx context.Context) {
	if s.file == "" {
		return
	}
	t := time.NewTimer(s.snap.Load().cfg.Reload.Poll)
	defer t.Stop()
	var pending fileStamp
	havePending := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		sn := s.snap.Load()
		rc := sn.cfg.Reload
		next := rc.Poll
		st, _ := stampOf(s.file)
		s.reloadMu.Lock()
		failed := s.failedStamp
		s.reloadMu.Unlock()
		switch {
		case !rc.Watch || st.same(sn.stamp) || st.same(failed):
			havePending = false
		case !havePending || !st.same(pending):
			// Changed: wait until it stays put.
			pending, havePending = st, true
			next = rc.Debounce
		default:
			havePending = false
			_ = s.Reload("config file changed") // logged and counted by Reload
		}
		t.Reset(next)
	}
}

// watchCerts polls the current certificate files every tls.poll.
func (s *Server) watchCerts(ctx context.Context) {
	every := func() time.Duration {
		if p := s.snap.Load().cfg.CertPoll; p > 0 {
			return p
		}
		return DefaultCertPoll // polling off: look again later whether a reload turned it on
	}
	t := time.NewTimer(every())
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if sn := s.snap.Load(); sn.cfg.CertPoll > 0 {
			sn.certs.Reload(false)
		}
		t.Reset(every())
	}
}
