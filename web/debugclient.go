package web

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"

	"github.com/steer-gslb/steer/rum"
)

// FetchDebugReport asks the collector at base (its URL) for report id
// (GET base/debug/report/ID): steer debug show --collector and steer ui.
func FetchDebugReport(ctx context.Context, base, id string) (*DebugReport, error) {
	u, err := url.Parse(strings.TrimRight(base, "/") + DebugReportURLPath + "/" + id)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("collector %q: not an http(s) URL", base)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("asking the collector: %w", err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return nil, fmt.Errorf("reading the collector's answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("the collector answered %s: %s", resp.Status, strings.TrimSpace(string(body)))
	}
	var rep DebugReport
	if err := json.Unmarshal(body, &rep); err != nil {
		return nil, fmt.Errorf("the collector's answer: %w", err)
	}
	return &rep, nil
}

// ResolverFromLog sets rep.Resolver from the first line of the query log
// at path for the report's DNS test name. Lines that do not parse are
// skipped (a log being written may end in half a line).
func ResolverFromLog(rep *DebugReport, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("query log: %w", err)
	}
	defer func() { _ = f.Close() }()
	want := strings.ToLower(rep.DNSTest) + "."
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var e rum.LogEntry
	for sc.Scan() {
		if !strings.Contains(sc.Text(), rep.DNSTest) || rum.ParseLogEntry(sc.Bytes(), &e) != nil || e.QName != want {
			continue
		}
		rep.Resolver = &DebugResolver{Addr: e.Resolver, ECS: e.ECS, PoP: e.PoP, Source: e.Source, From: path}
		return nil
	}
	if err := sc.Err(); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("query log %s: %w", path, err)
	}
	return nil
}
