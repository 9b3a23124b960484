// Package storeopen opens the RUM store a command's --store argument
// names: a clickhouse:// URL is a ClickHouse server or cluster (package
// store/chstore), anything else a directory holding an embedded DuckDB
// store (package store/duckstore). It links both engines; the data plane
// links neither.
package storeopen

import (
	"context"
	"net/url"
	"strings"

	"github.com/steer-gslb/steer/store"
	"github.com/steer-gslb/steer/store/duckstore"
)

// Options are the engines' common opening options.
type Options struct {
	ReadOnly bool
	// MemoryLimit and Threads are DuckDB's (ClickHouse's server config
	// sets its own).
	MemoryLimit string
	Threads     int
}

// IsURL reports whether spec names a ClickHouse store rather than a
// directory.
func IsURL(spec string) bool { return strings.HasPrefix(spec, "clickhouse://") }

// Open opens the store spec names.
func Open(ctx context.Context, spec string, opt Options) (store.Store, error) {
	if IsURL(spec) {
		return openClickHouse(ctx, spec, opt)
	}
	return duckstore.Open(spec, duckstore.Options{ReadOnly: opt.ReadOnly, MemoryLimit: opt.MemoryLimit, Threads: opt.Threads})
}

// Redact is spec for logs: a URL's password replaced by "xxxxx".
func Redact(spec string) string {
	if !IsURL(spec) {
		return spec
	}
	u, err := url.Parse(spec)
	if err != nil {
		return "clickhouse://(unparsable URL)"
	}
	q := u.Query()
	if q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.Redacted()
}
