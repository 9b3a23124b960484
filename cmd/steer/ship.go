package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
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

	"github.com/steer-gslb/steer/rum"
)

const shipUsage = `usage: steer ship --query-log FILE [--query-log FILE]... --collector URL --state DIR [--once]

Ships a DNS server's query logs to the collector, for DNS servers at PoPs
other than the collector's machine: follows each FILE like tail -F (a
half-written line waits; a rotated file is read from its start) and posts
its new lines, in batches, to URL/querylog (NDJSON, all or nothing) with a
query log token, the collector config's querylog_tokens, read from
$STEER_QUERYLOG_TOKEN or --token-file. A batch's position is saved in
DIR/querylog-positions.json (fsynced) only after the collector has stored
it, so no line is lost; a failed batch is resent from the same position
(at least once: the map builder's first-query-wins join ignores repeats).
Runs until SIGINT/SIGTERM; with --once, ships what the logs hold and exits
(1 if a batch failed).

flags:
`

func runShip(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("steer ship", shipUsage, stderr)
	var files []string
	fs.Var((*listFlag)(&files), "query-log", "the DNS server's query log (its query_log file) to follow (repeatable)")
	to := fs.String("collector", "", "the collector's base URL, e.g. https://collector.example.net (required)")
	state := fs.String("state", "", "directory for the positions file (required; created when absent)")
	tokenFile := fs.String("token-file", "", "file holding the query log token (default: $STEER_QUERYLOG_TOKEN)")
	every := fs.Duration("every", time.Second, "how often to look for new lines")
	batch := fs.Int("batch", 1000, "lines a request (keep a batch under the collector's max_body)")
	timeout := fs.Duration("timeout", 30*time.Second, "a request's time limit")
	once := fs.Bool("once", false, "ship what the logs hold now, then exit")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if len(files) == 0 || *to == "" || *state == "" || fs.NArg() > 0 || *batch < 1 || *every <= 0 {
		fmt.Fprintln(stderr, "usage: steer ship --query-log FILE... --collector URL --state DIR [--once]; see steer ship --help")
		return 2
	}
	u, err := url.Parse(*to)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		fmt.Fprintf(stderr, "steer ship: --collector %q: want http(s)://host[:port]\n", *to)
		return 2
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
		fmt.Fprintln(stderr, "steer ship: no query log token: set $STEER_QUERYLOG_TOKEN or give --token-file")
		return 2
	}
	if err := os.MkdirAll(*state, 0o755); err != nil {
		fmt.Fprintln(stderr, "steer ship:", err)
		return 1
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	sh := &shipper{url: strings.TrimSuffix(u.String(), "/") + "/querylog", token: token,
		client: &http.Client{Timeout: *timeout}}
	q := &queryTail{files: files, every: *every, dir: *state, add: sh.post, batch: *batch, log: log}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *once {
		failed := q.pollAll(ctx, q.load(), func(f string, err error) { fmt.Fprintf(stderr, "steer ship: %s: %v\n", f, err) })
		fmt.Fprintf(stdout, "shipped %d lines in %d requests to %s\n", sh.lines, sh.requests, sh.url)
		if failed {
			return 1
		}
		return 0
	}
	q.run(ctx)
	return 0
}

// shipper posts query log lines to a collector's /querylog.
type shipper struct {
	url, token      string
	client          *http.Client
	buf             []byte
	lines, requests int
}

func (s *shipper) post(ctx context.Context, qs []rum.LogEntry) error {
	s.buf = s.buf[:0]
	for i := range qs {
		s.buf = rum.AppendLogEntry(s.buf, &qs[i])
		s.buf = append(s.buf, '\n')
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(s.buf))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-ndjson")
	req.Header.Set("Authorization", "Bearer "+s.token)
	resp, err := s.client.Do(req)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("collector %s: %s: %s", s.url, resp.Status, strings.TrimSpace(string(body)))
	}
	s.lines += len(qs)
	s.requests++
	return nil
}
