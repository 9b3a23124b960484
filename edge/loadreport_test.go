package edge

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/steer-gslb/steer/internal/controltest"
)

// TestRunFileReportsLoad: with load_report, the edge run by RunFile reports
// its request rate to a real control server, which then holds a load for
// the edge's PoP.
func TestRunFileReportsLoad(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("dns.yaml", `pops:
  - {label: fra, lat: 50.1, lon: 8.7, ipv4: ["192.0.2.10"], capacity: 1000}
zones:
  - name: example.net
    ns: [{name: ns1.example.net, ipv4: ["127.0.0.1"]}]
    records:
      - {name: www, steering: [default], default: {ipv4: ["192.0.2.1"]}}
`)
	cs, ctlURL := controltest.Start(t, dir, "dns.yaml", "")

	o := newOrigin(t, false, nil)
	ca := newTestCA(t)
	ca.issue(t, dir, "edge", "edge.test", "127.0.0.1")
	write("edge-token", "operate-token-0123456789\n")
	// RunFile does not say where it listens: a free port, taken and let go.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	httpAddr := ln.Addr().String()
	_ = ln.Close()
	yml := strings.Replace(edgeYAML(upstreamYAML(t, "", o, "")), "listen_http: 127.0.0.1:0", "listen_http: "+httpAddr, 1)
	write("edge.yaml", yml+"load_report: {url: "+ctlURL+", token_file: edge-token, capacity: 100, every: 1s}\n")

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- RunFile(ctx, filepath.Join(dir, "edge.yaml"), Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("RunFile: %v", err)
		}
	}()

	// Requests through the edge's plain listener, until the control server
	// holds a load for fra.
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for deadline := time.Now().Add(15 * time.Second); ; {
		select {
		case err := <-done:
			t.Fatalf("RunFile ended: %v", err)
		case <-tick.C:
		}
		if time.Now().After(deadline) {
			t.Fatal("the control server never got fra's load")
		}
		st, _ := cs.Snapshot()
		if ps := st.PoPs["fra"]; ps != nil && ps.LoadAge >= 0 && ps.Load > 0 {
			t.Logf("fra load %.3f of capacity", ps.Load)
			return
		}
		if resp, err := http.Get("http://" + httpAddr + "/"); err == nil {
			_ = resp.Body.Close()
		}
	}
}
