package main

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestExplainServer: steer explain --server posts Connect JSON to a real
// HTTP server on loopback and prints the report it answers (protobuf's
// JSON: int64 as a string); a Connect error becomes exit 1 naming it.
func TestExplainServer(t *testing.T) {
	var got string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got = r.URL.Path + " " + r.Header.Get("Content-Type") + " " + string(b)
		if strings.Contains(string(b), `"ip":"192.0.2.99"`) {
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"code":"not_found","message":"record: no steered record \"nope\""}`))
			return
		}
		_, _ = w.Write([]byte(`{"addr":"203.0.113.7","record":"www.example.net.","source":"ecs","scope":24,"pops":["fra","ams"],"mapVersion":"3",
			"ecsEntry":{"prefix":"203.0.113.0/24","labels":["fra","ams"],"origin":"measured"},"skipped":[{"pop":"lhr","reason":"drained"}]}`))
	}))
	defer srv.Close()
	var out, errb bytes.Buffer
	if rc := run([]string{"explain", "--server", srv.URL, "--ecs", "203.0.113.0/24", "203.0.113.7"}, &out, &errb); rc != 0 {
		t.Fatalf("rc %d: %s", rc, errb.String())
	}
	if want := `/steer.v1.SteeringService/Explain application/json {"ip":"203.0.113.7","ecs":"203.0.113.0/24"}`; got != want {
		t.Errorf("request %q, want %q", got, want)
	}
	for _, want := range []string{"203.0.113.7: fra (www.example.net.: source ecs, scope /24, map version 3)",
		"ecs map:      203.0.113.0/24 → fra ams (measured)", "skipped:      lhr: drained"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	out.Reset()
	if rc := run([]string{"explain", "--server", srv.URL, "192.0.2.99"}, &out, &errb); rc != 1 || !strings.Contains(errb.String(), `not_found: record: no steered record "nope"`) {
		t.Errorf("rc %d, stderr %q: want 1 naming the server's error", rc, errb.String())
	}
	errb.Reset()
	if rc := run([]string{"explain", "--server", srv.URL, "--config", "x.yaml", "192.0.2.1"}, &out, &errb); rc != 2 || !strings.Contains(errb.String(), "--server takes no --config") {
		t.Errorf("rc %d, stderr %q: want a usage error", rc, errb.String())
	}
}
