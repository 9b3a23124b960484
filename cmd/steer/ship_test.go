//go:build cgo

package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/steer-gslb/steer/collector"
	"github.com/steer-gslb/steer/querytail"
	"github.com/steer-gslb/steer/rum"
)

// TestShipQueryLog: steer ship posts a DNS server's query log to a real
// collector on loopback, in batches; what the collector acknowledged is
// not sent again, a half-written line waits, and a wrong token (or an
// agent's) stores nothing and leaves the position where it was.
func TestShipQueryLog(t *testing.T) {
	dir := t.TempDir()
	storeDir, logPath, stateDir := filepath.Join(dir, "store"), filepath.Join(dir, "queries.ndjson"), filepath.Join(dir, "ship")
	const logToken, agentToken = "querylog-token-0123456789", "agent-token-0123"
	cfg := collector.Defaults()
	cfg.Listen = "127.0.0.1:0"
	cfg.QueryLogTokens, cfg.Tokens = []string{logToken}, []string{agentToken}
	r, addr := startCollectConfig(t, storeDir, cfg, loopJobs{})

	line := func(i int) []byte {
		e := rum.LogEntry{TS: time.Date(2026, 11, 26, 0, 0, 0, i*1e6, time.UTC), QName: fmt.Sprintf("s%d.rum.example.net.", i), QType: "A",
			Resolver: netip.MustParseAddr("198.51.100.53"), ECS: netip.MustParsePrefix("203.0.113.0/24"), PoP: "fra", Source: rum.SourceECS}
		return append(rum.AppendLogEntry(nil, &e), '\n')
	}
	var data []byte
	for i := range 2500 {
		data = append(data, line(i)...)
	}
	half := line(2500)
	if err := os.WriteFile(logPath, append(data, half[:20]...), 0o644); err != nil {
		t.Fatal(err)
	}
	tokenFile := func(tok string) string {
		p := filepath.Join(dir, "token")
		if err := os.WriteFile(p, []byte(tok+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	ship := func(tok string) (int, string, string) {
		var out, errb bytes.Buffer
		code := run([]string{"ship", "--query-log", logPath, "--collector", "http://" + addr + "/", "--state", stateDir,
			"--token-file", tokenFile(tok), "--batch", "1000", "--once"}, &out, &errb)
		return code, out.String(), errb.String()
	}
	offset := func() int64 {
		var pos querytail.Positions
		b, err := os.ReadFile(querytail.PositionsFile(stateDir))
		if err != nil || json.Unmarshal(b, &pos) != nil {
			return -1
		}
		return pos[logPath].Offset
	}
	for _, tc := range []struct {
		name, token string
		code        int
		out, err    string
		offset      int64
	}{
		// a refused batch leaves the position at the file's start (its
		// identity is saved first, so that a rotation meanwhile is followed)
		{"wrong token", "not-the-token-0000", 1, "shipped 0 lines in 0 requests", "401 Unauthorized: Authorization: not a query log token", 0},
		{"an agent's token", agentToken, 1, "shipped 0 lines", "not a query log token", 0},
		{"ships in batches; the half line waits", logToken, 0, "shipped 2500 lines in 3 requests to http://" + addr + "/querylog", "", int64(len(data))},
		{"nothing new", logToken, 0, "shipped 0 lines in 0 requests", "", int64(len(data))},
	} {
		code, out, errs := ship(tc.token)
		if code != tc.code || !strings.Contains(out, tc.out) || !strings.Contains(errs, tc.err) || offset() != tc.offset {
			t.Errorf("%s: exit %d, offset %d\nstdout %q\nstderr %q\nwant exit %d, offset %d, %q, %q", tc.name, code, offset(), out, errs, tc.code, tc.offset, tc.out, tc.err)
		}
	}
	f, err := os.OpenFile(logPath, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(append(half[20:], line(2501)...)); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if code, out, errs := ship(logToken); code != 0 || !strings.Contains(out, "shipped 2 lines in 1 requests") {
		t.Errorf("after the half line was completed: exit %d, %q %q", code, out, errs)
	}
	// the collector refuses garbage whole, naming the line
	bad := filepath.Join(dir, "bad.ndjson")
	if err := os.WriteFile(bad, append(line(9000), []byte("{\"ts\": 1}\n")...), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if code := run([]string{"ship", "--query-log", bad, "--collector", "http://" + addr, "--state", stateDir,
		"--token-file", tokenFile(logToken), "--once"}, &out, &errb); code != 1 || !strings.Contains(errb.String(), "bad lines skipped") {
		t.Errorf("a log with a bad line: exit %d, %q %q", code, out.String(), errb.String())
	}
	for _, args := range [][]string{
		{"ship"},
		{"ship", "--query-log", logPath, "--state", stateDir},
		{"ship", "--query-log", logPath, "--collector", "ftp://x", "--state", stateDir},
	} {
		if code := run(args, &out, &errb); code != 2 {
			t.Errorf("steer %s: exit %d, want 2", strings.Join(args, " "), code)
		}
	}
	r.stop(t)
	// the collector is down: the new line waits where it was
	before := offset()
	f, err = os.OpenFile(logPath, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(line(2502)); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if code, out, errs := ship(logToken); code != 1 || !strings.Contains(errs, "connection refused") || offset() != before {
		t.Errorf("collector down: exit %d, offset %d (was %d), %q %q", code, offset(), before, out, errs)
	}
	if n := storedQueries(t, storeDir); n != 2503 {
		t.Errorf("%d queries in the store, want 2503 (2500, the completed line, one more, and the good line of the bad log)", n)
	}
}
