package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/steer-gslb/steer/internal/syncbuf"
	"github.com/steer-gslb/steer/probe"
)

// probeInsecureClient trusts any certificate (the targets' are
// self-signed).
func probeInsecureClient() *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true}
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

// startProbeTarget runs serveProbeTarget until the test ends and returns
// its probe URL.
func startProbeTarget(t *testing.T, o probeTargetOptions) string {
	t.Helper()
	url, _ := startProbeTargetFP(t, o)
	return url
}

func startProbeTargetFP(t *testing.T, o probeTargetOptions) (string, string) {
	t.Helper()
	if o.listen == "" {
		o.listen = "127.0.0.1:0"
	}
	ctx, cancel := context.WithCancel(context.Background())
	type ready struct{ url, fp string }
	readyc := make(chan ready, 1)
	done := make(chan error, 1)
	go func() {
		done <- serveProbeTarget(ctx, o, func(url, fp string) { readyc <- ready{url, fp} })
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("serveProbeTarget: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("serveProbeTarget did not stop within 10 s of its context ending")
		}
	})
	select {
	case r := <-readyc:
		return r.url, r.fp
	case err := <-done:
		t.Fatalf("serveProbeTarget: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("serveProbeTarget not ready after 10 s")
	}
	return "", ""
}

// checkProbeEndpoint GETs url and checks it is pop's probe endpoint.
func checkProbeEndpoint(t *testing.T, client *http.Client, url, pop string) {
	t.Helper()
	resp, err := client.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent || resp.Header.Get(probe.HeaderEdgePoP) != pop || resp.Header.Get("Timing-Allow-Origin") != "*" {
		t.Errorf("GET %s: %s, headers %v; want 204 from %s", url, resp.Status, resp.Header, pop)
	}
	resp, err = client.Get(strings.TrimSuffix(url, probe.Path) + "/other")
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /other: %s, want 404", resp.Status)
	}
}

func TestServeProbeTarget(t *testing.T) {
	t.Run("http", func(t *testing.T) {
		url := startProbeTarget(t, probeTargetOptions{pop: "fra"})
		if !strings.HasPrefix(url, "http://127.0.0.1:") || !strings.HasSuffix(url, "/rum/probe") {
			t.Fatalf("url %q", url)
		}
		checkProbeEndpoint(t, http.DefaultClient, url, "fra")
	})
	t.Run("self-signed", func(t *testing.T) {
		url, fp := startProbeTargetFP(t, probeTargetOptions{pop: "ams", selfSigned: true})
		if !strings.HasPrefix(url, "https://127.0.0.1:") || len(fp) != 64 {
			t.Fatalf("url %q, fingerprint %q", url, fp)
		}
		checkProbeEndpoint(t, probeInsecureClient(), url, "ams")
		// Verified against its own certificate: valid for 127.0.0.1.
		resp, err := probeInsecureClient().Get(url)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		cert := resp.TLS.PeerCertificates[0]
		pool := x509.NewCertPool()
		pool.AddCert(cert)
		if _, err := cert.Verify(x509.VerifyOptions{Roots: pool, DNSName: "127.0.0.1"}); err != nil {
			t.Errorf("certificate does not verify for 127.0.0.1: %v", err)
		}
	})
	t.Run("cert files", func(t *testing.T) {
		dir := t.TempDir()
		cert, err := selfSignedCert("127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		keyDER, err := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
		if err != nil {
			t.Fatal(err)
		}
		certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
		if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]}), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
			t.Fatal(err)
		}
		url := startProbeTarget(t, probeTargetOptions{pop: "lhr", certFile: certFile, keyFile: keyFile})
		checkProbeEndpoint(t, probeInsecureClient(), url, "lhr")
		err = serveProbeTarget(context.Background(), probeTargetOptions{pop: "lhr", listen: "127.0.0.1:0", certFile: keyFile, keyFile: keyFile}, nil)
		if err == nil || !strings.Contains(err.Error(), "loading TLS certificate") {
			t.Errorf("bad certificate file: %v", err)
		}
	})
}

// TestProbeTargetCommand runs the command itself, waits for it to print
// its URL, probes it, and stops it with SIGINT as a person would.
func TestProbeTargetCommand(t *testing.T) {
	var out, errb syncbuf.Buffer
	code := make(chan int, 1)
	go func() {
		code <- runProbeTarget([]string{"--pop", "sin", "--listen", "127.0.0.1:0", "--self-signed"}, &out, &errb)
	}()
	deadline := time.Now().Add(10 * time.Second)
	var url string
	for url == "" {
		if _, rest, ok := strings.Cut(out.String(), "serving "); ok {
			if line, _, ok := strings.Cut(rest, "\n"); ok {
				url = line
				break
			}
		}
		select {
		case c := <-code:
			t.Fatalf("exited %d before serving: %s", c, errb.String())
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("no URL printed after 10 s: %q %q", out.String(), errb.String())
		}
	}
	checkProbeEndpoint(t, probeInsecureClient(), url, "sin")
	if !strings.Contains(out.String(), "self-signed certificate, SHA-256 ") {
		t.Errorf("output %q: want the certificate's fingerprint", out.String())
	}
	// The command registered for SIGINT before printing its URL, so the
	// signal goes to it, not to the default action.
	if err := syscall.Kill(os.Getpid(), syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case c := <-code:
		if c != 0 {
			t.Errorf("exit %d after SIGINT: %s", c, errb.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("did not stop within 10 s of SIGINT")
	}
}

func TestProbeTargetUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{}, 2, "--pop LABEL is required"},
		{[]string{"--pop", "FRA"}, 2, `--pop: label "FRA" must be lowercase`},
		{[]string{"--pop", "anycast"}, 2, "reserved for the anycast probe target"},
		{[]string{"--pop", "fra", "--listen", "8443"}, 2, `--listen "8443": want host:port`},
		{[]string{"--pop", "fra", "--tls-cert", "c.pem"}, 2, "--tls-cert and --tls-key go together"},
		{[]string{"--pop", "fra", "--tls-cert", "c.pem", "--tls-key", "k.pem", "--self-signed"}, 2, "exclude each other"},
		{[]string{"--pop", "fra", "extra"}, 2, `unexpected argument "extra"`},
		{[]string{"--pop", "fra", "--listen", "192.0.2.1:0"}, 1, "192.0.2.1"}, // not an address of this machine
		{[]string{"--help"}, 0, "usage: steer probe-target"},
	} {
		var out, errb bytes.Buffer
		got := &errb
		if tc.code == 0 {
			got = &out // help goes to stdout
		}
		if code := runProbeTarget(tc.args, &out, &errb); code != tc.code || !strings.Contains(got.String(), tc.want) {
			t.Errorf("%v: exit %d (want %d), stderr %q (want %q)", tc.args, code, tc.code, errb.String(), tc.want)
		}
	}
}
