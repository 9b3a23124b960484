package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/steer-gslb/steer/config"
	"github.com/steer-gslb/steer/internal/cli"
	"github.com/steer-gslb/steer/popmap"
	"github.com/steer-gslb/steer/probe"
)

const probeTargetUsage = `usage: steer probe-target --pop LABEL --listen ADDR [--tls-cert FILE --tls-key FILE | --self-signed]

Serves the probe endpoint of one PoP at /rum/probe, alone: what a PoP's
edge proxy (or steer collect) serves for agents and the JavaScript beacon to
measure. Plain HTTP without a certificate (agents count only HTTPS samples);
--self-signed makes a throwaway certificate for localhost and the listen
address (agents need --insecure-tls). Prints its URL, then serves until
SIGINT or SIGTERM. Logs nothing per request, and no client address.

`

// probeTargetOptions are steer probe-target's flags.
type probeTargetOptions struct {
	pop, listen       string
	certFile, keyFile string
	selfSigned        bool
}

func runProbeTarget(args []string, stdout, stderr io.Writer) int {
	fs := cli.New("steer probe-target", probeTargetUsage, probeTargetExample, stdout, stderr)
	var o probeTargetOptions
	fs.StringVar(&o.pop, "pop", "", "label of the PoP this endpoint answers for (X-Edge-PoP)")
	fs.StringVar(&o.listen, "listen", "127.0.0.1:8443", "address to listen on (host:port; port 0 picks one)")
	fs.StringVar(&o.certFile, "tls-cert", "", "TLS certificate (PEM); with --tls-key")
	fs.StringVar(&o.keyFile, "tls-key", "", "TLS private key (PEM)")
	fs.BoolVar(&o.selfSigned, "self-signed", false, "serve HTTPS with a generated self-signed certificate")
	if code, ok := fs.Parse(args); !ok {
		return code
	}
	if fs.NArg() > 0 {
		return fs.Usagef("unexpected argument %q", fs.Arg(0))
	}
	if err := o.check(); err != nil {
		return fs.Usagef("%v", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := serveProbeTarget(ctx, o, func(url, fingerprint string) {
		fmt.Fprintf(stdout, "steer probe-target: PoP %s serving %s\n", o.pop, url)
		if fingerprint != "" {
			fmt.Fprintf(stdout, "steer probe-target: self-signed certificate, SHA-256 %s\n", fingerprint)
		}
	})
	if err != nil {
		fmt.Fprintf(stderr, "steer probe-target: %v\n", err)
		return 1
	}
	return 0
}

// check validates the flags.
func (o *probeTargetOptions) check() error {
	if o.pop == "" {
		return errors.New("--pop LABEL is required")
	}
	if err := config.CheckLabel(popmap.Label(o.pop)); err != nil {
		return fmt.Errorf("--pop: %w", err)
	}
	if _, _, err := net.SplitHostPort(o.listen); err != nil {
		return fmt.Errorf("--listen %q: want host:port", o.listen)
	}
	switch {
	case (o.certFile == "") != (o.keyFile == ""):
		return errors.New("--tls-cert and --tls-key go together")
	case o.certFile != "" && o.selfSigned:
		return errors.New("--self-signed and --tls-cert exclude each other")
	}
	return nil
}

// serveProbeTarget serves probe.Handler(o.pop) at probe.Path on o.listen
// until ctx ends, then shuts down gracefully (in-flight probes finish, for
// at most 5 s). ready is called once the listener is bound, with the probe
// URL and, for --self-signed, the certificate's SHA-256 fingerprint.
func serveProbeTarget(ctx context.Context, o probeTargetOptions, ready func(url, fingerprint string)) error {
	var tlsCfg *tls.Config
	fingerprint := ""
	switch {
	case o.certFile != "":
		cert, err := tls.LoadX509KeyPair(o.certFile, o.keyFile)
		if err != nil {
			return fmt.Errorf("loading TLS certificate: %w", err)
		}
		tlsCfg = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	case o.selfSigned:
		cert, err := selfSignedCert(o.listen)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(cert.Certificate[0])
		fingerprint = fmt.Sprintf("%X", sum[:])
		tlsCfg = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return err
	}
	scheme := "http"
	if tlsCfg != nil {
		scheme = "https"
		ln = tls.NewListener(ln, tlsCfg)
	}
	mux := http.NewServeMux()
	mux.Handle(probe.Path, probe.Handler(o.pop))
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    16 << 10,
		// net/http logs TLS handshake errors with the client's address;
		// client addresses are never written anywhere.
		ErrorLog: log.New(io.Discard, "", 0),
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	if ready != nil {
		ready(scheme+"://"+ln.Addr().String()+probe.Path, fingerprint)
	}
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutting down: %w", err)
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// selfSignedCert makes an ECDSA P-256 certificate valid for a year for
// localhost, the loopback addresses and the host of listen.
func selfSignedCert(listen string) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("generating key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("generating serial: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "steer probe-target"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	if host, _, err := net.SplitHostPort(listen); err == nil && host != "" {
		if ip := net.ParseIP(host); ip != nil {
			if !ip.IsUnspecified() && !ip.IsLoopback() {
				tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
			}
		} else if host != "localhost" {
			tmpl.DNSNames = append(tmpl.DNSNames, host)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("creating certificate: %w", err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}

const probeTargetExample = `steer probe-target --pop fra --listen 127.0.0.1:8443 --self-signed`
