// Command steer-edge is steer's edge proxy alone, the same proxy as
// `steer edge`: the lean PoP binary, built with CGO_ENABLED=0 and without
// the analytics engine or the UI (test/importgraph_test.go guards this).
//
//	steer-edge --config /etc/steer/edge.yaml
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"

	"github.com/steer-gslb/steer/edge"
	"github.com/steer-gslb/steer/internal/cli"
	"github.com/steer-gslb/steer/internal/version"
)

const usage = `usage: steer-edge --config FILE [--log-level LEVEL]

The edge proxy of one PoP, the same proxy as 'steer edge', built without
the analytics engine: TLS 1.2/1.3 termination, HTTP/1.1 and HTTP/2, pooled
and pinned upstream connections, X-Edge-PoP and request IDs, /rum/probe,
steering-token checks, certificates reloaded on change and on SIGHUP, and
a graceful drain on SIGTERM, SIGINT or POST /drain (admin listener).
`

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	fs := cli.New("steer-edge", usage, "steer-edge --config /etc/steer/edge.yaml", stdout, stderr)
	cfg := fs.String("config", "edge.yaml", "config file (YAML)")
	level := fs.String("log-level", "info", "log level: debug, info, warn, error")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile to this file until exit (for benchmarks)")
	showVersion := fs.Bool("version", false, "print the version and exit")
	if code, ok := fs.Parse(args); !ok {
		return code
	}
	if fs.NArg() > 0 {
		return fs.Usagef("unexpected argument %q", fs.Arg(0))
	}
	if *showVersion {
		fmt.Fprintln(stdout, version.Get().String("steer-edge"))
		return 0
	}
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(*level)); err != nil {
		return fs.Usagef("bad --log-level: %v", err)
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			fmt.Fprintln(stderr, "steer-edge:", err)
			return 2
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(stderr, "steer-edge:", err)
			return 2
		}
		defer pprof.StopCPUProfile()
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: lv}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := edge.RunFile(ctx, *cfg, edge.Options{Logger: logger}); err != nil {
		fmt.Fprintln(stderr, "steer-edge:", err)
		return 1
	}
	return 0
}
