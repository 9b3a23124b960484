// Package store is steer's RUM store contract: the engine-free types
// (Beacon, SampleRow, Stats, network keys, BeaconID, edge-log beacons) and
// the Store interface that the collector, the bulk import, the map builder
// and the evaluator use. Two engines implement it:
//
//   - store/duckstore: an embedded DuckDB database in a directory (cgo),
//     the default;
//   - store/chstore: a ClickHouse server or a sharded cluster over its
//     HTTP interface, for collectors that scale out.
//
// package store/storeopen opens either from a --store argument (a
// directory, or a clickhouse:// URL).
//
// # What the builder reads: the pinned aggregation
//
// The builder does not read raw rows: Reader.Aggregate applies the
// cleaning rules (Clean) in the engine and returns, per (client network,
// PoP), the count of kept samples and the two order statistics that the
// pinned quantile (Quantile: type 7, on float32 values) interpolates
// between; the interpolation itself is done in Go (Cell.Value), so that
// the same rows give bit-identical estimates, and therefore the same map,
// whatever the engine. Reader.JoinDNS joins the beacons' DNS test names
// with the query log. store/storetest checks that DuckDB and ClickHouse
// agree on both.
//
// The data plane (cmd/steer-dns, cmd/steer-edge) must never import an
// engine: test/importgraph_test.go guards their import graphs.
package store
