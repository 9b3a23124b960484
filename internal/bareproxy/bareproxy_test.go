package bareproxy

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/steer-gslb/steer/internal/leanorigin"
)

// writeCert writes a self-signed ECDSA P-256 certificate for 127.0.0.1
// and localhost to dir and returns the file names and a pool trusting it.
func writeCert(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "localhost"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "c.pem"), filepath.Join(dir, "k.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(c)
	return certFile, keyFile, pool
}

// countingListener counts accepted connections.
type countingListener struct {
	net.Listener
	n atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.n.Add(1)
	}
	return c, err
}

// startProxy runs a bare proxy to upstream on a loopback port until the
// test ends; it returns the proxy's base URL.
func startProxy(t *testing.T, opts Options) string {
	t.Helper()
	p, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Serve after cancel: %v, want nil", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Serve did not return within 10 s of its context's end")
		}
	})
	return "https://" + ln.Addr().String()
}

func client(pool *x509.CertPool, h2 bool, maxTLS uint16) (*http.Client, *http.Transport) {
	tr := &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: pool, MaxVersion: maxTLS, ClientSessionCache: tls.NewLRUClientSessionCache(8)},
		ForceAttemptHTTP2: h2,
	}
	if !h2 {
		tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	}
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}, tr
}

// TestProxyLeanOrigin proxies both body sizes of the benchmark's origin
// over HTTP/1.1 and HTTP/2 with TLS 1.3 and 1.2, and checks that the
// upstream connection is kept alive and that sessions do not resume.
func TestProxyLeanOrigin(t *testing.T) {
	oln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cl := &countingListener{Listener: oln}
	go func() { _ = leanorigin.Serve(cl) }()
	t.Cleanup(func() { _ = oln.Close() })
	certFile, keyFile, pool := writeCert(t, t.TempDir())
	base := startProxy(t, Options{Upstream: "http://" + oln.Addr().String(), CertFile: certFile, KeyFile: keyFile})

	for _, tt := range []struct {
		name      string
		h2        bool
		maxTLS    uint16
		wantProto string
		wantTLS   uint16
	}{
		{"h1 tls13", false, 0, "HTTP/1.1", tls.VersionTLS13},
		{"h2 tls13", true, 0, "HTTP/2.0", tls.VersionTLS13},
		{"h1 tls12", false, tls.VersionTLS12, "HTTP/1.1", tls.VersionTLS12},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, tr := client(pool, tt.h2, tt.maxTLS)
			defer tr.CloseIdleConnections()
			for i, path := range []string{"/", "/64k", "/", "/64k/a"} {
				resp, err := c.Get(base + path)
				if err != nil {
					t.Fatalf("GET %s: %v", path, err)
				}
				body, err := io.ReadAll(resp.Body)
				_ = resp.Body.Close()
				if err != nil {
					t.Fatalf("GET %s: body: %v", path, err)
				}
				want := leanorigin.SmallBody
				if strings.HasPrefix(path, "/64k") {
					want = leanorigin.LargeBody
				}
				if resp.StatusCode != 200 || len(body) != want || !bytes.Equal(body, bytes.Repeat([]byte("x"), want)) {
					t.Fatalf("GET %s: %d with %d bytes, want 200 with %d", path, resp.StatusCode, len(body), want)
				}
				if resp.Proto != tt.wantProto || resp.TLS == nil || resp.TLS.Version != tt.wantTLS {
					t.Fatalf("GET %s: %s over %v, want %s over TLS %x", path, resp.Proto, resp.TLS, tt.wantProto, tt.wantTLS)
				}
				if resp.TLS.DidResume {
					t.Fatalf("request %d resumed a TLS session with tickets off", i)
				}
				if tt.wantTLS == tls.VersionTLS12 && !strings.Contains(tls.CipherSuiteName(resp.TLS.CipherSuite), "ECDHE_ECDSA") {
					t.Fatalf("TLS 1.2 suite %s, want ECDHE_ECDSA", tls.CipherSuiteName(resp.TLS.CipherSuite))
				}
			}
			// A new connection with the session cache filled must not resume.
			tr.CloseIdleConnections()
			resp, err := c.Get(base + "/")
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			if resp.TLS.DidResume {
				t.Fatal("a second connection resumed its TLS session with tickets off")
			}
		})
	}
	// 15 sequential requests, one at a time: the proxy keeps one upstream
	// connection alive for all of them.
	if n := cl.n.Load(); n != 1 {
		t.Errorf("the origin accepted %d connections for 15 sequential requests, want 1 (keep-alive)", n)
	}
}

// TestProxyHeaders checks what reaches the origin: the client's Host,
// X-Forwarded-Host/Proto, the client's network (never its address) as
// X-Forwarded-For, and none of the edge's own headers.
func TestProxyHeaders(t *testing.T) {
	got := make(chan http.Header, 1)
	hosts := make(chan string, 1)
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Header.Clone()
		hosts <- r.Host
		_, _ = io.WriteString(w, "hi")
	}))
	defer origin.Close()
	certFile, keyFile, pool := writeCert(t, t.TempDir())
	base := startProxy(t, Options{Upstream: origin.URL, CertFile: certFile, KeyFile: keyFile, MaxConns: 4})
	c, tr := client(pool, false, 0)
	defer tr.CloseIdleConnections()
	req, _ := http.NewRequest(http.MethodGet, strings.Replace(base, "127.0.0.1", "localhost", 1)+"/x?y=1", nil)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if string(body) != "hi" {
		t.Fatalf("body %q, want hi", body)
	}
	h, host := <-got, <-hosts
	if want := "localhost:" + strings.Split(base, ":")[2]; host != want || h.Get("X-Forwarded-Host") != want {
		t.Errorf("Host %q, X-Forwarded-Host %q, want %q", host, h.Get("X-Forwarded-Host"), want)
	}
	if h.Get("X-Forwarded-Proto") != "https" {
		t.Errorf("X-Forwarded-Proto %q, want https", h.Get("X-Forwarded-Proto"))
	}
	if xff := h.Values("X-Forwarded-For"); len(xff) != 1 || xff[0] != "127.0.0.0" {
		t.Errorf("X-Forwarded-For %q, want the client's /24 127.0.0.0", xff)
	}
	for _, k := range []string{"X-Request-Id", "X-Edge-Pop"} {
		if v := h.Get(k); v != "" {
			t.Errorf("%s: %q reached the origin; the bare proxy adds none", k, v)
		}
	}
}

func TestNewErrors(t *testing.T) {
	certFile, keyFile, _ := writeCert(t, t.TempDir())
	for _, tt := range []struct {
		name string
		opts Options
		want string
	}{
		{"no upstream", Options{CertFile: certFile, KeyFile: keyFile}, "want http://host:port"},
		{"https upstream", Options{Upstream: "https://127.0.0.1:1", CertFile: certFile, KeyFile: keyFile}, "want http://host:port"},
		{"bad url", Options{Upstream: "http://[::1", CertFile: certFile, KeyFile: keyFile}, "upstream"},
		{"no cert", Options{Upstream: "http://127.0.0.1:1"}, "certificate and its key are required"},
		{"missing cert", Options{Upstream: "http://127.0.0.1:1", CertFile: "/nonexistent/c.pem", KeyFile: keyFile}, "/nonexistent/c.pem"},
		{"key for cert", Options{Upstream: "http://127.0.0.1:1", CertFile: certFile, KeyFile: certFile}, "certificate " + certFile},
		{"negative pool", Options{Upstream: "http://127.0.0.1:1", CertFile: certFile, KeyFile: keyFile, MaxConns: -1}, "negative"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one containing %q", err, tt.want)
			}
		})
	}
}
