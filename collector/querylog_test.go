package collector

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/steer-gslb/steer/rum"
)

const logToken = "querylog-token-0123456789"

func queryLine(i int, ecs string) string {
	e := rum.LogEntry{TS: time.Date(2026, 11, 26, 0, 0, i, 0, time.UTC), QName: fmt.Sprintf("q%d.rum.example.net.", i), QType: "A",
		Resolver: netip.MustParseAddr("198.51.100.53"), PoP: "fra", Source: rum.SourceResolver}
	if ecs != "" {
		e.ECS, e.Source = netip.MustParsePrefix(ecs), rum.SourceECS
	}
	return string(rum.AppendLogEntry(nil, &e))
}

// TestQueryLog: POST /querylog takes NDJSON query log lines from holders
// of a query log token only (not agents'), all or nothing, and answers
// after the store has them.
func TestQueryLog(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.QueryLogTokens = []string{logToken} })
	auth := map[string]string{"Authorization": "Bearer " + logToken, "Content-Type": "application/x-ndjson"}
	good := queryLine(1, "") + "\n\n" + queryLine(2, "203.0.113.0/24") + "\n" + queryLine(3, "")
	for _, c := range []struct {
		name   string
		r      req
		code   int
		answer string
	}{
		{"GET", req{method: http.MethodGet, path: "/querylog", header: auth}, 405, "method GET not allowed"},
		{"no token", req{path: "/querylog", body: good}, 401, "need a query log token"},
		{"an agent token", req{path: "/querylog", body: good, header: map[string]string{"Authorization": "Bearer " + token}}, 401, "not a query log token"},
		{"not bearer", req{path: "/querylog", body: good, header: map[string]string{"Authorization": "Basic " + logToken}}, 401, "need a query log token"},
		{"JSON object", req{path: "/querylog", body: good, header: map[string]string{"Authorization": "Bearer " + logToken, "Content-Type": "application/json"}}, 415, "send application/x-ndjson"},
		{"a bad line spoils the batch", req{path: "/querylog", body: queryLine(4, "") + "\n{\"ts\": 7}\n", header: auth}, 400, "line 2:"},
		{"ECS finer than /24", req{path: "/querylog", body: strings.Replace(queryLine(5, "203.0.113.0/24"), "203.0.113.0/24", "203.0.113.7/32", 1), header: auth}, 400, "line 1:"},
		{"empty", req{path: "/querylog", body: "\n\n", header: auth}, 400, "empty batch"},
		{"too big", req{path: "/querylog", body: strings.Repeat(queryLine(6, "")+"\n", 40), header: auth}, 413, "body larger than 4096 bytes"},
		{"stored", req{path: "/querylog", body: good, header: auth}, 200, `{"accepted":3}`},
	} {
		w := f.do(t, c.r)
		if w.Code != c.code || !strings.Contains(w.Body.String(), c.answer) {
			t.Errorf("%s: %d %q, want %d %q", c.name, w.Code, w.Body.String(), c.code, c.answer)
		}
	}
	s, err := f.st.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if s.Queries != 3 {
		t.Errorf("%d queries stored, want 3 (only the accepted batch)", s.Queries)
	}
	if n := testutil.ToFloat64(f.srv.m.queries); n != 3 {
		t.Errorf("steer_collector_querylog_lines_total %v, want 3", n)
	}
	if n := testutil.ToFloat64(f.srv.m.queryLogRequests.WithLabelValues("401")); n != 3 {
		t.Errorf("401 query log requests counted %v, want 3", n)
	}
}

var queryLogTokenCases = []struct{ yaml, err string }{
	{"querylog_tokens: [short]", "querylog_tokens[0]: a query log token needs at least 16 characters"},
	{"querylog_tokens: [\"querylog token 0123456789\"]", "querylog_tokens[0]: a query log token needs at least 16 characters and no white space"},
	{"tokens: [querylog-token-0123456789]\nquerylog_tokens: [querylog-token-0123456789]", "querylog_tokens[0]: also an agent token"},
	{"querylog_tokens: [querylog-token-0123456789]", ""},
}

func TestQueryLogTokensConfig(t *testing.T) {
	for _, c := range queryLogTokenCases {
		_, err := ParseConfig([]byte(c.yaml))
		if (c.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), c.err)) {
			t.Errorf("%q: %v, want %q", c.yaml, err, c.err)
		}
	}
}
