// Package bareproxy is the reference peer of the edge proxy benchmark
// (bench/edge.sh, `edge-origin --bare-proxy`): a plain Go TLS-terminating
// reverse proxy, net/http's server in front of an httputil.ReverseProxy,
// set up as steer-edge is for the benchmark and with nothing else.
//
// It shares with steer-edge what the benchmark holds equal: TLS 1.2/1.3
// with the same ECDHE AEAD suites and ALPN (h2, http/1.1), optional session
// tickets, the same idle and header timeouts, a keep-alive transport with
// the same pool size and 32 KiB buffers, a pooled copy buffer, and the
// same forwarding headers (Host kept, X-Forwarded-Host, X-Forwarded-Proto,
// X-Forwarded-For as the client's /24 or /56 network). It has none of the
// edge's own per-request work: no request ID, no X-Edge-PoP, no metrics,
// no access log or TCP_INFO, no routes or tokens, no retries, no
// connection limit or drain bookkeeping. The difference between the two
// is what steer's additions cost; the difference to nginx is what Go's
// net/http and crypto/tls cost.
package bareproxy

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"sync"
	"time"

	"github.com/steer-gslb/steer/steertoken"
)

// Options configure a Proxy.
type Options struct {
	// Upstream is the origin, http://host:port (HTTP/1.1, kept alive).
	Upstream string
	// CertFile and KeyFile are the PEM certificate and key served.
	CertFile, KeyFile string
	// MaxConns bounds the connections to the origin and the idle ones
	// kept (steer-edge's max_conns and idle_conns); default 1024.
	MaxConns int
	// SessionTickets enables TLS session resumption by ticket (off by
	// default, as the benchmark runs both proxies).
	SessionTickets bool
}

// Timeouts shared with steer-edge's defaults (edge.DefaultReadHeaderTimeout
// and the benchmark's timeouts.idle).
const (
	readHeaderTimeout = 10 * time.Second
	idleTimeout       = 120 * time.Second
)

// cipherSuites are steer-edge's TLS 1.2 suites: ECDHE with an AEAD.
var cipherSuites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

// Proxy is a configured bare reverse proxy; Serve runs it.
type Proxy struct {
	srv *http.Server
	tr  *http.Transport
}

// New checks opts and loads the certificate.
func New(opts Options) (*Proxy, error) {
	target, err := url.Parse(opts.Upstream)
	switch {
	case err != nil:
		return nil, fmt.Errorf("bareproxy: upstream: %w", err)
	case target.Scheme != "http" || target.Host == "":
		return nil, fmt.Errorf("bareproxy: upstream %q: want http://host:port", opts.Upstream)
	}
	if opts.CertFile == "" || opts.KeyFile == "" {
		return nil, errors.New("bareproxy: a certificate and its key are required")
	}
	cert, err := tls.LoadX509KeyPair(opts.CertFile, opts.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("bareproxy: certificate %s, key %s: %w", opts.CertFile, opts.KeyFile, err)
	}
	if opts.MaxConns == 0 {
		opts.MaxConns = 1024
	}
	if opts.MaxConns < 0 {
		return nil, fmt.Errorf("bareproxy: max conns %d is negative", opts.MaxConns)
	}
	tr := &http.Transport{
		Proxy:                 nil,
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		IdleConnTimeout:       90 * time.Second,
		MaxConnsPerHost:       opts.MaxConns,
		MaxIdleConns:          opts.MaxConns,
		MaxIdleConnsPerHost:   opts.MaxConns,
		DisableCompression:    true,
		WriteBufferSize:       32 << 10,
		ReadBufferSize:        32 << 10,
		ExpectContinueTimeout: time.Second,
	}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			host := pr.In.Host
			pr.SetURL(target)
			pr.Out.Host = host
			pr.Out.Header.Set("X-Forwarded-Host", host)
			pr.Out.Header.Set("X-Forwarded-Proto", "https")
			if ap, err := netip.ParseAddrPort(pr.In.RemoteAddr); err == nil {
				pr.Out.Header.Set("X-Forwarded-For", steertoken.ClientNetwork(ap.Addr()).Addr().String())
			}
		},
		Transport:  tr,
		BufferPool: &bufferPool{},
		ErrorLog:   log.New(io.Discard, "", 0),
	}
	srv := &http.Server{
		Handler:           rp,
		ReadHeaderTimeout: readHeaderTimeout,
		IdleTimeout:       idleTimeout,
		// net/http's error lines name the client's address: drop them.
		ErrorLog: log.New(io.Discard, "", 0),
		TLSConfig: &tls.Config{
			MinVersion:             tls.VersionTLS12,
			CipherSuites:           cipherSuites,
			NextProtos:             []string{"h2", "http/1.1"},
			Certificates:           []tls.Certificate{cert},
			SessionTicketsDisabled: !opts.SessionTickets,
		},
	}
	return &Proxy{srv: srv, tr: tr}, nil
}

// Serve serves TLS on ln until ctx is done, then closes every connection
// and returns nil; or returns the listener's error.
func (p *Proxy) Serve(ctx context.Context, ln net.Listener) error {
	errc := make(chan error, 1)
	go func() { errc <- p.srv.ServeTLS(ln, "", "") }()
	select {
	case err := <-errc:
		p.tr.CloseIdleConnections()
		return fmt.Errorf("bareproxy: %w", err)
	case <-ctx.Done():
	}
	_ = p.srv.Close()
	err := <-errc
	p.tr.CloseIdleConnections()
	if !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("bareproxy: %w", err)
	}
	return nil
}

// bufferPool recycles the proxy's 32 KiB copy buffers (as steer-edge's).
type bufferPool struct{ p sync.Pool }

func (b *bufferPool) Get() []byte {
	if v, ok := b.p.Get().(*[]byte); ok {
		return *v
	}
	return make([]byte, 32<<10)
}

func (b *bufferPool) Put(buf []byte) { b.p.Put(&buf) }
