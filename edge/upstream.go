package edge

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/http/httputil"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// serverCipherSuites are the TLS 1.2 suites the edge offers and accepts
// upstream: ECDHE key exchange (forward secrecy) with an AEAD only. TLS
// 1.3's suites all qualify and are not configurable.
var serverCipherSuites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

// PinError is an upstream TLS handshake refused because no certificate
// of the verified chain has a pinned SubjectPublicKeyInfo.
type PinError struct {
	Upstream string
	Got      string // base64 SHA-256 of the leaf's SPKI
}

func (e *PinError) Error() string {
	return fmt.Sprintf("upstream %s: certificate pin mismatch: leaf SPKI sha256 %s matches no pin_spki_sha256 (nor does any chain certificate)", e.Upstream, e.Got)
}

// SPKIHash is the pin of a certificate: the base64 SHA-256 of its
// SubjectPublicKeyInfo, as pin_spki_sha256 takes it (and as
// `openssl x509 -pubkey | openssl pkey -pubin -outform der | openssl dgst
// -sha256 -binary | base64` prints).
func SPKIHash(c *x509.Certificate) string {
	h := sha256.Sum256(c.RawSubjectPublicKeyInfo)
	return base64.StdEncoding.EncodeToString(h[:])
}

// upstream is one origin as a config snapshot has it: its connection
// pool and the reverse proxy in front of it.
type upstream struct {
	cfg   Upstream
	pool  *pool
	proxy *httputil.ReverseProxy
}

// pool is an upstream's transport: its kept-alive connections. A reload
// whose upstream is unchanged (same poolKey) shares the pool, so its warm
// connections survive; the snapshots holding a pool count in holders, and
// the last one to go closes its idle connections.
type pool struct {
	key     string
	tr      *http.Transport
	holders atomic.Int32
}

// hold adds a snapshot holding p.
func (p *pool) hold() *pool {
	p.holders.Add(1)
	return p
}

// unhold drops a snapshot's hold; the last closes the idle connections
// (no request uses the pool any more).
func (p *pool) unhold() {
	if p.holders.Add(-1) == 0 {
		p.tr.CloseIdleConnections()
	}
}

// poolKey is what a pool depends on: two upstreams with the same key can
// share a transport. The CA file is read here (its contents are part of the
// key: a replaced CA file makes a new pool) and returned for newTransport.
func poolKey(u *Upstream, t *Timeouts) (key string, caPEM []byte, err error) {
	if u.CAFile != "" {
		if caPEM, err = os.ReadFile(u.CAFile); err != nil {
			return "", nil, fmt.Errorf("upstream %s: ca_file: %w", u.Name, err)
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s|%s://%s|sni=%s|h2c=%v|conns=%d/%d|t=%s/%s/%s/%s|ca=%x|pins=",
		u.Name, u.URL.Scheme, u.URL.Host, u.ServerName, u.H2C, u.MaxConns, u.IdleConns,
		t.UpstreamDial, t.UpstreamTLS, t.UpstreamHeader, t.UpstreamIdle, sha256.Sum256(caPEM))
	for _, p := range u.Pins {
		b.WriteString(base64.StdEncoding.EncodeToString(p[:]))
		b.WriteByte(',')
	}
	return b.String(), caPEM, nil
}

// newTransport builds u's connection pool; caPEM holds the roots of
// u.CAFile (poolKey read them).
func newTransport(u *Upstream, caPEM []byte, t *Timeouts, m *metrics) (*http.Transport, error) {
	d := &net.Dialer{Timeout: t.UpstreamDial, KeepAlive: 30 * time.Second}
	// Not reset to 0: a pool replaced by a reload may still hold
	// connections of this upstream until its requests finish.
	open := m.upConns.WithLabelValues(u.Name)
	tr := &http.Transport{
		Proxy: nil, // never an environment proxy
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := d.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			open.Inc()
			return &countedConn{Conn: c, open: open}, nil
		},
		TLSHandshakeTimeout:   t.UpstreamTLS,
		ResponseHeaderTimeout: t.UpstreamHeader,
		IdleConnTimeout:       t.UpstreamIdle,
		ExpectContinueTimeout: time.Second,
		MaxConnsPerHost:       u.MaxConns,
		MaxIdleConns:          u.IdleConns,
		MaxIdleConnsPerHost:   u.IdleConns,
		ForceAttemptHTTP2:     true,
		DisableCompression:    true, // pass encodings through untouched
		WriteBufferSize:       32 << 10,
		ReadBufferSize:        32 << 10,
	}
	if u.H2C {
		var p http.Protocols
		p.SetUnencryptedHTTP2(true)
		tr.Protocols = &p
	}
	if u.URL.Scheme != "https" {
		return tr, nil
	}
	tc := &tls.Config{
		MinVersion:   tls.VersionTLS12,
		CipherSuites: serverCipherSuites,
		ServerName:   u.ServerName,
	}
	if u.CAFile != "" {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(caPEM) {
			return nil, fmt.Errorf("upstream %s: ca_file %s holds no PEM certificate", u.Name, u.CAFile)
		}
		tc.RootCAs = pool
	}
	if len(u.Pins) > 0 {
		pins := u.Pins
		name := u.Name
		fail := m.pinFailures.WithLabelValues(name)
		// VerifyConnection runs after the chain verified: the pin narrows
		// the trusted roots, it never replaces verification.
		tc.VerifyConnection = func(cs tls.ConnectionState) error {
			for _, chain := range cs.VerifiedChains {
				for _, c := range chain {
					h := sha256.Sum256(c.RawSubjectPublicKeyInfo)
					for _, p := range pins {
						if h == p {
							return nil
						}
					}
				}
			}
			fail.Inc()
			got := ""
			if len(cs.PeerCertificates) > 0 {
				got = SPKIHash(cs.PeerCertificates[0])
			}
			return &PinError{Upstream: name, Got: got}
		}
	}
	tr.TLSClientConfig = tc
	return tr, nil
}

// retryTransport retries idempotent requests without a body when the
// round trip failed without a response (a refused or reset connection, a
// stale pooled one): nothing of the answer reached the client yet, so a
// second attempt is invisible to it.
type retryTransport struct {
	rt      http.RoundTripper
	retries int
	name    string
	m       *metrics
	log     *slog.Logger
}

func (t *retryTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := t.rt.RoundTrip(r)
	for i := 0; err != nil && i < t.retries && retryable(r, err); i++ {
		t.m.retries.WithLabelValues(t.name).Inc()
		t.log.Debug("retrying upstream request", "upstream", t.name, "method", r.Method, "err", err)
		resp, err = t.rt.RoundTrip(r)
	}
	return resp, err
}

func retryable(r *http.Request, err error) bool {
	if r.Context().Err() != nil {
		return false
	}
	var pe *PinError
	if errors.As(err, &pe) {
		return false // deterministic: the next handshake fails alike
	}
	var ue x509.UnknownAuthorityError
	var he x509.HostnameError
	var ce x509.CertificateInvalidError
	if errors.As(err, &ue) || errors.As(err, &he) || errors.As(err, &ce) {
		return false
	}
	if r.Body != nil && r.Body != http.NoBody && r.ContentLength != 0 {
		return false
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodPut, http.MethodDelete:
		return true
	}
	return false
}

// bufferPool recycles the proxies' copy buffers.
type bufferPool struct{ p sync.Pool }

func (b *bufferPool) Get() []byte {
	if v, ok := b.p.Get().(*[]byte); ok {
		return *v
	}
	return make([]byte, 32<<10)
}

func (b *bufferPool) Put(buf []byte) { b.p.Put(&buf) }

// prewarm opens n connections to the origin by sending n concurrent HEAD
// requests for its base path, so that the first client requests find warm
// connections. Each request holds the connection it got until every
// request has one (or has failed): otherwise a request scheduled late
// would find the first one's connection idle and reuse it, and fewer than
// n would open. Over HTTP/2 they share one connection. Failures are
// logged, not fatal: the origin may come later.
func (u *upstream) prewarm(ctx context.Context, n int, log *slog.Logger) {
	if n <= 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		arrived int
		opened  atomic.Int32
		all     = make(chan struct{})
	)
	arrive := func() {
		mu.Lock()
		defer mu.Unlock()
		if arrived++; arrived == n {
			close(all)
		}
	}
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			once := sync.OnceFunc(arrive)
			defer once()
			trace := &httptrace.ClientTrace{GotConn: func(info httptrace.GotConnInfo) {
				if !info.Reused {
					opened.Add(1)
				}
				once()
				select {
				case <-all:
				case <-ctx.Done():
				}
			}}
			req, err := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, trace), http.MethodHead, u.cfg.URL.String(), nil)
			if err != nil {
				errs <- err
				return
			}
			req.Header.Set("User-Agent", "steer-edge-prewarm")
			resp, err := u.pool.tr.RoundTrip(req)
			if err != nil {
				errs <- err
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		log.Warn("upstream prewarm failed", "upstream", u.cfg.Name, "err", err, "opened", opened.Load())
		return
	}
	log.Debug("upstream prewarmed", "upstream", u.cfg.Name, "requests", n, "opened", opened.Load())
}

// countedConn is an upstream connection counted in
// steer_edge_upstream_connections until it closes.
type countedConn struct {
	net.Conn
	open prometheus.Gauge
	once sync.Once
}

func (c *countedConn) Close() error {
	c.once.Do(c.open.Dec)
	return c.Conn.Close()
}
