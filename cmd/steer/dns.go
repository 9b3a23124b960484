package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/steer-gslb/steer/dnsserver"
	"github.com/steer-gslb/steer/internal/cli"
	"github.com/steer-gslb/steer/steerapi"
)

// DNSUsage is the help of `steer dns` and of steer-dns.
const dnsUsage = `usage: steer dns --config FILE [--log-level LEVEL]

Runs the authoritative GSLB DNS server on the config FILE (YAML; see
examples/steer.yaml): steered records answer each client with the PoP its
ECS subnet, its resolver or its GeoIP location maps to, in the order of the
record's steering chain, honouring PoP admin state, health checks and the
control server's load moves. It reloads the config, maps and GeoIP database
when they change (and on SIGHUP), keeping the old ones on a bad reload, and
stops gracefully on SIGINT or SIGTERM.
`

func runDNS(args []string, stdout, stderr io.Writer) int {
	fs := cli.New("steer dns", dnsUsage, "steer dns --config examples/steer.yaml", stdout, stderr)
	cfg := fs.String("config", "steer.yaml", "config file (YAML)")
	level := fs.String("log-level", "info", "log level: debug, info, warn, error")
	if code, ok := fs.Parse(args); !ok {
		return code
	}
	if fs.NArg() > 0 {
		return fs.Usagef("unexpected argument %q", fs.Arg(0))
	}
	logger := newLogger(fs, *level, stderr)
	if logger == nil {
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := dnsserver.Run(ctx, *cfg, dnsserver.Options{Logger: logger, API: steerapi.New}, nil); err != nil {
		fmt.Fprintln(stderr, "steer dns:", err)
		return 1
	}
	return 0
}
