// Package chstore is the RUM store (store.Store) on ClickHouse: one
// server, or a cluster of shards that several collectors write at once.
// It speaks only to ClickHouse's HTTP interface, with net/http (the
// clickhouse-go driver's HTTP transport fails against 18.16), and writes
// SQL that ClickHouse 18.16 and current releases both accept: no TTL,
// DateTime64, window functions, CTEs or server-side query parameters;
// strings in SQL text go through quote (every byte outside printable
// ASCII escaped), floating-point constants as their bits
// (reinterpretAsFloat64(unhex(...)): no decimal parsing between Go's value
// and the server's), rows in RowBinary.
//
// Tested with Debian's clickhouse-server 18.16.1 (the only server
// reachable here), as a single node and as a two-shard cluster of plain
// processes (internal/chtest). Lambdas never capture a column: 18.16
// drops a subquery's column that only a lambda uses ("Unknown
// identifier"), so such values are passed as arrays (replicate).
//
// # URL
//
//	clickhouse://host:8123[,host2:8123...]/db[?cluster=NAME&user=U&password=P]
//
// Without cluster: one server, plain tables. With cluster: every host
// listed is one shard of a cluster that each server's config defines in
// remote_servers (one replica each is enough; ZooKeeper is not needed).
// Open checks that each node knows the cluster, that its shard count is
// the number of hosts listed, and that each host is a different shard of
// it (system.clusters, is_local); it runs the schema's statements on
// every node over HTTP (ON CLUSTER would need ZooKeeper): local tables
// on each, and Distributed tables over them. Inserts and simple reads
// (Stats, scans, FirstQuery, the duplicate lookup) go through the first
// node's Distributed tables; Aggregate and JoinDNS run on every node over
// its local table (below). A bad URL, an unreachable server, a cluster
// that is not defined or does not match are errors that say so; a
// password never appears in an error.
//
// # Schema (steer_migrations: version, applied)
//
// Versioned migrations run on Open on every node, each statement
// idempotent (IF NOT EXISTS); a second Open runs none, and a database
// with a newer version than this package knows is an error. Version 1:
//
//	beacons_local  network UInt64, id UInt64, received Int64 (µs),
//	               ver UInt64, kind, platform, timer, dns_test, source String,
//	               ts Array(Int64) (µs), target Array(String),
//	               probe Array(UInt8), rtt Array(Float64), served Array(String)
//	               ReplacingMergeTree(ver) PARTITION BY month(received)
//	               ORDER BY (network, id)
//	queries_local  ts Int64 (µs), qname, qtype, resolver String,
//	               ecs UInt64 (network key), has_ecs UInt8, pop, source String,
//	               uid UInt64 (random: a key for paged scans)
//	               MergeTree PARTITION BY month(ts) ORDER BY (qname, ts, uid)
//	beacons        Distributed(cluster, db, beacons_local, intHash64(network))
//	queries        Distributed(cluster, db, queries_local, rand())
//
// Without a cluster, beacons and queries are the local tables. One row
// is one beacon, its samples in parallel arrays: the builder's
// per-beacon rules need a beacon's samples together, and a beacon stored
// twice is two rows with one key. network and ecs are network keys
// (store.NetworkKey: /24 or /56 at most; no full client address can be
// stored), id is store.BeaconID, months are UTC (toYYYYMM).
//
// # Duplicates: stored once
//
// AddBeacons looks up the IDs of its batch (one SELECT per 2,000 beacons,
// by network and id) and counts those already stored as Duplicates,
// without sending them again. That is only a count: two collectors
// storing one beacon at the same moment, or a collector's spool replayed
// after a crash, store it twice. What makes it stored once is the table
// and every read: the sharding key is the network, so both copies land
// on one shard; ReplacingMergeTree(ver) merges them in the background,
// keeping the row of the earliest receipt (ver = MaxInt64 − received);
// and every read of beacons uses FINAL, which returns that row before the
// merge too. A read's WHERE (which 18.16 may apply before FINAL merges)
// only tests the key, the beacon's content (the same in both copies) or
// received < t, which holds for the earliest copy when it holds for any.
// So Stats, the scans, Aggregate and JoinDNS never count a duplicate,
// and duplicate-beacon is never counted: there is no second copy to drop.
// Copies received in different months stay two rows (merges stay within
// a partition; FINAL still returns one); retention deletes the earlier
// copy first. Resharding (more shards, other weights) would send a
// beacon's later copy elsewhere: it is not supported in place.
//
// # Durability: what "acknowledged" means
//
// AddBeacons and AddQueries return nil once the servers have written the
// rows: in a cluster, insert_distributed_sync=1 makes the first node
// return only when every shard has written its part. ClickHouse 18.16
// writes a part's files and renames them into place, but does not fsync
// them: a killed server process loses nothing (TestFaultShardDown kills
// one with SIGKILL and finds every acknowledged beacon), a power failure
// or kernel crash may lose the last seconds. The durable layer is the
// collector's spool (steer collect has one), an fdatasync'd append before
// a client's batch is acknowledged, kept until the store took it; its replay after a crash is
// harmless (stored once, above). A failed INSERT into a cluster may have
// reached some shards: send the batch again. Each INSERT makes a part per
// month per shard: batch beacons (the collector's group commit does),
// or the server refuses inserts past parts_to_throw_insert.
//
// # Pushed down: Aggregate and JoinDNS
//
// Aggregate runs one query on every node at once over its local table:
// the cleaning rules of the DuckDB store's loader, rule by rule in its
// order (aggregateSQL), per (network, PoP) the count and the float32 RTTs
// sorted (arraySort(groupArray)) of which the order statistics at ranks
// ⌊q·(n−1)⌋ and the next come back, per network its counters, per rule
// its count. A network's beacons are on one shard, so the shards' cells
// are disjoint and Go only concatenates and sorts them: no RTT leaves its
// server. The grouping spills to disk past Options.GroupByMemory
// (max_bytes_before_external_group_by). Two small reads come first: the
// PoP labels (distinct targets) and the timers' names (store.IsTickTimer
// decides which count ticks). JoinDNS does the same with the query log's
// first query per name (argMin by time), read from the whole log. Reads
// set wait_end_of_query=1, so that an error while a result is produced is
// an HTTP error rather than text in the middle of the rows; scans read
// pages of Options.ScanPage rows, each by key after the last.
//
// ClickHouse has no snapshot across statements: Aggregate, JoinDNS and
// the scans see rows added while they run, or not; a label or timer name
// first stored between Aggregate's reads still gets its PoP index.
//
// # Retention
//
// DeleteBefore follows the DuckDB store: beacons received before t with
// their samples, queries logged before t. On every node it drops the
// months wholly before t (ALTER TABLE DROP PARTITION) and deletes the
// rest with a mutation (ALTER TABLE DELETE), then polls system.mutations
// until it is done (Options.MutationTimeout): 18.16 has no synchronous
// mutations.
package chstore
