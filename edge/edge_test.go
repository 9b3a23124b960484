package edge

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/netip"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/steer-gslb/steer/probe"
	"github.com/steer-gslb/steer/steertoken"
)

// origin is a test origin counting the connections it accepted.
type origin struct {
	*httptest.Server
	conns  atomic.Int64
	closed atomic.Int64                // connections closed (or hijacked)
	last   atomic.Pointer[http.Header] // the last request's header
}

func newOrigin(t *testing.T, tlsOn bool, h http.HandlerFunc) *origin {
	t.Helper()
	return newOriginProto(t, tlsOn, true, h)
}

// newOriginProto is newOrigin, with HTTP/2 over TLS only when h2.
func newOriginProto(t *testing.T, tlsOn, h2 bool, h http.HandlerFunc) *origin {
	t.Helper()
	o := &origin{}
	if h == nil {
		h = func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Edge-PoP", "origin-must-not-leak")
			_, _ = io.WriteString(w, "hello from origin "+r.URL.Path)
		}
	}
	o.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hdr := r.Header.Clone()
		o.last.Store(&hdr)
		h(w, r)
	}))
	o.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		switch st {
		case http.StateNew:
			o.conns.Add(1)
		case http.StateClosed, http.StateHijacked:
			o.closed.Add(1)
		}
	}
	if tlsOn {
		o.EnableHTTP2 = h2
		o.StartTLS()
	} else {
		o.Start()
	}
	t.Cleanup(o.Close)
	return o
}

// upstreamYAML is an upstreams: list with one upstream "dc1" at o; for a
// TLS origin it writes o's certificate as the CA file and adds pins.
func upstreamYAML(t *testing.T, dir string, o *origin, extra string, pins ...string) string {
	t.Helper()
	y := "upstreams:\n  - name: dc1\n    url: " + o.URL + "\n"
	if strings.HasPrefix(o.URL, "https:") {
		ca := filepath.Join(dir, "origin-ca.pem")
		writePEMCert(t, ca, o.Certificate())
		y += "    ca_file: " + ca + "\n"
		if len(pins) > 0 {
			y += "    pin_spki_sha256: [" + strings.Join(pins, ", ") + "]\n"
		}
	}
	return y + extra
}

// reply is a response read whole.
type reply struct {
	StatusCode, ProtoMajor int
	Proto                  string
	Header                 http.Header
}

func get(t *testing.T, c *http.Client, url string) (reply, string) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return reply{resp.StatusCode, resp.ProtoMajor, resp.Proto, resp.Header}, string(b)
}

var requestIDRE = regexp.MustCompile(`^fra-[0-9a-z]+-[0-9a-f]{8}$`)

func TestProxyHeadersAndProbe(t *testing.T) {
	o := newOrigin(t, true, nil)
	var infos sync.Map
	dir := t.TempDir()
	ca := newTestCA(t)
	ca.issue(t, dir, "edge", "edge.test", "127.0.0.1")
	e := startEdgeIn(t, dir, ca, edgeYAML(upstreamYAML(t, dir, o, "")), Options{OnRequest: func(ri *RequestInfo) {
		cp := *ri
		infos.Store(ri.ID, &cp)
	}})
	for _, h2 := range []bool{false, true} {
		t.Run(fmt.Sprintf("h2=%v", h2), func(t *testing.T) {
			c := e.client(h2)
			resp, body := get(t, c, e.url("/a/b"))
			if resp.StatusCode != 200 || body != "hello from origin /a/b" {
				t.Fatalf("got %d %q", resp.StatusCode, body)
			}
			wantProto := map[bool]int{false: 1, true: 2}[h2]
			if resp.ProtoMajor != wantProto {
				t.Errorf("client proto %s, want HTTP/%d", resp.Proto, wantProto)
			}
			if got := resp.Header.Values("X-Edge-PoP"); len(got) != 1 || got[0] != "fra" {
				t.Errorf("X-Edge-PoP = %q, want [fra]", got)
			}
			id := resp.Header.Get("X-Request-ID")
			if !requestIDRE.MatchString(id) {
				t.Errorf("X-Request-ID %q does not match %s", id, requestIDRE)
			}
			up := *o.last.Load()
			if up.Get("X-Request-ID") != id {
				t.Errorf("upstream X-Request-ID %q, client got %q", up.Get("X-Request-ID"), id)
			}
			if got := up.Get("X-Forwarded-For"); got != "127.0.0.0" {
				t.Errorf("X-Forwarded-For %q, want the /24 network 127.0.0.0", got)
			}
			if up.Get("X-Forwarded-Proto") != "https" {
				t.Errorf("X-Forwarded-Proto %q", up.Get("X-Forwarded-Proto"))
			}
			v, ok := infos.Load(id)
			if !ok {
				t.Fatalf("OnRequest not called for %s", id)
			}
			ri := v.(*RequestInfo)
			if ri.Status != 200 || ri.BytesOut != int64(len(body)) || ri.Upstream != "dc1" || ri.Client.String() != "127.0.0.0/24" {
				t.Errorf("RequestInfo = %+v", ri)
			}
			if _, ok := ri.Conn.(*net.TCPConn); !ok {
				t.Errorf("RequestInfo.Conn is %T, want *net.TCPConn", ri.Conn)
			}
		})
	}
	// The probe is served locally.
	resp, _ := get(t, e.client(false), e.url(probe.Path))
	if resp.StatusCode != http.StatusNoContent || resp.Header.Get("X-Edge-PoP") != "fra" || resp.Header.Get("X-Request-ID") == "" {
		t.Errorf("probe: %d %v", resp.StatusCode, resp.Header)
	}
	// Plain HTTP listener.
	resp, body := get(t, http.DefaultClient, "http://"+e.HTTPAddr().String()+"/x")
	if resp.StatusCode != 200 || body != "hello from origin /x" || resp.Header.Get("X-Edge-PoP") != "fra" {
		t.Errorf("plain http: %d %q", resp.StatusCode, body)
	}
	if got := o.last.Load().Get("X-Forwarded-Proto"); got != "http" {
		t.Errorf("X-Forwarded-Proto over plain http = %q", got)
	}
	// Health.
	resp, body = get(t, http.DefaultClient, e.adminURL("/healthz"))
	if resp.StatusCode != 200 || body != "ok\n" {
		t.Errorf("healthz: %d %q", resp.StatusCode, body)
	}
}

func TestPinningAcceptsRightUpstream(t *testing.T) {
	o := newOrigin(t, true, nil)
	dir := t.TempDir()
	ca := newTestCA(t)
	ca.issue(t, dir, "edge", "edge.test")
	e := startEdgeIn(t, dir, ca, edgeYAML(upstreamYAML(t, dir, o, "", SPKIHash(o.Certificate()))), Options{})
	resp, body := get(t, e.client(false), e.url("/"))
	if resp.StatusCode != 200 || body != "hello from origin /" {
		t.Fatalf("got %d %q", resp.StatusCode, body)
	}
	if v := e.metric(t, `steer_edge_upstream_pin_failures_total{upstream="dc1"}`); v > 0 {
		t.Errorf("pin failures %v, want 0", v)
	}
}

func TestFaultPinMismatch(t *testing.T) {
	o := newOrigin(t, true, nil)
	dir := t.TempDir()
	ca := newTestCA(t)
	ca.issue(t, dir, "edge", "edge.test")
	other := ca.issue(t, dir, "other", "other.test") // a valid certificate, but not the origin's
	e := startEdgeIn(t, dir, ca, edgeYAML(upstreamYAML(t, dir, o, "", SPKIHash(other))), Options{})
	resp, body := get(t, e.client(false), e.url("/secret"))
	if resp.StatusCode != http.StatusBadGateway {
		t.Fatalf("wrong pin: got %d %q, want 502", resp.StatusCode, body)
	}
	if o.last.Load() != nil {
		t.Errorf("the origin received a request despite the wrong pin")
	}
	if v := e.metric(t, `steer_edge_upstream_pin_failures_total{upstream="dc1"}`); v < 1 {
		t.Errorf("pin failure counter %v, want ≥ 1", v)
	}
	eventually(t, 5*time.Second, "the pin log line", func() bool {
		l := e.logs.String()
		return strings.Contains(l, "pin mismatch") && strings.Contains(l, "upstream=dc1") && strings.Contains(l, SPKIHash(o.Certificate()))
	})
}

func TestUpstreamConnectionReuse(t *testing.T) {
	// HTTP/1.1 to the origin: an HTTP/2 origin would need only one.
	o := newOriginProto(t, true, false, nil)
	dir := t.TempDir()
	ca := newTestCA(t)
	ca.issue(t, dir, "edge", "edge.test")
	e := startEdgeIn(t, dir, ca, edgeYAML(upstreamYAML(t, dir, o, "", SPKIHash(o.Certificate()))+
		"    max_conns: 4\n    idle_conns: 4\n    prewarm: 2\n"), Options{})
	eventually(t, 5*time.Second, "2 prewarmed origin connections", func() bool { return o.conns.Load() == 2 })
	const workers, perWorker = 4, 50
	c := e.client(false)
	var wg sync.WaitGroup
	var failed atomic.Int64
	for range workers {
		wg.Go(func() {
			for range perWorker {
				resp, err := c.Get(e.url("/r"))
				if err != nil {
					failed.Add(1)
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
				if resp.StatusCode != 200 {
					failed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if failed.Load() > 0 {
		t.Fatalf("%d requests failed", failed.Load())
	}
	if n := o.conns.Load(); n > 4 {
		t.Errorf("%d requests opened %d origin connections, want ≤ max_conns 4", workers*perWorker, n)
	}
	t.Logf("%d requests over %d origin connections", workers*perWorker, o.conns.Load())
	// The pool's state and the bytes served are in the metrics.
	if got, want := e.metric(t, `steer_edge_upstream_connections{upstream="dc1"}`), float64(o.conns.Load()); got != want {
		t.Errorf("steer_edge_upstream_connections = %v, the origin saw %v connections", got, want)
	}
	if got := e.metric(t, `steer_edge_bytes_total{dir="out"}`); got < workers*perWorker*float64(len("hello from origin /r")) {
		t.Errorf("steer_edge_bytes_total{dir=\"out\"} = %v, want at least the %d bodies", got, workers*perWorker)
	}
}

func TestOriginHTTP2(t *testing.T) {
	var protos sync.Map
	o := newOrigin(t, true, func(w http.ResponseWriter, r *http.Request) {
		protos.Store(r.Proto, true)
		_, _ = io.WriteString(w, "ok")
	})
	dir := t.TempDir()
	ca := newTestCA(t)
	ca.issue(t, dir, "edge", "edge.test")
	e := startEdgeIn(t, dir, ca, edgeYAML(upstreamYAML(t, dir, o, "")), Options{})
	for range 20 {
		if resp, _ := get(t, e.client(false), e.url("/")); resp.StatusCode != 200 {
			t.Fatalf("status %d", resp.StatusCode)
		}
	}
	if _, ok := protos.Load("HTTP/2.0"); !ok {
		t.Errorf("origin speaks h2 but saw no HTTP/2 request")
	}
	if n := o.conns.Load(); n != 1 {
		t.Errorf("HTTP/2 origin got %d connections, want 1", n)
	}
}

// flakyListener closes the first n connections it accepts at once: a
// reset before any response byte.
type flakyListener struct {
	net.Listener
	n atomic.Int64
}

func (l *flakyListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil || l.n.Add(-1) < 0 {
			return c, err
		}
		_ = c.Close()
	}
}

func TestFaultUpstreamConnectionReset(t *testing.T) {
	o := &origin{}
	o.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		_, _ = io.WriteString(w, "ok "+r.Method)
	}))
	fl := &flakyListener{Listener: o.Listener}
	o.Listener = fl
	o.Start()
	t.Cleanup(o.Close)
	e := startEdge(t, edgeYAML("upstreams:\n  - {name: dc1, url: '"+o.URL+"', retries: 1}\n"), Options{})
	c := e.client(false)

	fl.n.Store(1)
	resp, body := get(t, c, e.url("/"))
	if resp.StatusCode != 200 || body != "ok GET" {
		t.Errorf("GET after one reset: %d %q, want 200 (retried)", resp.StatusCode, body)
	}
	e.snap.Load().upstreams["dc1"].pool.tr.CloseIdleConnections() // the POST needs a new connection
	fl.n.Store(1)
	req, _ := http.NewRequest(http.MethodPost, e.url("/"), strings.NewReader("not idempotent"))
	presp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = presp.Body.Close()
	if presp.StatusCode != http.StatusBadGateway {
		t.Errorf("POST after a reset: %d, want 502 (never retried)", presp.StatusCode)
	}
	if v := e.metric(t, `steer_edge_upstream_retries_total{upstream="dc1"}`); v != 1 {
		t.Errorf("retries %v, want 1", v)
	}
}

func TestTokens(t *testing.T) {
	o := newOrigin(t, false, nil)
	dir := t.TempDir()
	ca := newTestCA(t)
	ca.issue(t, dir, "edge", "edge.test", "127.0.0.1")
	key, err := steertoken.GenerateKey(steertoken.Ed25519, "k1")
	if err != nil {
		t.Fatal(err)
	}
	ks, err := steertoken.NewKeySet([]steertoken.Key{key}, "k1")
	if err != nil {
		t.Fatal(err)
	}
	writeAtomic(t, filepath.Join(dir, "keys.json"), ks.Marshal(false)) // public keys only
	e := startEdgeIn(t, dir, ca, edgeYAML(upstreamYAML(t, dir, o, `routes:
  - {path_prefix: /strict/, upstream: dc1, token: reject}
  - {path_prefix: /soft/, upstream: dc1, token: ignore}
  - {path_prefix: /, upstream: dc1}
token_keys: keys.json
`)), Options{})
	sign := func(pop, network string, ttl time.Duration) string {
		now := time.Now()
		tok, err := steertoken.Sign(ks, steertoken.Claims{PoP: pop, Network: mustPrefix(network), IssuedAt: now.Add(-time.Minute), Expires: now.Add(ttl)})
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	good := sign("fra", "127.0.0.0/24", time.Hour)
	c := e.client(false)
	cases := []struct {
		name, path string
		cookie     string
		want       int
		body       string
	}{
		{"reject without token", "/strict/a", "", 403, "steering token rejected: missing\n"},
		{"reject good query", "/strict/a?steer_token=" + good, "", 200, ""},
		{"reject good cookie", "/strict/a", good, 200, ""},
		{"reject other pop", "/strict/a", sign("ams", "127.0.0.0/24", time.Hour), 403, "steering token rejected: wrong pop\n"},
		{"reject other network", "/strict/a", sign("fra", "10.1.2.0/24", time.Hour), 403, "steering token rejected: wrong network\n"},
		{"reject garbage", "/strict/a?steer_token=xyz", "", 403, "steering token rejected: malformed\n"},
		{"ignore without token", "/soft/a", "", 200, ""},
		{"ignore garbage", "/soft/a?steer_token=xyz", "", 200, ""},
		{"off", "/a", "", 200, ""},
	}
	for _, tc := range cases {
		req, _ := http.NewRequest(http.MethodGet, e.url(tc.path), nil)
		if tc.cookie != "" {
			req.AddCookie(&http.Cookie{Name: TokenName, Value: tc.cookie})
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != tc.want || (tc.body != "" && string(b) != tc.body) {
			t.Errorf("%s: %d %q, want %d %q", tc.name, resp.StatusCode, b, tc.want, tc.body)
		}
	}
	if v := e.metric(t, `steer_edge_tokens_total{mode="ignore",result="malformed",route="/soft/"}`); v != 1 {
		t.Errorf("ignored malformed tokens counted %v, want 1", v)
	}
	if v := e.metric(t, `steer_edge_tokens_total{mode="reject",result="ok",route="/strict/"}`); v != 2 {
		t.Errorf("accepted tokens counted %v, want 2", v)
	}
}

func TestTLSPolicy(t *testing.T) {
	o := newOrigin(t, false, nil)
	dir := t.TempDir()
	ca := newTestCA(t)
	ca.issue(t, dir, "edge", "edge.test")
	ca.issue(t, dir, "b", "b.test")
	e := startEdgeIn(t, dir, ca, strings.Replace(edgeYAML(upstreamYAML(t, dir, o, "")),
		"    - {cert: edge.crt, key: edge.key}\n", "    - {cert: edge.crt, key: edge.key}\n    - {cert: b.crt, key: b.key}\n", 1), Options{})
	dial := func(cfg *tls.Config) (*tls.ConnectionState, error) {
		cfg.RootCAs = e.ca.pool
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", e.Addr().String(), cfg)
		if err != nil {
			return nil, err
		}
		defer func() { _ = c.Close() }()
		cs := c.ConnectionState()
		return &cs, nil
	}
	if _, err := dial(&tls.Config{ServerName: "edge.test", MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}); err == nil {
		t.Errorf("TLS 1.1 handshake succeeded, want refused")
	}
	if _, err := dial(&tls.Config{ServerName: "edge.test", MaxVersion: tls.VersionTLS12,
		CipherSuites: []uint16{tls.TLS_RSA_WITH_AES_128_GCM_SHA256, tls.TLS_RSA_WITH_AES_256_GCM_SHA384, tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256}}); err == nil {
		t.Errorf("non-ECDHE/non-AEAD TLS 1.2 suites accepted, want refused")
	}
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		cs, err := dial(&tls.Config{ServerName: "edge.test", MinVersion: v, MaxVersion: v, NextProtos: []string{"h2", "http/1.1"}})
		if err != nil {
			t.Fatalf("%s: %v", tls.VersionName(v), err)
		}
		if cs.NegotiatedProtocol != "h2" {
			t.Errorf("%s: ALPN %q, want h2", tls.VersionName(v), cs.NegotiatedProtocol)
		}
	}
	// SNI picks the certificate.
	for _, name := range []string{"edge.test", "b.test"} {
		cs, err := dial(&tls.Config{ServerName: name})
		if err != nil {
			t.Fatalf("SNI %s: %v", name, err)
		}
		if got := cs.PeerCertificates[0].DNSNames[0]; got != name {
			t.Errorf("SNI %s: served the certificate for %s", name, got)
		}
	}
	// A replaced certificate is served after the reload (polled).
	before, _ := dial(&tls.Config{ServerName: "b.test"})
	fresh := ca.issue(t, dir, "b", "b.test")
	eventually(t, 10*time.Second, "the new b.test certificate", func() bool {
		cs, err := dial(&tls.Config{ServerName: "b.test"})
		return err == nil && cs.PeerCertificates[0].SerialNumber.Cmp(fresh.SerialNumber) == 0
	})
	if before.PeerCertificates[0].SerialNumber.Cmp(fresh.SerialNumber) == 0 {
		t.Fatal("test broken: the certificate did not change")
	}
}

func TestFaultBadCertificateReload(t *testing.T) {
	o := newOrigin(t, false, nil)
	e := startEdge(t, edgeYAML(upstreamYAML(t, "", o, "")), Options{})
	c := e.client(false)
	if resp, _ := get(t, c, e.url("/")); resp.StatusCode != 200 {
		t.Fatal(resp.StatusCode)
	}
	writeAtomic(t, filepath.Join(e.dir, "edge.crt"), []byte("-----BEGIN CERTIFICATE-----\ngarbage\n-----END CERTIFICATE-----\n"))
	eventually(t, 10*time.Second, "the reload error in the log", func() bool {
		return strings.Contains(e.logs.String(), "certificate reload failed, keeping the old certificates")
	})
	if v := e.metric(t, `steer_edge_cert_reloads_total{result="error"}`); v < 1 {
		t.Errorf("reload errors %v", v)
	}
	// The old certificate still serves, on a new connection.
	if resp, _ := get(t, e.client(false), e.url("/")); resp.StatusCode != 200 {
		t.Fatal(resp.StatusCode)
	}
}

func TestFaultSlowloris(t *testing.T) {
	o := newOrigin(t, false, nil)
	e := startEdge(t, edgeYAML(upstreamYAML(t, "", o, "timeouts:\n  read_header: 1s\n")), Options{})
	for _, tlsOn := range []bool{true, false} {
		t.Run(fmt.Sprintf("tls=%v", tlsOn), func(t *testing.T) {
			var c net.Conn
			var err error
			if tlsOn {
				c, err = tls.Dial("tcp", e.Addr().String(), &tls.Config{RootCAs: e.ca.pool, ServerName: "edge.test", NextProtos: []string{"http/1.1"}})
			} else {
				c, err = net.Dial("tcp", e.HTTPAddr().String())
			}
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = c.Close() }()
			start := time.Now()
			req := []byte("GET / HTTP/1.1\r\nHost: edge.test\r\nX-Slow: " + strings.Repeat("a", 100))
			closed := make(chan time.Duration, 1)
			go func() {
				_, _ = io.Copy(io.Discard, c) // returns when the edge closes the connection
				closed <- time.Since(start)
			}()
			tick := time.NewTicker(200 * time.Millisecond)
			defer tick.Stop()
			for i := 0; ; i++ {
				select {
				case d := <-closed:
					if d > 3*time.Second {
						t.Errorf("slow client held the connection %s, want ≈ read_header 1s", d)
					}
					if d < 900*time.Millisecond {
						t.Errorf("closed after %s, before read_header 1s", d)
					}
					return
				case <-tick.C:
					if i < len(req) {
						_, _ = c.Write(req[i : i+1]) // one header byte at a time
					}
					if time.Since(start) > 10*time.Second {
						t.Fatal("slow client still connected after 10s")
					}
				}
			}
		})
	}
}

func TestAdminDrain(t *testing.T) {
	o := newOrigin(t, false, nil)
	e := startEdge(t, edgeYAML(upstreamYAML(t, "", o, "")), Options{})
	resp, err := http.Get(e.adminURL("/drain"))
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET /drain: %d, want 405", resp.StatusCode)
	}
	resp, err = http.Post(e.adminURL("/drain"), "", nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Errorf("POST /drain: %d", resp.StatusCode)
	}
	hr, body := get(t, http.DefaultClient, e.adminURL("/healthz"))
	if hr.StatusCode != http.StatusServiceUnavailable || body != "draining\n" {
		t.Errorf("healthz while draining: %d %q", hr.StatusCode, body)
	}
	select {
	case err := <-e.done:
		e.done <- err // for the cleanup
		if err != nil {
			t.Fatalf("Run after drain: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after the drain")
	}
}

// TestFaultDrainUnderLoad drains an edge while clients keep requesting
// over HTTP/1.1 and HTTP/2: every request succeeds, or is refused at
// connect once the grace period is over; in-flight requests finish.
func TestFaultDrainUnderLoad(t *testing.T) {
	o := newOrigin(t, false, func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(20 * time.Millisecond) // work in progress when the listeners close
		_, _ = io.WriteString(w, "ok")
	})
	e := startEdge(t, edgeYAML(upstreamYAML(t, "", o, "")), Options{})
	var ok, refused, failed atomic.Int64
	var errMu sync.Mutex
	var errs []string
	var wg sync.WaitGroup
	for w := range 6 {
		h2 := w%2 == 0
		c := e.client(h2)
		wg.Go(func() {
			for i := 0; i < 2000; i++ {
				var got, reused bool
				trace := &httptrace.ClientTrace{GotConn: func(ci httptrace.GotConnInfo) { got, reused = true, ci.Reused }}
				req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), http.MethodGet, e.url("/x"), nil)
				resp, err := c.Do(req)
				if err != nil {
					err = fmt.Errorf("h2=%v conn=%v reused=%v: %w", h2, got, reused, err)
					// Refused, or reset inside connect(2) (the listener
					// closed with the connection still in its accept
					// queue): never accepted, safe to retry elsewhere.
					var op *net.OpError
					if errors.Is(err, syscall.ECONNREFUSED) || (errors.As(err, &op) && op.Op == "dial" && errors.Is(err, syscall.ECONNRESET)) {
						refused.Add(1)
						return
					}
					failed.Add(1)
					errMu.Lock()
					errs = append(errs, err.Error())
					errMu.Unlock()
					return
				}
				b, err := io.ReadAll(resp.Body)
				_ = resp.Body.Close()
				if err != nil || resp.StatusCode != 200 || string(b) != "ok" {
					failed.Add(1)
					errMu.Lock()
					errs = append(errs, fmt.Sprintf("%d %q %v", resp.StatusCode, b, err))
					errMu.Unlock()
					return
				}
				ok.Add(1)
			}
		})
	}
	eventually(t, 10*time.Second, "some load", func() bool { return ok.Load() >= 50 })
	before := ok.Load()
	e.Drain()
	if !e.Draining() {
		t.Fatal("not draining")
	}
	select {
	case err := <-e.done:
		e.done <- err
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("drain did not finish")
	}
	wg.Wait()
	t.Logf("ok %d (%d during the drain), refused at connect %d, failed %d", ok.Load(), ok.Load()-before, refused.Load(), failed.Load())
	if failed.Load() > 0 {
		t.Errorf("%d requests failed during the drain: %q", failed.Load(), errs)
	}
	if ok.Load() == before {
		t.Errorf("no request succeeded during the grace period")
	}
}

func mustPrefix(s string) netip.Prefix { return netip.MustParsePrefix(s) }
