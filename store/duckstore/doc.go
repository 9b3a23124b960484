// Package duckstore is the RUM store (store.Store) in an embedded DuckDB
// database (github.com/duckdb/duckdb-go/v2, cgo) in a directory: the
// default engine, and the one `steer ingest`'s bulk import (Import) writes
// at millions of samples a second. Its Aggregate applies the cleaning
// rules in Go over DuckDB's column chunks (store/agg.go pins what every
// engine returns). The package exports no metrics: store.AddResult,
// store.Stats and ImportStats count what callers report.
//
// The data plane (cmd/steer-dns, the edge proxy) must never import this
// package: it links DuckDB through cgo. test/importgraph_test.go guards
// cmd/steer-dns's import graph.
//
// # Schema (version 1, table schema_version)
//
//	beacons  seq UBIGINT, id UBIGINT, network UBIGINT, received TIMESTAMP,
//	         kind UINTEGER, platform UINTEGER, timer UINTEGER,
//	         dns_test VARCHAR, samples USMALLINT, source UINTEGER
//	samples  seq UBIGINT, ts TIMESTAMP, target UINTEGER, probe UTINYINT,
//	         rtt_ms DOUBLE, served_by UINTEGER
//	queries  ts TIMESTAMP, qname VARCHAR, qtype VARCHAR, resolver VARCHAR,
//	         ecs UBIGINT, pop VARCHAR, source VARCHAR
//	dict     id UINTEGER, value VARCHAR
//
// A beacon's samples carry its seq, a store-wide sequence number: the
// builder joins samples to beacons on seq for the network and the agent
// (its cleaning rules need the timer and kind anyway), and the rows of a
// beacon stored twice (see Duplicates) never join with the other copy's.
// id is BeaconID. network and ecs are network keys (NetworkKey): a client
// subnet packed into one UBIGINT (family bit, 56 address bits, length),
// so that IPv4 /24s and IPv6 /56s share one integer group key, which
// cannot hold a full address. target, served_by, kind, platform, timer and
// source are ids of short strings in dict (0: none); probe is rum.Probe
// (1 https, 2 http, 3 tcp). Times are microseconds (TIMESTAMP): the
// sub-microsecond digits of a beacon's wall-clock timestamps are dropped,
// and the years 0000..9999 that rum parses are kept, so that cleaning can
// count bad clocks. The macros network_cidr(key) and probe_name(p) and the
// views beacons_v, samples_v and queries_v show it all as text (absent
// values as NULL); ExportParquet writes the views.
//
// Why numbers rather than text: DuckDB's cost per appended value is
// compression analysis, statistics and, for strings, hashing and a string
// heap. Measured on this 2-core machine with the C appender, 8M rows of 7
// columns: PoP labels and served_by as VARCHAR 2.25M rows/s, as integer
// codes 5.1M rows/s; one column alone: VARCHAR 6.3M rows/s, USMALLINT 30M,
// UBIGINT 39M, TIMESTAMP 47M, DOUBLE 16M. Through database/sql's
// Appender.AppendRow (every value boxed in an interface): 2.5M rows/s all
// numeric, 1.8M with a VARCHAR target, 1.1M with the network as VARCHAR
// too. In the bulk import below: served_by NOT NULL with 0 for none
// rather than NULL, 3.9 → 4.1M samples/s; network in beacons only, → 4.1–
// 4.2M; the agent's strings as dict ids, 4.7 → 4.45 CPU-s.
//
// # Writing
//
// Writes go through one connection of DuckDB's C API (duckdb-go's mapping
// package), serialized by a mutex, and fill DuckDB's data chunks in place:
// numbers are stored straight into the vectors, strings copied by
// duckdb_vector_assign_string_element, and each full 2,048-row chunk is
// handed to duckdb_append_data_chunk. Reads (Scan*, Query, Stats) use
// database/sql connections, and ScanChunks a C connection of its own. Both
// open the one database instance through duckdb-go's instance cache, which
// requires them to pass the same configuration.
//
// Reads are serialized with writes: Scan*, Stats and ExportParquet take the
// writer's lock, and Query, DB and ScanChunks are meant to run inside Read,
// which does. DuckDB's MVCC should make that unnecessary, but measured, it
// does not hold between its appender and a reader in one process: a scan
// overlapping an AddBeacons transaction saw beacons with only some of
// their samples (TestScanWhileWriting failed about one run in fifty on the
// loaded machine before, none in 120 after). A long read (a build) delays
// writes, not the collector's acknowledgements, which its spool gives.
//
// # Durability: what "acknowledged" means
//
// AddBeacons and AddQueries return nil only after DuckDB has committed
// their transaction, and DuckDB's commit fsyncs: the database file first
// when the transaction wrote row groups to it directly (transactions of
// more than ~120k rows per table do), then the write-ahead log (strace:
// fsync(db), fsync(wal) before COMMIT returns). DuckDB does not fsync the
// directory when it creates a WAL file (it deletes the WAL at each
// checkpoint and starts a new one), so the store fsyncs the directory after
// a commit that finds a new WAL file: without that a power failure could
// lose a committed WAL whole. TestKillDuringWritesLosesNothingAcknowledged
// kills a writing process with SIGKILL, reopens the store and finds every
// beacon whose AddBeacons had returned, with all its samples, through both
// commit paths. A bulk import commits every ImportOptions.TxRows rows; a
// crash loses at most the transaction in progress, and ImportStats counts
// only committed rows.
//
// # Duplicates
//
// A beacon's identity is BeaconID: xxh3 (seed 0) of a binary canonical
// form of the values rum.AppendBeacon writes, so the same beacon has the
// same ID in every process and on every machine, and two beacons with the
// same AppendBeacon text have the same ID (TestBeaconIDMatchesAppendBeacon,
// and TestBeaconIDStable pins one). The binary form costs 211 ns for a
// 20-sample beacon against 2,137 ns for AppendBeacon's text. The store
// keeps the IDs of the beacons received within DedupWindow (default 48 h)
// in memory, reloads them from the beacons table on Open, and counts a
// beacon it already holds as a duplicate instead of storing it. A beacon
// delivered again after the window is stored again (its rows stay apart
// by seq); MaxRecentIDs (default 20M, ~20 bytes each) bounds the memory,
// dropping the oldest hours first. Two distinct beacons collide with
// probability ~n²/2⁶⁵: 10⁻⁶ for 5M beacons in a window.
//
// # Privacy
//
// No full client address is ever stored: AddBeacons and AddQueries reject
// a client subnet or ECS prefix finer than /24 (IPv4) or /56 (IPv6), or
// absent, with an error that names the beacon's index and the prefix
// length but never the address; network keys cannot represent a longer
// prefix. The bulk import truncates client_subnet and ecs values (host
// addresses, /32s, prefixes with host bits set) before parsing goes on,
// and its line errors describe an unusable value without quoting it.
// TestNoClientAddressInStore and cmd/steer's TestIngestCommand scan every
// file of the store (open, with its WAL, and closed) and all output for
// the addresses as text, as bytes in both orders, and for any /32.
// Resolver addresses in the query log are servers, not clients, and are
// stored whole.
//
// # Retention
//
// DeleteBefore(t) deletes the beacons received before t with all their
// samples, and the queries logged before t. It goes by Received, the
// server's clock, not by the samples' timestamps from client clocks, which
// may be anywhere; a beacon and its samples go together.
//
// # Bulk import
//
// Import reads beacon, query-log or edge access-log NDJSON, gzip-compressed
// or not, and tells which from the keys of the first line that tells
// (Sniff). An edge log line's TCP RTT is stored, without a schema change,
// as a one-sample beacon of agent kind EdgeKind ("edge", timer "tcp_info",
// source "edge", received = the line's ts) whose sample's target and
// served_by are the serving PoP and probe is tcp: the builder reads them
// only with Options.EdgeRTT, for that PoP only. A reader
// cuts the input into 4 MiB blocks of whole lines; GOMAXPROCS-1 workers
// parse blocks into column batches (rum.ParseBeacon in Bulk mode, the
// network key, BeaconID, dict codes); the writer appends each batch as it
// arrives into an open transaction, commits every TxRows (4M) rows, and
// parses a block itself whenever no batch is waiting, so that threads
// never outnumber cores and DuckDB's appends, the serial part, are never
// descheduled for parsing. Buffers and batches are recycled through
// channels (a sync.Pool empties at every garbage collection, and fresh
// 4 MiB buffers cost page faults: ~4.2M → ~4.6M samples/s). An import
// holds the store's write lock for a transaction at a time: an
// AddBeacons in the same process waits up to one transaction (~1 s).
//
// Measured on this shared 2-core machine, `steer ingest` of a simulated
// world of 500k networks (969 MB, 529k beacons, 10.7M samples, 20 a
// beacon), DuckDB threads=1:
//
//	uncompressed    4.46–4.57M samples/s (2.4 s; 4.5 CPU-s, 420 CPU-ns a sample; 420–480 MB RSS)
//	gzip            3.4M samples/s (compress/gzip's reader is serial: +2.2 CPU-s;
//	                klauspost/compress's would be 3.5M, +1.3 CPU-s)
//	DNS log         0.8M lines/s (416k lines in 0.52 s; 5 strings a row)
//	CPU of the uncompressed import: rum.ParseBeacon 38% (its string scan
//	alone 16%), DuckDB appends and commits 34% (statistics such as
//	HyperLogLog and min/max 9%, compression analysis), kernel 11% (read,
//	page faults, DuckDB's writes), Go runtime 9%, this package 6%
//	DuckDB threads=2: 3.3M (its second thread mostly spins); two workers
//	and a writer that does not parse: 3.0M (the writer is descheduled);
//	mmap instead of read: no gain (page faults instead of copies)
//	DuckDB's own read_ndjson: ~0.7M beacon lines/s, unvalidated
//	(docs/DESIGN.md, "Dependencies")
//
// The store takes ~12 bytes a sample on disk (129 MB for the world above).
// Issue 5's floor, 5M samples/s, needs at most ~400 CPU-ns a sample on two
// idle cores; the import spends ~420: ~160 parsing, ~145 in DuckDB (which
// on one thread appends this schema at ~5M rows/s at best), the rest
// reading, in the runtime and filling batches. Reading the store back:
// Open with 521k beacons in the dedup window 0.19 s; ScanSamples 0.7M
// rows/s (database/sql, row by row: the builder should aggregate with
// Query, e.g. p75 per network and PoP of those 10.7M samples, 3.1M groups,
// 1.3 s); ExportParquet 5.4 s.
//
// AddBeacons (the collector's group commit, 20-sample beacons, each call
// one fsynced transaction): 100 beacons a call 2.0 ms (50k beacons/s),
// 5,000 a call 33 ms (3.0M samples/s).
package duckstore
