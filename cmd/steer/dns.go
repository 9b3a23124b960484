package main

import (
	"context"
	"io"
	"log/slog"

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
	return cli.RunServer(fs, "steer.yaml", args, func(ctx context.Context, config string, logger *slog.Logger) error {
		return dnsserver.Run(ctx, config, dnsserver.Options{Logger: logger, API: steerapi.New}, nil)
	})
}
