package duckstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	duckdb "github.com/duckdb/duckdb-go/v2"
	"github.com/duckdb/duckdb-go/v2/mapping"

	"github.com/steer-gslb/steer/rum"

	"github.com/steer-gslb/steer/store"
)

// SchemaVersion is the version of the schema this package writes and reads
// (table schema_version). Open refuses a store with a newer one.
const SchemaVersion = 1

// DBFile is the DuckDB database file in a store directory; DuckDB keeps its
// write-ahead log next to it (DBFile + ".wal").
const DBFile = "steer.duckdb"

// Defaults of Options.
const (
	DefaultDedupWindow  = 48 * time.Hour
	DefaultMaxRecentIDs = 20_000_000
)

// Options configure Open. The zero value is the default.
type Options struct {
	// DedupWindow is how long after its receipt a beacon delivered again
	// is recognized as a duplicate (default 48 h).
	DedupWindow time.Duration
	// MaxRecentIDs bounds the IDs kept for that (default 20M, ~20 bytes
	// each); past it the oldest hours are forgotten first.
	MaxRecentIDs int
	// Threads is DuckDB's worker threads (default: one per core). A
	// bulk load does better with 1: `steer ingest` 4.5M against 3.3M
	// samples/s with 2, whose second thread mostly spins. AddBeacons
	// measures the same either way; queries (the builder) use them all.
	Threads int
	// MemoryLimit is DuckDB's memory_limit, e.g. "4GB" (default: DuckDB's,
	// 80% of RAM).
	MemoryLimit string
	// Now is the clock (default time.Now): Received of beacons without
	// one, and the dedup window.
	Now func() time.Time
	// ReadOnly opens an existing store for reading only (the builder and
	// the evaluator): DuckDB's access_mode READ_ONLY, no dedup window
	// loaded, every write fails. DuckDB lets one process open a database
	// for writing, or several for reading: a builder runs while no
	// collector has the store open (or inside the collector's process).
	ReadOnly bool
}

// DuckDB is the embedded RUM store: one DuckDB database in a directory.
// Writes are serialized on one connection of DuckDB's C API (mu); reads go
// through database/sql connections and run concurrently with them, each on
// its own snapshot.
type DB struct {
	dir  string
	path string
	opt  Options
	db   *sql.DB

	mu sync.Mutex
	// Guarded by mu: the writer's connection and what it keeps in memory.
	rawDB     mapping.Database
	conn      mapping.Connection
	labels    map[string]uint32 // short string → dict.id
	nextLabel uint32
	nextSeq   uint64 // beacons.seq of the next beacon stored
	recent    *recentIDs
	walIno    uint64 // inode of the WAL whose directory entry was last synced
	closed    bool
}

var _ store.Store = (*DB)(nil)

// Open opens the store in dir, creating the directory, the database and its
// schema if needed. Only one process can have a store open for writing
// (DuckDB locks the file), and then no other can open it even ReadOnly: the
// error is then a *LockedError naming the holder's pid. Within a process,
// open it once and share the *DB.
func Open(dir string, opt Options) (*DB, error) {
	if opt.DedupWindow <= 0 {
		opt.DedupWindow = DefaultDedupWindow
	}
	if opt.MaxRecentIDs <= 0 {
		opt.MaxRecentIDs = DefaultMaxRecentIDs
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("opening store %s: %w", dir, err)
	}
	if strings.ContainsAny(abs, "?%") {
		// duckdb-go parses the path as part of a URL-like DSN.
		return nil, fmt.Errorf("opening store %s: a path with '?' or '%%' is not supported", dir)
	}
	if !opt.ReadOnly {
		if err := os.MkdirAll(abs, 0o750); err != nil {
			return nil, fmt.Errorf("opening store %s: %w", dir, err)
		}
	}
	s := &DB{dir: abs, path: filepath.Join(abs, DBFile), opt: opt, labels: map[string]uint32{}, recent: newRecentIDs(opt.DedupWindow, opt.MaxRecentIDs)}
	if err := s.open(); err != nil {
		_ = s.closeHandles()
		if le := lockedError(err); le != nil {
			err = le
		}
		return nil, fmt.Errorf("opening store %s: %w", dir, err)
	}
	return s, nil
}

func (s *DB) open() error {
	// The database/sql connector and the writer's C connection must share
	// one database instance: both open it through duckdb-go's instance
	// cache, which requires the same configuration, so both get the same
	// options (the driver adds duckdb_api=go).
	settings := [][2]string{}
	if s.opt.Threads > 0 {
		settings = append(settings, [2]string{"threads", strconv.Itoa(s.opt.Threads)})
	}
	if s.opt.MemoryLimit != "" {
		settings = append(settings, [2]string{"memory_limit", s.opt.MemoryLimit})
	}
	if s.opt.ReadOnly {
		if _, err := os.Stat(s.path); err != nil {
			return fmt.Errorf("no store here: %w", err)
		}
		settings = append(settings, [2]string{"access_mode", "READ_ONLY"})
	}
	q := url.Values{}
	for _, kv := range settings {
		q.Set(kv[0], kv[1])
	}
	dsn := s.path
	if len(q) > 0 {
		dsn += "?" + q.Encode()
	}
	connector, err := duckdb.NewConnector(dsn, nil)
	if err != nil {
		return err
	}
	s.db = sql.OpenDB(connector)

	var cfg mapping.Config
	if mapping.CreateConfig(&cfg) == mapping.StateError {
		return errors.New("creating a DuckDB config")
	}
	defer mapping.DestroyConfig(&cfg)
	for _, kv := range append([][2]string{{"duckdb_api", "go"}}, settings...) {
		if mapping.SetConfig(cfg, kv[0], kv[1]) == mapping.StateError {
			return fmt.Errorf("setting DuckDB option %s=%s", kv[0], kv[1])
		}
	}
	var msg string
	if mapping.GetOrCreateFromCache(duckdb.GetInstanceCache(), s.path, &s.rawDB, cfg, &msg) == mapping.StateError {
		return errors.New(msg)
	}
	if mapping.Connect(s.rawDB, &s.conn) == mapping.StateError {
		return errors.New("connecting to DuckDB")
	}
	if err := s.migrate(); err != nil {
		return err
	}
	if s.opt.ReadOnly {
		return nil
	}
	if err := syncDir(s.dir); err != nil {
		return err
	}
	return s.load()
}

// schema is version 1 (see the package doc).
var schema = []string{
	`CREATE TABLE schema_version (version INTEGER NOT NULL, created TIMESTAMP NOT NULL)`,
	`CREATE TABLE dict (id UINTEGER NOT NULL, value VARCHAR NOT NULL)`, // ids from 1; 0 is ""
	`CREATE TABLE beacons (
		seq UBIGINT NOT NULL,
		id UBIGINT NOT NULL,
		network UBIGINT NOT NULL,
		received TIMESTAMP NOT NULL,
		kind UINTEGER NOT NULL,
		platform UINTEGER NOT NULL,
		timer UINTEGER NOT NULL,
		dns_test VARCHAR,
		samples USMALLINT NOT NULL,
		source UINTEGER NOT NULL)`,
	`CREATE TABLE samples (
		seq UBIGINT NOT NULL,
		ts TIMESTAMP NOT NULL,
		target UINTEGER NOT NULL,
		probe UTINYINT NOT NULL,
		rtt_ms DOUBLE NOT NULL,
		served_by UINTEGER NOT NULL)`,
	`CREATE TABLE queries (
		ts TIMESTAMP NOT NULL,
		qname VARCHAR NOT NULL,
		qtype VARCHAR NOT NULL,
		resolver VARCHAR NOT NULL,
		ecs UBIGINT,
		pop VARCHAR,
		source VARCHAR NOT NULL)`,
	`CREATE MACRO network_cidr(k) AS CASE WHEN k >> 63 = 0
		THEN printf('%d.%d.%d.%d/%d', (k >> 31) & 255, (k >> 23) & 255, (k >> 15) & 255, (k >> 7) & 255, k & 127)
		ELSE printf('%x:%x:%x:%x::/%d', (k >> 47) & 65535, (k >> 31) & 65535, (k >> 15) & 65535, ((k >> 7) & 255) << 8, k & 127) END`,
	`CREATE MACRO probe_name(p) AS CASE p WHEN 1 THEN 'https' WHEN 2 THEN 'http' WHEN 3 THEN 'tcp' END`,
	`CREATE VIEW beacons_v AS
		SELECT b.seq, b.id, network_cidr(b.network) AS network, b.network AS network_key, b.received,
			k.value AS kind, p.value AS platform, t.value AS timer, b.dns_test, b.samples, s.value AS source
		FROM beacons b LEFT JOIN dict k ON k.id = b.kind LEFT JOIN dict p ON p.id = b.platform
		LEFT JOIN dict t ON t.id = b.timer LEFT JOIN dict s ON s.id = b.source`,
	`CREATE VIEW samples_v AS
		SELECT s.seq, b.id AS beacon_id, b.network, b.network_key, s.ts, t.value AS target, probe_name(s.probe) AS probe,
			s.rtt_ms, sb.value AS served_by, b.kind, b.platform, b.timer, b.dns_test, b.received, b.source
		FROM samples s JOIN beacons_v b ON b.seq = s.seq
		LEFT JOIN dict t ON t.id = s.target LEFT JOIN dict sb ON sb.id = s.served_by`,
	`CREATE VIEW queries_v AS
		SELECT ts, qname, qtype, resolver, network_cidr(ecs) AS ecs, ecs AS ecs_key, pop, source FROM queries`,
}

// migrate creates the schema in a new database and checks an existing
// one's version.
func (s *DB) migrate() error {
	ctx := context.Background()
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM information_schema.tables WHERE table_schema = 'main' AND table_name = 'schema_version'`).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		var v sql.NullInt64
		if err := s.db.QueryRowContext(ctx, `SELECT max(version) FROM schema_version`).Scan(&v); err != nil {
			return err
		}
		switch {
		case !v.Valid:
			return errors.New("schema_version is empty: not a steer store, or one whose creation failed")
		case v.Int64 > SchemaVersion:
			return fmt.Errorf("the store has schema version %d; this steer reads version %d and older: upgrade steer", v.Int64, SchemaVersion)
		case v.Int64 < SchemaVersion:
			return fmt.Errorf("the store has schema version %d and no migration to %d exists", v.Int64, SchemaVersion)
		}
		return nil
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	for _, q := range schema {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("creating the schema: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_version VALUES (?, ?)`, SchemaVersion, s.opt.Now().UTC()); err != nil {
		return fmt.Errorf("creating the schema: %w", err)
	}
	return tx.Commit()
}

// load reads what the writer keeps in memory: the dict, the next sequence
// number and the IDs of the beacons received within the dedup window.
func (s *DB) load() error {
	ctx := context.Background()
	rows, err := s.db.QueryContext(ctx, `SELECT id, value FROM dict`)
	if err != nil {
		return err
	}
	for rows.Next() {
		var id uint32
		var l string
		if err := rows.Scan(&id, &l); err != nil {
			_ = rows.Close()
			return err
		}
		s.labels[l] = id
		s.nextLabel = max(s.nextLabel, id+1)
	}
	s.nextLabel = max(s.nextLabel, 1)
	if err := rows.Err(); err != nil {
		return err
	}
	var next sql.NullInt64
	if err := s.db.QueryRowContext(ctx, `SELECT max(seq) + 1 FROM beacons`).Scan(&next); err != nil {
		return err
	}
	s.nextSeq = uint64(max(next.Int64, 1))
	now := s.opt.Now()
	rows, err = s.db.QueryContext(ctx, `SELECT id, epoch_us(received) FROM beacons WHERE received >= make_timestamp(?)`,
		now.Add(-s.opt.DedupWindow).UnixMicro())
	if err != nil {
		return err
	}
	defer func() { _ = rows.Close() }()
	for rows.Next() {
		var id uint64
		var us int64
		if err := rows.Scan(&id, &us); err != nil {
			return err
		}
		s.recent.add(id, us, now)
	}
	return rows.Err()
}

// Dir returns the store's directory.
func (s *DB) Dir() string { return s.dir }

// Close closes the store; DuckDB checkpoints the WAL into the database file.
func (s *DB) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	return s.closeHandles()
}

func (s *DB) closeHandles() error {
	var err error
	if s.conn.Ptr != nil {
		mapping.Disconnect(&s.conn)
	}
	if s.db != nil {
		err = s.db.Close()
	}
	if s.rawDB.Ptr != nil {
		mapping.Close(&s.rawDB)
	}
	return err
}

// errClosed is returned by the methods of a closed store.
var errClosed = errors.New("store is closed")

// exec runs a statement on the writer's connection. Callers hold mu.
func (s *DB) exec(q string) error {
	var res mapping.Result
	defer mapping.DestroyResult(&res)
	if mapping.Query(s.conn, q, &res) == mapping.StateError {
		return errors.New(mapping.ResultError(&res))
	}
	return nil
}

// AddBeacons implements store.Store. Beacons without a Received time get the
// store's clock.
func (s *DB) AddBeacons(ctx context.Context, bs []store.Beacon) (store.AddResult, error) {
	n := 0
	for i := range bs {
		n += len(bs[i].Samples)
	}
	b := newBatch(len(bs), n)
	now := s.opt.Now()
	for i := range bs {
		r := bs[i].Received
		if r.IsZero() {
			r = now
		}
		if err := b.addBeacon(&bs[i].Beacon, r, bs[i].Source); err != nil {
			return store.AddResult{}, fmt.Errorf("beacons[%d]: %w", i, err)
		}
	}
	return s.write(ctx, []*batch{b})
}

// AddQueries implements store.Store.
func (s *DB) AddQueries(ctx context.Context, qs []rum.LogEntry) (store.AddResult, error) {
	var b batch
	for i := range qs {
		if err := b.addQuery(&qs[i]); err != nil {
			return store.AddResult{}, fmt.Errorf("queries[%d]: %w", i, err)
		}
	}
	return s.write(ctx, []*batch{&b})
}

// syncWALDir fsyncs the store directory when DuckDB has created a new WAL
// file since the last sync. DuckDB fsyncs the WAL's contents on every
// commit, but not the directory entry of a WAL it has just created (after
// each checkpoint it deletes the WAL and starts a new one): without this,
// a power failure could lose a committed WAL file whole. A process crash
// cannot (the kernel keeps the entry), which is what the kill -9 test
// checks. Callers hold mu.
func (s *DB) syncWALDir() error {
	fi, err := os.Stat(s.path + ".wal")
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil // checkpointed into the database file, which is synced
		}
		return err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || st.Ino == s.walIno {
		return nil
	}
	if err := syncDir(s.dir); err != nil {
		return err
	}
	s.walIno = st.Ino
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	return errors.Join(err, d.Close())
}

// DeleteBefore implements Store: it deletes the beacons received before t
// with all their samples, and the queries logged before t. Retention goes
// by Received, the server's clock, rather than by sample timestamps from
// client clocks, which may be anywhere (cleaning counts those); a beacon
// and its samples go together. It returns the rows deleted from the three
// tables.
func (s *DB) DeleteBefore(ctx context.Context, t time.Time) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return 0, errClosed
	}
	us := t.UnixMicro()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer func() { _ = tx.Rollback() }()
	var total int64
	for _, q := range []string{
		`DELETE FROM samples WHERE seq IN (SELECT seq FROM beacons WHERE received < make_timestamp(?))`,
		`DELETE FROM beacons WHERE received < make_timestamp(?)`,
		`DELETE FROM queries WHERE ts < make_timestamp(?)`,
	} {
		r, err := tx.ExecContext(ctx, q, us)
		if err != nil {
			return 0, fmt.Errorf("deleting rows before %s: %w", t.UTC().Format(time.RFC3339), err)
		}
		n, err := r.RowsAffected()
		if err != nil {
			return 0, err
		}
		total += n
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("deleting rows before %s: %w", t.UTC().Format(time.RFC3339), err)
	}
	if err := s.syncWALDir(); err != nil {
		return total, err
	}
	// Forget the deleted IDs: a beacon delivered again after its first
	// copy was deleted is stored again.
	if h := hourOf(us); h > s.recent.oldest && len(s.recent.m) > 0 {
		s.recent.dropBefore(h)
	}
	return total, nil
}

// ExportParquet implements store.Store. The files hold the views (samples_v,
// beacons_v, queries_v): labels, agents and networks as text, so that they stand
// alone.
func (s *DB) ExportParquet(ctx context.Context, dir string) error {
	unlock, err := s.readLock()
	if err != nil {
		return err
	}
	defer unlock()
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("exporting to %s: %w", dir, err)
	}
	for _, t := range []struct{ view, file string }{
		{"samples_v", "samples.parquet"},
		{"beacons_v", "beacons.parquet"},
		{"queries_v", "queries.parquet"},
	} {
		p := filepath.Join(dir, t.file)
		q := fmt.Sprintf(`COPY (SELECT * FROM %s) TO %s (FORMAT parquet, COMPRESSION zstd)`, t.view, sqlString(p))
		if _, err := s.db.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("exporting %s: %w", p, err)
		}
	}
	return nil
}

// sqlString quotes s as an SQL string literal.
func sqlString(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// Query implements store.Store.
//
// Query does not wait for writes: run it, and read its rows, inside Read.
// (Measured: a scan that overlaps an AddBeacons transaction in the same
// process can see a beacon with only some of its samples, or rows that
// are not there; TestScanWhileWriting under load. DuckDB's appender and a
// database/sql reader on one instance do not isolate as documented.)
func (s *DB) Query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return s.db.QueryContext(ctx, query, args...)
}

// DB returns the database/sql handle, for SQL beyond Query (a builder's
// temporary tables, EXPLAIN). Writes through it bypass the duplicate
// detection and the directory sync: use the Add methods to add rows.
func (s *DB) DB() *sql.DB { return s.db }

// Read runs fn with writes held off: the way to use Query, DB and
// ScanChunks (which do not lock) consistently while other goroutines write.
// fn must not call the store's locking methods (Add*, Scan*, store.Stats,
// DeleteBefore, ExportParquet, Read). A long fn delays writers: the
// collector's acknowledgements do not wait (its spool takes them), its
// loads into the store do.
func (s *DB) Read(fn func() error) error {
	unlock, err := s.readLock()
	if err != nil {
		return err
	}
	defer unlock()
	return fn()
}

// readLock serializes a read with the writes (see Query).
func (s *DB) readLock() (func(), error) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, errClosed
	}
	return s.mu.Unlock, nil
}

// ScanSamples implements store.Store, in the order the samples were stored.
func (s *DB) ScanSamples(ctx context.Context, fn func(*store.SampleRow) error) error {
	unlock, err := s.readLock()
	if err != nil {
		return err
	}
	defer unlock()
	var lo, hi uint64
	if err := s.db.QueryRowContext(ctx, `SELECT coalesce(min(seq), 0), coalesce(max(seq), 0) FROM beacons`).Scan(&lo, &hi); err != nil {
		return fmt.Errorf("scanning samples: %w", err)
	}
	// In ranges of beacons: one ORDER BY over every sample would make
	// DuckDB sort them all first (16 GB and growing for 100M samples,
	// measured); a range of scanSeqs beacons sorts a few million rows.
	for from := lo; from <= hi && hi > 0; from += scanSeqs {
		if err := s.scanSampleRange(ctx, from, from+scanSeqs-1, fn); err != nil {
			return err
		}
	}
	return nil
}

// scanSeqs is how many beacon sequence numbers ScanSamples reads at a time.
const scanSeqs = 100_000

// scanSampleRange streams the samples of beacons with seq in [from, to].
func (s *DB) scanSampleRange(ctx context.Context, from, to uint64, fn func(*store.SampleRow) error) error {
	rows, err := s.db.QueryContext(ctx, `
		SELECT b.id, b.network, epoch_us(s.ts), t.value, s.probe, s.rtt_ms, coalesce(sb.value, ''),
			k.value, coalesce(p.value, ''), coalesce(tm.value, ''), coalesce(b.dns_test, ''), epoch_us(b.received),
			coalesce(src.value, '')
		FROM samples s JOIN beacons b ON b.seq = s.seq LEFT JOIN dict src ON src.id = b.source
		JOIN dict t ON t.id = s.target LEFT JOIN dict sb ON sb.id = s.served_by
		JOIN dict k ON k.id = b.kind LEFT JOIN dict p ON p.id = b.platform LEFT JOIN dict tm ON tm.id = b.timer
		WHERE s.seq BETWEEN CAST(? AS UBIGINT) AND CAST(? AS UBIGINT) AND b.seq BETWEEN CAST(? AS UBIGINT) AND CAST(? AS UBIGINT)
		ORDER BY s.seq, s.rowid`, seqArg(from), seqArg(to), seqArg(from), seqArg(to))
	if err != nil {
		return fmt.Errorf("scanning samples: %w", err)
	}
	defer func() { _ = rows.Close() }()
	var r store.SampleRow
	var net uint64
	var ts, recv int64
	var probe uint8
	for rows.Next() {
		if err := rows.Scan(&r.BeaconID, &net, &ts, &r.Target, &probe, &r.RTTms, &r.ServedBy,
			&r.Agent.Kind, &r.Agent.Platform, &r.Agent.Timer, &r.DNSTest, &recv, &r.Source); err != nil {
			return fmt.Errorf("scanning samples: %w", err)
		}
		r.Network = store.NetworkPrefix(net)
		r.TS = time.UnixMicro(ts).UTC()
		r.Received = time.UnixMicro(recv).UTC()
		r.Probe = rum.Probe(probe)
		if err := fn(&r); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("scanning samples: %w", err)
	}
	return nil
}

// seqArg passes a sequence number to SQL: database/sql refuses uint64
// arguments with the high bit set.
func seqArg(v uint64) string { return strconv.FormatUint(v, 10) }

// ScanQueries implements store.Store, in the order the queries were stored.
func (s *DB) ScanQueries(ctx context.Context, fn func(*rum.LogEntry) error) error {
	return s.scanQueries(ctx, ``, nil, fn)
}

// FirstQuery implements store.Store.
func (s *DB) FirstQuery(ctx context.Context, qname string) (*rum.LogEntry, error) {
	var first *rum.LogEntry
	err := s.scanQueries(ctx, `WHERE qname = ? ORDER BY ts LIMIT 1`, []any{qname}, func(e *rum.LogEntry) error {
		c := *e
		first = &c
		return nil
	})
	return first, err
}

// scanQueries streams the query rows that where (a WHERE clause and an
// order, or "" for every row in insertion order) selects.
func (s *DB) scanQueries(ctx context.Context, where string, args []any, fn func(*rum.LogEntry) error) error {
	unlock, err := s.readLock()
	if err != nil {
		return err
	}
	defer unlock()
	if where == "" {
		where = `ORDER BY rowid`
	}
	rows, err := s.db.QueryContext(ctx, `SELECT epoch_us(ts), qname, qtype, resolver, ecs, coalesce(pop, ''), source FROM queries `+where, args...)
	if err != nil {
		return fmt.Errorf("scanning queries: %w", err)
	}
	defer func() { _ = rows.Close() }()
	var e rum.LogEntry
	var ts int64
	var resolver string
	var ecs sql.Null[uint64]
	for rows.Next() {
		if err := rows.Scan(&ts, &e.QName, &e.QType, &resolver, &ecs, &e.PoP, &e.Source); err != nil {
			return fmt.Errorf("scanning queries: %w", err)
		}
		e.TS = time.UnixMicro(ts).UTC()
		e.Resolver = resolverAddr(resolver)
		e.ECS = netip.Prefix{}
		if ecs.Valid {
			e.ECS = store.NetworkPrefix(ecs.V)
		}
		if err := fn(&e); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("scanning queries: %w", err)
	}
	return nil
}

// store.Stats implements store.Store.
func (s *DB) Stats(ctx context.Context) (store.Stats, error) {
	unlock, err := s.readLock()
	if err != nil {
		return store.Stats{}, err
	}
	defer unlock()
	var st store.Stats
	var oldest, newest sql.NullInt64
	err = s.db.QueryRowContext(ctx, `SELECT
		(SELECT count(*) FROM beacons), (SELECT count(*) FROM samples), (SELECT count(*) FROM queries),
		(SELECT epoch_us(min(ts)) FROM samples), (SELECT epoch_us(max(ts)) FROM samples)`).
		Scan(&st.Beacons, &st.Samples, &st.Queries, &oldest, &newest)
	if err != nil {
		return store.Stats{}, fmt.Errorf("counting rows: %w", err)
	}
	if oldest.Valid {
		st.Oldest = time.UnixMicro(oldest.Int64).UTC()
		st.Newest = time.UnixMicro(newest.Int64).UTC()
	}
	return st, nil
}
