package storeopen

import (
	"context"
	"strings"
	"testing"
)

func TestRedact(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"/var/lib/steer/rum", "/var/lib/steer/rum"},
		{"clickhouse://127.0.0.1:8123/steer", "clickhouse://127.0.0.1:8123/steer"},
		{"clickhouse://u:secret@h:8123/db?cluster=c", "clickhouse://u:xxxxx@h:8123/db?cluster=c"},
		{"clickhouse://h:8123/db?cluster=c&password=secret", "clickhouse://h:8123/db?cluster=c&password=xxxxx"},
	} {
		if got := Redact(c.in); got != c.want {
			t.Errorf("Redact(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// TestOpenPicksTheEngine: a directory opens DuckDB; a clickhouse:// URL
// goes to ClickHouse (here unreachable: the error names the problem and
// never the password).
func TestOpenPicksTheEngine(t *testing.T) {
	st, err := Open(context.Background(), t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = Open(ctx, "clickhouse://127.0.0.1:1/db?password=secret", Options{})
	if err == nil || strings.Contains(err.Error(), "secret") {
		t.Errorf("Open of an unreachable ClickHouse: %v", err)
	}
}
