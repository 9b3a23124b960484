package steerapi

import (
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/steer-gslb/steer/dnsserver"
)

// TestCompressMin: a Resolve answer goes out uncompressed even to a
// client accepting gzip (compressing it costs more than answering it);
// a large batch answer is compressed.
func TestCompressMin(t *testing.T) {
	srv, err := dnsserver.New(writeTestConfig(t, "up", ""), dnsserver.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: New(srv), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = hs.Serve(ln) }()
	t.Cleanup(func() { _ = hs.Close() })
	url := "http://" + ln.Addr().String() + "/steer.v1.SteeringService/"

	batch := `{"requests":[` + strings.Repeat(`{"ip":"203.0.113.9"},`, 99) + `{"ip":"203.0.113.9"}]}`
	for _, c := range []struct {
		method, body string
		gzip         bool
	}{
		{"Resolve", `{"ip":"203.0.113.9"}`, false},
		{"ResolveBatch", batch, true},
	} {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, url+c.method, strings.NewReader(c.body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept-Encoding", "gzip") // set by hand: the transport leaves the answer compressed
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %s %s", c.method, resp.Status, b)
		}
		if got := resp.Header.Get("Content-Encoding") == "gzip"; got != c.gzip {
			t.Errorf("%s (%d bytes on the wire): gzip %v, want %v", c.method, len(b), got, c.gzip)
		}
	}
}
