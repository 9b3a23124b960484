package chstore

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// The tables. Local tables hold the rows; in a cluster the tables named
// without _local are Distributed over them, and without a cluster the
// plain tables have those names.
const (
	beaconsTable    = "beacons"
	queriesTable    = "queries"
	localSuffix     = "_local"
	migrationsTable = "steer_migrations"
)

// beaconColumns are the beacons table's columns, in the order inserts
// write them.
const beaconColumns = `network UInt64,
	id UInt64,
	received Int64,
	ver UInt64,
	kind String,
	platform String,
	timer String,
	dns_test String,
	source String,
	ts Array(Int64),
	target Array(String),
	probe Array(UInt8),
	rtt Array(Float64),
	served Array(String)`

const queryColumns = `ts Int64,
	qname String,
	qtype String,
	resolver String,
	ecs UInt64,
	has_ecs UInt8,
	pop String,
	source String,
	uid UInt64`

// columnNames is the column list of a CREATE TABLE column block, for
// INSERT and SELECT.
func columnNames(cols string) string {
	var names []string
	for c := range strings.SplitSeq(cols, ",") {
		f := strings.Fields(c)
		names = append(names, f[0])
	}
	return strings.Join(names, ", ")
}

// migration is one schema version: statements run on every node, each
// idempotent (IF NOT EXISTS), so that a migration cut short by a crash
// runs again whole.
type migration struct {
	version int
	stmts   func(s *Store) []string
}

// migrations is the schema's history; the last is SchemaVersion.
var migrations = []migration{
	{1, func(s *Store) []string {
		db := s.loc.Database
		local, dist := beaconsTable, ""
		qlocal := queriesTable
		if s.clustered() {
			local, dist = beaconsTable+localSuffix, beaconsTable
			qlocal = queriesTable + localSuffix
		}
		stmts := []string{
			// ver keeps the earliest receipt of a beacon stored twice:
			// ReplacingMergeTree keeps the row with the largest ver, and
			// FINAL reads it before the copies are merged.
			`CREATE TABLE IF NOT EXISTS ` + db + `.` + local + ` (` + beaconColumns + `)
			ENGINE = ReplacingMergeTree(ver)
			PARTITION BY toYYYYMM(toDateTime(intDiv(received, 1000000), 'UTC'))
			ORDER BY (network, id)`,
			`CREATE TABLE IF NOT EXISTS ` + db + `.` + qlocal + ` (` + queryColumns + `)
			ENGINE = MergeTree()
			PARTITION BY toYYYYMM(toDateTime(intDiv(ts, 1000000), 'UTC'))
			ORDER BY (qname, ts, uid)`,
		}
		if dist != "" {
			stmts = append(stmts,
				`CREATE TABLE IF NOT EXISTS `+db+`.`+dist+` (`+beaconColumns+`)
				ENGINE = Distributed(`+quote(s.loc.Cluster)+`, `+quote(db)+`, `+quote(local)+`, intHash64(network))`,
				`CREATE TABLE IF NOT EXISTS `+db+`.`+queriesTable+` (`+queryColumns+`)
				ENGINE = Distributed(`+quote(s.loc.Cluster)+`, `+quote(db)+`, `+quote(qlocal)+`, rand())`)
		}
		return stmts
	}},
}

// SchemaVersion is the schema version this package writes and reads.
var SchemaVersion = migrations[len(migrations)-1].version

// migrate brings every node's tables to SchemaVersion. A second Open
// runs no statement but the version check.
func (s *Store) migrate(ctx context.Context) error {
	for _, n := range s.nodes {
		if err := s.migrateNode(ctx, n.addr); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) migrateNode(ctx context.Context, node string) error {
	db := s.loc.Database
	for _, q := range []string{
		`CREATE DATABASE IF NOT EXISTS ` + db,
		`CREATE TABLE IF NOT EXISTS ` + db + `.` + migrationsTable + ` (version UInt32, applied DateTime) ENGINE = MergeTree() ORDER BY version`,
	} {
		if err := s.c.exec(ctx, node, q); err != nil {
			return fmt.Errorf("creating the schema: %w", err)
		}
	}
	var cur uint32
	err := s.c.query(ctx, node, `SELECT toUInt32(max(version)) FROM `+db+`.`+migrationsTable, func(r *rowReader) error {
		for r.more() {
			cur = r.u32()
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("reading the schema version: %w", err)
	}
	if int(cur) > SchemaVersion {
		return fmt.Errorf("database %s on %s has schema version %d; this steer knows versions up to %d: upgrade steer", db, node, cur, SchemaVersion)
	}
	for _, m := range migrations {
		if m.version <= int(cur) {
			continue
		}
		for _, q := range m.stmts(s) {
			if err := s.c.exec(ctx, node, q); err != nil {
				return fmt.Errorf("schema version %d: %w", m.version, err)
			}
		}
		if err := s.c.exec(ctx, node, fmt.Sprintf(`INSERT INTO %s.%s (version, applied) VALUES (%d, now())`, db, migrationsTable, m.version)); err != nil {
			return fmt.Errorf("schema version %d: %w", m.version, err)
		}
	}
	return s.checkEngines(ctx, node)
}

// checkEngines checks that the tables are what this URL expects: a
// database made for one node is not opened as a cluster's, nor the
// reverse.
func (s *Store) checkEngines(ctx context.Context, node string) error {
	engines := map[string]string{}
	err := s.c.query(ctx, node, `SELECT name, engine FROM system.tables WHERE database = `+quote(s.loc.Database), func(r *rowReader) error {
		for r.more() {
			name, engine := r.str(), r.str()
			engines[name] = engine
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("checking the tables: %w", err)
	}
	want := map[string]string{beaconsTable: "ReplacingMergeTree", queriesTable: "MergeTree"}
	if s.clustered() {
		want = map[string]string{
			beaconsTable: "Distributed", beaconsTable + localSuffix: "ReplacingMergeTree",
			queriesTable: "Distributed", queriesTable + localSuffix: "MergeTree",
		}
	}
	names := make([]string, 0, len(want))
	for n := range want {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, name := range names {
		if got := engines[name]; got != want[name] {
			how := "for a single node (no ?cluster=)"
			if !s.clustered() {
				how = "for a cluster"
			}
			return fmt.Errorf("database %s on %s: table %s has engine %q, want %s: the database was made %s, or not by steer",
				s.loc.Database, node, name, got, want[name], how)
		}
	}
	return nil
}

// checkCluster checks that every node knows the cluster, that it has as
// many shards as the URL lists nodes, and that each node is a different
// shard of it; it records each node's shard.
func (s *Store) checkCluster(ctx context.Context) error {
	shardOf := map[uint32]string{}
	for i := range s.nodes {
		n := &s.nodes[i]
		var shards, local []uint32
		err := s.c.query(ctx, n.addr, `SELECT toUInt32(shard_num), toUInt8(is_local) FROM system.clusters WHERE cluster = `+quote(s.loc.Cluster), func(r *rowReader) error {
			for r.more() {
				sh, isLocal := r.u32(), r.u8()
				if !slices.Contains(shards, sh) {
					shards = append(shards, sh)
				}
				if isLocal != 0 && !slices.Contains(local, sh) {
					local = append(local, sh)
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("reading system.clusters: %w", err)
		}
		switch {
		case len(shards) == 0:
			return fmt.Errorf("cluster %q is not defined on %s (no rows in system.clusters: add it to remote_servers)", s.loc.Cluster, n.addr)
		case len(shards) != len(s.nodes):
			return fmt.Errorf("cluster %q has %d shards on %s; the URL lists %d nodes: list one node of each shard", s.loc.Cluster, len(shards), n.addr, len(s.nodes))
		case len(local) == 0:
			return fmt.Errorf("%s is not a member of cluster %q (none of its replicas is local there)", n.addr, s.loc.Cluster)
		case len(local) > 1:
			return fmt.Errorf("%s is a replica of %d shards of cluster %q", n.addr, len(local), s.loc.Cluster)
		}
		if other, ok := shardOf[local[0]]; ok {
			return fmt.Errorf("%s and %s are both shard %d of cluster %q: list one node of each shard", other, n.addr, local[0], s.loc.Cluster)
		}
		shardOf[local[0]] = n.addr
		n.shard = int(local[0])
	}
	return nil
}
