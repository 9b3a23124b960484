package test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/steer-gslb/steer/collector"
	"github.com/steer-gslb/steer/internal/syncbuf"
	"github.com/steer-gslb/steer/store"
	"github.com/steer-gslb/steer/store/duckstore"
	"github.com/steer-gslb/steer/store/storeopen"
)

const collectorToken = "test-agent-token"

// TestMain lets the test binary double as a collector process for the
// kill -9 test: with STEER_TEST_COLLECTOR_DIR set it runs the collector on
// that store, prints its address and serves until killed.
func TestMain(m *testing.M) {
	if dir := os.Getenv("STEER_TEST_COLLECTOR_DIR"); dir != "" {
		os.Exit(runChildCollector(dir))
	}
	if role := os.Getenv("STEER_TEST_ROLE"); role != "" {
		os.Exit(runChildRole(role, os.Getenv("STEER_TEST_ROLE_CONFIG")))
	}
	os.Exit(m.Run())
}

// collectorConfig is the test collectors' config: loopback, one agent
// token, loopback trusted as a proxy (the tests send each beacon's client
// address in X-Forwarded-For) and no rate limit (a test client is one
// network posting thousands of beacons).
func collectorConfig() *collector.Config {
	cfg := collector.Defaults()
	cfg.Listen = "127.0.0.1:0"
	cfg.Tokens = []string{collectorToken}
	cfg.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	cfg.Rate = 0
	return cfg
}

// runChildCollector runs a collector as steer collect does on the store
// dir (its spool in dir/spool), with collectorConfig or, when
// STEER_TEST_COLLECTOR_CONFIG is set, that YAML config; it prints "ADDR
// public admin" ("-" without an admin listener) and serves until SIGTERM
// (or SIGKILL).
func runChildCollector(dir string) int {
	cfg := collectorConfig()
	if y := os.Getenv("STEER_TEST_COLLECTOR_CONFIG"); y != "" {
		c, err := collector.ParseConfig([]byte(y))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		cfg = c
	}
	spec := dir // STEER_TEST_COLLECTOR_STORE: a store URL, dir then holds the spool only
	if u := os.Getenv("STEER_TEST_COLLECTOR_STORE"); u != "" {
		spec = u
	}
	st, err := storeopen.Open(context.Background(), spec, storeopen.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	srv, err := collector.New(cfg, st, collector.Options{Logger: logger, SpoolDir: filepath.Join(dir, "spool")})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	l, admin, err := srv.Listen()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	adminAddr := "-"
	if admin != nil {
		adminAddr = admin.Addr().String()
	}
	fmt.Printf("ADDR %s %s\n", l.Addr(), adminAddr)
	if err := srv.Serve(ctx, l, admin); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := st.Close(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// testBeacon is a distinct desktop beacon: its DNS test name identifies
// it. Its samples are a minute old: inside the collector's window.
func testBeacon(name string, rtt float64) string {
	ts := time.Now().UTC().Add(-time.Minute).Truncate(time.Millisecond)
	return fmt.Sprintf(`{"v":1,"agent":{"kind":"desktop","platform":"linux","timer":"monotonic"},"dns_test":"%s.rum.example.net","samples":[`+
		`{"ts":"%s","target":"fra","probe":"https","rtt_ms":%v},`+
		`{"ts":"%s","target":"ams","probe":"https","rtt_ms":%v}]}`,
		name, ts.Format(time.RFC3339Nano), rtt, ts.Add(100*time.Millisecond).Format(time.RFC3339Nano), rtt+1)
}

func postBeacon(ctx context.Context, c *http.Client, url, body, forwardedFor string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+collectorToken)
	req.Header.Set("Content-Type", "application/json")
	if forwardedFor != "" {
		req.Header.Set("X-Forwarded-For", forwardedFor)
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp.StatusCode, nil
}

// TestCollectorKill9 kills a collector process with SIGKILL during steady
// ingest, reopens its store and checks that every beacon that got a 2xx is
// there: acknowledged means durable.
// startChildCollector runs the test binary as a collector process on the
// store dir (see TestMain).
func startChildCollector(t *testing.T, dir string) *child {
	t.Helper()
	return startChild(t, "collector", []string{"STEER_TEST_COLLECTOR_DIR=" + dir})
}

// stop signals the child and waits for it.
func (c *child) stop(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if err := c.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	err := c.cmd.Wait()
	c.done = true
	if sig == syscall.SIGTERM && err != nil {
		t.Fatalf("%s after SIGTERM: %v; stderr:\n%s", c.name, err, c.stderr.String())
	}
}

// TestCollectorKill9 kills a collector process with SIGKILL during steady
// ingest, restarts it on the same store, stops it cleanly and checks that
// every beacon that got a 2xx is in the store: acknowledged means durable.
func TestCollectorKill9(t *testing.T) {
	dir := t.TempDir()
	child := startChildCollector(t, dir)
	addr := child.addr
	url := "http://" + addr + "/beacon"

	var (
		mu    sync.Mutex
		acked []string
		sent  atomic.Int64
	)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	client := &http.Client{Timeout: 10 * time.Second}
	var wg sync.WaitGroup
	const workers, perWorker = 8, 2000 // bounded: the kill comes long before
	for w := range workers {
		wg.Go(func() {
			for i := range perWorker {
				name := fmt.Sprintf("w%dn%d", w, i)
				sent.Add(1)
				code, err := postBeacon(ctx, client, url, testBeacon(name, float64(i)), fmt.Sprintf("198.51.%d.%d", w, i%250+1))
				if err != nil {
					return // the collector is gone
				}
				if code == http.StatusOK {
					mu.Lock()
					acked = append(acked, name)
					mu.Unlock()
				}
			}
		})
	}
	// kill once a few hundred beacons are acknowledged, while requests are
	// in flight
	deadline := time.Now().Add(30 * time.Second)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n >= 1000 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d beacons acknowledged in 30 s; stderr:\n%s", n, child.stderr.String())
		}
		<-tick.C
	}
	child.stop(t, syscall.SIGKILL)
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	t.Logf("%d beacons sent, %d acknowledged before SIGKILL", sent.Load(), len(acked))
	inStore := func() map[string]bool {
		st, err := duckstore.Open(dir, duckstore.Options{})
		if err != nil {
			t.Fatalf("opening the store: %v", err)
		}
		defer func() { _ = st.Close() }()
		stored := map[string]bool{}
		if err := st.ScanSamples(context.Background(), func(r *store.SampleRow) error {
			stored[strings.TrimSuffix(r.DNSTest, ".rum.example.net")] = true
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return stored
	}
	before := inStore()
	spoolOnly := 0
	for _, name := range acked {
		if !before[name] {
			spoolOnly++
		}
	}
	t.Logf("at the kill, %d acknowledged beacons were in the spool only", spoolOnly)
	// restart: the collector loads what its spool holds; a clean stop
	// loads the rest
	startChildCollector(t, dir).stop(t, syscall.SIGTERM)
	stored := inStore()

	lost := 0
	for _, name := range acked {
		if !stored[name] {
			lost++
			if lost <= 5 {
				t.Errorf("acknowledged beacon %s is not in the store", name)
			}
		}
	}
	if lost > 0 {
		t.Errorf("%d of %d acknowledged beacons lost", lost, len(acked))
	}
}

// TestCollectorNoFullClientAddress posts beacons over HTTP from many client
// addresses (as a trusted proxy's X-Forwarded-For, IPv4 and IPv6), some
// rejected, with debug logging on; then scans every file of the store
// directory and the log for any of the full addresses.
func TestCollectorNoFullClientAddress(t *testing.T) {
	dir := t.TempDir()
	st, err := duckstore.Open(dir, duckstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var logs syncbuf.Buffer
	srv, err := collector.New(collectorConfig(), st, collector.Options{
		Logger:   slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		SpoolDir: filepath.Join(dir, "spool"),
	})
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, l, nil) }()
	url := "http://" + l.Addr().String() + "/beacon"
	client := &http.Client{Timeout: 10 * time.Second}

	var addrs []netip.Addr
	for i := range 150 {
		addrs = append(addrs, netip.AddrFrom4([4]byte{203, 0, byte(i / 10), byte(101 + i%10*13)}))
		addrs = append(addrs, netip.MustParseAddr(fmt.Sprintf("2a02:db8:%x:%x:1234:5678:9abc:%x", i, i*7, 0xde00+i)))
	}
	for i, a := range addrs {
		body := testBeacon(fmt.Sprintf("p%d", i), float64(i))
		want := http.StatusOK
		if i%5 == 4 {
			body, want = `{"v":1,"agent":{"kind":"desktop"},"samples":[{"ts":"bad"}]}`, http.StatusBadRequest
		}
		code, err := postBeacon(ctx, client, url, body, a.String())
		if err != nil || code != want {
			t.Fatalf("%v: %d %v, want %d", a, code, err, want)
		}
	}
	cancel()
	if err := <-served; err != nil {
		t.Fatal(err)
	}
	// every accepted beacon reached the store (2 samples each), with its
	// client network truncated
	rows := 0
	if err := st.ScanSamples(context.Background(), func(r *store.SampleRow) error {
		rows++
		if b := r.Network.Bits(); b != 24 && b != 56 {
			t.Errorf("stored network %v", r.Network)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if want := 2 * (len(addrs) - len(addrs)/5); rows != want {
		t.Errorf("%d samples in the store, want %d", rows, want)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if logs.String() == "" {
		t.Fatal("nothing logged at debug level")
	}
	files := map[string][]byte{"the collector's log": []byte(logs.String())}
	err = filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		files[p] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 2 {
		t.Fatalf("the store wrote no files: %v", files)
	}
	for name, b := range files {
		for _, a := range addrs {
			if bytes.Contains(b, []byte(a.String())) {
				t.Errorf("%s holds the full address %s", name, a)
			}
			if a.Is6() {
				if raw := a.As16(); bytes.Contains(b, raw[:]) {
					t.Errorf("%s holds the full address %s in binary", name, a)
				}
			}
		}
	}
}
