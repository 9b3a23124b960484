package health

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/steer-gslb/steer/config"
)

// prober runs one check; nil error means healthy. It returns within the
// check's timeout.
type prober func(ctx context.Context) error

// userAgent is sent with every HTTP check, so that a PoP's logs can tell
// checks from traffic.
const userAgent = "steer-health/1"

func newProber(ck *config.Check) prober {
	switch ck.Type {
	case config.CheckHTTP, config.CheckHTTPS:
		return httpProber(ck)
	case config.CheckTCP:
		return tcpProber(ck)
	}
	return func(context.Context) error { return fmt.Errorf("unknown check type %q", ck.Type) }
}

// httpProber GETs ck.URL with a client of its own. Keep-alives are off: each
// check opens a new connection, as a client would, so that a server that
// accepts no new connections fails its check, and no idle connection is left
// to a PoP whose check is replaced. Redirects are not followed: a 3xx is the
// answer, which passes only if ck.Status expects it. The environment's proxy
// is not used: the check is about the PoP, not the path to a proxy.
func httpProber(ck *config.Check) prober {
	tlsConf := &tls.Config{
		InsecureSkipVerify: ck.Insecure, // the operator's explicit choice (insecure: true)
		MinVersion:         tls.VersionTLS12,
	}
	if ck.Host != "" {
		tlsConf.ServerName = serverName(ck.Host)
	}
	var dialer net.Dialer // the request's context bounds the dial
	client := &http.Client{
		Transport: &http.Transport{
			Proxy:                  nil,
			DialContext:            dialer.DialContext,
			TLSClientConfig:        tlsConf,
			TLSHandshakeTimeout:    ck.Timeout,
			DisableKeepAlives:      true,
			DisableCompression:     true,
			MaxResponseHeaderBytes: config.MaxCheckBody,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	want := []byte(ck.Body)
	return func(ctx context.Context) error {
		ctx, cancel := context.WithTimeout(ctx, ck.Timeout)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, ck.URL, nil)
		if err != nil {
			return fmt.Errorf("GET %s: %w", ck.URL, err)
		}
		if ck.Host != "" {
			req.Host = ck.Host
		}
		req.Header.Set("User-Agent", userAgent)
		resp, err := client.Do(req)
		if err != nil {
			return timeoutError(ctx, err, "GET "+ck.URL, ck.Timeout)
		}
		defer func() { _ = resp.Body.Close() }()
		if resp.StatusCode != ck.Status {
			return fmt.Errorf("GET %s: status %d, want %d", ck.URL, resp.StatusCode, ck.Status)
		}
		if len(want) == 0 {
			return nil
		}
		body, err := io.ReadAll(io.LimitReader(resp.Body, config.MaxCheckBody))
		if err != nil {
			return timeoutError(ctx, fmt.Errorf("GET %s: reading body: %w", ck.URL, err), "GET "+ck.URL, ck.Timeout)
		}
		if !bytes.Contains(body, want) {
			return fmt.Errorf("GET %s: body lacks %q (first %d bytes read)", ck.URL, ck.Body, config.MaxCheckBody)
		}
		return nil
	}
}

// serverName is the TLS server name for a Host override, which may carry a
// port or IPv6 brackets.
func serverName(host string) string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		return h
	}
	return strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
}

// tcpProber connects to ck.Addr and closes the connection.
func tcpProber(ck *config.Check) prober {
	addr := ck.Addr.String()
	var dialer net.Dialer
	return func(ctx context.Context) error {
		ctx, cancel := context.WithTimeout(ctx, ck.Timeout)
		defer cancel()
		conn, err := dialer.DialContext(ctx, "tcp", addr)
		if err != nil {
			return timeoutError(ctx, err, "connect "+addr, ck.Timeout)
		}
		_ = conn.Close() // connected is all this check asks
		return nil
	}
}

// timeoutError rewords an error caused by the check's deadline, whose text
// ("context deadline exceeded", "i/o timeout") does not say which limit.
// A network timeout may come a moment before ctx reports its deadline.
func timeoutError(ctx context.Context, err error, what string, timeout time.Duration) error {
	var ne net.Error
	if errors.Is(ctx.Err(), context.DeadlineExceeded) || (ctx.Err() == nil && errors.As(err, &ne) && ne.Timeout()) {
		return fmt.Errorf("%s: no answer within %v", what, timeout)
	}
	return err
}
