// Command steer-dns is steer's lean data-plane binary: the authoritative
// GSLB DNS server alone, built with CGO_ENABLED=0 and without the analytics
// engine or the UI (test/importgraph_test.go guards this). It is the same
// server as `steer dns`.
//
//	steer-dns --config steer.yaml
package main

import (
	"context"
	"io"
	"log/slog"
	"os"

	"github.com/steer-gslb/steer/dnsserver"
	"github.com/steer-gslb/steer/internal/cli"
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
	return cli.RunServer(fs, "steer.yaml", args, func(ctx context.Context, config string, logger *slog.Logger) error {
		return dnsserver.Run(ctx, config, dnsserver.Options{Logger: logger, API: steerapi.New}, nil)
	})
}
