// Package chtest starts ClickHouse servers for tests and benchmarks: a
// cluster of plain clickhouse-server processes on 127.0.0.1, one shard
// (one replica) per process, each with a generated <yandex> XML config in
// a temporary directory (free ports, small caches, logs to files there)
// and a remote_servers cluster naming them all. It needs no ZooKeeper and
// no root: Debian's clickhouse-server (18.16) is what CI installs
// (scripts/install-test-deps.sh), and a newer single-binary `clickhouse`
// works too.
//
// Tests call Start, which skips the test when no server is installed
// (fails when CI=true). A package whose tests share one cluster starts it
// with StartCluster (once, from the first test that needs it), skips
// with Require and stops it in TestMain; cmd/chcluster starts one for
// scripts.
//
// Stop sends SIGTERM and waits. 18.16 then waits for its clients'
// connections to close, idle keep-alive ones included, up to
// shutdown_wait_unfinished (5 s by default) plus its keep_alive_timeout:
// the 2–10 s seen with the default config. The configs here set 1 s and
// 3 s, and this package's own requests do not keep connections alive,
// so a node stops in under a second unless a client holds a connection
// (close idle connections before Stop).
package chtest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// ErrNotInstalled is returned by StartCluster when no ClickHouse server
// binary is found.
var ErrNotInstalled = errors.New("clickhouse-server not installed: apt-get install clickhouse-server")

// DefaultCluster is the cluster name of Options.Cluster's zero value.
const DefaultCluster = "steer"

// Options configure a cluster. The zero value is one node.
type Options struct {
	// Shards is the number of server processes, one shard each (default 1).
	Shards int
	// Cluster is the remote_servers cluster's name (default "steer").
	Cluster string
	// Database is the database named by URL (default "steer"); the
	// servers do not create it (the store does).
	Database string
	// Binary is the server program: clickhouse-server, or clickhouse
	// (run as `clickhouse server`). Default: $CLICKHOUSE_SERVER, else
	// clickhouse-server or clickhouse in PATH, /usr/sbin or /usr/bin.
	Binary string
	// Dir holds the nodes' configs, data and logs. Default: a new
	// temporary directory, removed by Stop.
	Dir string
	// StartTimeout bounds the wait for every node to answer /ping
	// (default 60 s).
	StartTimeout time.Duration
	// StopTimeout is how long Stop waits after SIGTERM before SIGKILL
	// (default 20 s; ClickHouse 18.16 takes under a second to two, more
	// with queries running).
	StopTimeout time.Duration
}

// Node is one server process.
type Node struct {
	Shard       int    // 1-based
	HTTP        string // 127.0.0.1:port of the HTTP interface
	TCPPort     int    // native protocol (remote_servers uses it)
	Interserver int
	Dir         string // config.xml, users.xml, data/, server.log, server.err.log, stdout
	cmd         *exec.Cmd
	exited      chan struct{}
	waitErr     error
}

// Pid is the server's process id.
func (n *Node) Pid() int { return n.cmd.Process.Pid }

// Exited is closed when the process has exited.
func (n *Node) Exited() <-chan struct{} { return n.exited }

// Cluster is a running set of nodes.
type Cluster struct {
	Name     string // remote_servers cluster
	Database string
	Nodes    []*Node
	dir      string
	ownDir   bool
	opt      Options

	stopOnce sync.Once
	stopErr  error
}

// URL is the store URL of the cluster (store/chstore):
// clickhouse://host:port,.../db?cluster=NAME, with Options.Database.
func (c *Cluster) URL() string { return c.DatabaseURL(c.Database) }

// DatabaseURL is the cluster's store URL with database db.
func (c *Cluster) DatabaseURL(db string) string {
	hosts := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		hosts[i] = n.HTTP
	}
	return "clickhouse://" + strings.Join(hosts, ",") + "/" + db + "?cluster=" + c.Name
}

// NodeURL is the store URL of node i alone, without a cluster: plain
// tables on that server.
func (c *Cluster) NodeURL(i int, db string) string {
	return "clickhouse://" + c.Nodes[i].HTTP + "/" + db
}

// Dir is the directory holding the nodes' files.
func (c *Cluster) Dir() string { return c.dir }

// FindBinary returns the server program and the arguments that run it as
// a server, or ErrNotInstalled.
func FindBinary(bin string) (string, []string, error) {
	if bin == "" {
		bin = os.Getenv("CLICKHOUSE_SERVER")
	}
	if bin != "" {
		p, err := exec.LookPath(bin)
		if err != nil {
			return "", nil, fmt.Errorf("%w (%s: %w)", ErrNotInstalled, bin, err)
		}
		return p, serverArgs(p), nil
	}
	for _, name := range []string{"clickhouse-server", "clickhouse"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, serverArgs(p), nil
		}
		for _, d := range []string{"/usr/sbin", "/usr/bin", "/usr/local/bin"} {
			p := filepath.Join(d, name)
			if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
				return p, serverArgs(p), nil
			}
		}
	}
	return "", nil, ErrNotInstalled
}

// serverArgs: the single `clickhouse` binary takes the server as a
// subcommand.
func serverArgs(p string) []string {
	if filepath.Base(p) == "clickhouse" {
		return []string{"server"}
	}
	return nil
}

// Start starts a cluster for a test or benchmark and stops it at the
// end of it. Without a server binary it skips the test, unless CI=true
// (CI installs one), where it fails.
func Start(t testing.TB, opt Options) *Cluster {
	t.Helper()
	if opt.Dir == "" {
		opt.Dir = t.TempDir()
	}
	c, err := StartCluster(context.Background(), opt)
	Require(t, err)
	t.Cleanup(func() {
		if err := c.Stop(); err != nil {
			t.Errorf("stopping ClickHouse: %v", err)
		}
	})
	return c
}

// Require fails or skips t when err (from StartCluster) is not nil:
// skips when no server is installed and CI is not "true", fails
// otherwise.
func Require(t testing.TB, err error) {
	t.Helper()
	switch {
	case err == nil:
	case errors.Is(err, ErrNotInstalled) && os.Getenv("CI") != "true":
		t.Skip(err.Error())
	default:
		t.Fatal(err)
	}
}

// StartCluster starts opt.Shards nodes and waits until each answers
// /ping. The caller must Stop it. A node that fails to start (a port
// taken between choosing and binding it) is retried on other ports.
func StartCluster(ctx context.Context, opt Options) (*Cluster, error) {
	bin, args, err := FindBinary(opt.Binary)
	if err != nil {
		return nil, err
	}
	if opt.Shards <= 0 {
		opt.Shards = 1
	}
	if opt.Cluster == "" {
		opt.Cluster = DefaultCluster
	}
	if opt.Database == "" {
		opt.Database = "steer"
	}
	if opt.StartTimeout <= 0 {
		opt.StartTimeout = 60 * time.Second
	}
	if opt.StopTimeout <= 0 {
		opt.StopTimeout = 20 * time.Second
	}
	c := &Cluster{Name: opt.Cluster, Database: opt.Database, dir: opt.Dir, opt: opt}
	if c.dir == "" {
		d, err := os.MkdirTemp("", "chtest-")
		if err != nil {
			return nil, fmt.Errorf("chtest: %w", err)
		}
		c.dir, c.ownDir = d, true
	}
	ctx, cancel := context.WithTimeout(ctx, opt.StartTimeout)
	defer cancel()
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		if err := c.start(ctx, bin, args, attempt); err != nil {
			lastErr = err
			_ = c.stopNodes()
			if ctx.Err() != nil {
				break
			}
			continue
		}
		return c, nil
	}
	if c.ownDir {
		_ = os.RemoveAll(c.dir)
	}
	return nil, lastErr
}

// start writes the configs with fresh ports and starts every node.
func (c *Cluster) start(ctx context.Context, bin string, args []string, attempt int) error {
	ports, err := freePorts(3 * c.opt.Shards)
	if err != nil {
		return fmt.Errorf("chtest: choosing ports: %w", err)
	}
	c.Nodes = make([]*Node, c.opt.Shards)
	for i := range c.Nodes {
		c.Nodes[i] = &Node{
			Shard:       i + 1,
			HTTP:        fmt.Sprintf("127.0.0.1:%d", ports[3*i]),
			TCPPort:     ports[3*i+1],
			Interserver: ports[3*i+2],
			Dir:         filepath.Join(c.dir, fmt.Sprintf("node%d.%d", i+1, attempt)),
		}
	}
	for _, n := range c.Nodes {
		if err := c.writeConfig(n); err != nil {
			return err
		}
	}
	for _, n := range c.Nodes {
		if err := n.run(bin, args); err != nil {
			return err
		}
	}
	for _, n := range c.Nodes {
		if err := n.waitReady(ctx); err != nil {
			return err
		}
	}
	return nil
}

func freePorts(n int) ([]int, error) {
	ls := make([]net.Listener, 0, n)
	defer func() {
		for _, l := range ls {
			_ = l.Close()
		}
	}()
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// writeConfig writes n's config.xml and users.xml.
func (c *Cluster) writeConfig(n *Node) error {
	for _, d := range []string{"data", "tmp", "user_files", "format_schemas"} {
		if err := os.MkdirAll(filepath.Join(n.Dir, d), 0o750); err != nil {
			return fmt.Errorf("chtest: %w", err)
		}
	}
	var shards strings.Builder
	for _, m := range c.Nodes {
		fmt.Fprintf(&shards, "      <shard><replica><host>127.0.0.1</host><port>%d</port></replica></shard>\n", m.TCPPort)
	}
	config := fmt.Sprintf(`<?xml version="1.0"?>
<!-- written by steer's internal/chtest -->
<yandex>
  <logger>
    <level>information</level>
    <log>%[1]s/server.log</log>
    <errorlog>%[1]s/server.err.log</errorlog>
    <size>50M</size>
    <count>1</count>
  </logger>
  <listen_host>127.0.0.1</listen_host>
  <http_port>%[2]s</http_port>
  <tcp_port>%[3]d</tcp_port>
  <interserver_http_port>%[4]d</interserver_http_port>
  <interserver_http_host>127.0.0.1</interserver_http_host>
  <path>%[1]s/data/</path>
  <tmp_path>%[1]s/tmp/</tmp_path>
  <user_files_path>%[1]s/user_files/</user_files_path>
  <format_schema_path>%[1]s/format_schemas/</format_schema_path>
  <users_config>%[1]s/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <timezone>UTC</timezone>
  <mark_cache_size>67108864</mark_cache_size>
  <uncompressed_cache_size>134217728</uncompressed_cache_size>
  <max_concurrent_queries>100</max_concurrent_queries>
  <keep_alive_timeout>3</keep_alive_timeout>
  <!-- On SIGTERM the server waits this long for its clients' connections,
       idle keep-alive ones included (default 5 s). -->
  <shutdown_wait_unfinished>1</shutdown_wait_unfinished>
  <mlock_executable>false</mlock_executable>
  <remote_servers>
    <%[5]s>
%[6]s    </%[5]s>
  </remote_servers>
</yandex>
`, n.Dir, portOf(n.HTTP), n.TCPPort, n.Interserver, c.Name, shards.String())
	users := `<?xml version="1.0"?>
<!-- written by steer's internal/chtest -->
<yandex>
  <profiles><default><max_memory_usage>8000000000</max_memory_usage></default></profiles>
  <users>
    <default>
      <password></password>
      <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
      <profile>default</profile>
      <quota>default</quota>
    </default>
  </users>
  <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors><result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval></default></quotas>
</yandex>
`
	if err := os.WriteFile(filepath.Join(n.Dir, "config.xml"), []byte(config), 0o640); err != nil {
		return fmt.Errorf("chtest: %w", err)
	}
	if err := os.WriteFile(filepath.Join(n.Dir, "users.xml"), []byte(users), 0o640); err != nil {
		return fmt.Errorf("chtest: %w", err)
	}
	return nil
}

func portOf(hostport string) string {
	_, p, _ := net.SplitHostPort(hostport)
	return p
}

// run starts the process.
func (n *Node) run(bin string, args []string) error {
	out, err := os.Create(filepath.Join(n.Dir, "stdout"))
	if err != nil {
		return fmt.Errorf("chtest: %w", err)
	}
	cmd := exec.Command(bin, append(args, "--config-file="+filepath.Join(n.Dir, "config.xml"))...)
	cmd.Dir = n.Dir
	cmd.Stdout, cmd.Stderr = out, out
	// its own process group: a test's ^C does not reach it before Stop
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		_ = out.Close()
		return fmt.Errorf("chtest: starting %s: %w", bin, err)
	}
	n.cmd = cmd
	n.exited = make(chan struct{})
	go func() {
		n.waitErr = cmd.Wait()
		_ = out.Close()
		close(n.exited)
	}()
	return nil
}

// waitReady polls /ping until it answers Ok., the process exits or ctx
// ends.
func (n *Node) waitReady(ctx context.Context) error {
	// no keep-alive: an idle connection delays the server's SIGTERM
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		resp, err := client.Get("http://" + n.HTTP + "/ping")
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK && strings.HasPrefix(string(body), "Ok.") {
				return nil
			}
		}
		select {
		case <-n.exited:
			return fmt.Errorf("chtest: node %d exited while starting (%s): %s", n.Shard, exitText(n.waitErr), n.logTail())
		case <-ctx.Done():
			return fmt.Errorf("chtest: node %d not answering /ping on %s: %w; %s", n.Shard, n.HTTP, ctx.Err(), n.logTail())
		case <-tick.C:
		}
	}
}

// exitText describes how a process ended.
func exitText(err error) string {
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}

// logTail is the end of the node's error log and stdout, for errors.
func (n *Node) logTail() string {
	var b strings.Builder
	for _, f := range []string{"server.err.log", "stdout"} {
		data, err := os.ReadFile(filepath.Join(n.Dir, f))
		if err != nil || len(data) == 0 {
			continue
		}
		if len(data) > 2000 {
			data = data[len(data)-2000:]
		}
		fmt.Fprintf(&b, "%s: %s\n", f, strings.TrimSpace(string(data)))
	}
	if b.Len() == 0 {
		return "(no log)"
	}
	return b.String()
}

// Stop stops every node: SIGTERM, then SIGKILL after Options.StopTimeout,
// waiting for each process to exit; then removes the directory if it
// made it. Stopping twice is a no-op.
func (c *Cluster) Stop() error {
	c.stopOnce.Do(func() {
		c.stopErr = c.stopNodes()
		if c.ownDir {
			if err := os.RemoveAll(c.dir); err != nil && c.stopErr == nil {
				c.stopErr = err
			}
		}
	})
	return c.stopErr
}

func (c *Cluster) stopNodes() error {
	var wg sync.WaitGroup
	errs := make([]error, len(c.Nodes))
	for i, n := range c.Nodes {
		if n == nil || n.cmd == nil {
			continue
		}
		wg.Go(func() { errs[i] = n.stop(c.opt.StopTimeout) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// stop sends SIGTERM and waits; SIGKILL after timeout.
func (n *Node) stop(timeout time.Duration) error {
	select {
	case <-n.exited:
		return nil
	default:
	}
	_ = n.cmd.Process.Signal(syscall.SIGTERM)
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-n.exited:
		return nil
	case <-t.C:
	}
	_ = n.cmd.Process.Kill()
	<-n.exited
	return fmt.Errorf("chtest: node %d did not stop within %v of SIGTERM: killed", n.Shard, timeout)
}

// Kill stops node i at once with SIGKILL (a crash) and waits for it.
func (c *Cluster) Kill(i int) {
	n := c.Nodes[i]
	_ = n.cmd.Process.Kill()
	<-n.exited
}

// Restart starts node i again (after Kill or a stop) on its ports, data
// and config, and waits until it answers /ping.
func (c *Cluster) Restart(ctx context.Context, i int) error {
	n := c.Nodes[i]
	select {
	case <-n.exited:
	default:
		return fmt.Errorf("chtest: node %d is running", n.Shard)
	}
	bin, args, err := FindBinary(c.opt.Binary)
	if err != nil {
		return err
	}
	if err := n.run(bin, args); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, c.opt.StartTimeout)
	defer cancel()
	return n.waitReady(ctx)
}
