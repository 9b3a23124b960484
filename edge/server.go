package edge

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/steer-gslb/steer/edge/loadreport"
	"github.com/steer-gslb/steer/probe"
	"github.com/steer-gslb/steer/steertoken"
	"github.com/steer-gslb/steer/web"
)

// Header names the edge sets.
const (
	HeaderRequestID = "X-Request-ID"
	HeaderEdgePoP   = probe.HeaderEdgePoP
	// TokenName is the cookie and query parameter a steering token comes in.
	TokenName = "steer_token"
)

// canonical header keys, to index header maps without canonicalising
const (
	keyRequestID = "X-Request-Id"
	keyEdgePoP   = "X-Edge-Pop"
	keyConn      = "Connection"
)

var hdrClose = []string{"close"}

// h2MaxReadFrameSize is the largest HTTP/2 frame the edge reads: the
// protocol's initial SETTINGS_MAX_FRAME_SIZE.
const h2MaxReadFrameSize = 16 << 10

// acceptQueueDrain is how long a drain lets the accept loops empty the
// kernel's queue before the listeners close.
const acceptQueueDrain = 50 * time.Millisecond

// Options are the parts of a Server that are not configuration.
type Options struct {
	// Logger receives the edge's logs (default slog.Default()). No client
	// address is ever logged, only its /24 or /56 network.
	Logger *slog.Logger
	// OnRequest, when set, is called once for each finished request, on
	// the request's goroutine. The RequestInfo is reused afterwards: copy
	// what you keep. This is where the access log and TCP_INFO hook in.
	OnRequest func(*RequestInfo)
}

// RequestInfo describes a finished request, for [Options.OnRequest].
type RequestInfo struct {
	// Conn is the client's TCP connection (beneath TLS): read TCP_INFO
	// from it. Do not read from, write to or close it.
	Conn net.Conn
	// ID is the request ID sent upstream and echoed to the client.
	ID string
	// Client is the client's /24 (IPv4) or /56 (IPv6) network, never the
	// full address.
	Client          netip.Prefix
	Start           time.Time
	Duration        time.Duration
	Method, Host    string
	Path, Proto     string
	TLSVersion      uint16 // 0 for plain HTTP
	Status          int
	BytesIn         int64 // request body bytes read
	BytesOut        int64 // response body bytes written
	Route, Upstream string
	// Token is the steering token result on a route that checks tokens:
	// "ok", "missing" or the rejection reason; "" when not checked.
	Token string
	// UpstreamDuration is the time from sending the request upstream to
	// its response header.
	UpstreamDuration time.Duration
	// Err is the upstream error of a request that got no upstream answer.
	Err error
}

// Server is a running edge proxy: the HTTPS listener (and optional plain
// HTTP and admin listeners), the drain state and the current config
// snapshot (routes, upstream pools, certificates, token keys …), which
// Reload replaces.
type Server struct {
	file      string // the config file Reload reads
	log       *slog.Logger
	m         *metrics
	snap      atomic.Pointer[snapshot]
	onRequest func(*RequestInfo) // Options.OnRequest
	meter     *loadreport.Meter  // requests/s for the load report
	buffers   bufferPool         // the proxies' copy buffers
	infoPool  sync.Pool

	reloadMu    sync.Mutex // serialises reloads; guards the fields below
	failedStamp fileStamp  // the config file that last failed to load
	runCtx      context.Context
	repRunning  *loadreport.Reporter
	repCancel   context.CancelFunc
	stopped     bool

	ln, lnHTTP, lnAdmin    net.Listener
	srv, srvHTTP, srvAdmin *http.Server

	draining  atomic.Bool
	fresh     atomic.Int64 // client connections that sent no request yet
	freshConn sync.Map     // net.Conn → struct{} for those
	drainCh   chan struct{}
	drainOnce sync.Once
}

type ctxKey int

const (
	connKey ctxKey = iota
	stateKey
)

// reqState travels in the request context to the proxy's hooks.
type reqState struct {
	info  *RequestInfo
	up    string
	start time.Time
}

// New builds a Server from cfg: it loads the certificates, the token key
// set and the upstream CA files, opens the access log, and opens the
// listeners (so that [Server.Addr] is known), but serves nothing until
// [Server.Run]. [Server.Reload] re-reads cfg.File.
func New(cfg *Config, opts Options) (*Server, error) {
	logger := opts.Logger
	if logger == nil {
		logger = slog.Default()
	}
	s := &Server{
		file:      cfg.File,
		log:       logger,
		m:         newMetrics(),
		onRequest: opts.OnRequest,
		meter:     loadreport.NewMeter(),
		drainCh:   make(chan struct{}),
	}
	s.infoPool.New = func() any { return new(RequestInfo) }
	var stamp fileStamp
	if cfg.File != "" {
		stamp, _ = stampOf(cfg.File)
	}
	sn, _, err := s.build(cfg, stamp, nil)
	if err != nil {
		return nil, fmt.Errorf("edge: %w", err)
	}
	s.snap.Store(sn)
	s.m.configLastOK.Set(1)
	s.m.configLastOKTime.Set(float64(time.Now().UnixNano()) / 1e9)
	if err := s.listen(cfg); err != nil {
		s.closeListeners()
		sn.retire()
		return nil, err
	}
	return s, nil
}

// modifyResponse drops the origin's own X-Edge-PoP and X-Request-ID so
// that the edge's (already in the response header) are the only ones.
func modifyResponse(resp *http.Response) error {
	if st, ok := resp.Request.Context().Value(stateKey).(*reqState); ok {
		st.info.UpstreamDuration = time.Since(st.start)
	}
	delete(resp.Header, keyEdgePoP)
	delete(resp.Header, keyRequestID)
	return nil
}

// proxyError answers a request the upstream did not: 502, or 504 on a
// timeout; a pin mismatch is logged loudly.
func (s *Server) proxyError(w http.ResponseWriter, r *http.Request, err error) {
	st, _ := r.Context().Value(stateKey).(*reqState)
	name := ""
	if st != nil {
		name = st.up
		st.info.Err = err
	}
	if r.Context().Err() != nil && errors.Is(err, context.Canceled) {
		// The client went away; nobody reads an answer.
		s.m.upstreamErrs.WithLabelValues(name, "canceled").Inc()
		w.WriteHeader(499)
		return
	}
	var pe *PinError
	var ne net.Error
	code, kind := http.StatusBadGateway, "error"
	switch {
	case errors.As(err, &pe):
		kind = "pin"
		s.log.Error("upstream certificate pin mismatch: refusing the origin (fail closed)",
			"upstream", name, "got_spki_sha256", pe.Got, "err", err)
	case errors.As(err, &ne) && ne.Timeout():
		code, kind = http.StatusGatewayTimeout, "timeout"
		s.log.Warn("upstream timeout", "upstream", name, "err", err)
	default:
		s.log.Warn("upstream error", "upstream", name, "err", redactAddrs(err.Error()))
	}
	s.m.upstreamErrs.WithLabelValues(name, kind).Inc()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(code)
	_, _ = io.WriteString(w, http.StatusText(code)+"\n")
}

// listen opens the listeners and makes the servers of cfg: what they
// take from it needs a restart to change (see restartOnly).
func (s *Server) listen(cfg *Config) error {
	var err error
	if s.ln, err = net.Listen("tcp", cfg.Listen); err != nil {
		return fmt.Errorf("edge: listen: %w", err)
	}
	if cfg.ListenHTTP != "" {
		if s.lnHTTP, err = net.Listen("tcp", cfg.ListenHTTP); err != nil {
			return fmt.Errorf("edge: listen_http: %w", err)
		}
	}
	if cfg.Admin != "" {
		if s.lnAdmin, err = net.Listen("tcp", cfg.Admin); err != nil {
			return fmt.Errorf("edge: admin: %w", err)
		}
	}
	// One limit for both client listeners.
	sem := make(chan struct{}, cfg.MaxConns)
	s.ln = newLimitListener(s.ln, sem)
	if s.lnHTTP != nil {
		s.lnHTTP = newLimitListener(s.lnHTTP, sem)
	}

	errLog := log.New(&serverErrorLog{log: s.log}, "", 0)
	tc := &tls.Config{
		MinVersion:             tls.VersionTLS12,
		CipherSuites:           serverCipherSuites,
		NextProtos:             []string{"h2", "http/1.1"},
		GetCertificate:         s.getCertificate,
		SessionTicketsDisabled: cfg.NoSessionTickets,
		VerifyConnection: func(cs tls.ConnectionState) error {
			s.m.handshakes.WithLabelValues(tls.VersionName(cs.Version), strconv.FormatBool(cs.DidResume)).Inc()
			return nil
		},
	}
	t := &cfg.Timeouts
	newSrv := func() *http.Server {
		return &http.Server{
			Handler:           s,
			ReadHeaderTimeout: t.ReadHeader,
			ReadTimeout:       t.Read,
			WriteTimeout:      t.Write,
			IdleTimeout:       t.Idle,
			MaxHeaderBytes:    cfg.MaxHeaderBytes,
			ErrorLog:          errLog,
			ConnContext:       connContext,
			ConnState:         s.connState,
			// Accept HTTP/2 frames up to the protocol's default 16 KiB
			// (Go's own default is 1 MiB): a larger frame is the
			// FRAME_SIZE_ERROR RFC 9113 §4.2 asks for (h2spec 4.2/3), and
			// no client needs more.
			HTTP2: &http.HTTP2Config{MaxReadFrameSize: h2MaxReadFrameSize},
		}
	}
	s.srv = newSrv()
	s.srv.TLSConfig = tc
	if s.lnHTTP != nil {
		s.srvHTTP = newSrv()
	}
	if s.lnAdmin != nil {
		mux := http.NewServeMux()
		mux.HandleFunc("/healthz", s.serveHealth)
		mux.HandleFunc("/drain", s.serveDrain)
		mux.Handle("/metrics", promhttp.HandlerFor(s.m.reg, promhttp.HandlerOpts{}))
		s.srvAdmin = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, IdleTimeout: time.Minute, ErrorLog: errLog}
	}
	return nil
}

// getCertificate answers a TLS handshake with the current certificates.
func (s *Server) getCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	return s.snap.Load().certs.getCertificate(hello)
}

// connState counts the connections that sent no request yet.
func (s *Server) connState(c net.Conn, st http.ConnState) {
	if st == http.StateNew {
		s.freshConn.Store(c, struct{}{})
		s.fresh.Add(1)
		return
	}
	if _, ok := s.freshConn.LoadAndDelete(c); ok {
		s.fresh.Add(-1)
	}
}

func (s *Server) closeListeners() {
	for _, l := range []net.Listener{s.ln, s.lnHTTP, s.lnAdmin} {
		if l != nil {
			_ = l.Close()
		}
	}
}

// Addr is the HTTPS listener's address.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// HTTPAddr is the plain HTTP listener's address, nil without one.
func (s *Server) HTTPAddr() net.Addr {
	if s.lnHTTP == nil {
		return nil
	}
	return s.lnHTTP.Addr()
}

// AdminAddr is the admin listener's address, nil without one.
func (s *Server) AdminAddr() net.Addr {
	if s.lnAdmin == nil {
		return nil
	}
	return s.lnAdmin.Addr()
}

// Draining reports whether the edge drains.
func (s *Server) Draining() bool { return s.draining.Load() }

// Drain starts a graceful drain: health reports draining at once,
// keep-alive connections are closed after their current request (HTTP/2:
// GOAWAY), new connections are still accepted for drain_grace, then the
// listeners close and in-flight requests finish; Run returns then.
func (s *Server) Drain() {
	s.drainOnce.Do(func() {
		s.draining.Store(true)
		s.m.draining.Set(1)
		cfg := s.snap.Load().cfg
		s.log.Info("draining", "grace", cfg.DrainGrace, "timeout", cfg.DrainTimeout)
		// Keep-alive connections close after their next response
		// (ServeHTTP adds Connection: close), not at once: closing an
		// idle connection races a client sending on it.
		close(s.drainCh)
	})
}

// ReloadCertificates reloads the certificate files now (as on SIGHUP),
// keeping the old certificates if one fails to load.
func (s *Server) ReloadCertificates() { s.snap.Load().certs.Reload(true) }

// ReopenAccessLog reopens the access log file (after an external move,
// on SIGHUP).
func (s *Server) ReopenAccessLog() {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	if s.stopped {
		return // closed by Run
	}
	if al := s.snap.Load().alog; al != nil {
		if err := al.w.Reopen(); err != nil {
			s.log.Error("reopening the access log", "path", al.opts.Path, "err", err)
		}
	}
}

// Run serves until ctx is done or Drain is called, then drains: it
// returns nil once every in-flight request finished, or an error if the
// drain timed out or a listener failed.
func (s *Server) Run(ctx context.Context) error {
	bg, cancel := context.WithCancel(context.Background())
	defer cancel()
	go s.watchCerts(bg)
	go s.watchConfig(bg)
	s.reloadMu.Lock()
	s.runCtx = bg
	sn := s.snap.Load()
	s.syncReporter(sn)
	s.reloadMu.Unlock()
	for _, u := range sn.upstreams {
		go u.prewarm(bg, u.cfg.Prewarm, s.log)
	}
	errc := make(chan error, 3)
	serve := func(name string, f func() error) {
		err := f()
		if err != nil && !errors.Is(err, http.ErrServerClosed) && (!s.draining.Load() || !errors.Is(err, net.ErrClosed)) {
			errc <- fmt.Errorf("edge: %s: %w", name, err)
		}
	}
	go serve("https", func() error { return s.srv.ServeTLS(s.ln, "", "") })
	if s.srvHTTP != nil {
		go serve("http", func() error { return s.srvHTTP.Serve(s.lnHTTP) })
	}
	if s.srvAdmin != nil {
		go serve("admin", func() error { return s.srvAdmin.Serve(s.lnAdmin) })
	}
	s.log.Info("edge serving", "pop", sn.cfg.PoP, "https", s.Addr().String(), "http", addrString(s.HTTPAddr()), "admin", addrString(s.AdminAddr()))

	var runErr error
	select {
	case <-ctx.Done():
		s.Drain()
	case <-s.drainCh:
	case runErr = <-errc:
		s.Drain()
	}
	if runErr == nil {
		grace := time.NewTimer(s.snap.Load().cfg.DrainGrace)
		select {
		case <-grace.C:
		case runErr = <-errc:
			grace.Stop()
		}
	}
	s.log.Info("drain: closing listeners, finishing in-flight requests")
	for _, l := range []net.Listener{s.ln, s.lnHTTP} {
		if l != nil {
			shrinkBacklog(l)
		}
	}
	// Let the accept loops take what was queued before the backlog shrank,
	// then stop accepting. A connection accepted but whose first request
	// is not read yet would be closed unanswered by http.Server.Shutdown,
	// so wait (at most read_header) until each has sent its request.
	time.Sleep(acceptQueueDrain)
	for _, l := range []net.Listener{s.ln, s.lnHTTP} {
		if l != nil {
			_ = l.Close()
		}
	}
	// No reload from here on: the config is the one the drain finishes with.
	s.reloadMu.Lock()
	s.stopped = true
	cfg := s.snap.Load().cfg
	s.reloadMu.Unlock()
	deadline := time.Now().Add(min(cfg.Timeouts.ReadHeader, 5*time.Second))
	for s.fresh.Load() > 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	sctx, scancel := context.WithTimeout(context.Background(), cfg.DrainTimeout)
	defer scancel()
	var wg sync.WaitGroup
	var shutErr error
	var mu sync.Mutex
	for _, srv := range []*http.Server{s.srv, s.srvHTTP} {
		if srv == nil {
			continue
		}
		wg.Go(func() {
			if err := srv.Shutdown(sctx); err != nil {
				_ = srv.Close()
				mu.Lock()
				shutErr = fmt.Errorf("edge: drain timeout after %s: closed the remaining connections", cfg.DrainTimeout)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if s.srvAdmin != nil {
		_ = s.srvAdmin.Close()
	}
	// The snapshot stays current (a straggler of a timed-out drain may
	// still use it): close what it holds without retiring it.
	sn = s.snap.Load()
	for _, u := range sn.upstreams {
		u.pool.tr.CloseIdleConnections()
	}
	if sn.alog != nil {
		if err := sn.alog.w.Close(); err != nil {
			s.log.Error("closing the access log", "err", err)
		}
	}
	s.log.Info("drained")
	return errors.Join(runErr, shutErr)
}

func addrString(a net.Addr) string {
	if a == nil {
		return ""
	}
	return a.String()
}

func (s *Server) serveHealth(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header()[keyEdgePoP] = s.snap.Load().popHdr
	if s.draining.Load() {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, "draining\n")
		return
	}
	_, _ = io.WriteString(w, "ok\n")
}

func (s *Server) serveDrain(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "use POST /drain", http.StatusMethodNotAllowed)
		return
	}
	s.Drain()
	w.WriteHeader(http.StatusAccepted)
	_, _ = io.WriteString(w, "draining\n")
}

// newID is a request ID: the PoP label, the time in milliseconds (base
// 36) and 32 random bits (hex): fra-m1x2k3l4-9f3e2a1b. IDs sort by time
// within a PoP and are unique with overwhelming probability.
func newID(pop string, t time.Time) string {
	var buf [64]byte
	b := append(buf[:0], pop...)
	b = append(b, '-')
	b = strconv.AppendUint(b, uint64(t.UnixMilli()), 36)
	b = append(b, '-')
	r := rand.Uint32()
	const hex = "0123456789abcdef"
	for i := 28; i >= 0; i -= 4 {
		b = append(b, hex[(r>>uint(i))&0xf])
	}
	return string(b)
}

// ServeHTTP is the edge's request handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	// The snapshot this request uses from start to end, whatever reloads
	// happen meanwhile.
	sn := s.acquire()
	defer sn.release()
	id := newID(sn.cfg.PoP, start)
	h := w.Header()
	h[keyEdgePoP] = sn.popHdr
	h[keyRequestID] = []string{id}
	if s.draining.Load() {
		h[keyConn] = hdrClose // HTTP/1.1: close after this response; HTTP/2: GOAWAY
	}
	s.m.inflight.Inc()
	defer s.m.inflight.Dec()

	info := s.infoPool.Get().(*RequestInfo)
	*info = RequestInfo{ID: id, Start: start, Method: r.Method, Host: r.Host, Path: r.URL.Path, Proto: r.Proto}
	if c, ok := r.Context().Value(connKey).(net.Conn); ok {
		info.Conn = c
	}
	if r.TLS != nil {
		info.TLSVersion = r.TLS.Version
	}
	var client netip.Addr
	if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
		client = ap.Addr().Unmap()
		info.Client = steertoken.ClientNetwork(client)
	}
	rw := &respWriter{ResponseWriter: w}
	routeLabel := "probe"
	defer func() {
		info.Duration = time.Since(start)
		info.Status = rw.status
		if info.Status == 0 {
			info.Status = http.StatusOK
		}
		info.BytesOut = rw.n
		s.m.bytesOut.Add(float64(rw.n))
		s.m.requests.WithLabelValues(routeLabel, codeClass(info.Status)).Inc()
		s.m.duration.WithLabelValues(routeLabel).Observe(info.Duration.Seconds())
		if sn.onRequest != nil {
			sn.onRequest(info)
		}
		info.Conn, info.Err = nil, nil
		s.infoPool.Put(info)
	}()

	if r.URL.Path == probe.Path {
		sn.probe.ServeHTTP(rw, r)
		return
	}
	if sn.debug != nil && (r.URL.Path == web.DebugPath || r.URL.Path == web.DebugScriptPath) {
		routeLabel = "debug"
		sn.debug.ServeHTTP(rw, r)
		return
	}
	rt := sn.route(r.URL.Path)
	if rt == nil {
		routeLabel = "none"
		http.Error(rw, "no route", http.StatusNotFound)
		return
	}
	routeLabel = rt.PathPrefix
	info.Route, info.Upstream = rt.PathPrefix, rt.Upstream
	if rt.Token != TokenOff {
		info.Token = checkToken(sn, r, client)
		s.m.tokens.WithLabelValues(rt.PathPrefix, rt.Token, info.Token).Inc()
		if info.Token != "ok" && rt.Token == TokenReject {
			http.Error(rw, "steering token rejected: "+info.Token, http.StatusForbidden)
			return
		}
	}
	r.Header[keyRequestID] = []string{id}
	if r.Body != nil && r.Body != http.NoBody && r.ContentLength != 0 {
		cb := &countingBody{ReadCloser: r.Body, idle: sn.cfg.Timeouts.BodyIdle}
		if cb.idle > 0 {
			cb.rc = http.NewResponseController(w)
		}
		r.Body = cb
		defer func() {
			cb.handlerDone()
			info.BytesIn = cb.n.Load()
			s.m.bytesIn.Add(float64(info.BytesIn))
		}()
	}
	ctx := context.WithValue(r.Context(), stateKey, &reqState{info: info, up: rt.Upstream, start: time.Now()})
	rt.up.proxy.ServeHTTP(rw, r.WithContext(ctx))
}

// checkToken verifies the request's steering token (cookie, then query)
// and returns "ok", "missing" or why it is rejected.
func checkToken(sn *snapshot, r *http.Request, client netip.Addr) string {
	tok := ""
	if c, err := r.Cookie(TokenName); err == nil {
		tok = c.Value
	} else if strings.Contains(r.URL.RawQuery, TokenName) {
		tok = r.URL.Query().Get(TokenName)
	}
	if tok == "" {
		return "missing"
	}
	claims, err := steertoken.Verify(sn.keys, tok, time.Now(), client)
	if err != nil {
		if reason := steertoken.ReasonOf(err); reason != 0 {
			return reason.String()
		}
		return "invalid"
	}
	if claims.PoP != sn.cfg.PoP {
		return "wrong pop"
	}
	return "ok"
}

// respWriter records the status and the body bytes of a response. It
// unwraps to the server's ResponseWriter, so that http.ResponseController
// (flushing, hijacking for upgrades, deadlines) reaches it.
type respWriter struct {
	http.ResponseWriter
	status int
	n      int64
}

func (w *respWriter) WriteHeader(code int) {
	if w.status == 0 && code >= 200 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *respWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.n += int64(n)
	return n, err
}

func (w *respWriter) Flush() { _ = http.NewResponseController(w.ResponseWriter).Flush() }

func (w *respWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// countingBody counts the request body bytes read. The transport may
// still be reading the body when the response is done (an origin that
// answers before the whole upload), so the count is atomic. With idle set,
// each read must get data within idle (timeouts.body_idle): the
// connection's (HTTP/2: the stream's) read deadline moves before each read
// and is cleared at the end of the body, so a long response after an
// upload is not cut.
//
// The transport may read the body after the handler returned (an origin
// that answered early); the ResponseController must not be used then (an
// HTTP/2 stream's writer is gone), so deadlines are set only while the
// handler runs.
type countingBody struct {
	io.ReadCloser
	n    atomic.Int64
	idle time.Duration
	rc   *http.ResponseController

	mu   sync.Mutex
	done bool // the handler returned
}

func (b *countingBody) Read(p []byte) (int, error) {
	if b.rc != nil {
		b.deadline(time.Now().Add(b.idle))
	}
	n, err := b.ReadCloser.Read(p)
	b.n.Add(int64(n))
	if err != nil && b.rc != nil {
		b.deadline(time.Time{})
	}
	return n, err
}

// deadline sets the read deadline while the handler runs.
func (b *countingBody) deadline(t time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.done {
		_ = b.rc.SetReadDeadline(t)
	}
}

// handlerDone is called as the handler returns: no deadline is set after.
func (b *countingBody) handlerDone() {
	b.mu.Lock()
	b.done = true
	b.mu.Unlock()
}

// connContext keeps the client's TCP connection in the context, for
// RequestInfo.Conn.
func connContext(ctx context.Context, c net.Conn) context.Context {
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	if lc, ok := c.(*limitConn); ok {
		c = lc.Conn
	}
	return context.WithValue(ctx, connKey, c)
}

// limitListener bounds the open client connections: Accept waits while
// the limit is reached (new connections queue in the kernel's backlog).
type limitListener struct {
	net.Listener
	sem       chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

func newLimitListener(l net.Listener, sem chan struct{}) *limitListener {
	return &limitListener{Listener: l, sem: sem, done: make(chan struct{})}
}

func (l *limitListener) Accept() (net.Conn, error) {
	select {
	case l.sem <- struct{}{}:
	case <-l.done:
		return nil, net.ErrClosed
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.sem
		return nil, err
	}
	return &limitConn{Conn: c, release: func() { <-l.sem }}, nil
}

func (l *limitListener) Close() error {
	err := net.ErrClosed
	l.closeOnce.Do(func() {
		close(l.done)
		err = l.Listener.Close()
	})
	if errors.Is(err, net.ErrClosed) {
		return nil // closed by the drain before http.Server.Shutdown
	}
	return err
}

type limitConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}

// serverErrorLog takes net/http's error log (TLS handshake errors and the
// like, which name the client's address) and logs it at debug level with
// every address truncated to its /24 or /56.
type serverErrorLog struct{ log *slog.Logger }

func (l *serverErrorLog) Write(p []byte) (int, error) {
	l.log.Debug("http server", "msg", redactAddrs(strings.TrimSpace(string(p))))
	return len(p), nil
}

var (
	ipv4PortRE = regexp.MustCompile(`\b(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})(:\d+)?\b`)
	ipv6PortRE = regexp.MustCompile(`\[([0-9A-Fa-f:.%a-z]+)\](:\d+)?`)
)

// redactAddrs replaces every IP address in s by its /24 or /56 network.
func redactAddrs(s string) string {
	trunc := func(a string) string {
		addr, err := netip.ParseAddr(a)
		if err != nil {
			return "redacted"
		}
		return steertoken.ClientNetwork(addr).String()
	}
	s = ipv4PortRE.ReplaceAllStringFunc(s, func(m string) string {
		return trunc(ipv4PortRE.FindStringSubmatch(m)[1])
	})
	return ipv6PortRE.ReplaceAllStringFunc(s, func(m string) string {
		return trunc(ipv6PortRE.FindStringSubmatch(m)[1])
	})
}

// RunFile loads the config at path and runs the edge until ctx is done
// (SIGTERM, SIGINT), draining on the way out. SIGHUP reloads the config
// ([Server.Reload]), the certificates and reopens the access log; a change
// of the config file reloads it too (reload.watch). It is `steer edge` and
// steer-edge.
func RunFile(ctx context.Context, path string, opts Options) error {
	cfg, err := LoadConfig(path)
	if err != nil {
		return err
	}
	s, err := New(cfg, opts)
	if err != nil {
		return err
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	done := make(chan struct{})
	defer close(done)
	go func() {
		for {
			select {
			case <-hup:
				_ = s.Reload("SIGHUP") // logged and counted by Reload
				s.ReloadCertificates()
				s.ReopenAccessLog()
			case <-done:
				return
			}
		}
	}()
	return s.Run(ctx)
}
