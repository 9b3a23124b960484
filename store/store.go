package store

import (
	"context"
	"net/netip"
	"time"

	"github.com/steer-gslb/steer/rum"
)

// Beacon is a validated beacon ready to store. Its ClientSubnet is already
// truncated to /24 (IPv4) or /56 (IPv6): a store never sees a full client
// address, and Add rejects a longer prefix rather than storing it.
type Beacon struct {
	rum.Beacon
	Received time.Time // when the collector (or the bulk import) took it
	Source   string    // "http" or "ingest"
}

// AddResult counts what an Add call did.
type AddResult struct {
	Added      int // new rows (beacons or queries)
	Duplicates int // recognized as already stored (same beacon delivered again), not stored twice
}

// Stats are a store's row counts (in JSON as a running collector serves
// them at /v1/store/stats).
type Stats struct {
	Beacons int64 `json:"beacons"`
	Samples int64 `json:"samples"`
	Queries int64 `json:"queries"`
	// Oldest and Newest are the sample timestamps; zero when empty.
	Oldest time.Time `json:"oldest,omitzero"`
	Newest time.Time `json:"newest,omitzero"`
}

// SampleRow is one stored sample with its beacon's context.
type SampleRow struct {
	BeaconID uint64
	Network  netip.Prefix // the client subnet (/24 or /56)
	Agent    rum.Agent
	DNSTest  string
	Received time.Time
	Source   string // the beacon's (Beacon.Source)
	rum.Sample
}

// Store is the RUM store: durable, append-mostly storage of beacons,
// their samples and the DNS query log. The collector, the bulk import, the
// map builder and the evaluator use it through this interface; package
// store/duckstore (embedded DuckDB, the default: a directory) and package
// store/chstore (a ClickHouse server or cluster: a clickhouse:// URL)
// implement it.
type Store interface {
	// AddBeacons stores beacons. When it returns nil every beacon in bs is
	// stored (see each engine for what it syncs) or was recognized as a
	// duplicate of one already stored. Beacons are identified by a hash of
	// their canonical encoding (BeaconID: the values rum.AppendBeacon
	// writes), so a beacon delivered twice is stored once. A beacon whose
	// ClientSubnet is absent or finer than /24 or /56 is an error (naming
	// its index, never its address), and then nothing of bs is stored.
	AddBeacons(ctx context.Context, bs []Beacon) (AddResult, error)
	// AddQueries stores DNS query-log lines (duplicates are kept: the
	// builder counts them).
	AddQueries(ctx context.Context, qs []rum.LogEntry) (AddResult, error)
	// DeleteBefore deletes raw rows (samples, beacons, queries) with
	// timestamps before t: retention.
	DeleteBefore(ctx context.Context, t time.Time) (int64, error)
	// ScanSamples and ScanQueries stream every stored row; the row passed
	// to fn is reused between calls. Rows come in no particular order.
	ScanSamples(ctx context.Context, fn func(*SampleRow) error) error
	ScanQueries(ctx context.Context, fn func(*rum.LogEntry) error) error
	// FirstQuery returns the first query (by time) for qname as stored
	// (the debug page's DNS test), or nil.
	FirstQuery(ctx context.Context, qname string) (*rum.LogEntry, error)
	Stats(ctx context.Context) (Stats, error)
	Reader
	Close() error
}

// The instants the years 0000 and 10000 began, in µs since the epoch: the
// range of sample and query times every engine stores (DuckDB's TIMESTAMP
// range), so that cleaning can count bad clocks.
const (
	MinTimeUS = -62167219200 * 1e6
	MaxTimeUS = 253402300800 * 1e6
)

// UnixMicro is t.UnixMicro, but MinTimeUS - 1 for times before the year 0
// and MaxTimeUS for times after 9999 (where UnixMicro may overflow).
func UnixMicro(t time.Time) int64 {
	sec := t.Unix()
	switch {
	case sec < MinTimeUS/1e6:
		return MinTimeUS - 1
	case sec >= MaxTimeUS/1e6:
		return MaxTimeUS
	}
	return sec*1e6 + int64(t.Nanosecond()/1e3)
}
