package main

import (
	"context"
	"io"
	"log/slog"

	"github.com/steer-gslb/steer/edge"
	"github.com/steer-gslb/steer/internal/cli"
)

// edgeUsage is the help of `steer edge`.
const edgeUsage = `usage: steer edge --config FILE [--log-level LEVEL]

Runs the edge proxy of one PoP on the config FILE (YAML; see
examples/edge.yaml): it terminates TLS 1.2 (ECDHE suites) and 1.3,
HTTP/1.1 and HTTP/2, and forwards to the origins over kept-alive,
pre-warmed, pinned connections. Every response carries X-Edge-PoP and an
X-Request-ID naming the PoP; /rum/probe is answered locally; routes may
verify steering tokens. SIGHUP reloads the whole config (so does a change
of the file, reload.watch; a bad config is logged and the old one kept),
certificates also reload when their files change. SIGTERM, SIGINT or POST /drain on the admin listener drain it:
/healthz turns 503 at once, new connections are accepted for drain_grace,
then in-flight requests finish and it exits 0.
`

func runEdge(args []string, stdout, stderr io.Writer) int {
	fs := cli.New("steer edge", edgeUsage, "steer edge --config examples/edge.yaml", stdout, stderr)
	return cli.RunServer(fs, "edge.yaml", args, func(ctx context.Context, config string, logger *slog.Logger) error {
		return edge.RunFile(ctx, config, edge.Options{Logger: logger})
	})
}
