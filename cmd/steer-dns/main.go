// Command steer-dns is steer's lean data-plane binary: the authoritative
// GSLB DNS server alone, built with CGO_ENABLED=0 and without the analytics
// engine or the UI (test/importgraph_test.go guards this). It is the same
// server as `steer dns`.
//
//	steer-dns --config steer.yaml
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"

	"github.com/steer-gslb/steer/dnsserver"
	"github.com/steer-gslb/steer/internal/version"
)

func main() { os.Exit(run()) }

func run() int {
	fs := flag.NewFlagSet("steer-dns", flag.ExitOnError)
	cfg := fs.String("config", "steer.yaml", "config file (YAML)")
	level := fs.String("log-level", "info", "log level: debug, info, warn, error")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile to this file until exit (for benchmarks)")
	showVersion := fs.Bool("version", false, "print the version and exit")
	_ = fs.Parse(os.Args[1:])
	if *showVersion {
		fmt.Println(version.Get().String("steer-dns"))
		return 0
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "steer-dns:", err)
			return 2
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, "steer-dns:", err)
			return 2
		}
		defer pprof.StopCPUProfile()
	}
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(*level)); err != nil {
		fmt.Fprintln(os.Stderr, "steer-dns: bad --log-level:", err)
		return 2
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lv}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := dnsserver.Run(ctx, *cfg, dnsserver.Options{Logger: logger}, nil); err != nil {
		fmt.Fprintln(os.Stderr, "steer-dns:", err)
		return 1
	}
	return 0
}
