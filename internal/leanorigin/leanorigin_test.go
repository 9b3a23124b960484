package leanorigin

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

var requestTests = []struct {
	name, in string
	want     request
	err      string // "" = no error
}{
	{"get", "GET / HTTP/1.1\r\nHost: a\r\n\r\n", request{}, ""},
	{"large", "GET /64k HTTP/1.1\r\n\r\n", request{large: true}, ""},
	{"head", "HEAD /64k/x HTTP/1.1\r\n\r\n", request{head: true, large: true}, ""},
	{"close", "GET / HTTP/1.1\r\nconnection: Close\r\n\r\n", request{close: true}, ""},
	{"http10", "GET / HTTP/1.0\r\n\r\n", request{close: true}, ""},
	{"body", "POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\n", request{bodyLen: 5}, ""},
	{"bare LF", "GET / HTTP/1.1\nHost: a\n\n", request{}, ""},
	{"eof", "", request{}, "EOF"},
	{"bad line", "GARBAGE\r\n\r\n", request{}, "malformed request line"},
	{"bad proto", "GET / SPDY/3\r\n\r\n", request{}, "malformed request line"},
	{"bad header", "GET / HTTP/1.1\r\nnocolon\r\n\r\n", request{}, "malformed header line"},
	{"bad length", "POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", request{}, "bad Content-Length"},
	{"chunked", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", request{}, "chunked"},
	{"truncated", "GET / HTTP/1.1\r\nHost: a", request{}, "reading request"},
	{"too large", "GET / HTTP/1.1\r\nX: " + strings.Repeat("a", MaxHeaderBytes) + "\r\n\r\n", request{}, "too large"},
}

func TestReadRequest(t *testing.T) {
	for _, tt := range requestTests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := readRequest(bufio.NewReaderSize(strings.NewReader(tt.in), 4096))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want one containing %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func FuzzReadRequest(f *testing.F) {
	for _, tt := range requestTests {
		f.Add(tt.in)
	}
	f.Fuzz(func(t *testing.T, in string) {
		req, err := readRequest(bufio.NewReaderSize(strings.NewReader(in), 4096))
		if err == nil && req.bodyLen < 0 {
			t.Fatalf("negative body length %d from %q", req.bodyLen, in)
		}
	})
}

// TestServe serves kept-alive requests to net/http's client over a real
// loopback connection: both body sizes, HEAD, a request body, and one
// connection for all of them.
func TestServe(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- Serve(ln) }()
	conns := 0
	tr := &http.Transport{DialContext: nil}
	tr.Dial = func(network, addr string) (net.Conn, error) { //nolint:staticcheck // counting dials
		conns++
		return net.DialTimeout(network, addr, 5*time.Second)
	}
	c := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	base := "http://" + ln.Addr().String()
	for _, tt := range []struct {
		method, path string
		body         string
		want         int
	}{
		{"GET", "/", "", SmallBody},
		{"GET", "/64k", "", LargeBody},
		{"POST", "/x", "hello", SmallBody},
		{"HEAD", "/64k", "", 0},
		{"GET", "/64kb", "", LargeBody},
	} {
		var body io.Reader
		if tt.body != "" {
			body = strings.NewReader(tt.body)
		}
		req, _ := http.NewRequest(tt.method, base+tt.path, body)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", tt.method, tt.path, err)
		}
		b, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != 200 || len(b) != tt.want || !bytes.Equal(b, bytes.Repeat([]byte("x"), tt.want)) {
			t.Fatalf("%s %s: %d with %d bytes, want 200 with %d", tt.method, tt.path, resp.StatusCode, len(b), tt.want)
		}
	}
	if conns != 1 {
		t.Errorf("%d connections for 5 requests, want 1 (keep-alive)", conns)
	}
	tr.CloseIdleConnections()
	_ = ln.Close()
	if err := <-done; err == nil {
		t.Error("Serve returned nil after Close, want the Accept error")
	}
}
