package chtest

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

var noKeepAlive = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}

// query runs SQL on a node's HTTP interface and returns the body.
func query(t *testing.T, addr, sql string) string {
	t.Helper()
	resp, err := noKeepAlive.Post("http://"+addr+"/", "text/plain", strings.NewReader(sql))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s: %s: %s", sql, resp.Status, body)
	}
	return string(body)
}

// TestTwoShards starts two nodes and checks that each sees the cluster
// with itself as one shard, that a Distributed query reaches both, and
// that Stop leaves no process running.
func TestTwoShards(t *testing.T) {
	t.Parallel()
	t0 := time.Now()
	c := Start(t, Options{Shards: 2})
	t.Logf("started in %v: %s", time.Since(t0), c.URL())
	if !strings.HasPrefix(c.URL(), "clickhouse://127.0.0.1:") || !strings.HasSuffix(c.URL(), "/steer?cluster=steer") {
		t.Errorf("URL %s", c.URL())
	}
	for i, n := range c.Nodes {
		got := query(t, n.HTTP, `SELECT shard_num, is_local FROM system.clusters WHERE cluster = 'steer' ORDER BY shard_num FORMAT CSV`)
		want := "1,1\n2,0\n"
		if i == 1 {
			want = "1,0\n2,1\n"
		}
		if got != want {
			t.Errorf("node %d: system.clusters %q, want %q", i, got, want)
		}
	}
	// a query on every shard, through the cluster: each node answers with its own port
	got := query(t, c.Nodes[0].HTTP, `SELECT count() FROM remote('127.0.0.1:`+strconv.Itoa(c.Nodes[0].TCPPort)+`,127.0.0.1:`+strconv.Itoa(c.Nodes[1].TCPPort)+`', system.one)`)
	if got != "2\n" {
		t.Errorf("remote() over both nodes: %q", got)
	}
	t1 := time.Now()
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	t.Logf("stopped in %v", time.Since(t1))
	for _, n := range c.Nodes {
		select {
		case <-n.Exited():
		default:
			t.Errorf("node %d still running", n.Shard)
		}
	}
	if err := c.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
}

// TestKillRestart crashes a node and starts it again on its data.
func TestKillRestart(t *testing.T) {
	t.Parallel()
	c := Start(t, Options{})
	query(t, c.Nodes[0].HTTP, `CREATE TABLE default.x (a UInt8) ENGINE = MergeTree() ORDER BY a`)
	query(t, c.Nodes[0].HTTP, `INSERT INTO default.x VALUES (7)`)
	c.Kill(0)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.Restart(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if got := query(t, c.Nodes[0].HTTP, `SELECT a FROM default.x`); got != "7\n" {
		t.Errorf("after restart: %q", got)
	}
	if err := c.Restart(ctx, 0); err == nil {
		t.Error("Restart of a running node: no error")
	}
}

func TestNotInstalled(t *testing.T) {
	_, err := StartCluster(context.Background(), Options{Binary: "/nonexistent/clickhouse-server"})
	if err == nil || !strings.Contains(err.Error(), "apt-get install clickhouse-server") {
		t.Fatalf("err = %v", err)
	}
}
