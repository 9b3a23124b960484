package main

import (
	"io"

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
	sf := cli.AddServerFlags(fs, "steer.yaml")
	if code, ok := fs.Parse(args); !ok {
		return code
	}
	ctx, logger, stop, code, ok := sf.Start()
	if !ok {
		return code
	}
	defer stop()
	if err := dnsserver.Run(ctx, *sf.Config, dnsserver.Options{Logger: logger, API: steerapi.New}, nil); err != nil {
		return sf.Fail(err)
	}
	return 0

}
