package dnsserver

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"runtime/debug"
	"syscall"
	"testing"
	"time"
)

// TestRunSIGHUP: with file watching off, SIGHUP alone reloads. Run also
// sets the DNS server's GC percent (without GOGC in the environment).
func TestRunSIGHUP(t *testing.T) {
	t.Setenv("GOGC", "")
	before := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(before) })
	p := exampleConfig(t, `dns: ["127.0.0.1:5353"]`, `dns: ["127.0.0.1:0"]`, `admin: "127.0.0.1:9153"`, `admin: ""`, "watch: true", "watch: false")
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan *Server, 1)
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, p, Options{Logger: slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil))}, func(s *Server) { ready <- s })
	}()
	var s *Server
	select {
	case s = <-ready:
	case err := <-done:
		t.Fatal(err)
	case <-time.After(10 * time.Second):
		t.Fatal("server did not start")
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(10 * time.Second)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for s.Serial() < 2 {
		select {
		case <-deadline:
			t.Fatal("SIGHUP did not reload")
		case <-tick.C:
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := debug.SetGCPercent(100); got != ServerGCPercent {
		t.Errorf("GC percent after Run: %d, want %d", got, ServerGCPercent)
	}
}
