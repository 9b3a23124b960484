package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/steer-gslb/steer/dnsserver"
)

func runDNS(args []string, _, stderr io.Writer) int {
	fs := flag.NewFlagSet("steer dns", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := fs.String("config", "steer.yaml", "config file (YAML)")
	level := fs.String("log-level", "info", "log level: debug, info, warn, error")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	logger := newLogger("steer dns", *level, stderr)
	if logger == nil {
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := dnsserver.Run(ctx, *cfg, dnsserver.Options{Logger: logger}, nil); err != nil {
		fmt.Fprintln(stderr, "steer dns:", err)
		return 1
	}
	return 0
}
