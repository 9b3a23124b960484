package probe

import (
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/steer-gslb/steer/rum"
)

// probeServer starts an HTTPS probe endpoint for pop on 127.0.0.1 that
// waits delay before answering each request (a PoP farther away). It is
// closed when the test ends. Every httptest TLS server uses the same
// certificate, so any one's Client() trusts them all.
func probeServer(t testing.TB, pop string, delay time.Duration) *httptest.Server {
	t.Helper()
	h := Handler(pop)
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if delay > 0 {
			// Not a sleep in the test: the server side of a slower path.
			tm := time.NewTimer(delay)
			defer tm.Stop()
			select {
			case <-tm.C:
			case <-r.Context().Done():
				return
			}
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// hangingServer starts an HTTPS server whose handler never answers until
// the client goes away (or the test ends).
func hangingServer(t testing.TB) *httptest.Server {
	t.Helper()
	done := make(chan struct{})
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-done:
		}
	}))
	t.Cleanup(func() { close(done); srv.Close() })
	return srv
}

// silentListener accepts TCP connections on 127.0.0.1 and never says a
// word: a TLS handshake with it hangs. It returns the https URL.
func silentListener(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	conns := make(chan net.Conn, 16)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns <- c
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		for {
			select {
			case c := <-conns:
				_ = c.Close()
			default:
				return
			}
		}
	})
	return "https://" + ln.Addr().String() + Path
}

// closedURL returns an https URL on 127.0.0.1 where nothing listens.
func closedURL(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return "https://" + addr + Path
}

// checkBeacon encodes b with rum.AppendBeacon and parses it back in Strict
// mode, as the collector will: what the agent sends must be accepted.
func checkBeacon(t testing.TB, b *rum.Beacon) *rum.Beacon {
	t.Helper()
	line := rum.AppendBeacon(nil, b)
	var got rum.Beacon
	if _, err := rum.ParseBeacon(line, rum.Strict, &got); err != nil {
		t.Fatalf("beacon does not parse in Strict mode: %v\n%s", err, line)
	}
	return &got
}
