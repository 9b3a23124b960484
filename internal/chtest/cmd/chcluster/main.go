// Command chcluster starts a ClickHouse cluster of plain server processes
// on 127.0.0.1 (package internal/chtest) for scripts such as benchmarks:
//
//	go run ./internal/chtest/cmd/chcluster -shards 2
//
// It prints the store URL on the first line of its output and the
// servers' process ids on the second ("pids 123 456"), then runs until
// SIGTERM, SIGINT or the end of its standard input, and stops the servers
// (their files are removed unless -dir is given).
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/steer-gslb/steer/internal/chtest"
)

func main() {
	shards := flag.Int("shards", 2, "server processes, one shard each")
	cluster := flag.String("cluster", chtest.DefaultCluster, "cluster name in remote_servers")
	db := flag.String("db", "steer", "database named in the URL")
	dir := flag.String("dir", "", "directory for configs, data and logs (kept); default a temporary one (removed)")
	flag.Parse()

	c, err := chtest.StartCluster(context.Background(), chtest.Options{Shards: *shards, Cluster: *cluster, Database: *db, Dir: *dir})
	if err != nil {
		fmt.Fprintln(os.Stderr, "chcluster:", err)
		os.Exit(1)
	}
	pids := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		pids[i] = strconv.Itoa(n.Pid())
	}
	fmt.Println(c.URL())
	fmt.Println("pids", strings.Join(pids, " "))
	fmt.Fprintln(os.Stderr, "chcluster: files in", c.Dir())

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	stdin := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		close(stdin)
	}()
	select {
	case <-sig:
	case <-stdin:
	}
	if err := c.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "chcluster:", err)
		os.Exit(1)
	}
}
