package collector

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"math"
	"net/http"
	"net/netip"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/steer-gslb/steer/probe"
	"github.com/steer-gslb/steer/rum"
	"github.com/steer-gslb/steer/store"
	"github.com/steer-gslb/steer/web"
	"github.com/steer-gslb/steer/web/debugmap"
)

// Options are the collector's non-config dependencies.
type Options struct {
	Logger   *slog.Logger         // nil: discard
	Registry *prometheus.Registry // nil: a private registry, served at /metrics
	Now      func() time.Time     // nil: time.Now

	// SpoolDir, when set, puts the spool (see spool.go) in front of the
	// store: a beacon is acknowledged once fdatasync'd there and loaded
	// into the store in large batches. Empty: every group commit goes
	// straight to the store.
	SpoolDir     string
	LoadBatch    int           // beacons per load (default 50,000)
	LoadInterval time.Duration // longest wait before loading what is spooled (default 1 s)

	// StoreDir is the store's directory, when the collector has one (steer
	// collect): while Serve runs, StoreDir/collector.json (AnnounceFile)
	// names this process and the URL of its /v1/store/stats, for processes
	// that DuckDB's lock keeps out of the store (steer store stats).
	StoreDir string

	// DebugDir is where the debug page's reports are kept, one file per
	// report (steer collect: STORE/debug). Empty: POST /debug/report
	// answers 404.
	DebugDir string

	fs fileOps // the spool's file layer (tests inject faults); zero: the os
}

// Server is the collector: an http.Handler (the public endpoints; see
// AdminHandler for the admin ones) plus the group-commit loops that make
// accepted beacons and query log lines durable.
type Server struct {
	cfg    *Config
	st     store.Store
	log    *slog.Logger
	now    func() time.Time
	reg    *prometheus.Registry
	m      *metrics
	mux    *http.ServeMux // public
	admin  *http.ServeMux
	tokens map[[32]byte]bool
	// logTokens are the query log tokens (POST /querylog)
	logTokens map[[32]byte]bool
	origins   map[string]bool
	anyOrig   bool
	limiter   *limiter
	pops      []byte   // /rum/pops.json
	plan      *planner // nil: no plan: section
	storeDir  string   // Options.StoreDir
	debugDir  string   // Options.DebugDir
	debugMap  *debugmap.Loader

	beacons  *intake[store.Beacon]
	queries  *intake[rum.LogEntry]
	stopOnce sync.Once
	closeErr error

	warnMu   sync.Mutex
	warnLast map[string]time.Time // throttles repeated warnings
}

// New returns a collector writing to st. Call Close to stop it; Close does
// not close st.
func New(cfg *Config, st store.Store, opt Options) (*Server, error) {
	if cfg == nil {
		cfg = Defaults()
	}
	s := &Server{
		cfg: cfg, st: st, log: opt.Logger, now: opt.Now, reg: opt.Registry, storeDir: opt.StoreDir, debugDir: opt.DebugDir,
		tokens: map[[32]byte]bool{}, origins: map[string]bool{}, warnLast: map[string]time.Time{},
	}
	if s.log == nil {
		s.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.reg == nil {
		s.reg = prometheus.NewRegistry()
	}
	m, err := newMetrics(s.reg)
	if err != nil {
		return nil, err
	}
	s.m = m
	for _, t := range cfg.Tokens {
		s.tokens[sha256.Sum256([]byte(t))] = true
	}
	s.logTokens = map[[32]byte]bool{}
	for _, t := range cfg.QueryLogTokens {
		s.logTokens[sha256.Sum256([]byte(t))] = true
	}
	for _, o := range cfg.Origins {
		if o == "*" {
			s.anyOrig = true
		}
		s.origins[o] = true
	}
	s.limiter = newLimiter(cfg.Rate, cfg.Burst)
	type doc struct {
		PoPs    []PoPURL `json:"pops"`
		Anycast string   `json:"anycast,omitempty"`
		RUMZone string   `json:"rum_zone,omitempty"`
	}
	d := doc{PoPs: cfg.PoPs, Anycast: cfg.Anycast, RUMZone: cfg.RUMZone}
	if d.PoPs == nil {
		d.PoPs = []PoPURL{}
	}
	s.pops, _ = json.Marshal(d)

	metricsHandler := promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{})
	s.mux = http.NewServeMux()
	s.mux.HandleFunc("/beacon", s.serveBeacon)
	s.mux.HandleFunc("/rum/beacon", s.serveBeacon)
	s.mux.Handle("/rum/probe", probe.Handler(cfg.PoP))
	s.mux.Handle("/rum.js", web.Handler())
	s.mux.HandleFunc("/rum/pops.json", s.servePoPs)
	s.mux.HandleFunc(PlanPath, s.servePlan)
	s.mux.HandleFunc("/healthz", s.serveHealth)
	if err := s.mountDebug(); err != nil {
		return nil, err
	}
	s.admin = http.NewServeMux()
	s.admin.Handle("/metrics", metricsHandler)
	s.admin.HandleFunc("/querylog", s.serveQueryLog)
	s.admin.HandleFunc("/healthz", s.serveHealth)
	s.admin.HandleFunc(StoreStatsPath, s.serveStoreStats)
	s.admin.HandleFunc(web.DebugReportURLPath+"/", s.serveDebugLookup)
	if cfg.Admin == "" {
		// no admin listener: the query log on the public one (it has its
		// own tokens), the metrics and the store's stats only for this host
		s.mux.HandleFunc("/querylog", s.serveQueryLog)
		s.mux.Handle("/metrics", s.localOnly(metricsHandler))
		s.mux.Handle(StoreStatsPath, s.localOnly(http.HandlerFunc(s.serveStoreStats)))
	} else {
		for _, p := range []string{"/metrics", "/querylog", StoreStatsPath} {
			s.mux.HandleFunc(p, func(w http.ResponseWriter, r *http.Request) {
				http.Error(w, "404 page not found: "+p+" is served on the admin listener", http.StatusNotFound)
			})
		}
	}

	timeout := cfg.CommitTimeout
	if timeout <= 0 {
		timeout = Defaults().CommitTimeout
	}
	s.beacons = &intake[store.Beacon]{
		jobs: make(chan *job[store.Beacon], 1024), max: cfg.CommitBatch, timeout: timeout, encode: encodeBeacon,
		direct: func(ctx context.Context, bs []store.Beacon) error {
			res, err := st.AddBeacons(ctx, bs)
			s.loaded(res, bs, err)
			return err
		},
		committed: func(d time.Duration, n int, err error) {
			s.m.commit.Observe(d.Seconds())
			s.m.batch.Observe(float64(n))
			if err != nil && s.beacons.sp != nil { // without a spool: counted as a store error
				s.spoolFailed("beacons", "commit", err)
			}
		},
	}
	s.queries = &intake[rum.LogEntry]{
		jobs: make(chan *job[rum.LogEntry], 64), max: cfg.CommitBatch, timeout: timeout, encode: encodeQuery,
		direct: func(ctx context.Context, qs []rum.LogEntry) error {
			_, err := st.AddQueries(ctx, qs)
			return err
		},
		committed: func(_ time.Duration, _ int, err error) {
			if err != nil {
				if s.queries.sp == nil {
					s.m.storeErrors.Inc()
					return
				}
				s.spoolFailed("querylog", "commit", err)
			}
		},
	}
	if opt.SpoolDir != "" {
		batch, interval := opt.LoadBatch, opt.LoadInterval
		if batch <= 0 {
			batch = 50_000
		}
		if interval <= 0 {
			interval = time.Second
		}
		bsp, err := s.openSpool("beacons", opt.SpoolDir, opt.fs)
		if err != nil {
			return nil, err
		}
		qsp, err := s.openSpool("querylog", filepath.Join(opt.SpoolDir, "querylog"), opt.fs)
		if err != nil {
			_ = bsp.close()
			return nil, err
		}
		s.beacons.sp, s.queries.sp = bsp, qsp
		s.beacons.ld = &loader[store.Beacon]{sp: bsp, mem: make(chan memBatch[store.Beacon], 4096), decode: decodeLine,
			batch: batch, interval: interval, now: s.now,
			add: func(ctx context.Context, bs []store.Beacon) error {
				res, err := st.AddBeacons(ctx, bs)
				s.loaded(res, bs, err)
				return err
			}}
		s.queries.ld = &loader[rum.LogEntry]{sp: qsp, mem: make(chan memBatch[rum.LogEntry], 64), decode: decodeQueryLine,
			batch: batch, interval: interval, now: s.now,
			add: func(ctx context.Context, qs []rum.LogEntry) error {
				_, err := st.AddQueries(ctx, qs)
				return err
			}}
		s.beacons.ld.quarantined, s.beacons.ld.failed = s.quarantined("beacons"), s.loadFailed("beacons")
		s.queries.ld.quarantined, s.queries.ld.failed = s.quarantined("querylog"), s.loadFailed("querylog")
	}
	if err := s.m.register(s); err != nil {
		_ = s.closeSpools()
		return nil, err
	}
	exit := func(name string) func(error) {
		return func(err error) {
			if err != nil {
				// acknowledged records stay in the spool for the next start
				s.log.Error("the spool loader stopped; what it did not load stays in the spool for the next start",
					"spool", name, "error", Redact(err.Error()))
			}
		}
	}
	s.beacons.start(exit("beacons"))
	s.queries.start(exit("querylog"))
	s.startPlanner()
	return s, nil
}

// closeSpools closes the spools of a server New gives up on.
func (s *Server) closeSpools() error {
	var err error
	for _, sp := range []*spool{s.beacons.sp, s.queries.sp} {
		if sp != nil {
			err = errors.Join(err, sp.close())
		}
	}
	return err
}

// openSpool opens a spool whose recovered faults are counted and logged.
func (s *Server) openSpool(name, dir string, ops fileOps) (*spool, error) {
	sp, err := openSpool(dir, ops)
	if err != nil {
		return nil, err
	}
	sp.warn = func(op string, err error) { s.spoolFailed(name, op, err) }
	return sp, nil
}

// spoolFailed counts and logs (throttled) a failed spool operation.
func (s *Server) spoolFailed(name, op string, err error) {
	s.m.spoolErrors.WithLabelValues(name, op).Inc()
	if s.throttle(name + op) {
		s.log.Error("spool", "spool", name, "op", op, "error", Redact(err.Error()))
	}
}

func (s *Server) quarantined(name string) func(position, error) {
	return func(at position, err error) {
		s.m.quarantined.WithLabelValues(name).Inc()
		s.log.Error("spool: an undecodable line moved to the quarantine file; loading continues",
			"spool", name, "file", quarantineFile, "segment", at.seg, "offset", at.off, "error", err.Error())
	}
}

func (s *Server) loadFailed(name string) func(error) {
	return func(err error) {
		if err == nil {
			s.log.Info("spool: loading again", "spool", name)
			return
		}
		s.m.spoolErrors.WithLabelValues(name, "load").Inc()
		if s.throttle(name + "load") {
			s.log.Error("spool: loading into the store failed; retrying (acknowledged records stay in the spool)",
				"spool", name, "error", Redact(err.Error()))
		}
	}
}

// throttle reports whether a warning of this key may be logged: at most
// one every 10 s.
func (s *Server) throttle(key string) bool {
	s.warnMu.Lock()
	defer s.warnMu.Unlock()
	now := time.Now()
	if now.Sub(s.warnLast[key]) < 10*time.Second {
		return false
	}
	s.warnLast[key] = now
	return true
}

// localOnly serves h only to loopback peers that are not forwarding a
// request (no proxy header): the public listener's /metrics and
// /v1/store/stats when there is no admin listener.
func (s *Server) localOnly(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ap, err := netip.ParseAddrPort(r.RemoteAddr)
		if err != nil || !ap.Addr().Unmap().IsLoopback() || r.Header.Get(s.cfg.ProxyHeader) != "" || r.Header.Get("Forwarded") != "" {
			http.Error(w, "404 page not found: "+r.URL.Path+" is served to this host only, or on the admin listener (admin:)", http.StatusNotFound)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// AdminHandler serves the admin endpoints: /metrics, /querylog, /healthz,
// /v1/store/stats (Serve runs it on the admin listener).
func (s *Server) AdminHandler() http.Handler { return s.admin }

// serveHealth answers 200 "ok", or 503 naming what is wrong: a spool
// loader that stopped, or one that has not caught up for max_load_lag (a
// failing store, a backlog that keeps growing).
func (s *Server) serveHealth(w http.ResponseWriter, _ *http.Request) {
	var problems []string
	maxLag := s.cfg.MaxLoadLag
	if maxLag <= 0 {
		maxLag = Defaults().MaxLoadLag
	}
	for _, p := range []string{s.beacons.health("beacon", maxLag), s.queries.health("query log", maxLag)} {
		if p != "" {
			problems = append(problems, p)
		}
	}
	w.Header().Set("Cache-Control", "no-store")
	if len(problems) > 0 {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, strings.Join(problems, "\n")+"\n")
		return
	}
	_, _ = io.WriteString(w, "ok\n")
}

// loaded accounts for beacons written to the store.
func (s *Server) loaded(res store.AddResult, bs []store.Beacon, err error) {
	if err != nil {
		s.m.storeErrors.Inc()
		return
	}
	n := 0
	for i := range bs {
		n += len(bs[i].Samples)
	}
	s.m.beacons.WithLabelValues("stored").Add(float64(res.Added))
	s.m.beacons.WithLabelValues("duplicate").Add(float64(res.Duplicates))
	s.m.samples.Add(float64(n))
}

// ServeHTTP serves the collector's public endpoints.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Close stops accepting beacons and query log lines, commits what is
// queued, loads everything spooled into the store and stops. It returns
// the loaders' errors, if any (the spool keeps what was not loaded, for
// the next start).
func (s *Server) Close() error {
	s.stopOnce.Do(func() {
		s.stopPlanner()
		s.closeErr = errors.Join(s.beacons.close(), s.queries.close())
	})
	return s.closeErr
}

// ErrorLog is a *log.Logger for http.Server.ErrorLog that never writes a
// client address: net/http logs "TLS handshake error from 203.0.113.7:4242"
// and the like, so every address in its messages is truncated first.
func (s *Server) ErrorLog() *log.Logger {
	return log.New(redactWriter{s.log}, "", 0)
}

type redactWriter struct{ l *slog.Logger }

// addrRE finds address candidates: [IPv6]:port, IPv4[:port] and bare
// IPv6; Redact keeps what does not parse as an address.
var addrRE = regexp.MustCompile(`\[[0-9a-fA-F:.]+\](?::\d+)?|\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?|[0-9a-fA-F]{0,4}(?::[0-9a-fA-F]{0,4}){2,7}(?:\.\d{1,3}){0,4}`)

func (w redactWriter) Write(p []byte) (int, error) {
	w.l.Warn("http server", "msg", Redact(strings.TrimSpace(string(p))))
	return len(p), nil
}

// Redact replaces every IP address (with or without a port) in s by its
// /24 or /56 network.
func Redact(s string) string {
	return addrRE.ReplaceAllStringFunc(s, func(m string) string {
		if ap, err := netip.ParseAddrPort(m); err == nil {
			return clientNetwork(ap.Addr()).String()
		}
		if a, err := netip.ParseAddr(strings.Trim(m, "[]")); err == nil {
			return clientNetwork(a).String()
		}
		return m
	})
}

// clientNetwork truncates an address at the door: /24 for IPv4 (and
// v4-mapped IPv6), /56 for IPv6.
func clientNetwork(a netip.Addr) netip.Prefix {
	a = a.Unmap()
	bits := 56
	if a.Is4() {
		bits = 24
	}
	p, _ := a.WithZone("").Prefix(bits)
	return p
}

// rejection is a 4xx/5xx answer with a message naming the problem.
type rejection struct {
	code       int
	reason     string // metric label
	msg        string
	retryAfter int // seconds, for 429 and 503; 0: no Retry-After
}

func (e *rejection) Error() string { return e.msg }

// write sends the rejection as a plain-text answer naming the problem.
func (e *rejection) write(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if e.retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(e.retryAfter))
	}
	w.WriteHeader(e.code)
	_, _ = io.WriteString(w, e.msg+"\n")
}

func reject(code int, reason, format string, args ...any) *rejection {
	return &rejection{code: code, reason: reason, msg: fmt.Sprintf(format, args...)}
}

// commitRejection is the answer for records that were not committed: 503
// with Retry-After (499, unanswered, when the client went away). The
// message names the fault, not the spool's paths.
func (s *Server) commitRejection(ctx context.Context, what string, err error) *rejection {
	if ctx.Err() != nil && !errors.Is(err, errQueueFull) && !errors.Is(err, errCommitTimeout) {
		// the client went away before its commit: it gets no answer, and
		// a resend is recognized as a duplicate
		return reject(499, "canceled", "canceled")
	}
	retry := max(1, int(math.Ceil(s.beacons.timeout.Seconds())))
	var rej *rejection
	switch {
	case errors.Is(err, errQueueFull), errors.Is(err, errCommitTimeout):
		rej = reject(http.StatusServiceUnavailable, "timeout", "%s not stored: not committed within %v (commit_timeout); retry later", what, s.beacons.timeout)
	case errors.Is(err, errShuttingDown):
		rej = reject(http.StatusServiceUnavailable, "shutdown", "%s not stored: the collector is shutting down; retry later", what)
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT):
		rej = reject(http.StatusServiceUnavailable, "disk-full", "%s not stored: no space left for the spool; retry later", what)
	default:
		rej = reject(http.StatusServiceUnavailable, "store", "%s not stored: the commit failed; retry later", what)
	}
	rej.retryAfter = retry
	return rej
}

// network derives the client network from the connection, or from the
// proxy header when the peer is a trusted proxy: the rightmost address
// that is not itself a trusted proxy. An address from the header that
// cannot be a client's on the Internet (private, loopback, link-local,
// documentation, with a zone, ...) is refused: it is not a network to
// measure, and usually means a proxy missing from trusted_proxies.
func (s *Server) network(r *http.Request) (netip.Prefix, *rejection) {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Prefix{}, reject(http.StatusBadRequest, "address", "cannot read the client address")
	}
	peer := ap.Addr().Unmap()
	if !s.trusted(peer) {
		return clientNetwork(peer), nil
	}
	hs := r.Header.Values(s.cfg.ProxyHeader)
	if len(hs) == 0 {
		return clientNetwork(peer), nil
	}
	parts := strings.Split(strings.Join(hs, ","), ",")
	for i := len(parts) - 1; i >= 0; i-- {
		f := strings.TrimSpace(parts[i])
		a, err := netip.ParseAddr(f)
		if err != nil {
			if ap, err2 := netip.ParseAddrPort(f); err2 == nil {
				a, err = ap.Addr(), nil
			}
		}
		if err != nil {
			return netip.Prefix{}, reject(http.StatusBadRequest, "address", "%s: element %d is not an IP address", s.cfg.ProxyHeader, i+1)
		}
		a = a.Unmap()
		if !s.trusted(a) || i == 0 {
			if kind := nonGlobal(a); kind != "" {
				return netip.Prefix{}, reject(http.StatusBadRequest, "address-"+kind,
					"%s: element %d is not a global address (%s): no client network to store; is a proxy missing from trusted_proxies?",
					s.cfg.ProxyHeader, i+1, kind)
			}
			return clientNetwork(a), nil
		}
	}
	return clientNetwork(peer), nil
}

func (s *Server) trusted(a netip.Addr) bool {
	for _, p := range s.cfg.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// authorize decides whether the request may send beacons: a desktop/CLI
// agent with a valid token, or a web page from an allowed origin. It
// returns the CORS origin to echo ("" for none).
func (s *Server) authorize(r *http.Request) (origin string, token bool, rej *rejection) {
	origin = r.Header.Get("Origin")
	if h := r.Header.Get("Authorization"); h != "" {
		t, ok := bearerToken(h)
		if !ok || !s.tokens[sha256.Sum256([]byte(t))] {
			return "", false, reject(http.StatusUnauthorized, "token", "Authorization: unknown token")
		}
		return s.corsOrigin(origin), true, nil
	}
	if origin == "" {
		return "", false, reject(http.StatusUnauthorized, "token", "an agent token (Authorization: Bearer) or an allowed Origin is required")
	}
	if c := s.corsOrigin(origin); c != "" {
		return c, false, nil
	}
	return "", false, reject(http.StatusForbidden, "origin", "Origin %q is not allowed", origin)
}

func (s *Server) corsOrigin(origin string) string {
	if origin == "" {
		return ""
	}
	if s.origins[origin] {
		return origin
	}
	if s.anyOrig {
		return "*"
	}
	return ""
}

func (s *Server) servePoPs(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=60")
	w.Header().Set("Access-Control-Allow-Origin", "*")
	_, _ = w.Write(s.pops)
}

// bodyPool recycles request body buffers.
var bodyPool = sync.Pool{New: func() any { b := make([]byte, 0, 16<<10); return &b }}

func (s *Server) serveBeacon(w http.ResponseWriter, r *http.Request) {
	start := s.now()
	n, rej := s.handleBeacon(w, r)
	code := http.StatusOK
	switch {
	case rej != nil:
		code = rej.code
		s.m.rejected.WithLabelValues(rej.reason).Inc()
		rej.write(w)
	case r.Method == http.MethodOptions:
		code = http.StatusNoContent
		w.WriteHeader(code)
	default:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_, _ = fmt.Fprintf(w, `{"accepted":%d}`+"\n", n)
	}
	s.m.requests.WithLabelValues(strconv.Itoa(code)).Inc()
	s.m.latency.Observe(s.now().Sub(start).Seconds())
}

func (s *Server) handleBeacon(w http.ResponseWriter, r *http.Request) (int, *rejection) {
	origin, token, rej := s.authorizeOrPreflight(w, r)
	if rej != nil || r.Method == http.MethodOptions {
		return 0, rej
	}
	if origin != "" {
		w.Header().Set("Access-Control-Allow-Origin", origin)
		w.Header().Add("Vary", "Origin")
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST, OPTIONS")
		return 0, reject(http.StatusMethodNotAllowed, "method", "method %s not allowed: POST beacons", r.Method)
	}
	network, rej := s.network(r)
	if rej != nil {
		return 0, rej
	}
	// From here on only the truncated network is used or logged.
	ndjson := false
	switch ct, _, _ := strings.Cut(r.Header.Get("Content-Type"), ";"); strings.TrimSpace(strings.ToLower(ct)) {
	case "application/json", "text/plain", "":
	case "application/x-ndjson", "application/jsonl":
		ndjson = true
	default:
		return 0, reject(http.StatusUnsupportedMediaType, "type", "Content-Type %q: send application/json, text/plain or application/x-ndjson", ct)
	}
	bp := bodyPool.Get().(*[]byte)
	defer bodyPool.Put(bp)
	body, rej := s.readBody(r, (*bp)[:0])
	*bp = body[:0]
	if rej != nil {
		return 0, rej
	}
	bs, rej := s.parse(body, ndjson, token, network)
	if rej != nil {
		s.log.Debug("beacon rejected", "network", network, "reason", rej.reason, "error", rej.msg)
		return 0, rej
	}
	if s.cfg.Rate > 0 && len(bs) > s.cfg.Burst {
		return 0, reject(http.StatusRequestEntityTooLarge, "batch", "a batch of %d beacons can never pass the rate limit (burst %d): send at most %d per request",
			len(bs), s.cfg.Burst, s.cfg.Burst)
	}
	if ok, wait := s.limiter.allow(network, len(bs), s.now()); !ok {
		rej := reject(http.StatusTooManyRequests, "rate", "too many beacons from %v: at most %v per second (bursts of %d)", network, s.cfg.Rate, s.cfg.Burst)
		rej.retryAfter = max(1, int(math.Ceil(wait.Seconds())))
		return 0, rej
	}
	if err := s.beacons.commit(r.Context(), bs); err != nil {
		rej := s.commitRejection(r.Context(), "beacons", err)
		if rej.code != 499 {
			s.log.Debug("beacons not stored", "network", network, "reason", rej.reason)
		}
		return 0, rej
	}
	return len(bs), nil
}

func (s *Server) authorizeOrPreflight(w http.ResponseWriter, r *http.Request) (string, bool, *rejection) {
	if r.Method == http.MethodOptions {
		// CORS preflight: answer for allowed origins only.
		o := s.corsOrigin(r.Header.Get("Origin"))
		if o == "" {
			return "", false, reject(http.StatusForbidden, "origin", "Origin %q is not allowed", r.Header.Get("Origin"))
		}
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", o)
		h.Add("Vary", "Origin")
		h.Set("Access-Control-Allow-Methods", "POST, OPTIONS")
		h.Set("Access-Control-Allow-Headers", "Content-Type, Authorization")
		h.Set("Access-Control-Max-Age", "86400")
		return o, false, nil
	}
	return s.authorize(r)
}

var errTooBig = errors.New("body too large")

// readBody reads a request body of at most the configured max_body into
// buf: 413 when it is larger, 400 when it cannot be read.
func (s *Server) readBody(r *http.Request, buf []byte) ([]byte, *rejection) {
	body, err := readBody(r.Body, buf, s.cfg.MaxBody)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) || errors.Is(err, errTooBig) {
			return body, reject(http.StatusRequestEntityTooLarge, "size", "body larger than %d bytes", s.cfg.MaxBody)
		}
		return body, reject(http.StatusBadRequest, "read", "reading the body: %v", err)
	}
	return body, nil
}

// readBody reads at most limit bytes into buf.
func readBody(r io.Reader, buf []byte, limit int64) ([]byte, error) {
	for {
		if int64(len(buf)) > limit {
			return buf, errTooBig
		}
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, min(cap(buf), int(limit)+1-len(buf))+1)
		}
		n, err := r.Read(buf[len(buf):min(cap(buf), int(limit)+1)])
		buf = buf[:len(buf)+n]
		if errors.Is(err, io.EOF) {
			if int64(len(buf)) > limit {
				return buf, errTooBig
			}
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

// parse validates one beacon or an NDJSON batch (all or nothing: a batch
// with one bad line is rejected whole, naming the line, so an agent can
// fix and resend it without duplicates).
func (s *Server) parse(body []byte, ndjson, token bool, network netip.Prefix) ([]store.Beacon, *rejection) {
	now := s.now().UTC()
	one := func(data []byte, where string) (store.Beacon, *rejection) {
		var b store.Beacon
		// one allocation of the right size for the samples, which outlive
		// the request (they wait in the spool loader's queue)
		b.Samples = make([]rum.Sample, 0, max(1, bytes.Count(data, []byte(`"rtt_ms"`))))
		if _, err := rum.ParseBeacon(data, rum.Strict, &b.Beacon); err != nil {
			return b, reject(http.StatusBadRequest, "invalid", "%sbeacon: %v", where, err)
		}
		if !token && b.Agent.Kind != rum.KindWeb {
			return b, reject(http.StatusForbidden, "token", "%sagent.kind %q: only web beacons may come without an agent token", where, b.Agent.Kind)
		}
		if rej := s.checkSamples(&b, now, where); rej != nil {
			return b, rej
		}
		b.ClientSubnet, b.Received, b.Source = network, now, "http"
		return b, nil
	}
	if !ndjson {
		b, rej := one(body, "")
		if rej != nil {
			return nil, rej
		}
		return []store.Beacon{b}, nil
	}
	var out []store.Beacon
	line := 0
	for len(body) > 0 {
		line++
		l, rest, _ := bytes.Cut(body, []byte{'\n'})
		body = rest
		if len(bytes.TrimSpace(l)) == 0 {
			continue
		}
		b, rej := one(l, fmt.Sprintf("line %d: ", line))
		if rej != nil {
			return nil, rej
		}
		out = append(out, b)
	}
	if len(out) == 0 {
		return nil, reject(http.StatusBadRequest, "invalid", "empty batch")
	}
	return out, nil
}

// limiter is a per-network token bucket.
type limiter struct {
	rate  float64
	burst float64
	mu    sync.Mutex
	b     map[netip.Prefix]*bucket
	sweep time.Time
}

type bucket struct {
	tokens float64
	last   time.Time
}

func newLimiter(rate float64, burst int) *limiter {
	return &limiter{rate: rate, burst: float64(burst), b: map[netip.Prefix]*bucket{}}
}

// allow takes cost tokens from n's bucket; when there are too few it
// takes none and returns how long until there are enough.
func (l *limiter) allow(n netip.Prefix, cost int, now time.Time) (bool, time.Duration) {
	if l.rate <= 0 {
		return true, 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.sweep) > time.Minute {
		// forget networks whose bucket has refilled: the map stays the
		// size of the networks active in the last minute or so
		for k, b := range l.b {
			if now.Sub(b.last).Seconds()*l.rate >= l.burst {
				delete(l.b, k)
			}
		}
		l.sweep = now
	}
	b := l.b[n]
	if b == nil {
		b = &bucket{tokens: l.burst, last: now}
		l.b[n] = b
	}
	b.tokens = min(l.burst, b.tokens+now.Sub(b.last).Seconds()*l.rate)
	b.last = now
	if b.tokens < float64(cost) {
		return false, time.Duration((float64(cost) - b.tokens) / l.rate * float64(time.Second))
	}
	b.tokens -= float64(cost)
	return true, 0
}

type metrics struct {
	requests    *prometheus.CounterVec
	rejected    *prometheus.CounterVec
	beacons     *prometheus.CounterVec
	samples     prometheus.Counter
	storeErrors prometheus.Counter
	latency     prometheus.Histogram
	commit      prometheus.Histogram
	batch       prometheus.Histogram
	spoolErrors *prometheus.CounterVec
	quarantined *prometheus.CounterVec

	queryLogRequests *prometheus.CounterVec
	queries          prometheus.Counter

	reg prometheus.Registerer
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		reg: reg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "steer_collector_requests_total", Help: "Beacon requests by HTTP status code.",
		}, []string{"code"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "steer_collector_rejected_total", Help: "Rejected beacon and query log requests by reason.",
		}, []string{"reason"}),
		beacons: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "steer_collector_beacons_total", Help: "Accepted beacons: stored, or recognized as a duplicate of a stored one.",
		}, []string{"result"}),
		samples: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "steer_collector_samples_total", Help: "Samples in accepted beacons.",
		}),
		storeErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "steer_collector_store_errors_total", Help: "Failed beacon writes to the store: group commits without a spool (not acknowledged), loads from the spool (retried).",
		}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "steer_collector_request_duration_seconds", Help: "Beacon request handling time, including the wait for the group commit.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 4, 10),
		}),
		commit: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "steer_collector_commit_duration_seconds", Help: "Time of one durable group commit (to the spool when there is one, else to the store).",
			Buckets: prometheus.ExponentialBuckets(0.0005, 3, 10),
		}),
		batch: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "steer_collector_commit_beacons", Help: "Beacons per group commit.",
			Buckets: prometheus.ExponentialBuckets(1, 4, 9),
		}),
		spoolErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "steer_collector_spool_errors_total",
			Help: "Failed spool operations by spool (beacons, querylog) and operation: commit (not acknowledged), load (retried), rotate, truncate, close (recovered).",
		}, []string{"spool", "op"}),
		quarantined: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "steer_collector_spool_quarantined_total", Help: "Undecodable spool lines moved to the spool's quarantine.ndjson, by spool.",
		}, []string{"spool"}),
	}
	m.queryLogRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "steer_collector_querylog_requests_total", Help: "Query log requests (POST /querylog) by HTTP status code.",
	}, []string{"code"})
	m.queries = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "steer_collector_querylog_lines_total", Help: "DNS query log lines received over HTTP and acknowledged (durable).",
	})
	for _, c := range []prometheus.Collector{m.requests, m.rejected, m.beacons, m.samples, m.storeErrors, m.latency, m.commit, m.batch,
		m.spoolErrors, m.quarantined, m.queryLogRequests, m.queries} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// register adds the metrics read from the server's state at scrape time:
// the spools' backlogs and the loaders' lag.
func (m *metrics) register(s *Server) error {
	for _, sp := range []struct {
		name    string
		backlog func() float64
		lag     func() float64
	}{
		{"beacons", s.beacons.backlog, lagSeconds(s.beacons)},
		{"querylog", s.queries.backlog, lagSeconds(s.queries)},
	} {
		for _, c := range []prometheus.Collector{
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "steer_collector_spool_backlog_bytes", Help: "Acknowledged records in the spool not yet recorded as loaded into the store, by spool.",
				ConstLabels: prometheus.Labels{"spool": sp.name},
			}, sp.backlog),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "steer_collector_spool_load_lag_seconds", Help: "Time since the spool loader last had everything acknowledged in the store, by spool (/healthz fails past max_load_lag).",
				ConstLabels: prometheus.Labels{"spool": sp.name},
			}, sp.lag),
		} {
			if err := m.reg.Register(c); err != nil {
				return err
			}
		}
	}
	return nil
}

func lagSeconds[T any](in *intake[T]) func() float64 {
	return func() float64 {
		if in.ld == nil {
			return 0
		}
		lag, _, _, _ := in.ld.lag()
		return lag.Seconds()
	}
}
