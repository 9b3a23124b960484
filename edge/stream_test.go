package edge

import (
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"
)

// zeros is an endless reader of zero bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// TestStreamingFlatMemory sends a 1 GiB upload and a 1 GiB download
// through the edge (TLS from the client, HTTP/1.1 to the origin) and
// checks that the heap stays flat: nothing buffers a body whole. The
// client, edge and origin share this process, so the bound holds for all
// three together.
func TestStreamingFlatMemory(t *testing.T) {
	size := int64(1 << 30)
	if raceEnabled || testing.Short() {
		size = 64 << 20
	}
	const heapBound = 64 << 20
	o := newOrigin(t, false, func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodPut:
			n, err := io.Copy(io.Discard, r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			_, _ = io.WriteString(w, strconv.FormatInt(n, 10))
		case http.MethodGet:
			n, _ := strconv.ParseInt(r.URL.Query().Get("n"), 10, 64)
			w.Header().Set("Content-Length", strconv.FormatInt(n, 10))
			buf := make([]byte, 64<<10)
			_, _ = io.CopyBuffer(w, io.LimitReader(zeros{}, n), buf)
		}
	})
	e := startEdge(t, edgeYAML(upstreamYAML(t, "", o, "")), Options{})
	c := e.client(false)

	var peak atomic.Uint64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()

	start := time.Now()
	req, _ := http.NewRequest(http.MethodPut, e.url("/upload"), io.LimitReader(zeros{}, size))
	req.ContentLength = size
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != strconv.FormatInt(size, 10) {
		t.Fatalf("upload: %d %q, want the origin to count %d bytes", resp.StatusCode, body, size)
	}
	up := time.Since(start)

	start = time.Now()
	resp, err = c.Get(e.url(fmt.Sprintf("/download?n=%d", size)))
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.CopyBuffer(io.Discard, resp.Body, make([]byte, 64<<10))
	_ = resp.Body.Close()
	if err != nil || n != size {
		t.Fatalf("download: %d bytes, %v; want %d", n, err, size)
	}
	down := time.Since(start)
	close(stop)
	<-sampled
	mib := float64(size) / (1 << 20)
	t.Logf("%.0f MiB up in %s (%.0f MiB/s), down in %s (%.0f MiB/s); peak HeapInuse %.1f MiB",
		mib, up.Round(time.Millisecond), mib/up.Seconds(), down.Round(time.Millisecond), mib/down.Seconds(), float64(peak.Load())/(1<<20))
	if p := peak.Load(); p > heapBound {
		t.Errorf("peak HeapInuse %.1f MiB > %d MiB: a body is buffered", float64(p)/(1<<20), heapBound>>20)
	}
}
