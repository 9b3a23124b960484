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
	"net"
	"net/http"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/steer-gslb/steer/probe"
	"github.com/steer-gslb/steer/rum"
	"github.com/steer-gslb/steer/store"
	"github.com/steer-gslb/steer/web"
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
}

// Server is the collector: an http.Handler plus the group-commit loop
// that writes accepted beacons to the store.
type Server struct {
	cfg    *Config
	st     store.Store
	log    *slog.Logger
	now    func() time.Time
	reg    *prometheus.Registry
	m      *metrics
	mux    *http.ServeMux
	tokens map[[32]byte]bool
	// logTokens are the query log tokens (POST /querylog)
	logTokens map[[32]byte]bool
	origins   map[string]bool
	anyOrig   bool
	limiter   *limiter
	pops      []byte // /rum/pops.json

	jobs     chan *job
	stop     chan struct{}
	done     chan struct{}
	sp       *spool
	ld       *loader
	ldStop   chan struct{}
	ldDone   chan error
	closeMu  sync.RWMutex
	closed   bool
	stopOnce sync.Once
}

// job is one request's beacons waiting for a group commit.
type job struct {
	beacons []store.Beacon
	done    chan error
}

// New returns a collector writing to st. Call Close to stop it; Close does
// not close st.
func New(cfg *Config, st store.Store, opt Options) (*Server, error) {
	if cfg == nil {
		cfg = Defaults()
	}
	s := &Server{
		cfg: cfg, st: st, log: opt.Logger, now: opt.Now, reg: opt.Registry,
		tokens: map[[32]byte]bool{}, origins: map[string]bool{},
		jobs: make(chan *job, 1024), stop: make(chan struct{}), done: make(chan struct{}),
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

	s.mux = http.NewServeMux()
	s.mux.HandleFunc("/beacon", s.serveBeacon)
	s.mux.HandleFunc("/rum/beacon", s.serveBeacon)
	s.mux.Handle("/rum/probe", probe.Handler(cfg.PoP))
	s.mux.Handle("/rum.js", web.Handler())
	s.mux.HandleFunc("/rum/pops.json", s.servePoPs)
	s.mux.HandleFunc("/querylog", s.serveQueryLog)
	s.mux.Handle("/metrics", promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{}))
	s.mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok\n") })
	if opt.SpoolDir != "" {
		sp, err := openSpool(opt.SpoolDir)
		if err != nil {
			return nil, err
		}
		s.sp = sp
		s.ld = &loader{sp: sp, st: st, batch: opt.LoadBatch, interval: opt.LoadInterval, mem: make(chan memBatch, 4096),
			onLoad: s.loaded, backlog: func(b int64) { s.m.backlog.Set(float64(b)) }}
		if s.ld.batch <= 0 {
			s.ld.batch = 50_000
		}
		if s.ld.interval <= 0 {
			s.ld.interval = time.Second
		}
		s.ldStop, s.ldDone = make(chan struct{}), make(chan error, 1)
		go func() {
			err := s.ld.run(s.ldStop)
			if err != nil {
				// acknowledged beacons stay in the spool for the next start
				s.m.storeErrors.Inc()
				s.log.Error("the spool loader stopped; beacons keep being spooled but not loaded until restart", "error", err)
			}
			s.ldDone <- err
		}()
	}
	go s.commitLoop()
	return s, nil
}

// loaded accounts for beacons written to the store.
func (s *Server) loaded(res store.AddResult, beacons, samples int, err error) {
	if err != nil {
		s.m.storeErrors.Inc()
		s.log.Error("loading spooled beacons into the store", "beacons", beacons, "error", err)
		return
	}
	s.m.beacons.WithLabelValues("stored").Add(float64(res.Added))
	s.m.beacons.WithLabelValues("duplicate").Add(float64(res.Duplicates))
	s.m.samples.Add(float64(samples))
}

// ServeHTTP serves the collector's endpoints.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Close stops accepting beacons, commits what is queued, loads everything
// spooled into the store and stops. It returns the loader's error, if any
// (the spool keeps what was not loaded, for the next start).
func (s *Server) Close() error {
	var err error
	s.stopOnce.Do(func() {
		s.closeMu.Lock()
		s.closed = true
		s.closeMu.Unlock()
		close(s.stop)
		<-s.done
		if s.sp != nil {
			close(s.ldStop)
			err = errors.Join(<-s.ldDone, s.sp.close())
		}
	})
	return err
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
	code   int
	reason string // metric label
	msg    string
}

func (e *rejection) Error() string { return e.msg }

// write sends the rejection as a plain-text answer naming the problem.
func (e *rejection) write(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(e.code)
	_, _ = io.WriteString(w, e.msg+"\n")
}

func reject(code int, reason, format string, args ...any) *rejection {
	return &rejection{code, reason, fmt.Sprintf(format, args...)}
}

// network derives the client network from the connection, or from the
// proxy header when the peer is a trusted proxy: the rightmost address
// that is not itself a trusted proxy.
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
		t, ok := strings.CutPrefix(h, "Bearer ")
		if !ok || !s.tokens[sha256.Sum256([]byte(strings.TrimSpace(t)))] {
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
		if rej.code == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", "1")
		}
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
	if !s.limiter.allow(network, len(bs), s.now()) {
		return 0, reject(http.StatusTooManyRequests, "rate", "too many beacons from %v: at most %v per second", network, s.cfg.Rate)
	}
	if err := s.commit(r.Context(), bs); err != nil {
		if r.Context().Err() != nil {
			// the client went away before its commit: it gets no answer,
			// and a resend is recognized as a duplicate
			s.log.Debug("client gone before the commit", "network", network)
			return 0, reject(499, "canceled", "canceled")
		}
		s.log.Warn("beacon not stored", "network", network, "error", err)
		return 0, reject(http.StatusServiceUnavailable, "store", "not stored: %v", err)
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

// commit queues beacons for the next group commit and waits until they
// are durable.
func (s *Server) commit(ctx context.Context, bs []store.Beacon) error {
	s.closeMu.RLock()
	if s.closed {
		s.closeMu.RUnlock()
		return errors.New("collector shutting down")
	}
	j := &job{beacons: bs, done: make(chan error, 1)}
	s.jobs <- j
	s.closeMu.RUnlock()
	// The commit goes ahead even if the client gives up: the beacon may
	// then be stored without an acknowledgement (at-least-once; a resend
	// is recognized as a duplicate).
	select {
	case err := <-j.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// commitLoop writes queued beacons in group commits: it takes everything
// queued while the previous commit ran (up to CommitBatch beacons), so a
// lone beacon is written at once and a flood in few large transactions.
func (s *Server) commitLoop() {
	defer close(s.done)
	var batch []*job
	var bs []store.Beacon
	for {
		var first *job
		select {
		case first = <-s.jobs:
		case <-s.stop:
			// drain what was queued before Close
			for {
				select {
				case j := <-s.jobs:
					s.write([]*job{j}, j.beacons)
				default:
					return
				}
			}
		}
		batch = append(batch[:0], first)
		bs = append(bs[:0], first.beacons...)
	fill:
		for len(bs) < s.cfg.CommitBatch {
			select {
			case j := <-s.jobs:
				batch = append(batch, j)
				bs = append(bs, j.beacons...)
			default:
				break fill
			}
		}
		s.write(batch, bs)
	}
}

func (s *Server) write(batch []*job, bs []store.Beacon) {
	t0 := time.Now()
	var err error
	if s.sp != nil {
		var start, end position
		start, end, err = s.sp.append(bs)
		if err == nil {
			select {
			case s.ld.mem <- memBatch{start, end, slices.Clone(bs)}:
			default: // the loader is behind: it reads the files instead
			}
		}
	} else {
		ctx, cancel := context.WithTimeout(context.Background(), commitDeadline)
		var res store.AddResult
		res, err = s.st.AddBeacons(ctx, bs)
		cancel()
		n := 0
		for i := range bs {
			n += len(bs[i].Samples)
		}
		s.loaded(res, len(bs), n, err)
	}
	s.m.commit.Observe(time.Since(t0).Seconds())
	s.m.batch.Observe(float64(len(bs)))
	if err != nil && s.sp != nil {
		s.m.storeErrors.Inc()
	}
	for _, j := range batch {
		j.done <- err
	}
}

// Serve runs the collector on l until ctx is done, then shuts down
// gracefully: no new requests, in-flight ones finish, queued beacons are
// committed.
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	hs := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          s.ErrorLog(),
	}
	errc := make(chan error, 1)
	go func() {
		if s.cfg.TLSCert != "" {
			errc <- hs.ServeTLS(l, s.cfg.TLSCert, s.cfg.TLSKey)
		} else {
			errc <- hs.Serve(l)
		}
	}()
	var err error
	select {
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err = hs.Shutdown(sctx)
		cancel()
	case err = <-errc:
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return errors.Join(err, s.Close())
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

func (l *limiter) allow(n netip.Prefix, cost int, now time.Time) bool {
	if l.rate <= 0 {
		return true
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
		return false
	}
	b.tokens -= float64(cost)
	return true
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
	backlog     prometheus.Gauge

	queryLogRequests *prometheus.CounterVec
	queries          prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "steer_collector_requests_total", Help: "Beacon requests by HTTP status code.",
		}, []string{"code"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "steer_collector_rejected_total", Help: "Rejected beacon requests by reason.",
		}, []string{"reason"}),
		beacons: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "steer_collector_beacons_total", Help: "Accepted beacons: stored, or recognized as a duplicate of a stored one.",
		}, []string{"result"}),
		samples: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "steer_collector_samples_total", Help: "Samples in accepted beacons.",
		}),
		storeErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "steer_collector_store_errors_total", Help: "Failed group commits (not acknowledged) and failed loads from the spool (retried).",
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
	}
	m.backlog = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "steer_collector_spool_backlog_bytes", Help: "Acknowledged beacons in the spool not yet loaded into the store.",
	})
	m.queryLogRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "steer_collector_querylog_requests_total", Help: "Query log requests (POST /querylog) by HTTP status code.",
	}, []string{"code"})
	m.queries = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "steer_collector_querylog_lines_total", Help: "DNS query log lines received over HTTP and stored.",
	})
	for _, c := range []prometheus.Collector{m.requests, m.rejected, m.beacons, m.samples, m.storeErrors, m.latency, m.commit, m.batch, m.backlog,
		m.queryLogRequests, m.queries} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}
