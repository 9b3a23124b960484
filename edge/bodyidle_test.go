package edge

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestFaultSlowBody: a client that stalls in the middle of an upload is cut
// off after timeouts.body_idle, while an upload that keeps sending, slowly,
// goes through whole; a response after the upload is not cut by the
// deadline the body reads set.
func TestFaultSlowBody(t *testing.T) {
	got := make(chan int, 4)
	o := newOrigin(t, false, func(w http.ResponseWriter, r *http.Request) {
		n, err := io.Copy(io.Discard, r.Body)
		if err != nil {
			got <- -1
			return
		}
		got <- int(n)
		// answer after the body, slower than body_idle
		time.Sleep(500 * time.Millisecond) // the origin's work, not a wait for a condition
		_, _ = fmt.Fprintf(w, "read %d", n)
	})
	e := startEdge(t, edgeYAML(upstreamYAML(t, "", o, "timeouts:\n  body_idle: 300ms\n")), Options{})

	post := func(t *testing.T, chunks int, gap time.Duration, stallAfter int) (string, time.Duration) {
		c, err := net.Dial("tcp", e.HTTPAddr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = c.Close() }()
		start := time.Now()
		_, _ = fmt.Fprintf(c, "POST /up HTTP/1.1\r\nHost: edge.test\r\nConnection: close\r\nContent-Length: %d\r\n\r\n", chunks*10)
		tick := time.NewTicker(gap)
		defer tick.Stop()
		for i := range chunks {
			if i == stallAfter {
				break // stall: send nothing more
			}
			<-tick.C
			if _, err := c.Write([]byte(strings.Repeat("x", 10))); err != nil {
				break
			}
		}
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		b, _ := io.ReadAll(c)
		return string(b), time.Since(start)
	}

	t.Run("steady", func(t *testing.T) {
		// 10 chunks 100 ms apart: 1 s in all, each read well within 300 ms
		resp, _ := post(t, 10, 100*time.Millisecond, -1)
		if !strings.Contains(resp, "200 OK") || !strings.Contains(resp, "read 100") {
			t.Errorf("steady upload: %q", resp)
		}
		if n := <-got; n != 100 {
			t.Errorf("origin read %d bytes, want 100", n)
		}
	})
	t.Run("stalled", func(t *testing.T) {
		resp, d := post(t, 10, 50*time.Millisecond, 3)
		if strings.Contains(resp, "200 OK") {
			t.Errorf("stalled upload answered 200: %q", resp)
		}
		t.Logf("stalled upload: %q after %s", strings.SplitN(resp, "\r\n", 2)[0], d)
		if d > 3*time.Second {
			t.Errorf("stalled upload held for %s, want ≈ body_idle 300ms", d)
		}
		if n := <-got; n != -1 {
			t.Errorf("origin read %d bytes of a stalled upload, want an error", n)
		}
	})
}

// TestFaultEarlyAnswerHTTP2: an origin that answers before it read the
// upload leaves the transport reading the body after the handler returned;
// the body's deadlines must not touch the finished HTTP/2 stream (a panic
// in net/http before the fix).
func TestFaultEarlyAnswerHTTP2(t *testing.T) {
	o := newOrigin(t, false, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "early") // does not read the body
	})
	e := startEdge(t, edgeYAML(upstreamYAML(t, "", o, "timeouts:\n  body_idle: 2s\n")), Options{})
	c := e.client(true)
	for i := range 20 {
		pr, pw := io.Pipe()
		go func() {
			chunk := []byte(strings.Repeat("x", 32<<10))
			for range 64 {
				if _, err := pw.Write(chunk); err != nil {
					return
				}
			}
			_ = pw.Close()
		}()
		resp, err := c.Post(e.url("/up"), "application/octet-stream", pr)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
		}
		_ = pr.Close()
		if err == nil && resp.ProtoMajor != 2 {
			t.Fatalf("request %d over %s, want HTTP/2", i, resp.Proto)
		}
	}
	// The edge still serves.
	resp, err := c.Get(e.url("/after"))
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("after the early answers: %d", resp.StatusCode)
	}
}
