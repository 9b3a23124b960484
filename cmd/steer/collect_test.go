//go:build cgo

package main

import (
	"bytes"
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

	"github.com/steer-gslb/steer/collector"
)

// TestCollectAndStoreCommands runs the collector as steer collect does,
// posts a beacon, stops it, and reads the store back with steer store.
func TestCollectAndStoreCommands(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "rum")
	cfg := collector.Defaults()
	cfg.Listen = "127.0.0.1:0"
	cfg.Tokens = []string{"cmd-test-token"}
	cfg.Admin = "127.0.0.1:0"
	ctx, cancel := context.WithCancel(context.Background())
	addrc := make(chan net.Addr, 1)
	codec := make(chan int, 1)
	var out, errb bytes.Buffer
	go func() {
		codec <- collect(ctx, dir, dir, cfg, slog.LevelInfo, 720*time.Hour, &out, &errb, func(a net.Addr) { addrc <- a }, loopJobs{})
	}()
	var addr net.Addr
	select {
	case addr = <-addrc:
	case c := <-codec:
		t.Fatalf("collect exited %d: %s", c, errb.String())
	}
	// a sample inside the collector's window (max_sample_age) of its clock
	ts := time.Now().UTC().Add(-time.Minute).Format(time.RFC3339Nano)
	body := `{"v":1,"agent":{"kind":"cli"},"samples":[{"ts":"` + ts + `","target":"fra","probe":"https","rtt_ms":12.5}]}`
	req, err := http.NewRequest(http.MethodPost, "http://"+addr.String()+"/beacon", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer cmd-test-token")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	reply, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != 200 || string(reply) != "{\"accepted\":1}\n" {
		t.Fatalf("%d %q", resp.StatusCode, reply)
	}
	// with an admin listener, the public one does not serve /metrics
	if resp, err := http.Get("http://" + addr.String() + "/metrics"); err != nil || resp.StatusCode != 404 {
		t.Errorf("public /metrics: %v %v", resp, err)
	} else {
		_ = resp.Body.Close()
	}
	cancel()
	if c := <-codec; c != 0 {
		t.Fatalf("collect exited %d: %s", c, errb.String())
	}
	if !strings.Contains(out.String(), "listening on http://127.0.0.1:") || !strings.Contains(out.String(), "admin (/metrics, /querylog, /healthz) on http://127.0.0.1:") {
		t.Errorf("output %q", out.String())
	}

	var so bytes.Buffer
	if c := run([]string{"store", "stats", "--store", dir}, &so, &errb); c != 0 || !strings.Contains(so.String(), "1 beacons, 1 samples, 0 DNS queries") {
		t.Fatalf("store stats: %d %q %s", c, so.String(), errb.String())
	}
	exp := filepath.Join(t.TempDir(), "parquet")
	if c := run([]string{"store", "export", "--store", dir, "--out", exp}, &so, &errb); c != 0 {
		t.Fatalf("store export: %d %s", c, errb.String())
	}
	for _, f := range []string{"samples.parquet", "beacons.parquet", "queries.parquet"} {
		if st, err := os.Stat(filepath.Join(exp, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
	so.Reset()
	if c := run([]string{"store", "prune", "--store", dir, "--older-than", "1ns"}, &so, &errb); c != 0 || !strings.Contains(so.String(), "0 beacons, 0 samples") {
		t.Errorf("store prune: %d %q %s", c, so.String(), errb.String())
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"collect"}, "--store DIR is required"},
		{[]string{"collect", "--store", dir, "--log-level", "loud"}, "--log-level"},
		{[]string{"collect", "--store", dir, "--config", "/nonexistent.yaml"}, "collector config"},
		{[]string{"collect", "--store", dir, "--listen", "127.0.0.1:0", "--admin", "nope"}, "admin: listen tcp: address nope"},
		{[]string{"store"}, "steer store: missing subcommand: one of stats, export, prune, copy\nRun 'steer store --help' for usage."},
		{[]string{"store", "frobnicate", "--store", dir}, `unknown subcommand "frobnicate"`},
		{[]string{"store", "export", "--store", dir}, "--out DIR is required"},
		{[]string{"store", "prune", "--store", dir}, "--older-than must be a positive duration"},
	} {
		var e bytes.Buffer
		if c := run(tc.args, io.Discard, &e); c == 0 || !strings.Contains(e.String(), tc.want) {
			t.Errorf("%v: exit %d, stderr %q, want %q", tc.args, c, e.String(), tc.want)
		}
	}
}
