package edge

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
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/steer-gslb/steer/internal/syncbuf"
)

// testCA is a throwaway certificate authority for the edge's server
// certificates.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
}

var serial struct {
	sync.Mutex
	n int64
}

func nextSerial() *big.Int {
	serial.Lock()
	defer serial.Unlock()
	serial.n++
	return big.NewInt(time.Now().UnixNano() + serial.n)
}

func newTestCA(t testing.TB) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          nextSerial(),
		Subject:               pkix.Name{CommonName: "steer edge test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &testCA{cert: cert, key: key, pool: pool}
}

// issue writes a leaf certificate for names (DNS names or IPs) and its key
// to dir/base.crt and dir/base.key and returns the certificate.
func (ca *testCA) issue(t testing.TB, dir, base string, names ...string) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: nextSerial(),
		Subject:      pkix.Name{CommonName: names[0]},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	// Write to temporary names and rename: a reload never sees half a file.
	writeAtomic(t, filepath.Join(dir, base+".crt"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	writeAtomic(t, filepath.Join(dir, base+".key"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}))
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

func writeAtomic(t testing.TB, path string, data []byte) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func writePEMCert(t testing.TB, path string, c *x509.Certificate) {
	t.Helper()
	writeAtomic(t, path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}))
}

// testEdge is an edge serving on loopback, stopped at the end of the test.
type testEdge struct {
	*Server
	dir  string
	ca   *testCA
	logs *syncbuf.Buffer
	done chan error
	stop context.CancelFunc
}

// edgeYAML is the common part of the test configs: pop fra, loopback
// listeners, one certificate for edge.test and 127.0.0.1. extra is
// appended (upstreams, routes, …).
func edgeYAML(extra string) string {
	return `pop: fra
listen: 127.0.0.1:0
listen_http: 127.0.0.1:0
admin: 127.0.0.1:0
tls:
  certificates:
    - {cert: edge.crt, key: edge.key}
  poll: 50ms
drain_grace: 300ms
drain_timeout: 10s
` + extra
}

// startEdge writes a CA-issued certificate for edge.test into a temp dir,
// parses yml there and runs the edge.
func startEdge(t *testing.T, yml string, opts Options) *testEdge {
	t.Helper()
	dir := t.TempDir()
	ca := newTestCA(t)
	ca.issue(t, dir, "edge", "edge.test", "127.0.0.1")
	return startEdgeIn(t, dir, ca, yml, opts)
}

func startEdgeIn(t *testing.T, dir string, ca *testCA, yml string, opts Options) *testEdge {
	t.Helper()
	path := filepath.Join(dir, "edge.yaml")
	if err := os.WriteFile(path, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncbuf.Buffer{}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	s, err := New(cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	e := &testEdge{Server: s, dir: dir, ca: ca, logs: logs, done: make(chan error, 1), stop: cancel}
	go func() { e.done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-e.done:
			if err != nil {
				t.Errorf("edge Run: %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Errorf("edge did not stop")
		}
		if t.Failed() {
			t.Logf("edge log:\n%s", tail(logs.String(), 4000))
		}
	})
	return e
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// client is an HTTPS client of the edge: HTTP/2 when h2, else HTTP/1.1.
func (e *testEdge) client(h2 bool) *http.Client {
	tr := &http.Transport{
		TLSClientConfig:     &tls.Config{RootCAs: e.ca.pool, ServerName: "edge.test"},
		ForceAttemptHTTP2:   h2,
		MaxIdleConnsPerHost: 16,
	}
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

func (e *testEdge) url(path string) string { return "https://" + e.Addr().String() + path }

func (e *testEdge) adminURL(path string) string { return "http://" + e.AdminAddr().String() + path }

// metric scrapes the admin /metrics and returns the value of the sample
// whose line starts with prefix (name and labels), or -1.
func (e *testEdge) metric(t *testing.T, prefix string) float64 {
	t.Helper()
	resp, err := http.Get(e.adminURL("/metrics"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	for line := range strings.SplitSeq(b.String(), "\n") {
		if rest, ok := strings.CutPrefix(line, prefix+" "); ok {
			var v float64
			if _, err := fmt.Sscan(rest, &v); err == nil {
				return v
			}
		}
	}
	return -1
}

// eventually polls cond every 10ms until it holds or d passed.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		<-tick.C
	}
}
