package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/steer-gslb/steer/internal/cli"
	"github.com/steer-gslb/steer/querytail"
)

const shipUsage = `usage: steer ship --query-log FILE [--query-log FILE]... --collector URL --state DIR [--once]

Ships a DNS server's query logs to the collector, for DNS servers at PoPs
other than the collector's machine: follows each FILE like tail -F (a
half-written line waits; a rotated file, moved or copied and truncated, is
read to its end, then the new one from its start) and posts
its new lines, in batches, to URL/querylog (NDJSON, all or nothing) with a
query log token, the collector config's querylog_tokens, read from
$STEER_QUERYLOG_TOKEN or --token-file. A batch's position is saved in
DIR/querylog-positions.json (fsynced) only after the collector has stored
it, so no line is lost; a failed batch is resent from the same position
(at least once: the map builder's first-query-wins join ignores repeats).
Runs until SIGINT/SIGTERM; with --once, ships what the logs hold and exits
(1 if a batch failed).

`

func runShip(args []string, stdout, stderr io.Writer) int {
	fs := cli.New("steer ship", shipUsage, shipExample, stdout, stderr)
	var files []string
	fs.Var((*listFlag)(&files), "query-log", "the DNS server's query log (its query_log file) to follow (repeatable)")
	to := fs.String("collector", "", "the collector's base URL, e.g. https://collector.example.net (required)")
	state := fs.String("state", "", "directory for the positions file (required; created when absent)")
	tokenFile := fs.String("token-file", "", "file holding the query log token (default: $STEER_QUERYLOG_TOKEN)")
	every := fs.Duration("every", time.Second, "how often to look for new lines")
	batch := fs.Int("batch", 1000, "lines a request (keep a batch under the collector's max_body)")
	timeout := fs.Duration("timeout", 30*time.Second, "a request's time limit")
	once := fs.Bool("once", false, "ship what the logs hold now, then exit")
	if code, ok := fs.Parse(args); !ok {
		return code
	}
	if len(files) == 0 || *to == "" || *state == "" || fs.NArg() > 0 || *batch < 1 || *every <= 0 {
		return fs.Usagef("--query-log FILE, --collector URL and --state DIR are required (and --batch >= 1, --every > 0), and nothing else")
	}
	u, err := url.Parse(*to)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fs.Usagef("--collector %q: want http(s)://host[:port]", *to)
	}
	token := os.Getenv("STEER_QUERYLOG_TOKEN")
	if *tokenFile != "" {
		b, err := os.ReadFile(*tokenFile)
		if err != nil {
			fmt.Fprintln(stderr, "steer ship: --token-file:", err)
			return 1
		}
		token = strings.TrimSpace(string(b))
	}
	if token == "" {
		return fs.Usagef("no query log token: set $STEER_QUERYLOG_TOKEN or give --token-file")
	}
	if err := os.MkdirAll(*state, 0o755); err != nil {
		fmt.Fprintln(stderr, "steer ship:", err)
		return 1
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	sh := &querytail.Poster{URL: strings.TrimSuffix(u.String(), "/") + "/querylog", Token: token,
		Client: &http.Client{Timeout: *timeout}}
	q := &querytail.Tail{Files: files, Every: *every, Dir: *state, Add: sh.Post, Batch: *batch, Log: log}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *once {
		failed := q.PollAll(ctx, q.Load(), func(f string, err error) { fmt.Fprintf(stderr, "steer ship: %s: %v\n", f, err) })
		fmt.Fprintf(stdout, "shipped %d lines in %d requests to %s\n", sh.Lines, sh.Requests, sh.URL)
		if failed {
			return 1
		}
		return 0
	}
	q.Run(ctx)
	return 0
}

const shipExample = `steer ship --query-log /var/log/steer/queries.ndjson --collector http://127.0.0.1:9101 --state /var/lib/steer/ship`
