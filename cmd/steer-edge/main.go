// Command steer-edge is steer's edge proxy alone, the same proxy as
// `steer edge`: the lean PoP binary, built with CGO_ENABLED=0 and without
// the analytics engine or the UI (test/importgraph_test.go guards this).
//
//	steer-edge --config /etc/steer/edge.yaml
package main

import (
	"context"
	"io"
	"log/slog"
	"os"

	"github.com/steer-gslb/steer/edge"
	"github.com/steer-gslb/steer/internal/cli"
)

const usage = `usage: steer-edge --config FILE [--log-level LEVEL]

The edge proxy of one PoP, the same proxy as 'steer edge', built without
the analytics engine: TLS 1.2/1.3 termination, HTTP/1.1 and HTTP/2, pooled
and pinned upstream connections, X-Edge-PoP and request IDs, /rum/probe,
steering-token checks, the config reloaded on SIGHUP or a change of the
file (a bad one is logged and the old one kept), certificates reloaded on
change, and a graceful drain on SIGTERM, SIGINT or POST /drain (admin listener).
`

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	fs := cli.New("steer-edge", usage, "steer-edge --config /etc/steer/edge.yaml", stdout, stderr)
	return cli.RunServer(fs, "edge.yaml", args, func(ctx context.Context, config string, logger *slog.Logger) error {
		return edge.RunFile(ctx, config, edge.Options{Logger: logger})
	})
}
