package collector

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/steer-gslb/steer/store/duckstore"
)

// TestStoreStatsEndpoint: /v1/store/stats answers the store's counts on
// the admin listener, and on the public one only to this host.
func TestStoreStatsEndpoint(t *testing.T) {
	f := newFixture(t, nil)
	ts := f.now.Add(-time.Minute).Format(time.RFC3339Nano)
	for i := range 3 {
		if w := f.do(t, req{body: desktopBeacon(ts, float64(10+i)), header: auth, remote: "198.51.7.1:1000"}); w.Code != 200 {
			t.Fatalf("beacon %d: %d %s", i, w.Code, w.Body.String())
		}
	}
	w := f.do(t, req{method: http.MethodGet, path: StoreStatsPath, remote: "127.0.0.1:1"})
	if w.Code != 200 || w.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("public %s from loopback: %d %s", StoreStatsPath, w.Code, w.Body.String())
	}
	st, err := ParseStoreStats(w.Body.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	want := f.now.Add(-time.Minute)
	if st.Beacons != 3 || st.Samples != 3 || st.Queries != 0 || st.PID != os.Getpid() ||
		!st.Oldest.Equal(want) || !st.Newest.Equal(want) {
		t.Errorf("stats %+v", st)
	}
	// the fields an operator or a script reads
	var raw map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &raw); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"beacons", "samples", "queries", "oldest", "newest", "pid", "spool_backlog_bytes"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("no %q in %s", k, w.Body.String())
		}
	}
	for _, c := range []struct {
		remote string
		hdr    map[string]string
	}{
		{"198.51.100.9:1", nil},
		{"127.0.0.1:1", map[string]string{"X-Forwarded-For": "81.2.69.1"}},
		{"127.0.0.1:1", map[string]string{"Forwarded": "for=81.2.69.1"}},
	} {
		w := f.do(t, req{method: http.MethodGet, path: StoreStatsPath, remote: c.remote, header: c.hdr})
		if w.Code != 404 || !strings.Contains(w.Body.String(), StoreStatsPath+" is served to this host only") {
			t.Errorf("public %s from %s %v: %d %q", StoreStatsPath, c.remote, c.hdr, w.Code, w.Body.String())
		}
	}
	if w := f.do(t, req{method: http.MethodPost, path: StoreStatsPath, remote: "127.0.0.1:1"}); w.Code != 405 || w.Header().Get("Allow") != "GET, HEAD" {
		t.Errorf("POST: %d %v", w.Code, w.Header())
	}

	g := newFixture(t, func(c *Config) { c.Admin = "127.0.0.1:0" })
	if w := g.do(t, req{method: http.MethodGet, path: StoreStatsPath, remote: "127.0.0.1:1"}); w.Code != 404 ||
		!strings.Contains(w.Body.String(), StoreStatsPath+" is served on the admin listener") {
		t.Errorf("public %s with an admin listener: %d %q", StoreStatsPath, w.Code, w.Body.String())
	}
	r, err := http.NewRequest(http.MethodGet, StoreStatsPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	r.RemoteAddr = "198.51.100.9:1"
	rec := httptest.NewRecorder()
	g.srv.AdminHandler().ServeHTTP(rec, r)
	if st, err := ParseStoreStats(rec.Body.Bytes()); rec.Code != 200 || err != nil || st.Beacons != 0 || !st.Oldest.IsZero() {
		t.Errorf("admin %s: %d %v %+v", StoreStatsPath, rec.Code, err, st)
	}
}

// serveAnnounced runs a collector with Options.StoreDir on loopback
// listeners and returns its store directory and a stop function that
// waits for Serve.
func serveAnnounced(t *testing.T, mod func(*Config)) (dir string, stop func() error) {
	t.Helper()
	dir = t.TempDir()
	cfg := Defaults()
	cfg.Listen = "127.0.0.1:0"
	cfg.Tokens = []string{token}
	if mod != nil {
		mod(cfg)
	}
	st, err := duckstore.Open(dir, duckstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	srv, err := New(cfg, st, Options{StoreDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	l, admin, err := srv.Listen()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, l, admin) }()
	stopped := false
	stop = func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		return <-done
	}
	t.Cleanup(func() { _ = stop() })
	return dir, stop
}

// readAnnouncement polls for the collector's announcement.
func readAnnouncement(t *testing.T, dir string) Announcement {
	t.Helper()
	var a Announcement
	waitFor(t, "the announcement in "+dir, func() bool {
		var err error
		a, err = ReadAnnouncement(dir)
		return err == nil
	})
	return a
}

// TestAnnounce: while Serve runs, the store directory names this process
// and a URL that serves the store's stats (the admin listener's when there
// is one); once it returns, the file is gone.
func TestAnnounce(t *testing.T) {
	for _, c := range []struct {
		name string
		mod  func(*Config)
	}{
		{"public", nil},
		{"admin", func(c *Config) { c.Admin = "127.0.0.1:0" }},
		{"unspecified", func(c *Config) { c.Listen = "0.0.0.0:0" }},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir, stop := serveAnnounced(t, c.mod)
			a := readAnnouncement(t, dir)
			if a.PID != os.Getpid() || !strings.HasPrefix(a.URL, "http://127.0.0.1:") || a.TLSCert != "" || a.Started.IsZero() || !a.Alive() {
				t.Errorf("announcement %+v", a)
			}
			if fi, err := os.Stat(filepath.Join(dir, AnnounceFile)); err != nil || fi.Mode().Perm() != 0o640 {
				t.Errorf("announcement file: %v %v, want mode 0640", fi, err)
			}
			if tmps, _ := filepath.Glob(filepath.Join(dir, AnnounceFile+".*")); len(tmps) > 0 {
				t.Errorf("temporary files left: %v", tmps)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			st, err := FetchStoreStats(ctx, a.URL, "")
			if err != nil {
				t.Fatal(err)
			}
			if st.PID != os.Getpid() || st.Store != dir || st.Beacons != 0 {
				t.Errorf("stats %+v", st)
			}
			// a full endpoint URL works too
			if _, err := FetchStoreStats(ctx, a.URL+StoreStatsPath, ""); err != nil {
				t.Error(err)
			}
			if err := stop(); err != nil {
				t.Fatal(err)
			}
			if _, err := ReadAnnouncement(dir); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("after Serve returned: %v, want no announcement", err)
			}
		})
	}
}

// TestAnnounceKeepsAnotherOne: a collector does not remove an
// announcement that is no longer its own.
func TestAnnounceKeepsAnotherOne(t *testing.T) {
	dir, stop := serveAnnounced(t, nil)
	readAnnouncement(t, dir)
	other := []byte(`{"pid":1,"url":"http://127.0.0.1:1","started":"2026-12-07T09:00:00Z"}`)
	if err := os.WriteFile(filepath.Join(dir, AnnounceFile), other, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if a, err := ReadAnnouncement(dir); err != nil || a.PID != 1 {
		t.Errorf("%+v %v", a, err)
	}
}

// TestFetchStoreStatsTLS: an HTTPS collector's announcement names its
// certificate, and the client pins it (the certificate names the public
// host, not 127.0.0.1); another certificate is refused.
func TestFetchStoreStatsTLS(t *testing.T) {
	certs := t.TempDir()
	cert, key := writeCert(t, certs, "a")
	other, _ := writeCert(t, certs, "b")
	dir, _ := serveAnnounced(t, func(c *Config) { c.TLSCert, c.TLSKey = cert, key })
	a := readAnnouncement(t, dir)
	if !strings.HasPrefix(a.URL, "https://127.0.0.1:") || a.TLSCert != cert {
		t.Fatalf("announcement %+v", a)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if st, err := FetchStoreStats(ctx, a.URL, a.TLSCert); err != nil || st.PID != os.Getpid() {
		t.Fatalf("pinned: %+v %v", st, err)
	}
	if _, err := FetchStoreStats(ctx, a.URL, other); err == nil || !strings.Contains(err.Error(), "is not the collector's") {
		t.Errorf("another certificate: %v", err)
	}
	if _, err := FetchStoreStats(ctx, a.URL, ""); err == nil {
		t.Error("an unverifiable certificate was accepted without a pin")
	}
	if _, err := FetchStoreStats(ctx, a.URL, filepath.Join(certs, "missing.pem")); err == nil || !strings.Contains(err.Error(), "the collector's certificate") {
		t.Errorf("missing certificate file: %v", err)
	}
}

// writeCert writes a self-signed certificate for rum.example.net and its
// key as PEM files name.pem and name.key in dir.
func writeCert(t *testing.T, dir, name string) (cert, key string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "rum.example.net"},
		DNSNames: []string{"rum.example.net"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	cert, key = filepath.Join(dir, name+".pem"), filepath.Join(dir, name+".key")
	if err := os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(key, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return cert, key
}

// TestFetchStoreStatsErrors: what a client sees from something that is
// not a collector's stats endpoint.
func TestFetchStoreStatsErrors(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/notfound" + StoreStatsPath:
			http.Error(w, "404 page not found: "+StoreStatsPath+" is served on the admin listener", http.StatusNotFound)
		case "/html" + StoreStatsPath:
			_, _ = w.Write([]byte("<html>hello</html>"))
		case "/big" + StoreStatsPath:
			_, _ = w.Write([]byte(`{"pid":1,"x":"` + strings.Repeat("x", maxStatsBody) + `"}`))
		}
	})}
	go func() { _ = hs.Serve(l) }()
	t.Cleanup(func() { _ = hs.Close() })
	base := "http://" + l.Addr().String()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, c := range []struct{ url, want string }{
		{base + "/notfound", "404 Not Found: 404 page not found: /v1/store/stats is served on the admin listener"},
		{base + "/html", "not a store stats answer"},
		{base + "/big", "answer larger than"},
		{"ftp://example.net", "want http:// or https://"},
		{"http://", "has no host"},
		{"http://127.0.0.1:1?x=1", "no user, query or fragment"},
	} {
		if _, err := FetchStoreStats(ctx, c.url, ""); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.url, err, c.want)
		}
	}
	// nothing listens there any more
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := closed.Addr().String()
	_ = closed.Close()
	if _, err := FetchStoreStats(ctx, "http://"+addr, ""); err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("closed port: %v", err)
	}
}

var announcements = []struct {
	in      string
	wantErr string
}{
	{`{"pid":4242,"url":"http://127.0.0.1:9101","started":"2026-12-07T09:00:00Z"}`, ""},
	{`{"pid":4242,"url":"https://[::1]:8443","tls_cert":"/etc/steer/cert.pem","started":"2026-12-07T09:00:00Z"}`, ""},
	{`{"pid":0,"url":"http://127.0.0.1:9101"}`, "pid: must be a positive process id, got 0"},
	{`{"pid":-5,"url":"http://127.0.0.1:9101"}`, "pid: must be a positive process id"},
	{`{"pid":7}`, `url: "": want http:// or https://`},
	{`{"pid":7,"url":"unix:///run/x"}`, "want http:// or https://"},
	{`{"pid":7,"url":"http:///x"}`, "has no host"},
	{`{"pid":"7","url":"http://127.0.0.1:1"}`, "cannot unmarshal"},
	{`{"pid":7,"url":"http://127.0.0.1:1"`, "unexpected end of JSON input"},
	{``, "unexpected end of JSON input"},
	{"\x00\xff", "invalid character"},
}

func TestParseAnnouncement(t *testing.T) {
	for _, c := range announcements {
		a, err := ParseAnnouncement([]byte(c.in))
		switch {
		case c.wantErr == "" && err != nil:
			t.Errorf("%q: %v", c.in, err)
		case c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr) || !strings.HasPrefix(err.Error(), AnnounceFile+": ")):
			t.Errorf("%q: %v, want %q", c.in, err, c.wantErr)
		case c.wantErr == "" && (a.PID != 4242 || a.URL == ""):
			t.Errorf("%q: %+v", c.in, a)
		}
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, AnnounceFile), []byte(`{"pid":0}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadAnnouncement(dir); err == nil || !strings.Contains(err.Error(), dir+": "+AnnounceFile+": pid") {
		t.Errorf("ReadAnnouncement of a bad file: %v", err)
	}
}

func FuzzParseAnnouncement(f *testing.F) {
	for _, c := range announcements {
		f.Add([]byte(c.in))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := ParseAnnouncement(data)
		if err != nil {
			return
		}
		if a.PID <= 0 || checkBaseURL(a.URL) != nil {
			t.Fatalf("accepted %+v", a)
		}
	})
}

var statsAnswers = []struct {
	in      string
	wantErr string
}{
	{`{"beacons":3,"samples":6,"queries":1,"oldest":"2026-12-07T09:00:00Z","newest":"2026-12-07T09:01:00Z","pid":9,"store":"/x","spool_backlog_bytes":12}`, ""},
	{`{"beacons":0,"samples":0,"queries":0,"pid":9,"spool_backlog_bytes":0}`, ""},
	{`{"beacons":0,"pid":0}`, "pid: must be a positive process id"},
	{`{"beacons":-1,"pid":9}`, "a negative count"},
	{`{"pid":9,"oldest":"2026-12-07T09:01:00Z","newest":"2026-12-07T09:00:00Z"}`, "oldest is after newest"},
	{`{"pid":9,"oldest":"yesterday"}`, "not a store stats answer"},
	{`[]`, "not a store stats answer"},
	{`null`, "pid: must be a positive process id"},
}

func TestParseStoreStats(t *testing.T) {
	for _, c := range statsAnswers {
		st, err := ParseStoreStats([]byte(c.in))
		switch {
		case c.wantErr == "" && (err != nil || st.PID != 9):
			t.Errorf("%q: %+v %v", c.in, st, err)
		case c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)):
			t.Errorf("%q: %v, want %q", c.in, err, c.wantErr)
		}
	}
}

func FuzzParseStoreStats(f *testing.F) {
	for _, c := range statsAnswers {
		f.Add([]byte(c.in))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		st, err := ParseStoreStats(data)
		if err != nil {
			return
		}
		if st.PID <= 0 || st.Beacons < 0 || st.Samples < 0 || st.Queries < 0 || st.SpoolBacklog < 0 || st.Oldest.After(st.Newest) {
			t.Fatalf("accepted %+v", st)
		}
	})
}

func TestLocalAddr(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"127.0.0.1:8080", "127.0.0.1:8080"},
		{"0.0.0.0:8080", "127.0.0.1:8080"},
		{"[::]:8080", "127.0.0.1:8080"},
		{"[::ffff:0.0.0.0]:80", "127.0.0.1:80"},
		{"192.0.2.7:443", "192.0.2.7:443"},
		{"[2001:db8::1]:443", "[2001:db8::1]:443"},
	} {
		a, err := net.ResolveTCPAddr("tcp", c.in)
		if err != nil {
			t.Fatal(err)
		}
		if got := localAddr(a); got != c.want {
			t.Errorf("localAddr(%s) = %s, want %s", c.in, got, c.want)
		}
	}
}
