// Command steer-dns is steer's lean data-plane binary: the authoritative
// GSLB DNS server alone, built with CGO_ENABLED=0 and without the analytics
// engine or the UI (test/importgraph_test.go guards this). It is the same
// server as `steer dns`.
//
//	steer-dns --config steer.yaml
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

	"github.com/steer-gslb/steer/dnsserver"
	"github.com/steer-gslb/steer/internal/cli"
	"github.com/steer-gslb/steer/internal/version"
	"github.com/steer-gslb/steer/steerapi"
)

const usage = `usage: steer-dns --config FILE [--log-level LEVEL]

The authoritative GSLB DNS server alone, the same server as 'steer dns',
built without the analytics engine. It answers steered records with the PoP
each client's ECS subnet, resolver or GeoIP location maps to, reloads its
config, maps and GeoIP database on change and on SIGHUP (a bad reload keeps
the old ones serving), and stops gracefully on SIGINT or SIGTERM.
`

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	fs := cli.New("steer-dns", usage, "steer-dns --config /etc/steer/steer.yaml", stdout, stderr)
	cfg := fs.String("config", "steer.yaml", "config file (YAML)")
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
		fmt.Fprintln(stdout, version.Get().String("steer-dns"))
		return 0
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			fmt.Fprintln(stderr, "steer-dns:", err)
			return 2
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(stderr, "steer-dns:", err)
			return 2
		}
		defer pprof.StopCPUProfile()
	}
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(*level)); err != nil {
		return fs.Usagef("bad --log-level: %v", err)
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: lv}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := dnsserver.Run(ctx, *cfg, dnsserver.Options{Logger: logger, API: steerapi.New}, nil); err != nil {
		fmt.Fprintln(stderr, "steer-dns:", err)
		return 1
	}
	return 0
}
