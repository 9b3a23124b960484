package chstore

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/steer-gslb/steer/internal/chtest"
	"github.com/steer-gslb/steer/rum"
	"github.com/steer-gslb/steer/store"
)

// The package's tests share one two-shard cluster, started by the first
// test that needs it and stopped by TestMain; each test uses databases of
// its own.
var (
	clusterOnce sync.Once
	cluster     *chtest.Cluster
	clusterErr  error
	dbSeq       atomic.Int64
)

func TestMain(m *testing.M) {
	code := m.Run()
	if cluster != nil {
		t0 := time.Now()
		if err := cluster.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "stopping ClickHouse:", err)
			code = 1
		}
		if testing.Verbose() {
			fmt.Fprintf(os.Stderr, "ClickHouse stopped in %v\n", time.Since(t0).Round(time.Millisecond))
		}
	}
	os.Exit(code)
}

// needCluster returns the shared cluster, starting it on first use, or
// skips t (fails it with CI=true) when no server is installed.
func needCluster(t testing.TB) *chtest.Cluster {
	t.Helper()
	clusterOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		cluster, clusterErr = chtest.StartCluster(ctx, chtest.Options{Shards: 2})
	})
	chtest.Require(t, clusterErr)
	return cluster
}

// newDB returns a fresh database name.
func newDB() string { return fmt.Sprintf("t%d_%d", os.Getpid(), dbSeq.Add(1)) }

// openCluster opens a store on a new database of the two-shard cluster.
func openCluster(t testing.TB) (*Store, string) {
	t.Helper()
	c := needCluster(t)
	u := c.DatabaseURL(newDB())
	return mustOpen(t, u), u
}

// openSingle opens a store on a new database of the first node alone
// (plain tables, no cluster).
func openSingle(t testing.TB) (*Store, string) {
	t.Helper()
	c := needCluster(t)
	u := c.NodeURL(0, newDB())
	return mustOpen(t, u), u
}

func mustOpen(t testing.TB, u string) *Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := Open(ctx, u, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// noKeepAlive's connections do not hold up the servers' shutdown.
var noKeepAlive = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}

// sql runs a statement on a node and returns its TSV output.
func sql(t testing.TB, node, q string) string {
	t.Helper()
	resp, err := noKeepAlive.Post("http://"+node+"/", "text/plain", strings.NewReader(q))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s: %s", q, body)
	}
	return string(body)
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// base is the received time of the test beacons.
var base = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

// smp is a sample at base + dt.
func smp(target string, probe rum.Probe, rtt float64, dt time.Duration, served string) rum.Sample {
	return rum.Sample{TS: base.Add(dt), Target: target, Probe: probe, RTTms: rtt, ServedBy: served}
}

// https is an https sample at base - 1 s.
func https(target string, rtt float64) rum.Sample {
	return smp(target, rum.ProbeHTTPS, rtt, -time.Second, "")
}

// beacon is a beacon from net received at base.
func beacon(net, kind, timer string, samples ...rum.Sample) store.Beacon {
	return store.Beacon{
		Beacon: rum.Beacon{
			V: 1, ClientSubnet: netip.MustParsePrefix(net),
			Agent:   rum.Agent{Kind: kind, Platform: "linux", Timer: timer},
			Samples: samples,
		},
		Received: base,
		Source:   "http",
	}
}

func edgeBeacon(net, pop, served string, rtt float64) store.Beacon {
	b := beacon(net, store.EdgeKind, store.EdgeTimer, smp(pop, rum.ProbeTCP, rtt, -time.Second, served))
	b.Agent.Platform = ""
	b.Source = store.EdgeSource
	return b
}

func key(t testing.TB, p string) uint64 {
	t.Helper()
	k, err := store.NetworkKey(netip.MustParsePrefix(p))
	if err != nil {
		t.Fatal(err)
	}
	return k
}
