package edge

import (
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/steer-gslb/steer/edge/accesslog"
)

func TestAccessLogHook(t *testing.T) {
	o := newOrigin(t, false, nil)
	path := filepath.Join(t.TempDir(), "access.ndjson")
	w, err := accesslog.Open(path, accesslog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = w.Close() }()
	e := startEdge(t, edgeYAML(upstreamYAML(t, "", o, "")), Options{OnRequest: AccessLogHook(w, "fra")})
	req, _ := http.NewRequest(http.MethodGet, e.url("/logged?secret=1"), nil)
	req.Host = "www.example.com" // so that 127.0.0.1 can only be the client
	resp, err := e.client(false).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	id := resp.Header.Get("X-Request-ID")
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	line := string(data)
	for _, want := range []string{`"req":"` + id + `"`, `"pop":"fra"`, `"path":"/logged"`, `"status":200`, `"client_net":"127.0.0.0/24"`, `"upstream":"dc1"`, `"tls":"1.3"`} {
		if !strings.Contains(line, want) {
			t.Errorf("access log line lacks %s:\n%s", want, line)
		}
	}
	if runtime.GOOS == "linux" && !strings.Contains(line, `"tcp_rtt_us":`) {
		t.Errorf("access log line has no TCP_INFO:\n%s", line)
	}
	if strings.Contains(line, "127.0.0.1") || strings.Contains(line, "secret") {
		t.Errorf("access log holds a full client address or the query:\n%s", line)
	}
}
